// The reply builders of §6, checked against corpus frames built independently.

#include <gtest/gtest.h>

#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "test_support.hpp"

namespace lantian::protocol {
namespace {

Header header_of(const std::string& name) {
  auto h = decode_header(testing::corpus_frame(name).bytes);
  EXPECT_TRUE(h.has_value());
  return *h;
}

TEST(Replies, TimeSyncReplyIsTheExampleReply) {
  const auto reply = make_time_sync_reply(header_of("e5a-time-sync-request"),
                                          BeijingTime::from_fields(2024, 5, 20, 8, 30, 5));
  EXPECT_EQ(reply, testing::corpus_frame("e5b-time-sync-reply").bytes);
}

TEST(Replies, SameCommandReplyCarriesThePlatformTime) {
  Header login;
  login.command = command::login;
  login.vin = make_vin("LZZ5CLSB5PA123456");
  const auto reply = make_same_command_reply(login, BeijingTime::from_fields(2026, 2, 1, 9, 0, 0));
  EXPECT_EQ(reply, testing::corpus_frame("c17-hj1239-login-reply").bytes);
}

TEST(Replies, SameCommandReplyKeepsTheTerminalsStartMarker) {
  const auto request = header_of("c02-hj1239-10-samples-signed-tildes");
  const auto now = BeijingTime::from_fields(2026, 7, 1, 8, 0, 11);
  const auto reply = make_same_command_reply(request, now);
  ASSERT_EQ(reply.size(), 31u);
  EXPECT_EQ(reply[0], 0x7E);
  EXPECT_EQ(reply[1], 0x7E);
  EXPECT_EQ(reply[2], command::realtime);
  const auto decoded = testing::decode_ok(reply);
  EXPECT_TRUE(decoded.issues.empty());
  EXPECT_EQ(std::get<PlatformTimeBody>(decoded.message.body).time, now);
  EXPECT_EQ(decoded.message.header.vin, request.vin);
}

TEST(Replies, PlatformAckAnswersAForwardedFrame) {
  const auto reply =
      make_platform_ack(header_of("c08-platform-variant-realtime"), ack_flag::success,
                        BeijingTime::from_fields(2026, 1, 2, 3, 4, 6));
  EXPECT_EQ(reply, testing::corpus_frame("c09-platform-variant-ack").bytes);
}

TEST(Replies, PlatformAckCanReportAnError) {
  const auto reply =
      make_platform_ack(header_of("c08-platform-variant-realtime"), ack_flag::vin_duplicate,
                        BeijingTime::from_fields(2026, 1, 2, 3, 4, 6));
  const auto decoded = testing::decode_ok(reply);
  EXPECT_EQ(decoded.message.header.variant, HeaderVariant::platform);
  EXPECT_EQ(decoded.message.header.ack_flag, ack_flag::vin_duplicate);
}

}  // namespace
}  // namespace lantian::protocol
