#pragma once
// SM2 signature verification (GB/T 32918 with the SM3 digest), as hj1239 terminals sign their
// reports and activations (docs/protocol.md §5). OpenSSL 3 does the cryptography.
//
// Thread-safety: a key is immutable once made; verify() may run on any number of threads at once.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "protocol/bytes.hpp"
#include "protocol/message.hpp"

typedef struct evp_pkey_st EVP_PKEY;  // NOLINT: OpenSSL's own forward declaration

namespace lantian::security {

// The user ID of GB/T 32918 when a deployment does not use the chip id.
inline constexpr std::string_view default_sm2_user_id = "1234567812345678";

class Sm2PublicKey {
 public:
  // The key from its X‖Y coordinates (64 bytes, no 0x04 prefix), as the registry and activation
  // frames carry it. nullopt unless it is a point of the SM2 curve.
  [[nodiscard]] static std::optional<Sm2PublicKey> from_xy(protocol::ByteView xy);
  // The same from 128 hex digits (either case).
  [[nodiscard]] static std::optional<Sm2PublicKey> from_hex(std::string_view hex);

  // True when `signature` (raw big-endian R and S) is the SM2/SM3 signature of `message` by this
  // key with `user_id`. A malformed signature (a part of zero or more than 32 significant bytes,
  // R or S out of range) is false, never an error.
  [[nodiscard]] bool verify(protocol::ByteView message, const protocol::Signature& signature,
                            std::string_view user_id) const;

  [[nodiscard]] const std::array<std::uint8_t, 64>& xy() const noexcept { return xy_; }
  friend bool operator==(const Sm2PublicKey& a, const Sm2PublicKey& b) noexcept {
    return a.xy_ == b.xy_;
  }

 private:
  Sm2PublicKey() = default;
  std::shared_ptr<EVP_PKEY> key_;  // shared: copies of a key are cheap and immutable
  std::array<std::uint8_t, 64> xy_{};
};

}  // namespace lantian::security
