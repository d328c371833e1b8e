#include "storage/keys.hpp"

#include <algorithm>

namespace lantian::storage {
namespace {
constexpr std::uint64_t time_bias = std::uint64_t{1} << 63;  // append_time, read_time
}  // namespace

void append_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

std::uint64_t read_u64(std::string_view bytes) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = v << 8 | static_cast<std::uint8_t>(bytes[i]);
  return v;
}

void append_time(std::string& out, std::int64_t t) {
  append_u64(out, static_cast<std::uint64_t>(t) + time_bias);
}

std::int64_t read_time(std::string_view bytes) noexcept {
  return static_cast<std::int64_t>(read_u64(bytes) - time_bias);
}

std::string vin_prefix(const protocol::Vin& vin) {
  return std::string(reinterpret_cast<const char*>(vin.data()), vin.size());
}

std::string frame_key(const protocol::Vin& vin, std::int64_t collection_unix_s,
                      std::uint64_t sequence) {
  std::string key = vin_prefix(vin);
  key.reserve(frame_key_size);
  append_time(key, collection_unix_s);
  append_u64(key, sequence);
  return key;
}

std::optional<FrameKey> parse_frame_key(std::string_view key) noexcept {
  if (key.size() != frame_key_size) return std::nullopt;
  FrameKey k;
  std::copy_n(key.begin(), vin_size, k.vin.begin());
  k.collection_unix_s = read_time(key.substr(vin_size));
  k.sequence = read_u64(key.substr(vin_size + 8));
  return k;
}

std::string block_key(const protocol::Vin& vin, std::uint8_t type, std::int64_t collection_unix_s) {
  std::string key = vin_prefix(vin);
  key.push_back(static_cast<char>(type));
  append_time(key, collection_unix_s);
  return key;
}

std::string report_key(const protocol::Vin& vin, std::int64_t report_unix_s) {
  std::string key = vin_prefix(vin);
  append_time(key, report_unix_s);
  return key;
}

std::string encode_report_entry(std::int64_t receive_unix_ms,
                                const std::vector<BlockId>& sorted_blocks) {
  std::string value;
  value.reserve(8 + 9 * sorted_blocks.size());
  append_u64(value, static_cast<std::uint64_t>(receive_unix_ms));
  for (const auto& b : sorted_blocks) {
    value.push_back(static_cast<char>(b.type));
    append_time(value, b.collection_unix_s);
  }
  return value;
}

bool decode_report_entry(std::string_view value, std::int64_t& receive_unix_ms,
                         std::vector<BlockId>& blocks) {
  if (value.size() < 8 || (value.size() - 8) % 9 != 0) return false;
  receive_unix_ms = static_cast<std::int64_t>(read_u64(value));
  blocks.clear();
  blocks.reserve((value.size() - 8) / 9);
  for (std::size_t at = 8; at < value.size(); at += 9)
    blocks.push_back({static_cast<std::uint8_t>(value[at]),
                      read_time(value.substr(at + 1))});
  return true;
}

std::string legal_hold_key(std::string_view frame_key, std::string_view holder) {
  std::string key(frame_key);
  key += holder;
  return key;
}

}  // namespace lantian::storage
