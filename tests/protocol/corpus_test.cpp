// Every corpus frame (the shared examples plus the project's own, tests/corpus/frames) decodes to
// exactly the JSON beside it, re-encodes to exactly its bytes, and frames identically however the
// bytes arrive.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <random>

#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/framer.hpp"
#include "protocol/json.hpp"
#include "test_support.hpp"

namespace lantian::protocol {
namespace {
using testing::corpus;
using testing::CorpusFrame;

class CorpusTest : public ::testing::TestWithParam<CorpusFrame> {};

TEST_P(CorpusTest, DecodesToTheExpectedJson) {
  const auto& f = GetParam();
  const auto decoded = testing::decode_ok(f.bytes, f.options);
  EXPECT_EQ(testing::json_difference(to_json(decoded), f.expected), "") << f.name;
}

TEST_P(CorpusTest, JsonTextParsesBackToTheSameValue) {
  const auto& f = GetParam();
  const auto json = to_json(testing::decode_ok(f.bytes, f.options));
  for (bool pretty : {false, true}) {
    const auto text = to_json_text(json, pretty);
    EXPECT_EQ(testing::json_difference(boost::json::parse(text), f.expected), "") << f.name;
    EXPECT_EQ(text.find('\n') == std::string::npos, !pretty);
  }
}

// Lossless: a frame that decodes without issues encodes back to exactly the received bytes.
TEST_P(CorpusTest, ReencodesToTheSameBytes) {
  const auto& f = GetParam();
  const auto decoded = testing::decode_ok(f.bytes, f.options);
  if (std::holds_alternative<std::monostate>(decoded.message.body)) {
    // Nothing was decoded, so there is nothing to re-encode: the raw frame is the evidence.
    EXPECT_EQ(encode(decoded.message).error(), FrameError::nothing_to_encode);
    return;
  }
  auto encoded = encode(decoded.message);
  ASSERT_TRUE(encoded.has_value()) << encoded.error().message();
  EXPECT_EQ(*encoded, f.bytes) << f.name;
}

// Feeds `chunks` of `stream` to a framer and returns every frame it hands out, plus what it
// skipped.
struct Framed {
  std::vector<Bytes> frames;
  std::size_t skipped = 0;
  std::size_t bad_checks = 0;
};

Framed frame_stream(const Bytes& stream, const std::vector<std::size_t>& cuts) {
  Framer framer;
  Framed out;
  auto drain = [&] {
    for (;;) {
      const auto e = framer.next();
      if (e.kind == FramerEvent::Kind::need_more) return;
      if (e.kind == FramerEvent::Kind::frame)
        out.frames.emplace_back(e.frame.begin(), e.frame.end());
      if (e.kind == FramerEvent::Kind::bad_check) ++out.bad_checks;
      out.skipped += e.skipped;
    }
  };
  std::size_t from = 0;
  auto feed_upto = [&](std::size_t to) {
    to = std::min(to, stream.size());
    while (from < to) {
      from += framer.feed(ByteView(stream).subspan(from, to - from));
      drain();
    }
  };
  for (auto cut : cuts) feed_upto(cut);
  feed_upto(stream.size());
  EXPECT_EQ(out.skipped, framer.skipped_total());
  return out;
}

// Offsets to cut at: all of them for ordinary frames, a spread for the 64 KiB one.
std::vector<std::size_t> offsets(std::size_t size) {
  std::vector<std::size_t> v;
  const std::size_t step = size > 4096 ? size / 97 : 1;
  for (std::size_t i = 1; i < size; i += step) v.push_back(i);
  v.push_back(size - 1);
  return v;
}

TEST_P(CorpusTest, FramesWholeByteByByteAndSplitAtEveryOffset) {
  const auto& f = GetParam();
  const auto whole = frame_stream(f.bytes, {});
  ASSERT_EQ(whole.frames.size(), 1u);
  EXPECT_EQ(whole.frames[0], f.bytes);

  std::vector<std::size_t> every(f.bytes.size());
  for (std::size_t i = 0; i < every.size(); ++i) every[i] = i + 1;
  const auto bytewise = frame_stream(f.bytes, every);
  ASSERT_EQ(bytewise.frames.size(), 1u);
  EXPECT_EQ(bytewise.frames[0], f.bytes);
  EXPECT_EQ(bytewise.skipped, 0u);

  for (std::size_t cut : offsets(f.bytes.size())) {
    const auto split = frame_stream(f.bytes, {cut});
    ASSERT_EQ(split.frames.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(split.frames[0], f.bytes);
    EXPECT_EQ(split.skipped, 0u);
  }
}

TEST_P(CorpusTest, TruncatedAtEveryLengthNeedsMore) {
  const auto& f = GetParam();
  for (std::size_t len : offsets(f.bytes.size())) {
    Framer framer;
    for (std::size_t fed = 0; fed < len;) {
      fed += framer.feed(ByteView(f.bytes).subspan(fed, len - fed));
      ASSERT_EQ(framer.next().kind, FramerEvent::Kind::need_more) << "truncated to " << len;
    }
    const auto e = framer.next();
    EXPECT_EQ(e.kind, FramerEvent::Kind::need_more) << "truncated to " << len;
    EXPECT_EQ(framer.skipped_total(), 0u);
    EXPECT_EQ(framer.buffered(), len);
  }
}

// Garbage without start bytes, so that every garbage byte must be skipped and counted.
Bytes garbage(std::mt19937& rng, std::size_t n) {
  Bytes g;
  while (g.size() < n) {
    const auto b = static_cast<std::uint8_t>(rng());
    if (b != 0x23 && b != 0x7E) g.push_back(b);
  }
  return g;
}

TEST_P(CorpusTest, ResynchronisesOverGarbageBeforeBetweenAndAfter) {
  const auto& f = GetParam();
  std::mt19937 rng(7);
  Bytes stream;
  std::size_t garbage_bytes = 0;
  for (std::size_t n : {13u, 1u, 200u, 5u}) {
    const auto g = garbage(rng, n);
    stream.insert(stream.end(), g.begin(), g.end());
    garbage_bytes += n;
    if (n != 5u) stream.insert(stream.end(), f.bytes.begin(), f.bytes.end());
  }
  const auto framed = frame_stream(stream, {7, 300, stream.size() / 2});
  ASSERT_EQ(framed.frames.size(), 3u);
  for (const auto& frame : framed.frames) EXPECT_EQ(frame, f.bytes);
  EXPECT_EQ(framed.skipped, garbage_bytes);
}

TEST_P(CorpusTest, CorruptedBccIsRejectedAndTheNextFrameStillFound) {
  const auto& f = GetParam();
  ASSERT_GE(f.bytes.size(), frame_overhead);
  Bytes corrupted = f.bytes;
  const std::size_t check_at = corrupted.size() - 1;
  corrupted.at(check_at) = static_cast<std::uint8_t>(corrupted.at(check_at) ^ 0x5A);
  Bytes stream = corrupted;
  stream.insert(stream.end(), f.bytes.begin(), f.bytes.end());
  const auto framed = frame_stream(stream, {});
  ASSERT_EQ(framed.frames.size(), 1u);
  EXPECT_EQ(framed.frames[0], f.bytes);
  EXPECT_EQ(framed.bad_checks, 1u);
  EXPECT_EQ(framed.skipped, corrupted.size());

  // Decoded directly (as the decode tool does with a hex argument), it reports the mismatch.
  const auto decoded = testing::decode_ok(corrupted, f.options);
  EXPECT_FALSE(decoded.bcc_ok);
  EXPECT_TRUE(decoded.has(Issue::bcc_mismatch));
}

std::string corpus_name(const ::testing::TestParamInfo<CorpusFrame>& info) {
  std::string n = info.param.name;
  for (auto& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Frames, CorpusTest, ::testing::ValuesIn(corpus()), corpus_name);

TEST(Corpus, HoldsTheSharedExamplesAndTheProjectsOwnFrames) {
  EXPECT_GE(corpus().size(), 33u);
  EXPECT_EQ(testing::corpus_frame("e1-login").bytes.size(), 53u);
  EXPECT_EQ(testing::corpus_frame("c22-max-size-user-defined").bytes.size(), 25u + 65531u);
}

TEST(Corpus, AllFramesInOneStreamComeOutInOrder) {
  Bytes stream;
  for (const auto& f : corpus()) stream.insert(stream.end(), f.bytes.begin(), f.bytes.end());
  const auto framed = frame_stream(stream, {1, 2, 3, 100, 1000, 5000, 70000});
  ASSERT_EQ(framed.frames.size(), corpus().size());
  for (std::size_t i = 0; i < corpus().size(); ++i) EXPECT_EQ(framed.frames[i], corpus()[i].bytes);
  EXPECT_EQ(framed.skipped, 0u);
}

}  // namespace
}  // namespace lantian::protocol

namespace lantian::protocol {
namespace {

// One result reused for every corpus frame, forwards and backwards (so that each block type meets
// every other in the same slot): each decoding equals a fresh one, field for field.
TEST(Corpus, DecodingIntoOneReusedResultEqualsAFreshDecodeEveryTime) {
  std::vector<const CorpusFrame*> order;
  for (const auto& f : corpus()) order.push_back(&f);
  for (auto it = corpus().rbegin(); it != corpus().rend(); ++it) order.push_back(&*it);
  DecodedFrame reused;
  for (const CorpusFrame* f : order) {
    const auto fresh = testing::decode_ok(f->bytes, f->options);
    ASSERT_FALSE(decode_frame_into(f->bytes, f->options, reused)) << f->name;
    EXPECT_EQ(reused.message, fresh.message) << f->name;
    EXPECT_EQ(reused.issues, fresh.issues) << f->name;
    EXPECT_EQ(reused.variants, fresh.variants) << f->name;
    EXPECT_EQ(reused.profile, fresh.profile) << f->name;
    EXPECT_EQ(reused.bcc_ok, fresh.bcc_ok) << f->name;
    EXPECT_EQ(testing::json_difference(to_json(reused), f->expected), "") << f->name;
  }
}

TEST(Corpus, AFrameTheFramerCheckedIsNotCheckedAgain) {
  Bytes damaged = testing::corpus_frame("e1-login").bytes;
  damaged.back() ^= 0x01;
  DecodedFrame out;
  ASSERT_FALSE(decode_frame_into(damaged, {}, out));
  EXPECT_FALSE(out.bcc_ok);
  EXPECT_EQ(out.issues, std::vector<Issue>{Issue::bcc_mismatch});
  // The caller vouches for the check byte (the framer hands out only frames whose BCC is right).
  ASSERT_FALSE(decode_frame_into(damaged, {}, out, CheckByte::verified));
  EXPECT_TRUE(out.bcc_ok);
  EXPECT_TRUE(out.issues.empty());
  EXPECT_EQ(decode_frame_into(ByteView(damaged).first(20), {}, out), FrameError::too_short);
}

}  // namespace
}  // namespace lantian::protocol
