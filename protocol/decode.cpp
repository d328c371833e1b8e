#include "protocol/decode.hpp"

#include <algorithm>
#include <array>

#include "protocol/field_layouts.hpp"
#include "protocol/framer.hpp"

namespace lantian::protocol {
namespace {

using namespace detail;

constexpr std::size_t login_size = 28;
constexpr std::size_t logout_size = 8;
constexpr std::size_t time_size = 6;
constexpr std::size_t hj_removal_alarm_size = 17;
constexpr std::size_t nonroad_removal_alarm_size = 18;
constexpr std::size_t activation_signed_part = 6 + 16 + 64 + 17;
constexpr std::size_t activation_reply_size = 2;
constexpr std::size_t obd_fixed_size = 96;
constexpr std::size_t ecd_fixed_size = 3;
constexpr std::size_t max_dtc_count = 253;
constexpr std::size_t nonroad_report_header = 6 + 2 + position_size;

BeijingTime time_at(const std::uint8_t* p) noexcept {
  BeijingTime t;
  std::copy_n(p, 6, t.raw.begin());
  return t;
}

// Bytes of the block header that precedes each body: gb17691 type · serial WORD; hj1239 type ·
// collection time; non-road type only.
std::size_t block_header_size(Profile layout) noexcept {
  switch (layout) {
    case Profile::gb17691:
      return 3;
    case Profile::hj1239:
      return 7;
    case Profile::nonroad:
      return 1;
  }
  return 1;
}

// True when unit[pos..] is exactly a signature R-len · R · S-len · S with R, S of 1..33 bytes.
bool signature_at(ByteView unit, std::size_t pos) noexcept {
  if (pos >= unit.size()) return false;
  const std::size_t rest = unit.size() - pos;
  if (rest > 1 + 33 + 1 + 33) return false;
  const std::size_t r = unit[pos];
  if (r < 1 || r > 33 || 1 + r + 1 > rest) return false;
  const std::size_t s = unit[pos + 1 + r];
  return s >= 1 && s <= 33 && 1 + r + 1 + s == rest;
}

// Reads a signature that signature_at() accepted.
Signature read_signature(ByteView sig) noexcept {
  const std::size_t r = sig[0];
  const std::size_t s = sig[1 + r];
  return {sig.subspan(1, r), sig.subspan(2 + r, s)};
}

enum class Form : std::uint8_t { standard, tlv, nox_variant, user_defined };

// The variants met while decoding, one bit each (Variant's values), turned into
// DecodedFrame::variants at the end: cheaper than a second pass over the blocks.
using VariantSet = std::uint8_t;
constexpr VariantSet bit(Variant v) noexcept {
  return static_cast<VariantSet>(1u << static_cast<unsigned>(v));
}

struct Candidate {
  std::size_t body_size = 0;
  Form form = Form::standard;
};

// How the blocks of one report are walked. Blocks carry no length, so each type's size is known
// from its layout; where the protocol allows two readings (0x03 at 30 or 32 bytes, a trailing
// signature or more blocks) the walk looks for the one that consumes the data unit exactly.
class BlockWalker {
 public:
  BlockWalker(ByteView unit, Profile layout, const DecodeOptions& options, bool strict) noexcept
      : unit_(unit),
        layout_(layout),
        options_(options),
        strict_(strict),
        header_size_(block_header_size(layout)) {}

