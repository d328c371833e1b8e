#pragma once
// What the archive keeps for each received frame: the exact bytes and how they arrived. This is the
// evidence a reviewer relies on, so the bytes are never re-encoded.

#include <cstdint>
#include <optional>
#include <string>

#include "protocol/signature.hpp"
#include "protocol/bytes.hpp"
#include "protocol/errors.hpp"
#include "protocol/types.hpp"

namespace lantian::storage {

using protocol::Bytes;
using protocol::ByteView;

struct ReceiveInfo {
  std::int64_t receive_unix_ms = 0;
  std::uint64_t connection_id = 0;
  std::string listener;                      // e.g. "tls://0.0.0.0:7700?profile=hj1239"
  std::string peer;                          // "203.0.113.7:51234"
  std::optional<protocol::Profile> profile;  // the profile the frame was decoded with
  // The verdict on its signature when it arrived (records written before verification existed read
  // as `unverified`).
  protocol::SignatureCheck signature = protocol::SignatureCheck::not_signed;
  // Refused under the `reject` signature policy: kept as evidence of the attempt, never
  // acknowledged, and its data is not evaluated (only its signature failure is, by R10).
  bool rejected = false;
  bool operator==(const ReceiveInfo&) const = default;
};

struct FrameRecord {
  ReceiveInfo received;
  Bytes raw;  // the frame exactly as received, start … BCC
  bool operator==(const FrameRecord&) const = default;
};

// Binary form stored as the value of a raw-frame key (versioned; see docs/storage.md).
[[nodiscard]] Bytes encode_record(const FrameRecord& record);
// Errors: protocol::FrameError::too_short for a truncated or unknown-version value.
[[nodiscard]] protocol::Result<FrameRecord> decode_record(ByteView value);

}  // namespace lantian::storage
