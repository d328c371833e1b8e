// Encode → decode round trips over seeded random messages of every command and every block type of
// every profile: decode(encode(m)) == m, and encoding the result again gives the same bytes.

#include <gtest/gtest.h>

#include <random>

#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/field_layouts.hpp"
#include "protocol/json.hpp"

namespace lantian::protocol {
namespace {
using namespace detail;

class RandomMessages {
 public:
  explicit RandomMessages(std::uint64_t seed) : rng_(seed) {}

  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(rng_() % n); }
  std::uint8_t byte() { return static_cast<std::uint8_t>(rng_()); }

  Bytes bytes(std::size_t n) {
    Bytes b(n);
    for (auto& x : b) x = byte();
    return b;
  }
  template <std::size_t N>
  FixedText<N> text() {
    static constexpr char alphabet[] = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ";
    FixedText<N> t;
    for (auto& c : t) c = static_cast<std::uint8_t>(alphabet[below(sizeof alphabet - 1)]);
    return t;
  }
  BeijingTime time() {
    if (below(8) == 0) {  // sometimes not a valid time at all
      BeijingTime t;
      for (auto& b : t.raw) b = byte();
      return t;
    }
    return BeijingTime::from_fields(2000 + int(below(60)), 1 + int(below(12)), 1 + int(below(28)),
                                    int(below(24)), int(below(60)), int(below(60)));
  }

  // Every field valid, invalid, abnormal or out of range.
  template <class Owner, std::size_t N>
  void fill(const std::array<ScalarField<Owner>, N>& fields, std::type_identity_t<Owner>& out) {
    for (const auto& f : fields) {
      const FieldEncoding& e = encoding_of(f.kind);
      const std::uint32_t ones = all_ones(e.width);
      auto raw = static_cast<std::uint32_t>(rng_() % (std::uint64_t{e.max_raw} + 1));
      switch (below(10)) {
        case 0:
          raw = ones;
          break;
        case 1:
          raw = ones - 1;
          break;
        case 2:
          if (e.max_raw < ones - 2) raw = e.max_raw + 1 + below(ones - 2 - e.max_raw);
          break;
        default:
          break;
      }
      out.*f.member = Reading::from_raw(f.kind, raw);
    }
  }

  Position position() {
    Position p;
    p.status = byte();
    fill(position_fields, p);
    return p;
  }

  Signature signature() { return {bytes(1 + below(33)), bytes(1 + below(33))}; }

  std::vector<std::uint32_t> dtcs() {
    std::vector<std::uint32_t> v(below(6));
    for (auto& d : v) d = static_cast<std::uint32_t>(rng_());
    return v;
  }

  BlockPayload payload(std::uint8_t type, Profile layout, bool last) {
    switch (type) {
      case block_type::obd:
        if (layout == Profile::nonroad) {
          EcdBlock e{byte(), byte(), 0, dtcs()};
          e.dtc_count = below(5) == 0 ? 0xFE : static_cast<std::uint8_t>(e.dtcs.size());
          if (e.dtc_count == 0xFE) e.dtcs.clear();
          return e;
        } else {
          ObdBlock o;
          o.protocol = byte();
          o.mil = byte();
          o.support = static_cast<std::uint16_t>(rng_());
          o.readiness = static_cast<std::uint16_t>(rng_());
          o.vin = text<17>();
          o.calid = text<18>();
          o.cvn = text<18>();
          const Bytes iupr = below(4) == 0 ? Bytes(36, '0') : bytes(36);
          std::copy(iupr.begin(), iupr.end(), o.iupr_raw.begin());
          o.dtcs = dtcs();
          o.dtc_count = below(5) == 0 ? 0xFE : static_cast<std::uint8_t>(o.dtcs.size());
          if (o.dtc_count == 0xFE) o.dtcs.clear();
          return o;
        }
      case block_type::stream:
        if (layout == Profile::nonroad) {
          MachineStreamBlock m;
          fill(engine_fields, m);
          fill(diesel_fields, m);
          fill(machine_stream_tail_fields, m);
          return m;
        } else {
          StreamBlock s;
          fill(engine_fields, s);
          fill(diesel_fields, s);
          s.position = position();
          fill(stream_tail_fields, s);
          return s;
        }
      case block_type::twc:
      case block_type::twc_nox: {
        CatalystBlock c;
        c.with_nox = type == block_type::twc_nox;
        fill(engine_fields, c);
        fill(catalyst_o2_fields, c);
        if (c.with_nox) fill(catalyst_nox_fields, c);
        fill(catalyst_rest_fields, c);
        c.position = position();
        fill(catalyst_tail_fields, c);
        return c;
      }
      case block_type::hybrid: {
        HybridBlock h;
        fill(hybrid_fields, h);
        return h;
      }
      case block_type::supplementary:
        if (last && below(2) == 0) {
          SupplementaryTlvBlock t;
          for (std::uint32_t i = below(4); i > 0; --i)
            t.items.push_back({static_cast<std::uint16_t>(rng_()), bytes(below(20))});
          return t;
        } else {
          SupplementaryBlock s;
          fill(supplementary_fields, s);
          return s;
        }
      default: {
        SmokeBlock k;
        fill(smoke_fields, k);
        return k;
      }
    }
  }