  // The readings of the block at `pos`, in order of preference; returns how many (0..2).
  std::size_t candidates(std::size_t pos, std::array<Candidate, 2>& out) const noexcept {
    if (unit_.size() - pos < header_size_) return 0;
    if (strict_ && layout_ == Profile::hj1239 && !time_at(unit_.data() + pos + 1).valid()) return 0;
    const std::uint8_t type = unit_[pos];
    const std::size_t body_at = pos + header_size_;
    const std::size_t avail = unit_.size() - body_at;
    const std::uint8_t* body = unit_.data() + body_at;
    std::size_t n = 0;
    auto offer = [&](std::size_t size, Form form) {
      if (size <= avail) out[n++] = {size, form};
    };
    const bool hj = layout_ == Profile::hj1239;
    switch (type) {
      case block_type::obd: {
        const std::size_t fixed = layout_ == Profile::nonroad ? ecd_fixed_size : obd_fixed_size;
        if (avail < fixed) break;
        const std::size_t count = body[fixed - 1];
        offer(fixed + (count <= max_dtc_count ? 4 * count : 0), Form::standard);
        break;
      }
      case block_type::stream:
        offer(layout_ == Profile::nonroad ? machine_stream_size : stream_size, Form::standard);
        break;
      case block_type::twc:
        if (!hj) break;
        offer(catalyst_size, Form::standard);
        offer(catalyst_nox_size, Form::nox_variant);
        break;
      case block_type::hybrid:
        if (hj) offer(hybrid_size, Form::standard);
        break;
      case block_type::twc_nox:
        if (hj) offer(catalyst_nox_size, Form::standard);
        break;
      case block_type::supplementary: {
        // §4.4 Decision: length-prefixed TLV when the WORD that opens the body is exactly what
        // remains before the signature or the end, minus the WORD itself.
        if (avail >= 2) {
          const std::size_t tlv_end = body_at + 2 + load_be16(body);
          if (tlv_end == unit_.size() || (hj && signature_at(unit_, tlv_end))) {
            offer(tlv_end - body_at, Form::tlv);
            break;
          }
        }
        offer(supplementary_size, Form::standard);
        break;
      }
      case block_type::smoke:
        offer(smoke_size, Form::standard);
        break;
      default:
        for (const auto& user : options_.user_blocks)
          if (user.type == type) {
            offer(user.size, Form::user_defined);
            break;
          }
        break;
    }
    return n;
  }

  // Only hj1239 data units can be read in more than one way (0x03 at 30 or 32 bytes, a trailing
  // signature or more blocks); elsewhere the straight walk is the only reading.
  bool has_alternatives() const noexcept { return layout_ == Profile::hj1239; }

  // For every position reachable from `start`, whether the data unit can be consumed exactly from
  // there. Blocks only move forward, so one pass marks what is reachable and one pass backwards
  // settles it; only reachable positions are parsed.
  std::vector<bool> exact_table(std::size_t start) const {
    const std::size_t n = unit_.size();
    std::vector<bool> reachable(n + 1, false), ok(n + 1, false);
    std::array<Candidate, 2> c;
    reachable[start] = true;
    for (std::size_t pos = start; pos < n; ++pos) {
      if (!reachable[pos]) continue;
      const std::size_t k = candidates(pos, c);
      for (std::size_t i = 0; i < k; ++i) reachable[pos + header_size_ + c[i].body_size] = true;
    }
    ok[n] = true;
    for (std::size_t pos = n; pos-- > start;) {
      if (!reachable[pos]) continue;
      bool done = layout_ == Profile::hj1239 && signature_at(unit_, pos);
      const std::size_t k = candidates(pos, c);
      for (std::size_t i = 0; i < k && !done; ++i) done = ok[pos + header_size_ + c[i].body_size];
      ok[pos] = done;
    }
    return ok;
  }

  struct Step {
    enum Kind { block, signature, stuck, end } kind = end;
    Candidate candidate;
  };

  // Where a decoding walk writes: the report, its issues, and how many of the report's blocks
  // (kept from an earlier frame, reused in place) this walk has filled.
  struct Sink {
    ReportBody& report;
    std::vector<Issue>& issues;
    std::size_t used = 0;
    VariantSet seen = 0;
  };

