#pragma once
// A terminal's SM2 key and the signature of its hj1239 reports (docs/protocol.md §5): SM2 with the
// SM3 digest over the whole data unit before the signature, the user ID a parameter (the default
// of GB/T 32918, "1234567812345678", unless the deployment uses the chip id), R and S as raw
// 32-byte big-endian integers. OpenSSL 3 does the cryptography.

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/bytes.hpp"
#include "protocol/message.hpp"

namespace lantian::sim {

inline constexpr std::string_view default_sm2_id = "1234567812345678";

class Sm2Signer {
 public:
  // The key pair derived from `seed` (its SHA-256, reduced modulo the SM2 group order): the same
  // seed gives the same key, so a planning run (--plan-only --registry-out) and the load run agree
  // on every terminal's key. Simulation keys are not secret. nullptr when OpenSSL fails.
  [[nodiscard]] static std::unique_ptr<Sm2Signer> derive(std::string_view seed, std::string user_id);

  // X‖Y of the public key (64 bytes, no 0x04 prefix): the registry's `sm2_public_key` (as hex) and
  // the activation frame's key.
  [[nodiscard]] const std::array<std::uint8_t, 64>& public_key() const noexcept { return public_; }
  // The signature of `message`. Throws std::runtime_error if OpenSSL fails (it does not for a valid
  // key).
  [[nodiscard]] protocol::Signature sign(protocol::ByteView message) const;

 private:
  struct KeyDeleter {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
  };
  Sm2Signer() = default;
  std::unique_ptr<EVP_PKEY, KeyDeleter> key_;
  std::array<std::uint8_t, 64> public_{};
  std::string user_id_;
};

}  // namespace lantian::sim
