#pragma once
// Key layouts of the column families (docs/storage.md). All integers are big-endian so that keys
// sort by (VIN, collection time, arrival): one vehicle's history is one prefix scan, in time order.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

// block_index: VIN · info type · collection time — the idempotency key of one block (§6).
[[nodiscard]] std::string block_key(const protocol::Vin& vin, std::uint8_t type,
                                    std::int64_t collection_unix_s);

[[nodiscard]] std::string vin_prefix(const protocol::Vin& vin);

// Big-endian helpers shared by the key and value layouts.
void append_u64(std::string& out, std::uint64_t v);
[[nodiscard]] std::uint64_t read_u64(std::string_view bytes) noexcept;  // requires ≥ 8 bytes

}  // namespace lantian::storage
