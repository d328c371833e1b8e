#include "protocol/json.hpp"

#include <boost/json/serialize.hpp>
#include <charconv>

#include "protocol/field_layouts.hpp"

namespace lantian::protocol {
namespace {

namespace json = boost::json;
using namespace detail;

template <std::size_t N>
json::value text(const FixedText<N>& t) {
  if (is_printable(t)) return json::string(as_text(t));
  return json::object{{"hex", to_hex(t)}};
}

json::value time_value(const BeijingTime& t) {
  if (auto iso = t.iso8601()) return json::string(*iso);
  return nullptr;
}

// Adds each field of `fields` to `obj`, null with a flag when not valid. Fields whose resolution
// is a whole number print as integers.
template <class Owner, std::size_t N>
void add_fields(json::object& obj, json::object& flags,
                const std::array<ScalarField<Owner>, N>& fields,
                const std::type_identity_t<Owner>& owner) {
  for (const auto& f : fields) {
    const Reading& r = owner.*f.member;
    if (r.ok()) {
      const FieldEncoding& e = encoding_of(f.kind);
      if (e.num % e.den == 0)
        obj[f.name] = static_cast<std::int64_t>(r.value());
      else
        obj[f.name] = r.value();
    } else {
      obj[f.name] = nullptr;
      flags[f.name] = to_string(r.status());
    }
  }
}

json::object position_json(const Position& pos, json::object& flags) {
  json::object o;
  o["valid"] = pos.fix_valid();
  for (const auto& f : position_fields) {
    const Reading& r = pos.*f.member;
    if (!r.ok()) flags[std::string("position.") + std::string(f.name)] = to_string(r.status());
  }
  const auto lon = pos.lon_deg();
  const auto lat = pos.lat_deg();
  o["lon"] = lon ? json::value(*lon) : json::value(nullptr);
  o["lat"] = lat ? json::value(*lat) : json::value(nullptr);
  return o;
}

// OBD/ECD byte codes: 0xFE (and 0xFF) mean invalid.
json::value code_byte(std::uint8_t v, std::string_view name, json::object& flags) {
  if (v < invalid_byte) return v;
  flags[name] = "invalid";
  return nullptr;
}

json::array dtc_list(const std::vector<std::uint32_t>& dtcs) {
  json::array list;
  for (auto dtc : dtcs) {
    const std::uint8_t b[4] = {std::uint8_t(dtc >> 24), std::uint8_t(dtc >> 16),
                               std::uint8_t(dtc >> 8), std::uint8_t(dtc)};
    list.emplace_back(to_hex(b));
  }
  return list;
}

// Objects whose schema has no `flags` member carry one only when something is flagged.
void attach_flags_if_any(json::object& o, json::object flags) {
  if (!flags.empty()) o["flags"] = std::move(flags);
}

json::object signature(const Signature& s) {
  return {{"r", to_hex(s.r())}, {"s", to_hex(s.s())}};
}

// Adds a fixed-layout block's fields (and position) to `o`, following detail::describe.
template <class Block>
struct LayoutJson {
  json::object& o;
  json::object& flags;
  const Block& b;
  template <const auto& Fields>
  void fields(std::size_t) {
    add_fields(o, flags, Fields, b);
  }
  void position(std::size_t) { o["position"] = position_json(b.position, flags); }
};

struct PayloadJson {
  json::object operator()(const ObdBlock& b) const {
    json::object o, flags;
    o["protocol"] = code_byte(b.protocol, "protocol", flags);
    o["mil"] = code_byte(b.mil, "mil", flags);
    o["support"] = b.support;
    o["readiness"] = b.readiness;
    o["vin"] = text(b.vin);
    o["calid"] = text(b.calid);
    o["cvn"] = text(b.cvn);
    if (auto iupr = b.iupr())
      o["iupr"] = json::array(iupr->begin(), iupr->end());
    else
      o["iupr"] = nullptr;
    o["dtc_count"] = code_byte(b.dtc_count, "dtc_count", flags);
    o["dtcs"] = dtc_list(b.dtcs);
    attach_flags_if_any(o, std::move(flags));
    return o;
  }
  json::object operator()(const EcdBlock& b) const {
    json::object o, flags;
    o["protocol"] = code_byte(b.protocol, "protocol", flags);
    o["mil"] = code_byte(b.warning_lamp, "mil", flags);
    o["dtc_count"] = code_byte(b.dtc_count, "dtc_count", flags);
    o["dtcs"] = dtc_list(b.dtcs);
    attach_flags_if_any(o, std::move(flags));
    return o;
  }
  // Every fixed-layout block: its fields in wire order, the position where it has one, and flags.
  template <class FixedBlock>
  requires requires(const FixedBlock& b) { wire_size(b); }
  json::object operator()(const FixedBlock& b) const {
    json::object o, flags;
    LayoutJson<FixedBlock> v{o, flags, b};
    describe(b, v);
    o["flags"] = std::move(flags);
    return o;
  }
  json::object operator()(const SupplementaryTlvBlock& b) const {
    json::object items;
    for (const auto& item : b.items) {
      const std::uint8_t id[2] = {std::uint8_t(item.id >> 8), std::uint8_t(item.id)};
      items[to_hex(id)] = to_hex(item.value);
    }
    return {{"tlv", std::move(items)}};
  }
  json::object operator()(const OpaqueBlock& b) const { return {{"raw", to_hex(b.raw)}}; }
};

json::object report(const ReportBody& r) {
  json::object o;
  o["time"] = time_value(r.time);
  if (r.layout != Profile::gb17691) o["serial"] = r.serial;
  json::object header_flags;
  if (r.layout == Profile::nonroad) o["position"] = position_json(r.position, header_flags);
  json::array blocks;
  for (const auto& b : r.blocks) {
    json::object block;
    block["type"] = b.type;
    const std::string_view name = type_name(b);
    block["type_name"] = name;
    if (r.layout == Profile::gb17691) block["serial"] = b.serial;
    if (r.layout == Profile::hj1239) block["time"] = time_value(b.time);
    block[name] = std::visit(PayloadJson{}, b.payload);
    blocks.emplace_back(std::move(block));
  }
  o["blocks"] = std::move(blocks);
  if (r.layout == Profile::hj1239)
    o["signature"] = r.signature ? json::value(signature(*r.signature)) : json::value(nullptr);
  if (!r.unparsed_tail.empty()) o["unparsed_tail"] = to_hex(r.unparsed_tail);
  attach_flags_if_any(o, std::move(header_flags));
  return o;
}

struct BodyJson {
  json::value operator()(const std::monostate&) const { return nullptr; }
  json::value operator()(const LoginBody& b) const {
    return json::object{
        {"time", time_value(b.time)}, {"serial", b.serial}, {"iccid", text(b.iccid)}};
  }
  json::value operator()(const LogoutBody& b) const {
    return json::object{{"time", time_value(b.time)}, {"serial", b.serial}};
  }
  json::value operator()(const TimeSyncRequestBody&) const { return json::object{}; }
  json::value operator()(const PlatformTimeBody& b) const {
    return json::object{{"time", time_value(b.time)}};
  }
  json::value operator()(const RemovalAlarmBody& b) const {
    json::object o, flags;
    o["time"] = time_value(b.time);
    o["serial"] = b.serial;
    o["position"] = position_json(b.position, flags);
    if (b.removal_state) o["readable"] = *b.removal_state == 0;
    attach_flags_if_any(o, std::move(flags));
    return o;
  }
  json::value operator()(const ActivationBody& b) const {
    return json::object{{"time", time_value(b.time)},
                        {"chip_id", text(b.chip_id)},
                        {"public_key", to_hex(b.public_key)},
                        {"vin", text(b.vin)},
                        {"signature", signature(b.signature)}};
  }
  json::value operator()(const ActivationReplyBody& b) const {
    return json::object{{"status", b.status}, {"detail", b.detail}};
  }
  json::value operator()(const ReportBody& b) const { return report(b); }
  json::value operator()(const RawBody& b) const { return json::object{{"raw", to_hex(b.bytes)}}; }
};

void write_number(std::string& out, double d) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view s(buf, static_cast<std::size_t>(end - buf));
  out += s;
  if (s.find_first_of(".eE") == std::string_view::npos &&
      s.find_first_of("in") == std::string_view::npos)
    out += ".0";
}

void write_value(std::string& out, const json::value& v, bool pretty, int depth) {
  auto newline = [&](int d) {
    if (!pretty) return;
    out += '\n';
    out.append(static_cast<std::size_t>(2 * d), ' ');
  };
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      out += '{';
      bool first = true;
      for (const auto& kv : o) {
        if (!first) out += ',';
        first = false;
        newline(depth + 1);
        out += json::serialize(json::string_view(kv.key()));
        out += pretty ? ": " : ":";
        write_value(out, kv.value(), pretty, depth + 1);
      }
      if (!o.empty()) newline(depth);
      out += '}';
      break;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      out += '[';
      bool first = true;
      for (const auto& e : a) {
        if (!first) out += ',';
        first = false;
        newline(depth + 1);
        write_value(out, e, pretty, depth + 1);
      }
      if (!a.empty()) newline(depth);
      out += ']';
      break;
    }
    case json::kind::double_:
      write_number(out, v.get_double());
      break;
    default:
      out += json::serialize(v);
      break;
  }
}

}  // namespace