  // The step at `pos`: the first candidate that can still finish exactly (any first candidate
  // without a table), else the signature, else stuck.
  Step step(std::size_t pos, const std::vector<bool>* ok) const noexcept {
    if (pos == unit_.size()) return {};
    const bool signature = layout_ == Profile::hj1239 && signature_at(unit_, pos);
    // A signature whose bytes could also be read as a block is the signature when that block's
    // collection time would not be a valid time.
    if (signature &&
        (unit_.size() - pos < header_size_ || !time_at(unit_.data() + pos + 1).valid()))
      return {Step::signature, {}};
    // The common block, a data stream, has one size: no candidates to weigh (decoding only; the
    // strict test also checks its time, below).
    if (!strict_ && unit_[pos] == block_type::stream) {
      const std::size_t size = layout_ == Profile::nonroad ? machine_stream_size : stream_size;
      if (unit_.size() - pos >= header_size_ + size && (!ok || (*ok)[pos + header_size_ + size]))
        return {Step::block, {size, Form::standard}};
    }
    std::array<Candidate, 2> c;
    const std::size_t n = candidates(pos, c);
    for (std::size_t i = 0; i < n; ++i)
      if (!ok || (*ok)[pos + header_size_ + c[i].body_size]) return {Step::block, c[i]};
    if (signature) return {Step::signature, {}};
    return {Step::stuck, {}};
  }

  // Walks from `start`; with `out`, decodes the blocks into it. Returns whether the whole data
  // unit was consumed; otherwise `stuck_at` is where the walk stopped.
  bool walk(std::size_t start, const std::vector<bool>* ok, Sink* out,
            std::size_t& stuck_at) const {
    std::size_t pos = start;
    for (;;) {
      const Step s = step(pos, ok);
      switch (s.kind) {
        case Step::end:
          return true;
        case Step::stuck:
          stuck_at = pos;
          return false;
        case Step::signature:
          if (out) out->report.signature = read_signature(unit_.subspan(pos));
          return true;
        case Step::block:
          if (out) decode_block(pos, s.candidate, *out);
          pos += header_size_ + s.candidate.body_size;
          break;
      }
    }
  }

  // True when the data unit from `start` is exactly a sequence of known blocks (plus, in hj1239,
  // a signature). Tries the straight walk first; the table only when that fails.
  bool consumes_exactly(std::size_t start) const {
    std::size_t stuck_at = 0;
    if (walk(start, nullptr, nullptr, stuck_at)) return true;
    if (!has_alternatives()) return false;
    const auto ok = exact_table(start);
    return ok[start];
  }

  // Decodes the blocks from `start` into `out`; what cannot be walked is kept as the unparsed tail.
  // `out`'s blocks from an earlier frame are reused; those left over are dropped at the end.
  // Returns the variants the blocks show.
  VariantSet decode(std::size_t start, ReportBody& out, std::vector<Issue>& issues) const {
    std::size_t stuck_at = 0;
    const std::size_t issues_before = issues.size();
    Sink sink{out, issues};
    // The straight walk decodes as it goes; if it gets stuck, start again along the exact path.
    if (walk(start, nullptr, &sink, stuck_at)) {
      out.blocks.resize(sink.used);
      return sink.seen;
    }
    const auto ok = has_alternatives() ? exact_table(start) : std::vector<bool>{};
    if (!ok.empty() && ok[start]) {
      sink.used = 0;
      sink.seen = 0;
      out.signature.reset();
      issues.resize(issues_before);
      walk(start, &ok, &sink, stuck_at);
      out.blocks.resize(sink.used);
      return sink.seen;
    }
    out.blocks.resize(sink.used);
    out.unparsed_tail.assign(unit_.begin() + static_cast<std::ptrdiff_t>(stuck_at), unit_.end());
    issues.push_back(Issue::unparsed_tail);
    return sink.seen;
  }

