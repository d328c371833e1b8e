#include "storage/frame_record.hpp"

#include <limits>

namespace lantian::storage {
namespace {
// 1: arrival and bytes; 2: adds the signature verdict and the rejected flag after the profile.
constexpr std::uint8_t record_version = 2;
constexpr std::uint8_t rejected_bit = 0x80;
constexpr std::uint8_t no_profile = 0xFF;

void put_string(protocol::ByteWriter& w, const std::string& s) {
  const auto n = static_cast<std::uint16_t>(std::min<std::size_t>(s.size(), 0xFFFF));
  w.u16(n);
  w.bytes(ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), n));
}

bool get_string(protocol::ByteReader& r, std::string& out) {
  if (r.remaining() < 2) return false;
  const std::size_t n = r.u16();
  if (r.remaining() < n) return false;
  const auto bytes = r.take(n);
  out.assign(reinterpret_cast<const char*>(bytes.data()), n);
  return true;
}
}  // namespace

Bytes encode_record(const FrameRecord& record) {
  Bytes out;
  out.reserve(record.raw.size() + record.received.listener.size() + record.received.peer.size() +
              32);
  protocol::ByteWriter w(out);
  w.u8(record_version);
  const auto ms = static_cast<std::uint64_t>(record.received.receive_unix_ms);
  w.u32(static_cast<std::uint32_t>(ms >> 32));
  w.u32(static_cast<std::uint32_t>(ms));
  w.u32(static_cast<std::uint32_t>(record.received.connection_id >> 32));
  w.u32(static_cast<std::uint32_t>(record.received.connection_id));
  w.u8(record.received.profile ? static_cast<std::uint8_t>(*record.received.profile) : no_profile);
  w.u8(static_cast<std::uint8_t>(static_cast<std::uint8_t>(record.received.signature) |
                                 (record.received.rejected ? rejected_bit : 0)));
  put_string(w, record.received.listener);
  put_string(w, record.received.peer);
  w.u32(static_cast<std::uint32_t>(record.raw.size()));
  w.bytes(record.raw);
  return out;
}

protocol::Result<FrameRecord> decode_record(ByteView value) {
  protocol::ByteReader r(value);
  FrameRecord rec;
  if (r.remaining() < 1 + 8 + 8 + 1) return protocol::FrameError::too_short;
  const std::uint8_t version = r.u8();
  if (version != 1 && version != record_version) return protocol::FrameError::too_short;
  std::uint64_t ms = r.u32();
  ms = ms << 32 | r.u32();
  rec.received.receive_unix_ms = static_cast<std::int64_t>(ms);
  std::uint64_t id = r.u32();
  rec.received.connection_id = id << 32 | r.u32();
  const std::uint8_t profile = r.u8();
  if (profile <= static_cast<std::uint8_t>(protocol::Profile::nonroad))
    rec.received.profile = static_cast<protocol::Profile>(profile);
  rec.received.signature = protocol::SignatureCheck::unverified;
  if (version >= 2) {
    if (r.remaining() < 1) return protocol::FrameError::too_short;
    const std::uint8_t verdict = r.u8();
    const auto check = static_cast<protocol::SignatureCheck>(verdict & ~rejected_bit);
    if (check > protocol::SignatureCheck::missing) return protocol::FrameError::too_short;
    rec.received.signature = check;
    rec.received.rejected = (verdict & rejected_bit) != 0;
  }
  if (!get_string(r, rec.received.listener) || !get_string(r, rec.received.peer) ||
      r.remaining() < 4)
    return protocol::FrameError::too_short;
  const std::size_t n = r.u32();
  if (r.remaining() != n) return protocol::FrameError::too_short;
  const auto raw = r.take(n);
  rec.raw.assign(raw.begin(), raw.end());
  return rec;
}

}  // namespace lantian::storage
