#pragma once
// Decoding of one complete frame (as the framer hands it out) into a typed Message (§1–§5).
//
// Pure and deterministic: no I/O, no allocation beyond the result, never throws on any input. A
// frame whose header is readable always decodes to a DecodedFrame; what could not be read is
// reported in `DecodedFrame::issues` (and the body is left empty when nothing sensible remains),
// so the raw frame can still be stored as evidence.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/bytes.hpp"
#include "protocol/errors.hpp"
#include "protocol/message.hpp"

namespace lantian::protocol {

// A user-defined block type (0x82–0xFE) of a terminal model, so the walk can step over it; its
// bytes are kept as an opaque block under `name`. (0x80 and 0x81 have built-in layouts.)
struct UserBlockType {
  std::uint8_t type = 0;
  std::string name;
  std::uint16_t size = 0;
};

struct DecodeOptions {
  // The connection's profile; nullopt is `auto` (§3.4): gb17691 and hj1239 told apart by the
  // real-time layout, 0x05 read as time sync, 0x06–0x08 as hj1239. Non-road is never guessed.
  std::optional<Profile> profile;
  // What `auto` uses when both layouts or neither fit (the listener's or the registry's profile);
  // without it such a report is `ambiguous_layout`.
  std::optional<Profile> fallback_profile;
  std::vector<UserBlockType> user_blocks;
};

// Reads the 24-byte header. Errors: too_short, bad_start.
[[nodiscard]] Result<Header> decode_header(ByteView frame) noexcept;

// Decodes a whole frame: start … BCC. Errors (nothing decodable): too_short, bad_start,
// length_mismatch. A wrong BCC is not an error here: the frame decodes with bcc_ok == false and
// the `bcc_mismatch` issue (the framer never hands out such frames; the decode tool may).
[[nodiscard]] Result<DecodedFrame> decode_frame(ByteView frame, const DecodeOptions& options = {});

// Whether decode_frame_into computes the check byte.
enum class CheckByte : std::uint8_t {
  verify,    // a frame from anywhere: compute the BCC
  verified,  // a frame the framer handed out (FramerEvent::Kind::frame): its BCC is correct
};

// decode_frame into a caller-owned result, for callers that decode frame after frame (a session,
// a capture tool): `out` is overwritten entirely, but its storage is reused — the block vector,
// and each block whose type is the same as in the previous frame is decoded in place (no
// allocation, no construction). Returns decode_frame's error, if any; `out` then holds no frame.
[[nodiscard]] boost::system::error_code decode_frame_into(ByteView frame, const DecodeOptions& options,
                                                          DecodedFrame& out,
                                                          CheckByte check = CheckByte::verify);

}  // namespace lantian::protocol
