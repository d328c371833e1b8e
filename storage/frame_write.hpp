#pragma once
// One received frame as the archive takes it: what make_frame_write() builds from a decoded frame,
// and what a FrameSubmitter makes durable (docs/storage.md).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/message.hpp"
#include "storage/frame_record.hpp"
#include "storage/keys.hpp"

namespace lantian::storage {

// One received frame, ready for the archive (see make_frame_write).
struct FrameWrite {
  protocol::Vin vin{};
  std::int64_t collection_unix_s = 0;
  // Idempotency (reports only; docs/storage.md): the report's time and the identities of the
  // blocks it carries. A report whose every block was stored already under the same VIN and report
  // time is a duplicate: acknowledged, counted, not stored again. nullopt: always stored.
  struct ReportIdentity {
    std::int64_t report_unix_s = 0;
    std::vector<BlockId> blocks;  // sorted, unique, never empty
  };
  std::optional<ReportIdentity> identity;
  FrameRecord record;
  // What the frame makes of the vehicle's latest state (nullopt: leave it, a rejected frame). The
  // writer turns the newest of each vehicle in a batch into its latest_state records.
  struct Latest {
    std::uint8_t command = 0;
    protocol::CommandKind kind = protocol::CommandKind::reserved;
  };
  std::optional<Latest> latest;
  struct Fix {  // the newest position the frame carries
    protocol::BeijingTime time;
    bool valid = false;
    double lon_deg = 0, lat_deg = 0;
  };
  std::optional<Fix> fix;
  // On a cluster's processor node: the frame's sequence in the replicated log, used as its arrival
  // sequence (the last part of its archive key), so that a message applied twice — redelivered
  // after a crash, replayed by a new owner — writes the same key, never a second copy. nullopt:
  // the store numbers the frame itself (never mixed with log sequences in one archive).
  std::optional<std::uint64_t> log_sequence;
};

// Builds the FrameWrite of a decoded frame. The collection time is the report's (or body's) time,
// or the receive time when the frame has none. A report whose signature fails claims no
// idempotency identity; a rejected one does not become the latest state.
[[nodiscard]] FrameWrite make_frame_write(const protocol::DecodedFrame& frame, ByteView raw,
                                          ReceiveInfo received);
// The latest_state values a write makes: the vehicle's last frame, and its last position (both
// empty when the write has none).
[[nodiscard]] std::string latest_state_json(const FrameWrite& write);
[[nodiscard]] std::string last_fix_json(const FrameWrite& write);

}  // namespace lantian::storage