std::string to_hex(ByteView bytes) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    s += digits[b >> 4];
    s += digits[b & 0x0F];
  }
  return s;
}

std::optional<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  Bytes out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = digit(hex[i]), low = digit(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(high << 4 | low));
  }
  return out;
}

std::string to_json_text(const boost::json::value& value, bool pretty) {
  std::string out;
  write_value(out, value, pretty, 0);
  return out;
}

boost::json::object to_json(const DecodedFrame& f) {
  const Header& h = f.message.header;
  const bool platform = h.variant == HeaderVariant::platform;
  json::object o;
  o["start"] = h.start == StartMarker::tildes ? "~~" : "##";
  o["variant"] = platform ? "platform" : "terminal";
  o["command"] = h.command;
  o["command_name"] = to_string(f.command_kind());
  o["ack_flag"] = platform ? json::value(h.ack_flag) : json::value(nullptr);
  o["software_version"] = platform ? json::value(nullptr) : json::value(h.software_version);
  o["vin"] = text(h.vin);
  o["encryption"] = h.encryption;
  o["data_length"] = f.data_length;
  o["bcc_ok"] = f.bcc_ok;
  o["profile"] = f.profile ? json::value(to_string(*f.profile)) : json::value(nullptr);
  o["body"] = std::visit(BodyJson{}, f.message.body);
  json::array variants;
  for (auto variant : f.variants) variants.emplace_back(to_string(variant));
  o["variants"] = std::move(variants);
  json::array errors;
  for (auto issue : f.issues) errors.emplace_back(to_string(issue));
  o["errors"] = std::move(errors);
  return o;
}

}  // namespace lantian::protocol