  ReportBody report(Profile layout) {
    static constexpr std::uint8_t gb_types[] = {0x01, 0x02, 0x80, 0x81};
    static constexpr std::uint8_t hj_types[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x80, 0x81};
    static constexpr std::uint8_t nonroad_types[] = {0x01, 0x02, 0x80, 0x81};
    ReportBody r;
    r.layout = layout;
    r.time = time();
    if (layout != Profile::gb17691) r.serial = static_cast<std::uint16_t>(rng_());
    if (layout == Profile::nonroad) r.position = position();
    const std::size_t n = layout == Profile::nonroad ? 1 + below(2) : below(12);
    for (std::size_t i = 0; i < n; ++i) {
      Block b;
      switch (layout) {
        case Profile::gb17691:
          b.type = gb_types[below(std::size(gb_types))];
          b.serial = static_cast<std::uint16_t>(rng_());
          break;
        case Profile::hj1239:
          b.type = hj_types[below(std::size(hj_types))];
          b.time = time();
          break;
        case Profile::nonroad:
          b.type = nonroad_types[below(std::size(nonroad_types))];
          break;
      }
      b.payload = payload(b.type, layout, i + 1 == n);
      r.blocks.push_back(std::move(b));
    }
    if (layout == Profile::hj1239 && below(2) == 0) r.signature = signature();
    return r;
  }

  Header header(std::uint8_t command) {
    Header h;
    h.start = below(2) ? StartMarker::hashes : StartMarker::tildes;
    h.command = command;
    h.vin = text<17>();
    if (below(4) == 0) {
      static constexpr std::uint8_t acks[] = {0x01, 0x02, 0x03, 0xFE};
      h.variant = HeaderVariant::platform;
      h.ack_flag = acks[below(4)];
      h.software_version = 0;
    } else {
      h.ack_flag = ack_flag::command;
      h.software_version = byte();
    }
    h.encryption = 0x01;
    return h;
  }

  // A message of a random kind, and the profile to decode it with.
  std::pair<Message, Profile> message() {
    static constexpr Profile profiles[] = {Profile::gb17691, Profile::hj1239, Profile::nonroad};
    const Profile profile = profiles[below(3)];
    switch (below(11)) {
      case 0:
        return {{header(command::login),
                 LoginBody{time(), static_cast<std::uint16_t>(rng_()), text<20>()}},
                profile};
      case 1:
        return {{header(command::logout), LogoutBody{time(), static_cast<std::uint16_t>(rng_())}},
                profile};
      case 2:
        return {{header(command::time_sync), TimeSyncRequestBody{}}, Profile::gb17691};
      case 3: {
        static constexpr std::uint8_t answered[] = {0x01, 0x02, 0x03, 0x04, 0x05};
        return {{header(answered[below(5)]), PlatformTimeBody{time()}}, profile};
      }
      case 4: {
        const bool nonroad = below(2);
        RemovalAlarmBody a{time(), static_cast<std::uint16_t>(rng_()), position(), std::nullopt};
        if (nonroad) a.removal_state = byte();
        return {{header(nonroad ? 0x05 : 0x06), a}, nonroad ? Profile::nonroad : Profile::hj1239};
      }
      case 5: {
        ActivationBody a{time(), text<16>(), {}, text<17>(), signature()};
        const Bytes key = bytes(64);
        std::copy(key.begin(), key.end(), a.public_key.begin());
        return {{header(command::activation), a}, below(2) ? Profile::hj1239 : Profile::nonroad};
      }
      case 6:
        return {{header(command::activation_reply), ActivationReplyBody{byte(), byte()}},
                Profile::hj1239};
      case 7: {
        const std::uint8_t cmd = below(2) ? 0x80 + static_cast<std::uint8_t>(below(0x7F))
                                          : 0x09 + static_cast<std::uint8_t>(below(0x70));
        return {{header(cmd), RawBody{bytes(below(64))}}, profile};
      }
      default: {
        auto r = report(profile);
        return {{header(below(2) ? command::realtime : command::resend), std::move(r)}, profile};
      }
    }
  }

