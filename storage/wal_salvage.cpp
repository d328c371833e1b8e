#include "storage/wal_salvage.hpp"

#include <boost/crc.hpp>
#include <fstream>
#include <iterator>

namespace lantian::storage {
namespace {

constexpr std::size_t block_size = 32768;
constexpr std::size_t header_size = 7;  // crc (4), length (2), type (1)
constexpr std::uint32_t mask_delta = 0xa282ead8u;
enum RecordType : std::uint8_t { zero = 0, full = 1, first = 2, middle = 3, last = 4 };

std::uint32_t little32(const unsigned char* p) {
  return p[0] | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}
std::uint64_t little64(const unsigned char* p) {
  return little32(p) | (std::uint64_t{little32(p + 4)} << 32);
}

}  // namespace

std::uint32_t wal_record_crc(std::uint8_t type, const std::string& payload) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;  // CRC32C
  crc.process_byte(type);
  crc.process_bytes(payload.data(), payload.size());
  const std::uint32_t c = crc.checksum();
  return ((c >> 15) | (c << 17)) + mask_delta;
}

WalScan scan_wal(const std::filesystem::path& file) {
  WalScan out;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    out.read_error = true;
    return out;
  }
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  std::string pending;  // the pieces of a fragmented record so far
  bool in_fragment = false;
  std::size_t pos = 0;
  // A whole, checksummed record starts at `at`.
  const auto record_at = [&](std::size_t at) {
    const std::size_t left = block_size - at % block_size;
    if (left < header_size || data.size() - at < header_size) return false;
    const auto* h = bytes + at;
    const std::size_t length = h[4] | (std::size_t{h[5]} << 8);
    const std::uint8_t type = h[6];
    if (type < full || type > last || header_size + length > left ||
        at + header_size + length > data.size())
      return false;
    return wal_record_crc(type, std::string(data, at + header_size, length)) == little32(h);
  };
  // Damage at `from`: resume at the next position where a whole record starts. RocksDB's reader
  // gives up the rest of the block; records are small next to a block, so searching byte by byte
  // (a false match must pass CRC32C) keeps the records after the damage in the same block.
  const auto skip_damaged = [&](std::size_t from) {
    std::size_t to = from + 1;
    while (to < data.size() && !record_at(to)) ++to;
    out.damaged.push_back(std::to_string(from) + "+" + std::to_string(to - from));
    out.damaged_bytes += to - from;
    pending.clear();
    in_fragment = false;
    pos = to;
  };
  const auto deliver = [&](std::string rep) {
    if (rep.size() < 12) return;  // not a WriteBatch
    const auto* p = reinterpret_cast<const unsigned char*>(rep.data());
    out.batches.push_back({little64(p), little32(p + 8), std::move(rep)});
  };
  while (pos < data.size()) {
    const std::size_t left_in_block = block_size - pos % block_size;
    if (left_in_block < header_size) {  // the block's trailer: padding
      pos += left_in_block;
      continue;
    }
    if (data.size() - pos < header_size) break;  // a torn tail
    const auto* h = bytes + pos;
    const std::uint32_t stored_crc = little32(h);
    const std::size_t length = h[4] | (std::size_t{h[5]} << 8);
    const std::uint8_t type = h[6];
    if (type == zero && length == 0 && stored_crc == 0) {  // preallocated, never written
      pos += left_in_block;
      continue;
    }
    if (header_size + length > left_in_block || pos + header_size + length > data.size()) {
      if (pos + header_size + length > data.size() && header_size + length <= left_in_block) break;
      skip_damaged(pos);
      continue;
    }
    const std::string payload(data, pos + header_size, length);
    if (wal_record_crc(type, payload) != stored_crc || type > last || type == zero) {
      skip_damaged(pos);
      continue;
    }
    pos += header_size + length;
    switch (type) {
      case full:
        pending.clear();
        in_fragment = false;
        deliver(payload);
        break;
      case first:
        pending = payload;
        in_fragment = true;
        break;
      case middle:
        if (in_fragment) pending += payload;
        break;
      case last:
        if (in_fragment) deliver(pending + payload);
        pending.clear();
        in_fragment = false;
        break;
      default:
        break;
    }
  }
  return out;
}

}  // namespace lantian::storage
