// The decoder's decisions (docs/protocol.md) on frames made for each one.

#include "protocol/decode.hpp"

#include <gtest/gtest.h>

#include "protocol/encode.hpp"
#include "protocol/framer.hpp"
#include "protocol/json.hpp"
#include "test_support.hpp"

namespace lantian::protocol {
namespace {

const Vin vin = make_vin("LZZ5CLSB5PA123456");

// A frame with `data` as its data unit.
Bytes frame_of(std::uint8_t cmd, const Bytes& data) {
  Header h;
  h.command = cmd;
  h.vin = vin;
  auto f = encode(Message{h, RawBody{data}});
  EXPECT_TRUE(f.has_value());
  return *f;
}

Bytes time_bytes(int y, int mo, int d, int h, int mi, int s) {
  const auto t = BeijingTime::from_fields(y, mo, d, h, mi, s);
  return Bytes(t.raw.begin(), t.raw.end());
}

void append(Bytes& a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
}

// Recomputes the BCC after a test edits a frame.
void fix_bcc(Bytes& f) {
  f.back() = xor_checksum(ByteView(f).subspan(2, f.size() - 3));
}

const ReportBody& report(const DecodedFrame& f) {
  return std::get<ReportBody>(f.message.body);
}

TEST(Decode, ErrorsWhenNotAFrame) {
  const Bytes& login = testing::corpus_frame("e1-login").bytes;
  EXPECT_EQ(decode_frame(ByteView(login).first(24)).error(), FrameError::too_short);
  Bytes bad_start = login;
  bad_start[1] = 0x7E;
  EXPECT_EQ(decode_frame(bad_start).error(), FrameError::bad_start);
  EXPECT_EQ(decode_frame(ByteView(login).first(login.size() - 1)).error(),
            FrameError::length_mismatch);
  Bytes longer = login;
  longer.push_back(0);
  EXPECT_EQ(decode_frame(longer).error(), FrameError::length_mismatch);
  EXPECT_EQ(make_error_code(FrameError::length_mismatch).message(),
            "frame size differs from 25 + the data-unit length in its header");
}

TEST(Decode, WrongBodyLengthLeavesTheBodyNull) {
  const auto f = testing::decode_ok(frame_of(command::login, Bytes(27, 0x31)));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(f.message.body));
  EXPECT_EQ(f.issues, std::vector<Issue>{Issue::body_length});
  EXPECT_TRUE(to_json(f).at("body").is_null());
  EXPECT_EQ(to_json(f).at("errors").at(0).as_string(), "body_length");
}

TEST(Decode, FieldRangeBoundaries) {
  // e2's stream block: body at 24 + 6 (time) + 103 (OBD block) + 3 (type, serial).
  Bytes f = testing::corpus_frame("e2-gb17691-realtime").bytes;
  constexpr std::size_t body = 24 + 6 + 103 + 3;
  auto stream_of = [&](const Bytes& bytes) {
    const auto d = testing::decode_ok(bytes);
    EXPECT_TRUE(d.issues.empty());
    return std::get<StreamBlock>(report(d).blocks.at(1).payload);
  };
  f[body] = 0xFA, f[body + 1] = 0xFF;  // highest valid speed
  f[body + 25] = 0x0A, f[body + 26] = 0xBA, f[body + 27] = 0x95, f[body + 28] = 0x00;  // 180°
  fix_bcc(f);
  auto s = stream_of(f);
  EXPECT_EQ(s.speed_kmh.get(), 250.99609375);
  EXPECT_EQ(s.position.lon_deg(), 180.0);

  f[body] = 0xFB, f[body + 1] = 0x00;  // first out-of-range raw
  f[body + 28] = 0x01;                 // 180.000001°
  fix_bcc(f);
  s = stream_of(f);
  EXPECT_EQ(s.speed_kmh.status(), ValueStatus::out_of_range);
  EXPECT_EQ(s.speed_kmh.raw(), 0xFB00u);
  EXPECT_EQ(s.position.longitude.status(), ValueStatus::out_of_range);
  const auto json = to_json(testing::decode_ok(f));
  const auto& stream = json.at("body").at("blocks").at(1).at("stream");
  EXPECT_TRUE(stream.at("speed_kmh").is_null());
  EXPECT_TRUE(stream.at("position").at("lon").is_null());
  EXPECT_EQ(stream.at("flags").at("speed_kmh").as_string(), "out_of_range");
  EXPECT_EQ(stream.at("flags").at("position.lon").as_string(), "out_of_range");

  f[body] = 0xFF, f[body + 1] = 0xFE;  // abnormal marker
  fix_bcc(f);
  EXPECT_EQ(stream_of(f).speed_kmh.status(), ValueStatus::abnormal);
}

// hj1239 body: send time, serial, then the given blocks.
Bytes hj_body(const Bytes& blocks) {
  Bytes d = time_bytes(2026, 3, 1, 10, 0, 0);
  append(d, {0x00, 0x05});
  append(d, blocks);
  return d;
}

TEST(Decode, TrailingBlockThatLooksLikeASignatureIsABlock) {
  // A hybrid block (type 0x04, minute 9) is 15 bytes that also read as R-len 4 · R · S-len 9 · S.
  Bytes hybrid{0x04};
  append(hybrid, time_bytes(2026, 3, 1, 10, 9, 0));
  append(hybrid, {0x09, 0xC4, 0x28, 0x0F, 0x0A, 0x28, 0x0A, 0x57});
  const auto f = testing::decode_ok(frame_of(command::realtime, hj_body(hybrid)));
  ASSERT_EQ(f.profile, Profile::hj1239);
  ASSERT_EQ(report(f).blocks.size(), 1u);
  EXPECT_FALSE(report(f).signature.has_value());
  const auto& h = std::get<HybridBlock>(report(f).blocks[0].payload);
  EXPECT_EQ(h.motor_rpm.get(), 2500.0);
  EXPECT_EQ(h.motor_load_pct.get(), 40.0);
  EXPECT_EQ(h.battery_v.get(), 385.0);
  EXPECT_EQ(h.battery_a.get(), 25.0);
  EXPECT_EQ(h.soc_pct.get(), 87.0);
}

TEST(Decode, ShortSignatureAfterTheLastBlock) {
  const Bytes stream = [] {
    Bytes b{0x02};
    append(b, time_bytes(2026, 3, 1, 9, 59, 59));
    append(b, Bytes(37, 0x10));
    return b;
  }();
  Bytes blocks = stream;
  append(blocks, {0x02, 0xAA, 0xBB, 0x05, 0x11, 0x22, 0x33, 0x44, 0x55});
  const auto f = testing::decode_ok(frame_of(command::realtime, hj_body(blocks)));
  EXPECT_TRUE(f.issues.empty());
  ASSERT_EQ(report(f).blocks.size(), 1u);
  ASSERT_TRUE(report(f).signature.has_value());
  const ByteView r = report(f).signature->r(), s = report(f).signature->s();
  EXPECT_EQ(Bytes(r.begin(), r.end()), (Bytes{0xAA, 0xBB}));
  EXPECT_EQ(Bytes(s.begin(), s.end()), (Bytes{0x11, 0x22, 0x33, 0x44, 0x55}));
}

TEST(Decode, AutoUsesTheFallbackProfileWhenAmbiguous) {
  const auto& f = testing::corpus_frame("c20-auto-ambiguous-layout");
  DecodeOptions options;
  options.fallback_profile = Profile::gb17691;
  const auto d = testing::decode_ok(f.bytes, options);
  EXPECT_EQ(d.profile, Profile::gb17691);
  EXPECT_EQ(d.issues, std::vector<Issue>{Issue::unparsed_tail});
  EXPECT_EQ(report(d).unparsed_tail.size(), 23u);
}

TEST(Decode, ConfiguredUserDefinedBlockIsSteppedOver) {
  Bytes data = time_bytes(2026, 3, 1, 10, 0, 0);
  append(data, {0x90, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04});  // user-defined 0x90, 4 bytes
  const Bytes e2 = testing::corpus_frame("e2-gb17691-realtime").bytes;
  append(data, Bytes(e2.begin() + 24 + 6 + 103, e2.end() - 1));  // e2's stream block
  const auto frame = frame_of(command::realtime, data);

  const auto unknown = testing::decode_ok(frame, {.profile = Profile::gb17691});
  EXPECT_EQ(unknown.issues, std::vector<Issue>{Issue::unparsed_tail});
  EXPECT_TRUE(report(unknown).blocks.empty());

  DecodeOptions options{.profile = Profile::gb17691, .user_blocks = {{0x90, "can_frames", 4}}};
  const auto known = testing::decode_ok(frame, options);
  EXPECT_TRUE(known.issues.empty());
  ASSERT_EQ(report(known).blocks.size(), 2u);
  const auto json = to_json(known);
  const auto& first = json.at("body").at("blocks").at(0);
  EXPECT_EQ(first.at("type_name").as_string(), "can_frames");
  EXPECT_EQ(first.at("can_frames").at("raw").as_string(), "01020304");
  EXPECT_EQ(json.at("body").at("blocks").at(1).at("stream").at("engine_rpm").as_double(), 1500.0);
  // Auto detection also counts configured types as known.
  EXPECT_EQ(testing::decode_ok(frame, {.user_blocks = options.user_blocks}).profile,
            Profile::gb17691);
}

TEST(Decode, ExplicitProfileIsObeyed) {
  const auto& hj = testing::corpus_frame("e3-hj1239-realtime-signed");
  const auto as_gb = testing::decode_ok(hj.bytes, {.profile = Profile::gb17691});
  EXPECT_EQ(as_gb.profile, Profile::gb17691);
  EXPECT_EQ(as_gb.issues, std::vector<Issue>{Issue::unparsed_tail});
  EXPECT_TRUE(report(as_gb).blocks.empty());
}

TEST(Decode, CommandFiveFollowsTheProfile) {
  const auto& alarm = testing::corpus_frame("c14-nonroad-removal-alarm");
  const auto as_auto = testing::decode_ok(alarm.bytes);
  EXPECT_EQ(as_auto.command_kind(), CommandKind::time_sync);
  EXPECT_EQ(as_auto.issues, std::vector<Issue>{Issue::body_length});
  const auto as_nonroad = testing::decode_ok(alarm.bytes, alarm.options);
  EXPECT_EQ(as_nonroad.command_kind(), CommandKind::removal_alarm);
  const auto& body = std::get<RemovalAlarmBody>(as_nonroad.message.body);
  EXPECT_EQ(body.removal_state, 1);
  EXPECT_FALSE(body.position.fix_valid());
}

TEST(Decode, VinStartingWithADigitIsTheTerminalVariant) {
  Header h;
  h.command = command::logout;
  h.vin = make_vin("0123456789ABCDEFG");
  const auto f = encode(Message{h, LogoutBody{BeijingTime::from_fields(2026, 1, 1, 0, 0, 0), 1}});
  ASSERT_TRUE(f.has_value());
  const auto d = testing::decode_ok(*f);
  EXPECT_EQ(d.message.header.variant, HeaderVariant::terminal);
  EXPECT_EQ(as_text(d.message.header.vin), "0123456789ABCDEFG");
}

TEST(Decode, MalformedTlvIsKeptWhole) {
  Bytes blocks{0x80};
  append(blocks, time_bytes(2026, 3, 1, 10, 0, 0));
  append(blocks, {0x00, 0x05, 0x27, 0x11, 0x09, 0x01, 0x02});  // item says 9 bytes, 2 follow
  const auto f = testing::decode_ok(frame_of(command::realtime, hj_body(blocks)),
                                    {.profile = Profile::hj1239});
  EXPECT_EQ(f.issues, std::vector<Issue>{Issue::malformed_tlv});
  ASSERT_EQ(report(f).blocks.size(), 1u);
  EXPECT_EQ(std::get<OpaqueBlock>(report(f).blocks[0].payload).raw,
            (Bytes{0x00, 0x05, 0x27, 0x11, 0x09, 0x01, 0x02}));
}

// The last item's header fits but its value does not, and nothing follows the header: the block is
// still malformed (a reader left empty must not pass the header's bytes off as read).
TEST(Decode, TlvItemHeaderAtTheEndWithItsValueMissingIsMalformed) {
  Bytes blocks{0x80};
  append(blocks, time_bytes(2026, 3, 1, 10, 0, 0));
  append(blocks, {0x00, 0x07, 0x27, 0x11, 0x01, 0xAA, 0xBB, 0xCC, 0xDD});  // then 0xBBCC, 221 bytes
  const auto f = testing::decode_ok(frame_of(command::realtime, hj_body(blocks)),
                                    {.profile = Profile::hj1239});
  EXPECT_EQ(f.issues, std::vector<Issue>{Issue::malformed_tlv});
  ASSERT_EQ(report(f).blocks.size(), 1u);
  EXPECT_EQ(std::get<OpaqueBlock>(report(f).blocks[0].payload).raw,
            (Bytes{0x00, 0x07, 0x27, 0x11, 0x01, 0xAA, 0xBB, 0xCC, 0xDD}));
}

TEST(Decode, ActivationWithoutASignatureIsReported) {
  Bytes data = time_bytes(2026, 2, 1, 9, 0, 0);
  append(data, Bytes(16 + 64 + 17, 0x41));
  append(data, {0x20, 0x01});  // R-len 32 but only one byte
  const auto f = testing::decode_ok(frame_of(command::activation, data));
  EXPECT_EQ(f.issues, std::vector<Issue>{Issue::invalid_signature_block});
  EXPECT_TRUE(std::holds_alternative<std::monostate>(f.message.body));
}

TEST(Decode, NeverThrowsOnTruncatedBodiesOfAnyCommand) {
  // Every command with every data-unit length up to 200 bytes of a fixed pattern decodes to a
  // value.
  for (int cmd = 0; cmd < 256; ++cmd)
    for (std::size_t len = 0; len <= 200; ++len) {
      Bytes data(len);
      for (std::size_t i = 0; i < len; ++i) data[i] = static_cast<std::uint8_t>(i * 13 + cmd);
      for (auto profile : {std::optional<Profile>{}, std::optional{Profile::gb17691},
                           std::optional{Profile::hj1239}, std::optional{Profile::nonroad}}) {
        const auto d =
            decode_frame(frame_of(static_cast<std::uint8_t>(cmd), data), {.profile = profile});
        ASSERT_TRUE(d.has_value());
        (void)to_json(*d);
      }
    }
}

}  // namespace
}  // namespace lantian::protocol
