#pragma once
// What an hj1239 signature covers (§5) and the verdicts the server records for each frame. The
// cryptography itself (SM2 with SM3) is security/sm2; this part is only about bytes.

#include <cstdint>
#include <optional>
#include <string_view>

#include "protocol/bytes.hpp"
#include "protocol/message.hpp"

namespace lantian::protocol {

// The verdict on a received frame's signature, stored with the frame (storage::ReceiveInfo).
enum class SignatureCheck : std::uint8_t {
  not_signed,  // a command that carries no signature (login, logout, removal alarm, gb17691, non-road)
  unverified,  // no key is known for the vehicle: the signature, if any, could not be checked
  valid,       // verified with the vehicle's key
  invalid,     // a signature that does not verify with the vehicle's key (forged or altered)
  missing,     // the vehicle has a key, and this report carries no signature
};
[[nodiscard]] std::string_view to_string(SignatureCheck check) noexcept;
[[nodiscard]] std::optional<SignatureCheck> parse_signature_check(std::string_view text) noexcept;
// invalid or missing: what rule R10 flags and what the `reject` policy refuses.
[[nodiscard]] constexpr bool is_failure(SignatureCheck check) noexcept {
  return check == SignatureCheck::invalid || check == SignatureCheck::missing;
}

// A frame's signature and the bytes it signs.
struct SignedPart {
  ByteView message;  // a view into the frame passed to signed_part()
  Signature signature;
};

// Whether the frame is one that hj1239 signs: a real-time or resend report read with the hj1239
// layout, or an activation.
[[nodiscard]] bool is_signed_kind(const DecodedFrame& frame) noexcept;

// The signature of `frame` and what it covers: for reports, the whole data unit before the
// signature; for activation, time … VIN. `raw` is the frame `frame` was decoded from (start …
// BCC). nullopt when the frame is not a signed kind or carries no well-formed signature.
[[nodiscard]] std::optional<SignedPart> signed_part(const DecodedFrame& frame, ByteView raw) noexcept;

}  // namespace lantian::protocol
