// The platform link's login, logout and header rewrite (protocol/platform_link.hpp).

#include <gtest/gtest.h>

#include "protocol/decode.hpp"
#include "protocol/framer.hpp"
#include "protocol/platform_link.hpp"
#include "test_support.hpp"

namespace lantian::protocol {
namespace {

TEST(PlatformLink, LoginHasTheGbt32960LayoutAndReadsBack) {
  const auto frame = make_platform_login(
      make_vin("LANTIANHENAN00001"),
      {BeijingTime::from_fields(2026, 12, 7, 8, 0, 1), 513, "HA0001", "s3cret", 0x01});
  ASSERT_EQ(frame.size(), frame_overhead + platform_login_data_length);
  EXPECT_EQ(frame[0], 0x23);
  EXPECT_EQ(frame[2], 0x05);
  EXPECT_EQ(frame[3], ack_flag::command);
  EXPECT_EQ(std::string(frame.begin() + 4, frame.begin() + 21), "LANTIANHENAN00001");
  EXPECT_EQ(frame[21], 0x01);
  EXPECT_EQ(frame[22], 0x00);
  EXPECT_EQ(frame[23], 41);
  // time 26-12-07 08:00:01, serial 0x0201, the user NUL-padded to 12 bytes
  EXPECT_EQ(Bytes(frame.begin() + 24, frame.begin() + 32),
            (Bytes{26, 12, 7, 8, 0, 1, 0x02, 0x01}));
  EXPECT_EQ(Bytes(frame.begin() + 32, frame.begin() + 44),
            (Bytes{'H', 'A', '0', '0', '0', '1', 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(frame[64], 0x01);  // encryption rule
  EXPECT_EQ(frame.back(), xor_checksum(ByteView(frame).subspan(2, frame.size() - 3)));
  EXPECT_TRUE(is_platform_request(frame, 0x05));
  EXPECT_FALSE(is_platform_request(frame, 0x06));

  const auto login = parse_platform_login(frame);
  ASSERT_TRUE(login);
  EXPECT_EQ(login->user, "HA0001");
  EXPECT_EQ(login->password, "s3cret");
  EXPECT_EQ(login->serial, 513);
  EXPECT_EQ(login->time.iso8601(), "2026-12-07T08:00:01+08:00");
  // Configured codes.
  EXPECT_EQ(make_platform_login(make_vin("LANTIANHENAN00001"), *login, 0x90)[2], 0x90);
}

TEST(PlatformLink, LogoutCarriesTheLoginSerial) {
  const auto frame = make_platform_logout(make_vin("LANTIANHENAN00001"),
                                          BeijingTime::from_fields(2026, 12, 7, 9, 0, 0), 513);
  ASSERT_EQ(frame.size(), frame_overhead + 8);
  EXPECT_EQ(frame[2], 0x06);
  EXPECT_EQ(frame[3], ack_flag::command);
  EXPECT_EQ(Bytes(frame.begin() + 24, frame.end() - 1), (Bytes{26, 12, 7, 9, 0, 0, 0x02, 0x01}));
  EXPECT_FALSE(parse_platform_login(frame));
}

TEST(PlatformLink, ATerminalFrameGoesUpWithItsDataUnitUntouched) {
  const auto& terminal = testing::corpus_frame("e3-hj1239-realtime-signed").bytes;
  const auto up = to_platform_variant(terminal);
  ASSERT_EQ(up.size(), terminal.size());
  EXPECT_EQ(up[2], terminal[2]);
  EXPECT_EQ(up[3], ack_flag::command);
  EXPECT_TRUE(std::equal(terminal.begin() + 3, terminal.begin() + 20, up.begin() + 4));
  EXPECT_TRUE(std::equal(terminal.begin() + 21, terminal.end() - 1, up.begin() + 21));
  const auto decoded = testing::decode_ok(up);
  EXPECT_EQ(decoded.message.header.variant, HeaderVariant::platform);
  EXPECT_EQ(as_text(decoded.message.header.vin), as_text(
      testing::decode_ok(terminal).message.header.vin));
  // A platform-variant frame goes up as it is (a chain of platforms).
  const auto& platform = testing::corpus_frame("c08-platform-variant-realtime").bytes;
  EXPECT_EQ(to_platform_variant(platform), platform);
  EXPECT_TRUE(to_platform_variant(Bytes{0x23, 0x23, 0x02}).empty());
}

}  // namespace
}  // namespace lantian::protocol