 private:
  void decode_block(std::size_t pos, Candidate c, Sink& out) const {
    auto& blocks = out.report.blocks;
    Block& block = out.used < blocks.size() ? blocks[out.used] : blocks.emplace_back();
    ++out.used;
    block.type = unit_[pos];
    block.serial = layout_ == Profile::gb17691 ? load_be16(unit_.data() + pos + 1) : 0;
    block.time = layout_ == Profile::hj1239 ? time_at(unit_.data() + pos + 1) : BeijingTime{};
    if (layout_ == Profile::hj1239 && !block.time.valid()) out.seen |= bit(Variant::invalid_time);
    decode_payload(block, c.form, unit_.subspan(pos + header_size_, c.body_size), out);
  }

  // The block's payload as a T: the one it holds if it is one (a block reused from the previous
  // frame, decoded over in place), else a new one.
  template <class T>
  static T& payload_as(Block& block) {
    if (auto* same = std::get_if<T>(&block.payload)) return *same;
    return block.payload.emplace<T>();
  }

  // Decodes the body straight into the block's payload alternative (no temporary: this runs for
  // every sample).
  void decode_payload(Block& block, Form form, ByteView body, Sink& out) const {
    const std::uint8_t* p = body.data();
    if (form == Form::user_defined) {
      auto& opaque =
          block.payload.emplace<OpaqueBlock>(OpaqueBlock{{}, Bytes(body.begin(), body.end())});
      for (const auto& user : options_.user_blocks)
        if (user.type == block.type) opaque.name = user.name;
      return;
    }
    switch (block.type) {
      case block_type::obd:
        if (layout_ == Profile::nonroad) {
          auto& ecd = payload_as<EcdBlock>(block);
          ecd.protocol = p[0];
          ecd.warning_lamp = p[1];
          ecd.dtc_count = p[2];
          read_dtcs(body.subspan(ecd_fixed_size), ecd.dtcs);
        } else {
          auto& obd = payload_as<ObdBlock>(block);
          ByteReader r(body);
          obd.protocol = r.u8();
          obd.mil = r.u8();
          obd.support = r.u16();
          obd.readiness = r.u16();
          r.copy_array(obd.vin);
          r.copy_array(obd.calid);
          r.copy_array(obd.cvn);
          r.copy_array(obd.iupr_raw);
          obd.dtc_count = r.u8();
          read_dtcs(r.rest(), obd.dtcs);
          if (!is_printable(obd.cvn)) out.seen |= bit(Variant::cvn_binary);  // shown as hex
          if (!obd.iupr()) out.seen |= bit(Variant::iupr_ascii_zeros);
        }
        return;
      case block_type::stream:
        if (layout_ == Profile::nonroad)
          decode_layout(p, payload_as<MachineStreamBlock>(block));
        else
          decode_layout(p, payload_as<StreamBlock>(block));
        return;
      case block_type::twc:
      case block_type::twc_nox: {
        auto& c = payload_as<CatalystBlock>(block);
        c.with_nox = body.size() == catalyst_nox_size;
        if (!c.with_nox) c.nox_downstream_ppm = Reading(FieldKind::nox_ppm);  // not in 30 bytes
        if (c.with_nox && block.type == block_type::twc) out.seen |= bit(Variant::twc_32_byte);
        decode_layout(p, c);
        return;
      }
      case block_type::hybrid:
        decode_layout(p, payload_as<HybridBlock>(block));
        return;
      case block_type::supplementary:
        if (form == Form::tlv)
          decode_tlv(block, body, out.issues);
        else
          decode_layout(p, payload_as<SupplementaryBlock>(block));
        return;
      case block_type::smoke:
        decode_layout(p, payload_as<SmokeBlock>(block));
        return;
      default:
        block.payload.emplace<OpaqueBlock>(OpaqueBlock{{}, Bytes(body.begin(), body.end())});
        return;
    }
  }

  static void read_dtcs(ByteView list, std::vector<std::uint32_t>& out) {
    out.clear();
    out.reserve(list.size() / 4);
    for (std::size_t i = 0; i + 4 <= list.size(); i += 4)
      out.push_back(load_be(list.data() + i, 4));
  }

