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

// Garbage as a buggy terminal sends it: 3 bytes, then a start pair with a plausible header (real-
// time report, a VIN, a data unit of 40,000 bytes), then 10 more bytes: 37 bytes in all.
Bytes false_start_garbage() {
  Bytes g{0x11, 0x22, 0x33};
  Bytes head(login().begin(), login().begin() + 24);
  head[2] = 0x02;
  head[22] = 0x9C;  // 0x9C40 = 40,000
  head[23] = 0x40;
  g.insert(g.end(), head.begin(), head.end());
  g.insert(g.end(), 10, 0x00);
  return g;
}

TEST(Framer, FramesAfterAFalseStartComeOutAsSoonAsTheyAreInAtEverySplit) {
  const std::vector<Bytes> frames{login(), testing::corpus_frame("e3-hj1239-realtime-signed").bytes,
                                  testing::corpus_frame("c03-hj1239-10-samples-unsigned").bytes,
                                  testing::corpus_frame("e4-logout").bytes};
  Bytes stream = frames[0];
  const Bytes garbage = false_start_garbage();
  ASSERT_EQ(garbage.size(), 37u);
  stream.insert(stream.end(), garbage.begin(), garbage.end());
  std::vector<std::size_t> ends{frames[0].size()};  // where each frame's last byte lies, + 1
  for (std::size_t i = 1; i < frames.size(); ++i) {
    stream.insert(stream.end(), frames[i].begin(), frames[i].end());
    ends.push_back(stream.size());
  }
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    SCOPED_TRACE("split at " + std::to_string(split));
    Framer framer;
    std::vector<Bytes> found;
    std::size_t false_start = 0, garbage_bytes = 0;
    const auto drain = [&] {
      for (FramerEvent e; (e = framer.next()).kind != Kind::need_more;) {
        if (e.kind == Kind::frame) found.emplace_back(e.frame.begin(), e.frame.end());
        else if (e.kind == Kind::false_start) false_start += e.skipped;
        else if (e.kind == Kind::garbage) garbage_bytes += e.skipped;
        else ADD_FAILURE() << "unexpected event " << static_cast<int>(e.kind);
      }
    };
    ASSERT_EQ(framer.feed(ByteView(stream).first(split)), split);
    drain();
    // Every frame whose bytes are all in is out now, without waiting for the false start's 40,000.
    const auto complete = static_cast<std::size_t>(
        std::count_if(ends.begin(), ends.end(), [&](std::size_t end) { return end <= split; }));
    ASSERT_EQ(found.size(), complete);
    ASSERT_EQ(framer.feed(ByteView(stream).subspan(split)), stream.size() - split);
    drain();
    EXPECT_EQ(found, frames);
    EXPECT_EQ(garbage_bytes, 3u);
    EXPECT_EQ(false_start, 34u);
    EXPECT_EQ(framer.skipped_total(), 37u);
    EXPECT_EQ(framer.buffered(), 0u);
  }
}

TEST(Framer, AFalseStartInsideAFalseStartStillReachesTheFrame) {
  // Two plausible headers announcing long data units, the second inside the first, then a frame.
  Bytes stream = false_start_garbage();
  const Bytes inner = false_start_garbage();
  stream.insert(stream.end(), inner.begin(), inner.end());
  stream.insert(stream.end(), login().begin(), login().end());
  Framer framer;
  framer.feed(stream);
  std::vector<Kind> kinds;
  for (FramerEvent e; (e = framer.next()).kind != Kind::need_more;) kinds.push_back(e.kind);
  EXPECT_EQ(kinds, (std::vector<Kind>{Kind::garbage, Kind::false_start, Kind::frame}));
  EXPECT_EQ(framer.skipped_total(), 74u);
}

TEST(Framer, AnImplausibleHeaderInsideAnUnfinishedFrameIsNotTakenForAFrame) {
  // Inside an unfinished frame: a "frame" with a correct BCC but command 0x00, and one whose VIN
  // holds control bytes. Neither ends the wait for the real frame's bytes.
  Bytes head(login().begin(), login().begin() + 24);
  head[22] = 0x01;  // 0x0100: 256 bytes of data unit
  head[23] = 0x00;
  Bytes fake = login();
  fake[2] = 0x00;
  fake.back() = xor_checksum(ByteView(fake).subspan(2, fake.size() - 3));
  Bytes binary_vin = login();
  binary_vin[5] = 0x01;
  binary_vin[6] = 0xF0;
  binary_vin.back() = xor_checksum(ByteView(binary_vin).subspan(2, binary_vin.size() - 3));
  Bytes stream = head;
  stream.insert(stream.end(), fake.begin(), fake.end());
  stream.insert(stream.end(), binary_vin.begin(), binary_vin.end());
  Framer framer;
  framer.feed(stream);
  EXPECT_EQ(framer.next().kind, Kind::need_more);
  EXPECT_EQ(framer.buffered(), stream.size());
  EXPECT_TRUE(plausible_header(login().data(), 65531));
  EXPECT_FALSE(plausible_header(fake.data(), 65531));
  EXPECT_FALSE(plausible_header(binary_vin.data(), 65531));
  EXPECT_FALSE(plausible_header(login().data(), 10));  // its data unit is above that limit
}

TEST(Framer, TrickledChainOfFalseStartsEndsAtTheFrame) {
  // Plausible headers every 40 bytes, each announcing 60,000 bytes, fed one byte at a time: each
  // is dropped as a false start the moment the frame after them is complete.
  Bytes stream;
  for (std::uint8_t n = 0; stream.size() < 60000; ++n) {
    Bytes g = false_start_garbage();
    g[25] = 0xEA;  // 0xEA60 = 60,000
    g[26] = 0x60;
    stream.insert(stream.end(), g.begin() + 3, g.end());
    stream.insert(stream.end(), {n, 0x00, 0x00});  // no two alike (a period would fix the BCCs)
  }
  stream.insert(stream.end(), login().begin(), login().end());
  Framer framer({.max_data_length = 65531, .read_chunk = 1});
  std::size_t frames = 0;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    framer.feed(ByteView(stream).subspan(i, 1));
    for (FramerEvent e; (e = framer.next()).kind != Kind::need_more;) frames += e.kind == Kind::frame;
  }
  EXPECT_EQ(frames, 1u);
  EXPECT_EQ(framer.buffered(), 0u);
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
