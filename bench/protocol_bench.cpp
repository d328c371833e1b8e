// Framing and decoding speed (P5: frame + decode one 10-sample hj1239 real-time frame ≤ 300 ns on
// one core). Frames come from the test corpus. The reference in the same run is a plain copy of the
// same bytes, the floor under any framer.
//
//   build/bin/protocol_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/framer.hpp"
#include "protocol/json.hpp"

using namespace lantian::protocol;
namespace fs = std::filesystem;

namespace {

Bytes load_frame(const std::string& name) {
  std::ifstream in(fs::path(LANTIAN_CORPUS_DIR) / (name + ".hex"));
  std::stringstream text;
  text << in.rdbuf();
  Bytes out;
  const std::string hex = text.str();
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  if (out.empty()) throw std::runtime_error("missing corpus frame " + name);
  return out;
}

const Bytes& hj10_signed() {
  static const Bytes f = load_frame("c02-hj1239-10-samples-signed-tildes");
  return f;
}

// A realistic mix: one login, time sync, logout per many real-time frames, plus OBD and resends.
const Bytes& mixed_stream(std::size_t& frames) {
  static std::size_t count = 0;
  static const Bytes stream = [] {
    const char* names[] = {"e1-login",
                           "e5a-time-sync-request",
                           "c02-hj1239-10-samples-signed-tildes",
                           "c03-hj1239-10-samples-unsigned",
                           "e3-hj1239-realtime-signed",
                           "c04-hj1239-resend-all-blocks",
                           "e2-gb17691-realtime",
                           "c24-gb17691-obd-dtcs",
                           "c02-hj1239-10-samples-signed-tildes",
                           "c03-hj1239-10-samples-unsigned",
                           "e4-logout"};
    Bytes s;
    for (const char* n : names) {
      const Bytes f = load_frame(n);
      s.insert(s.end(), f.begin(), f.end());
      ++count;
    }
    return s;
  }();
  frames = count;
  return stream;
}

void BM_CopyReference_Hj10(benchmark::State& state) {
  const Bytes& frame = hj10_signed();
  Bytes sink(frame.size());
  for (auto _ : state) {
    std::memcpy(sink.data(), frame.data(), frame.size());
    benchmark::DoNotOptimize(sink.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(frame.size()));
}
BENCHMARK(BM_CopyReference_Hj10);

void BM_Frame_Hj10(benchmark::State& state) {
  const Bytes& frame = hj10_signed();
  Framer framer;
  for (auto _ : state) {
    framer.feed(frame);
    auto e = framer.next();
    benchmark::DoNotOptimize(e);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(frame.size()));
}
BENCHMARK(BM_Frame_Hj10);

void BM_Decode_Hj10(benchmark::State& state) {
  const Bytes& frame = hj10_signed();
  const DecodeOptions options{.profile = Profile::hj1239};
  for (auto _ : state) {
    auto d = decode_frame(frame, options);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(frame.size()));
}
BENCHMARK(BM_Decode_Hj10);

// P5: frame and decode with a listener profile of hj1239, into one result reused frame after
// frame (decode_frame_into; the framer has checked the BCC).
void BM_FrameAndDecode_Hj10(benchmark::State& state) {
  const Bytes& frame = hj10_signed();
  const DecodeOptions options{.profile = Profile::hj1239};
  Framer framer;
  DecodedFrame d;
  for (auto _ : state) {
    framer.feed(frame);
    auto e = framer.next();
    auto error = decode_frame_into(e.frame, options, d, CheckByte::verified);
    benchmark::DoNotOptimize(error);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(frame.size()));
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_FrameAndDecode_Hj10);

// The same, each frame into a new result (decode_frame: allocates, checks the BCC again): what a
// caller that keeps every decoding pays.
void BM_FrameAndDecode_Hj10_Fresh(benchmark::State& state) {
  const Bytes& frame = hj10_signed();
  const DecodeOptions options{.profile = Profile::hj1239};
  Framer framer;
  for (auto _ : state) {
    framer.feed(frame);
    auto e = framer.next();
    auto d = decode_frame(e.frame, options);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(frame.size()));
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_FrameAndDecode_Hj10_Fresh);

// P5 with an `auto` listener: the layout is detected on every frame.
void BM_FrameAndDecode_Hj10_Auto(benchmark::State& state) {
  const Bytes& frame = hj10_signed();
  Framer framer;
  DecodedFrame d;
  for (auto _ : state) {
    framer.feed(frame);
    auto e = framer.next();
    auto error = decode_frame_into(e.frame, {}, d, CheckByte::verified);
    benchmark::DoNotOptimize(error);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(frame.size()));
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_FrameAndDecode_Hj10_Auto);

void BM_FrameAndDecode_MixedStream(benchmark::State& state) {
  std::size_t frames = 0;
  const Bytes& stream = mixed_stream(frames);
  Framer framer;
  DecodedFrame d;
  for (auto _ : state) {
    for (std::size_t fed = 0; fed < stream.size();) {
      fed += framer.feed(ByteView(stream).subspan(fed));
      for (FramerEvent e; (e = framer.next()).kind != FramerEvent::Kind::need_more;) {
        auto error = decode_frame_into(e.frame, {}, d, CheckByte::verified);
        benchmark::DoNotOptimize(error);
        benchmark::DoNotOptimize(d);
      }
    }
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(stream.size()));
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(frames));
}
BENCHMARK(BM_FrameAndDecode_MixedStream);

void BM_Encode_Hj10(benchmark::State& state) {
  const auto message = decode_frame(hj10_signed(), {.profile = Profile::hj1239})->message;
  Bytes out;
  out.reserve(1024);
  for (auto _ : state) {
    out.clear();
    auto r = encode(message, out);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(hj10_signed().size()));
}
BENCHMARK(BM_Encode_Hj10);

void BM_Json_Hj10(benchmark::State& state) {
  const auto decoded = *decode_frame(hj10_signed(), {.profile = Profile::hj1239});
  for (auto _ : state) {
    auto text = to_json_text(to_json(decoded));
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_Json_Hj10);

}  // namespace

BENCHMARK_MAIN();
