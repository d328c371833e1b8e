#pragma once
// Encoding of messages into frames (the simulator's terminals and the server's replies), and the
// reply builders of §6.
//
// encode(decode(frame)) reproduces the frame byte for byte for every frame that decodes without
// issues: raw markers, reserved bits and text bytes are kept in the typed values for that reason.

#include "protocol/beijing_time.hpp"
#include "protocol/bytes.hpp"
#include "protocol/errors.hpp"
#include "protocol/message.hpp"

namespace lantian::protocol {

// Appends the frame for `message` to `out` (which may already hold other frames: a caller can
// batch writes). The report layout comes from ReportBody::layout; a RemovalAlarmBody with a
// removal_state is the non-road 18-byte form. Errors: nothing_to_encode (no body), body_too_long,
// field_too_long (a TLV value over 255 bytes, a signature part outside 1..33 bytes). On error
// `out` is left as it was.
[[nodiscard]] Result<void> encode(const Message& message, Bytes& out);
[[nodiscard]] Result<Bytes> encode(const Message& message);

// Reply to a time-sync request (§2.3): command 0x05 with the platform time; the request's start
// marker, variant and VIN.
[[nodiscard]] Bytes make_time_sync_reply(const Header& request, BeijingTime now);

// hj1239 reply (§6): a frame of the request's command whose data unit is the platform time.
[[nodiscard]] Bytes make_same_command_reply(const Header& request, BeijingTime now);

// Answer to an activation (§2.5): command 0x08 with the status and detail bytes, in the request's
// start marker, variant and VIN.
[[nodiscard]] Bytes make_activation_reply(const Header& request, ActivationReplyBody answer);

// Platform-variant acknowledgement (§6): the request's header with `ack` (ack_flag::success,
// ::error or ::vin_duplicate) and the platform time as data unit.
[[nodiscard]] Bytes make_platform_ack(const Header& request, std::uint8_t ack, BeijingTime now);

}  // namespace lantian::protocol