 private:
  std::mt19937_64 rng_;
};

TEST(RoundTrip, RandomMessagesOfEveryKind) {
  RandomMessages gen(20260101);
  std::size_t reports = 0, blocks = 0;
  for (int i = 0; i < 20000; ++i) {
    auto [message, profile] = gen.message();
    // A 6-byte report would read as the platform's reply; a report always has more.
    auto encoded = encode(message);
    ASSERT_TRUE(encoded.has_value()) << i << ": " << encoded.error().message();
    auto decoded = decode_frame(*encoded, {.profile = profile});
    ASSERT_TRUE(decoded.has_value()) << i;
    if (auto* r = std::get_if<ReportBody>(&message.body)) {
      if (encoded->size() == frame_overhead + 6) continue;
      ++reports;
      blocks += r->blocks.size();
    }
    EXPECT_TRUE(decoded->issues.empty()) << i << ": " << to_json_text(to_json(*decoded));
    ASSERT_EQ(decoded->message, message) << i << ": " << to_json_text(to_json(*decoded));
    auto again = encode(decoded->message);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, *encoded) << i;
  }
  EXPECT_GT(reports, 5000u);
  EXPECT_GT(blocks, 20000u);
}

TEST(RoundTrip, EncodeRejectsWhatCannotBeSent) {
  Message m;
  m.header.command = command::login;
  EXPECT_EQ(encode(m).error(), FrameError::nothing_to_encode);

  m.body = RawBody{Bytes(65532, 0)};
  m.header.command = 0x90;
  Bytes out{0xAA};
  EXPECT_EQ(encode(m, out).error(), FrameError::body_too_long);
  EXPECT_EQ(out, Bytes{0xAA});  // left as it was

  ReportBody r;
  r.layout = Profile::hj1239;
  r.signature = Signature{Bytes(34, 1), Bytes(32, 1)};
  m.body = r;
  m.header.command = command::realtime;
  EXPECT_EQ(encode(m).error(), FrameError::field_too_long);
}

TEST(RoundTrip, PhysicalValuesEncodeToTheNearestRaw) {
  // A terminal model (the simulator) sets physical values; they are rounded to the resolution.
  StreamBlock s;
  s.speed_kmh.set(60.001);
  s.engine_rpm.set(1500.06);
  s.nox_downstream_ppm.set(-200.0);
  s.scr_inlet_temp_c.set(300.0);
  s.position.longitude.set(113.625321);
  s.position.latitude.set(34.746601);
  s.odometer_km.set(12345.64);
  s.reagent_level_pct.set(150.0);  // clamped to the valid range
  s.fuel_level_pct.mark(ValueStatus::invalid);
  ReportBody r;
  r.time = BeijingTime::from_fields(2026, 1, 1, 8, 0, 0);
  r.blocks.push_back({block_type::stream, 1, {}, s});
  Message m{{}, r};
  m.header.command = command::realtime;
  m.header.vin = make_vin("LZZ5CLSB5PA123456");
  auto bytes = encode(m);
  ASSERT_TRUE(bytes.has_value());
  auto d = decode_frame(*bytes, {.profile = Profile::gb17691});
  ASSERT_TRUE(d.has_value());
  const auto& got =
      std::get<StreamBlock>(std::get<ReportBody>(d->message.body).blocks.at(0).payload);
  EXPECT_EQ(got.speed_kmh.get(), 60.0);
  EXPECT_EQ(got.engine_rpm.get(), 1500.0);
  EXPECT_EQ(got.nox_downstream_ppm.get(), -200.0);
  EXPECT_EQ(got.scr_inlet_temp_c.get(), 300.0);
  EXPECT_EQ(got.position.lon_deg(), 113.625321);
  EXPECT_EQ(got.position.lat_deg(), 34.746601);
  EXPECT_EQ(got.odometer_km.get(), 12345.6);
  EXPECT_EQ(got.reagent_level_pct.get(), 100.0);
  EXPECT_EQ(got.fuel_level_pct.status(), ValueStatus::invalid);
  EXPECT_EQ(got.fuel_level_pct.raw(), 0xFFu);
  EXPECT_EQ(got.coolant_temp_c.get(), -40.0);  // a default field holds raw 0: −40 °C here
}

}  // namespace
}  // namespace lantian::protocol
