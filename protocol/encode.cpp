#include "protocol/encode.hpp"

#include <algorithm>

#include "protocol/field_layouts.hpp"
#include "protocol/framer.hpp"

namespace lantian::protocol {
namespace {

using namespace detail;

void write_time(ByteWriter& w, const BeijingTime& t) {
  w.bytes(t.raw);
}

// Appends `size` zero bytes and returns a pointer to them (valid until `out` grows again).
std::uint8_t* append_zeroes(Bytes& out, std::size_t size) {
  out.resize(out.size() + size);
  return out.data() + out.size() - size;
}

void write_position(Bytes& out, const Position& pos) {
  encode_position(pos, append_zeroes(out, position_size));
}

std::uint8_t dtc_count_byte(std::uint8_t declared, std::size_t listed) {
  // A declared count above 253 is a marker (0xFE invalid) and no list follows.
  return declared > 253 ? declared : static_cast<std::uint8_t>(listed);
}

void write_signature(ByteWriter& w, const Signature& s) {
  w.u8(static_cast<std::uint8_t>(s.r().size()));
  w.bytes(s.r());
  w.u8(static_cast<std::uint8_t>(s.s().size()));
  w.bytes(s.s());
}

struct PayloadWriter {
  Bytes& out;
  bool ok = true;

  void operator()(const ObdBlock& o) {
    ByteWriter w(out);
    w.u8(o.protocol);
    w.u8(o.mil);
    w.u16(o.support);
    w.u16(o.readiness);
    w.bytes(o.vin);
    w.bytes(o.calid);
    w.bytes(o.cvn);
    w.bytes(o.iupr_raw);
    w.u8(dtc_count_byte(o.dtc_count, o.dtcs.size()));
    if (o.dtc_count <= 253)
      for (auto dtc : o.dtcs) w.u32(dtc);
  }
  void operator()(const EcdBlock& e) {
    ByteWriter w(out);
    w.u8(e.protocol);
    w.u8(e.warning_lamp);
    w.u8(dtc_count_byte(e.dtc_count, e.dtcs.size()));
    if (e.dtc_count <= 253)
      for (auto dtc : e.dtcs) w.u32(dtc);
  }
  template <class FixedBlock>
  requires requires(const FixedBlock& b) { wire_size(b); }
  void operator()(const FixedBlock& b) { encode_layout(b, append_zeroes(out, wire_size(b))); }
  void operator()(const SupplementaryTlvBlock& t) {
    ByteWriter w(out);
    const std::size_t length_at = w.size();
    w.u16(0);
    std::size_t length = 0;
    for (const auto& item : t.items) {
      if (item.value.size() > 255) {
        ok = false;
        return;
      }
      w.u16(item.id);
      w.u8(static_cast<std::uint8_t>(item.value.size()));
      w.bytes(item.value);
      length += 3 + item.value.size();
    }
    if (length > 0xFFFF) {
      ok = false;
      return;
    }
    w.patch_u16(length_at, static_cast<std::uint16_t>(length));
  }
  void operator()(const OpaqueBlock& o) { out.insert(out.end(), o.raw.begin(), o.raw.end()); }
};

struct BodyWriter {
  Bytes& out;
  bool ok = true;