  // WORD length · items of id WORD · length BYTE · value. Items that overrun the block make it
  // opaque (kept whole) rather than half-read.
  static void decode_tlv(Block& block, ByteView body, std::vector<Issue>& issues) {
    auto& tlv = block.payload.emplace<SupplementaryTlvBlock>();
    ByteReader r(body.subspan(2));
    bool overrun = false;  // an item's header read, its value past the block
    while (r.remaining() >= 3) {
      TlvItem item;
      item.id = r.u16();
      const std::size_t len = r.u8();
      if (r.remaining() < len) {
        overrun = true;  // the reader may be empty now: the header alone must not pass as whole
        break;
      }
      const ByteView value = r.take(len);
      item.value.assign(value.begin(), value.end());
      tlv.items.push_back(std::move(item));
    }
    if (overrun || !r.empty()) {
      issues.push_back(Issue::malformed_tlv);
      block.payload.emplace<OpaqueBlock>(OpaqueBlock{{}, Bytes(body.begin(), body.end())});
    }
  }

  ByteView unit_;
  Profile layout_;
  const DecodeOptions& options_;
  bool strict_;
  std::size_t header_size_;
};

std::size_t report_header_size(Profile layout) noexcept {
  switch (layout) {
    case Profile::gb17691:
      return 6;
    case Profile::hj1239:
      return 8;
    case Profile::nonroad:
      return nonroad_report_header;
  }
  return 6;
}

// Whether the data unit reads as a complete report in `layout` with known types (and, with
// `valid_times`, valid report and block times): the §3.4 test.
bool fits_layout(ByteView unit, Profile layout, const DecodeOptions& options, bool valid_times) {
  const std::size_t header = report_header_size(layout);
  if (unit.size() < header || (valid_times && !time_at(unit.data()).valid())) return false;
  return BlockWalker(unit, layout, options, /*strict=*/valid_times).consumes_exactly(header);
}

void decode_report(ByteView unit, Profile layout, const DecodeOptions& options, DecodedFrame& out,
                   VariantSet& seen) {
  const std::size_t header = report_header_size(layout);
  if (unit.size() < header) {
    out.message.body = std::monostate{};
    out.issues.push_back(Issue::body_length);
    return;
  }
  // The previous frame's report, if `out` held one, with its blocks (decode_frame_into).
  auto* kept = std::get_if<ReportBody>(&out.message.body);
  ReportBody& report = kept ? *kept : out.message.body.emplace<ReportBody>();
  report.layout = layout;
  report.time = time_at(unit.data());
  report.serial = layout != Profile::gb17691 ? load_be16(unit.data() + 6) : 0;
  report.position = Position{};
  if (layout == Profile::nonroad) decode_position(unit.data() + 8, report.position);
  report.signature.reset();
  report.unparsed_tail.clear();
  if (report.blocks.capacity() == 0) report.blocks.reserve(10);
  if (!report.time.valid()) seen |= bit(Variant::invalid_time);
  seen |= BlockWalker(unit, layout, options, /*strict=*/false).decode(header, report, out.issues);
}

// The profile that reads a real-time/resend body (§3.4).
std::optional<Profile> choose_report_profile(ByteView unit, const DecodeOptions& options) {
  if (options.profile) return options.profile;
  const bool gb = fits_layout(unit, Profile::gb17691, options, true);
  const bool hj = fits_layout(unit, Profile::hj1239, options, true);
  if (gb != hj) return gb ? Profile::gb17691 : Profile::hj1239;
  if (!gb) {
    // Neither with valid times: structure alone decides (a terminal whose clock is not set yet
    // sends zero times; that is a field's problem, not a reason to drop the body).
    const bool gb_shape = fits_layout(unit, Profile::gb17691, options, false);
    const bool hj_shape = fits_layout(unit, Profile::hj1239, options, false);
    if (gb_shape != hj_shape) return gb_shape ? Profile::gb17691 : Profile::hj1239;
  }
  return options.fallback_profile;
}

RemovalAlarmBody read_removal_alarm(ByteView unit, bool nonroad) {
  RemovalAlarmBody alarm;
  alarm.time = time_at(unit.data());
  alarm.serial = load_be16(unit.data() + 6);
  decode_position(unit.data() + 8, alarm.position);
  if (nonroad) alarm.removal_state = unit[17];
  return alarm;
}

void decode_body(ByteView unit, const DecodeOptions& options, DecodedFrame& out, VariantSet& seen) {
  const std::uint8_t code = out.message.header.command;
  const bool reports = code == command::realtime || code == command::resend;

  if (reports && unit.size() != time_size) {
    out.profile = choose_report_profile(unit, options);
    if (!out.profile) {
      out.message.body = std::monostate{};
      out.issues.push_back(Issue::ambiguous_layout);
      return;
    }
    decode_report(unit, *out.profile, options, out, seen);
    return;
  }

  if (options.profile) {
    out.profile = options.profile;
  } else {
    out.profile = code >= command::hj_removal_alarm && code <= command::activation_reply
                      ? Profile::hj1239
                      : Profile::gb17691;
  }
  const CommandKind kind = classify_command(code, *out.profile);
  auto& body = out.message.body;
  const std::size_t n = unit.size();
  const std::uint8_t* p = unit.data();

  // The platform's replies to login, real-time, resend, logout and removal alarm (hj1239 §6, and
  // the platform variant's ack) are the platform time alone.
  const bool answerable = kind == CommandKind::login || kind == CommandKind::realtime ||
                          kind == CommandKind::resend || kind == CommandKind::logout ||
                          kind == CommandKind::removal_alarm || kind == CommandKind::time_sync;
  if (answerable && n == time_size) {
    body = PlatformTimeBody{time_at(p)};
    return;
  }

  switch (kind) {
    case CommandKind::login:
      if (n == login_size) {
        LoginBody login{time_at(p), load_be16(p + 6), {}};
        std::copy_n(p + 8, login.iccid.size(), login.iccid.begin());
        body = login;
        return;
      }
      break;
    case CommandKind::logout:
      if (n == logout_size) {
        body = LogoutBody{time_at(p), load_be16(p + 6)};
        return;
      }
      break;
    case CommandKind::time_sync:
      if (n == 0) {
        body = TimeSyncRequestBody{};
        return;
      }
      break;
    case CommandKind::removal_alarm: {
      const bool nonroad = *out.profile == Profile::nonroad;
      if (n == (nonroad ? nonroad_removal_alarm_size : hj_removal_alarm_size)) {
        body = read_removal_alarm(unit, nonroad);
        return;
      }
      break;
    }
    case CommandKind::activation:
      if (n > activation_signed_part) {
        if (!signature_at(unit, activation_signed_part)) {
          body = std::monostate{};
          out.issues.push_back(Issue::invalid_signature_block);
          return;
        }
        ActivationBody a;
        ByteReader r(unit);
        a.time = time_at(r.take(6).data());
        r.copy_array(a.chip_id);
        r.copy_array(a.public_key);
        r.copy_array(a.vin);
        a.signature = read_signature(r.rest());
        body = std::move(a);
        return;
      }
      break;
    case CommandKind::activation_reply:
      if (n == activation_reply_size) {
        body = ActivationReplyBody{p[0], p[1]};
        return;
      }
      break;
    case CommandKind::realtime:
    case CommandKind::resend:  // only the 6-byte reply reaches here, handled above
      break;
    case CommandKind::user_defined:
    case CommandKind::reserved:
      body = RawBody{Bytes(unit.begin(), unit.end())};
      return;
  }
  body = std::monostate{};
  out.issues.push_back(Issue::body_length);
}

// §1.2 Decision: whatever the encryption byte says, try plaintext; if that fails and the byte is
// not "none", the body is reported as encrypted instead of as malformed.
bool plaintext_failed(const DecodedFrame& f) noexcept {
  if (std::holds_alternative<std::monostate>(f.message.body)) return true;
  return std::any_of(f.issues.begin(), f.issues.end(), [](Issue i) {
    return i == Issue::unparsed_tail || i == Issue::malformed_tlv || i == Issue::body_length;
  });
}

}  // namespace

Result<Header> decode_header(ByteView frame) noexcept {
  if (frame.size() < header_size) return FrameError::too_short;
  if (!is_start_pair(frame[0], frame[1])) return FrameError::bad_start;
  Header h;
  h.start = frame[0] == 0x7E ? StartMarker::tildes : StartMarker::hashes;
  h.command = frame[2];
  const std::uint8_t b3 = frame[3];
  // §1 Decision: byte 3 is a VIN character (≥ 0x30) in the terminal variant.
  if (b3 == ack_flag::success || b3 == ack_flag::error || b3 == ack_flag::vin_duplicate ||
      b3 == ack_flag::command) {
    h.variant = HeaderVariant::platform;
    h.ack_flag = b3;
    h.software_version = 0;
    std::copy_n(frame.begin() + 4, h.vin.size(), h.vin.begin());
  } else {
    h.variant = HeaderVariant::terminal;
    std::copy_n(frame.begin() + 3, h.vin.size(), h.vin.begin());
    h.software_version = frame[20];
  }
  h.encryption = frame[21];
  return h;
}

// An invalid time in a body other than a report (reports note theirs while decoding).
VariantSet time_variant(const Body& body) noexcept {
  return std::visit(
      [](const auto& b) -> VariantSet {
        using B = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<B, LoginBody> || std::is_same_v<B, LogoutBody> ||
                      std::is_same_v<B, PlatformTimeBody> || std::is_same_v<B, RemovalAlarmBody> ||
                      std::is_same_v<B, ActivationBody>)
          return b.time.valid() ? 0 : bit(Variant::invalid_time);
        else
          return 0;
      },
      body);
}

