// The framer's limits and resynchronisation, beyond what every corpus frame already checks.

#include "protocol/framer.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace lantian::protocol {
namespace {
using Kind = FramerEvent::Kind;

const Bytes& login() {
  return testing::corpus_frame("e1-login").bytes;
}

TEST(Framer, EmptyBufferNeedsMore) {
  Framer framer;
  EXPECT_EQ(framer.next().kind, Kind::need_more);
  EXPECT_EQ(framer.buffered(), 0u);
}

TEST(Framer, LoneStartByteWaitsForItsPartner) {
  Framer framer;
  const Bytes one{0x23};
  framer.feed(one);
  EXPECT_EQ(framer.next().kind, Kind::need_more);
  EXPECT_EQ(framer.buffered(), 1u);
  framer.feed(ByteView(login()).subspan(1));
  const auto e = framer.next();
  ASSERT_EQ(e.kind, Kind::frame);
  EXPECT_EQ(Bytes(e.frame.begin(), e.frame.end()), login());
}

TEST(Framer, GarbageEndingInAStartByteKeepsIt) {
  Framer framer;
  const Bytes junk{0x01, 0x02, 0x7E};
  framer.feed(junk);
  auto e = framer.next();
  EXPECT_EQ(e.kind, Kind::garbage);
  EXPECT_EQ(e.skipped, 2u);
  EXPECT_EQ(framer.next().kind, Kind::need_more);
  EXPECT_EQ(framer.buffered(), 1u);
}

TEST(Framer, MismatchedStartBytesAreGarbage) {
  Framer framer;
  Bytes stream{0x23, 0x7E, 0x23, 0x7E};  // "#~#~": no pair of equal start bytes
  stream.insert(stream.end(), login().begin(), login().end());
  framer.feed(stream);
  std::size_t skipped = 0;
  FramerEvent e;
  while ((e = framer.next()).kind == Kind::garbage) skipped += e.skipped;
  ASSERT_EQ(e.kind, Kind::frame);
  EXPECT_EQ(skipped, 4u);
}

TEST(Framer, FakeStartPairInGarbageDelaysButDoesNotLoseTheNextFrame) {
  // "~~" in garbage reads as a header announcing (here) 0x0101 bytes: the framer waits for them,
  // finds a wrong BCC, and resynchronises onto the real frame inside.
  Bytes stream{0x7E, 0x7E};
  stream.insert(stream.end(), 20, 0x01);
  stream.insert(stream.end(), {0x01, 0x01});  // data-unit length 257
  stream.insert(stream.end(), login().begin(), login().end());
  stream.insert(stream.end(), 300, 0x55);
  Framer framer;
  framer.feed(stream);
  std::vector<Kind> kinds;
  Bytes found;
  for (FramerEvent e; (e = framer.next()).kind != Kind::need_more;) {
    kinds.push_back(e.kind);
    if (e.kind == Kind::frame) found.assign(e.frame.begin(), e.frame.end());
  }
  EXPECT_EQ(kinds, (std::vector<Kind>{Kind::bad_check, Kind::garbage, Kind::frame, Kind::garbage}));
  EXPECT_EQ(found, login());
  EXPECT_EQ(framer.skipped_total(), 24u + 300u);
}

TEST(Framer, OversizedLengthIsAnErrorThenResyncs) {
  Framer framer({.max_data_length = 100});
  Bytes big = login();
  big[22] = 0x01;  // announces 0x011C = 284 bytes > 100
  Bytes stream = big;
  stream.insert(stream.end(), login().begin(), login().end());
  framer.feed(stream);
  auto e = framer.next();
  EXPECT_EQ(e.kind, Kind::oversized);
  EXPECT_EQ(e.skipped, 1u);
  std::size_t skipped = e.skipped;
  while ((e = framer.next()).kind == Kind::garbage) skipped += e.skipped;
  ASSERT_EQ(e.kind, Kind::frame);
  EXPECT_EQ(Bytes(e.frame.begin(), e.frame.end()), login());
  EXPECT_EQ(skipped, big.size());
}

TEST(Framer, LimitAboveTheProtocolMaximumIsClamped) {
  Framer framer({.max_data_length = 1 << 20});
  EXPECT_EQ(framer.limits().max_data_length, 65531u);
}

TEST(Framer, EndlessGarbageNeverGrowsTheBuffer) {
  Framer framer({.max_data_length = 1024, .read_chunk = 512});
  Bytes junk(512, 0x55);
  std::uint64_t fed = 0;
  for (int i = 0; i < 20000; ++i) {  // 10 MiB
    fed += framer.feed(junk);
    FramerEvent e;
    while ((e = framer.next()).kind != Kind::need_more) EXPECT_EQ(e.kind, Kind::garbage);
    ASSERT_LE(framer.buffered(), 1u);
  }
  EXPECT_EQ(fed, 20000u * 512u);
  EXPECT_EQ(framer.skipped_total(), fed);
}

TEST(Framer, AnnouncedButNeverSentFrameBuffersAtMostOneFrame) {
  // A terminal that announces a maximum-size frame and then trickles bytes: the buffer holds at
  // most that frame plus one read, and prepare() stops offering space beyond it.
  Framer framer({.max_data_length = 65531, .read_chunk = 4096});
  Bytes head = login();
  head[22] = 0xFF;
  head[23] = 0xFB;
  head.resize(24);
  framer.feed(head);
  std::size_t total = head.size();
  for (int i = 0; i < 100; ++i) {
    auto region = framer.prepare();
    std::fill(region.begin(), region.end(), std::uint8_t{0});
    framer.commit(region.size());
    total += region.size();
    if (framer.next().kind != Kind::need_more) break;
  }
  EXPECT_LE(framer.buffered(), 25u + 65531u + 4096u);
  EXPECT_GE(total, 25u + 65531u);
}

TEST(Framer, ReleaseMemoryOnlyWhenEmpty) {
  Framer framer;
  framer.feed(ByteView(login()).first(10));
  EXPECT_FALSE(framer.release_memory());
  framer.feed(ByteView(login()).subspan(10));
  ASSERT_EQ(framer.next().kind, Kind::frame);
  EXPECT_EQ(framer.next().kind, Kind::need_more);
  EXPECT_TRUE(framer.release_memory());
  framer.feed(login());  // still usable afterwards
  EXPECT_EQ(framer.next().kind, Kind::frame);
}

TEST(Framer, FrameViewStaysValidUntilTheNextCall) {
  Framer framer;
  Bytes two = login();
  two.insert(two.end(), login().begin(), login().end());
  framer.feed(two);
  const auto first = framer.next();
  ASSERT_EQ(first.kind, Kind::frame);
  const Bytes copy(first.frame.begin(), first.frame.end());
  EXPECT_EQ(copy, login());
  const auto second = framer.next();
  ASSERT_EQ(second.kind, Kind::frame);
  EXPECT_EQ(Bytes(second.frame.begin(), second.frame.end()), login());
  EXPECT_EQ(framer.next().kind, Kind::need_more);
}

TEST(Framer, XorChecksumMatchesTheByteWiseDefinition) {
  Bytes data(1000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 31 + 7);
  for (std::size_t n = 0; n < 40; ++n) {
    std::uint8_t x = 0;
    for (std::size_t i = 0; i < n; ++i) x ^= data[i];
    EXPECT_EQ(xor_checksum(ByteView(data).first(n)), x) << n;
  }
  EXPECT_EQ(xor_checksum(ByteView(login()).subspan(2, login().size() - 3)), login().back());
}

}  // namespace
}  // namespace lantian::protocol