  void operator()(const std::monostate&) { ok = false; }
  void operator()(const LoginBody& b) {
    ByteWriter w(out);
    write_time(w, b.time);
    w.u16(b.serial);
    w.bytes(b.iccid);
  }
  void operator()(const LogoutBody& b) {
    ByteWriter w(out);
    write_time(w, b.time);
    w.u16(b.serial);
  }
  void operator()(const TimeSyncRequestBody&) {}
  void operator()(const PlatformTimeBody& b) {
    ByteWriter w(out);
    write_time(w, b.time);
  }
  void operator()(const RemovalAlarmBody& b) {
    ByteWriter w(out);
    write_time(w, b.time);
    w.u16(b.serial);
    write_position(out, b.position);
    if (b.removal_state) w.u8(*b.removal_state);
  }
  void operator()(const ActivationBody& b) {
    if (!b.signature.well_formed()) {
      ok = false;
      return;
    }
    ByteWriter w(out);
    write_time(w, b.time);
    w.bytes(b.chip_id);
    w.bytes(b.public_key);
    w.bytes(b.vin);
    write_signature(w, b.signature);
  }
  void operator()(const ActivationReplyBody& b) {
    out.push_back(b.status);
    out.push_back(b.detail);
  }
  void operator()(const ReportBody& r) {
    ByteWriter w(out);
    write_time(w, r.time);
    if (r.layout != Profile::gb17691) w.u16(r.serial);
    if (r.layout == Profile::nonroad) write_position(out, r.position);
    for (const auto& block : r.blocks) {
      w.u8(block.type);
      if (r.layout == Profile::gb17691) w.u16(block.serial);
      if (r.layout == Profile::hj1239) write_time(w, block.time);
      PayloadWriter payload{out};
      std::visit(payload, block.payload);
      if (!payload.ok) {
        ok = false;
        return;
      }
    }
    w.bytes(r.unparsed_tail);
    if (r.signature) {
      if (!r.signature->well_formed()) {
        ok = false;
        return;
      }
      write_signature(w, *r.signature);
    }
  }
  void operator()(const RawBody& b) { out.insert(out.end(), b.bytes.begin(), b.bytes.end()); }
};

void write_header(ByteWriter& w, const Header& h) {
  const std::uint8_t start = start_byte(h.start);
  w.u8(start);
  w.u8(start);
  w.u8(h.command);
  if (h.variant == HeaderVariant::platform) {
    w.u8(h.ack_flag);
    w.bytes(h.vin);
  } else {
    w.bytes(h.vin);
    w.u8(h.software_version);
  }
  w.u8(h.encryption);
  w.u16(0);  // data-unit length, patched once the body is written
}

Bytes frame_with_time(Header header, BeijingTime now) {
  Bytes out;
  out.reserve(frame_overhead + 6);
  // A PlatformTimeBody always encodes.
  (void)encode(Message{header, PlatformTimeBody{now}}, out);
  return out;
}

}  // namespace

Result<void> encode(const Message& message, Bytes& out) {
  const std::size_t frame_start = out.size();
  ByteWriter w(out);
  write_header(w, message.header);
  BodyWriter body{out};
  std::visit(body, message.body);
  const std::size_t data_length = out.size() - frame_start - header_size;
  if (!body.ok || data_length > max_data_length) {
    out.resize(frame_start);
    if (std::holds_alternative<std::monostate>(message.body)) return FrameError::nothing_to_encode;
    return data_length > max_data_length ? FrameError::body_too_long : FrameError::field_too_long;
  }
  w.patch_u16(frame_start + 22, static_cast<std::uint16_t>(data_length));
  out.push_back(xor_checksum(ByteView(out).subspan(frame_start + 2)));
  return {};
}

Result<Bytes> encode(const Message& message) {
  Bytes out;
  if (auto r = encode(message, out); !r) return r.error();
  return out;
}

Bytes make_time_sync_reply(const Header& request, BeijingTime now) {
  Header h = request;
  h.command = command::time_sync;
  if (h.variant == HeaderVariant::platform) h.ack_flag = ack_flag::success;
  return frame_with_time(h, now);
}

Bytes make_same_command_reply(const Header& request, BeijingTime now) {
  Header h = request;
  if (h.variant == HeaderVariant::platform) h.ack_flag = ack_flag::success;
  return frame_with_time(h, now);
}

Bytes make_activation_reply(const Header& request, ActivationReplyBody answer) {
  Header h = request;
  h.command = command::activation_reply;
  if (h.variant == HeaderVariant::platform) h.ack_flag = ack_flag::success;
  Bytes out;
  // Two fixed bytes after a valid header: encoding cannot fail.
  (void)encode(Message{h, answer}, out);
  return out;
}

Bytes make_platform_ack(const Header& request, std::uint8_t ack, BeijingTime now) {
  Header h = request;
  h.variant = HeaderVariant::platform;
  h.ack_flag = ack;
  return frame_with_time(h, now);
}

}  // namespace lantian::protocol
