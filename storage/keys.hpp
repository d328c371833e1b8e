#pragma once
// Key layouts of the column families (docs/storage.md). All integers are big-endian so that keys
// sort by (VIN, collection time, arrival): one vehicle's history is one prefix scan, in time order.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/types.hpp"

namespace lantian::storage {

inline constexpr std::size_t vin_size = 17;
inline constexpr std::size_t frame_key_size = vin_size + 8 + 8;

// raw_frames: VIN · collection time (Unix seconds) · arrival sequence (unique per database).
[[nodiscard]] std::string frame_key(const protocol::Vin& vin, std::int64_t collection_unix_s,
                                    std::uint64_t sequence);
struct FrameKey {
  protocol::Vin vin{};
  std::int64_t collection_unix_s = 0;
  std::uint64_t sequence = 0;
};
[[nodiscard]] std::optional<FrameKey> parse_frame_key(std::string_view key) noexcept;

// legal_holds: frame key · holder (a violation id) — one record per frame a holder's evidence
// refers to; a frame is held while any record begins with its key.
[[nodiscard]] std::string legal_hold_key(std::string_view frame_key, std::string_view holder);

// block_index (archives written before report_index; read, never written): VIN · info type ·
// collection time — the idempotency key of one block.
[[nodiscard]] std::string block_key(const protocol::Vin& vin, std::uint8_t type,
                                    std::int64_t collection_unix_s);

// report_index: VIN · report time — the idempotency entry of the reports with that time. Its value
// is the receive time of the first (ms, 8) and the identities of every block stored under it.
[[nodiscard]] std::string report_key(const protocol::Vin& vin, std::int64_t report_unix_s);

// One block's identity (§6: info type and collection time); what a report_index entry lists.
struct BlockId {
  std::uint8_t type = 0;
  std::int64_t collection_unix_s = 0;
  friend auto operator<=>(const BlockId&, const BlockId&) = default;
};
// The value of a report_index entry: receive time, then the block identities sorted and unique
// (9 bytes each). decode returns false for a value that is not one.
[[nodiscard]] std::string encode_report_entry(std::int64_t receive_unix_ms,
                                              const std::vector<BlockId>& sorted_blocks);
[[nodiscard]] bool decode_report_entry(std::string_view value, std::int64_t& receive_unix_ms,
                                       std::vector<BlockId>& blocks);

[[nodiscard]] std::string vin_prefix(const protocol::Vin& vin);

// Big-endian helpers shared by the key and value layouts.
void append_u64(std::string& out, std::uint64_t v);
[[nodiscard]] std::uint64_t read_u64(std::string_view bytes) noexcept;  // requires ≥ 8 bytes
// A signed time (or day number) as 8 bytes that sort as the values do: offset by 2^63 so that the
// (rare) negative ones still sort before positive ones, big-endian. Every family keys time so.
void append_time(std::string& out, std::int64_t t);
[[nodiscard]] std::int64_t read_time(std::string_view bytes) noexcept;  // requires ≥ 8 bytes

}  // namespace lantian::storage