Result<DecodedFrame> decode_frame(ByteView frame, const DecodeOptions& options) {
  DecodedFrame out;
  if (const auto error = decode_frame_into(frame, options, out)) return error;
  return out;
}

boost::system::error_code decode_frame_into(ByteView frame, const DecodeOptions& options,
                                            DecodedFrame& out, CheckByte check) {
  if (frame.size() < frame_overhead) return FrameError::too_short;
  auto header = decode_header(frame);
  if (!header) return header.error();
  const std::size_t data_length = load_be16(frame.data() + 22);
  if (frame.size() != frame_overhead + data_length) return FrameError::length_mismatch;

  // Everything is overwritten below; the body is kept until then for its storage.
  out.message.header = *header;
  out.profile.reset();
  out.data_length = static_cast<std::uint16_t>(data_length);
  out.issues.clear();
  out.variants.clear();
  out.bcc_ok = check == CheckByte::verified ||
               xor_checksum(frame.subspan(2, frame.size() - 3)) == frame.back();
  if (!out.bcc_ok) out.issues.push_back(Issue::bcc_mismatch);

  VariantSet seen = 0;
  decode_body(frame.subspan(header_size, data_length), options, out, seen);

  if (out.message.header.encryption != 0x01 && plaintext_failed(out)) {
    out.message.body = std::monostate{};
    std::erase_if(out.issues, [](Issue i) { return i != Issue::bcc_mismatch; });
    out.issues.push_back(Issue::encrypted_unsupported);
  }
  if (std::holds_alternative<std::monostate>(out.message.body))
    seen = 0;  // nothing was read (an encrypted body, say): nothing to note
  else if (!std::holds_alternative<ReportBody>(out.message.body))
    seen = time_variant(out.message.body);
  for (unsigned v = 0; v < 8; ++v)
    if (seen & (1u << v)) out.variants.push_back(static_cast<Variant>(v));
  return {};
}

}  // namespace lantian::protocol
