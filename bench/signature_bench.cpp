// What verifying a terminal's signature costs per report, against the decoding of the same frame
// in the same run (the work a session does for every frame anyway). The report is the corpus's
// 10-sample hj1239 real-time frame, re-signed with a simulator key so that it verifies.
//
//   build/bin/signature_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/json.hpp"
#include "protocol/signature.hpp"
#include "security/sm2.hpp"
#include "sim/sm2_signer.hpp"

using namespace lantian;
using protocol::Bytes;

namespace {

struct SignedReport {
  Bytes frame;
  protocol::DecodedFrame decoded;
  security::Sm2PublicKey key;
};

const SignedReport& signed_report() {
  static const SignedReport report = [] {
    std::ifstream in(std::filesystem::path(LANTIAN_CORPUS_DIR) /
                     "c02-hj1239-10-samples-signed-tildes.hex");
    std::stringstream text;
    text << in.rdbuf();
    const auto original = protocol::from_hex(text.str().substr(0, text.str().find_first_of("\r\n")));
    if (!original) throw std::runtime_error("missing corpus frame");
    auto decoded = protocol::decode_frame(*original, {.profile = protocol::Profile::hj1239});
    if (!decoded) throw std::runtime_error("corpus frame does not decode");
    auto& body = std::get<protocol::ReportBody>(decoded->message.body);
    body.signature.reset();
    const Bytes unsigned_frame = protocol::encode(decoded->message).value();
    const auto signer =
        sim::Sm2Signer::derive("LBENCH00000000001", std::string(security::default_sm2_user_id));
    body.signature = signer->sign(protocol::ByteView(unsigned_frame)
                                      .subspan(protocol::header_size,
                                               unsigned_frame.size() - protocol::frame_overhead));
    Bytes frame = protocol::encode(decoded->message).value();
    auto again = protocol::decode_frame(frame, {.profile = protocol::Profile::hj1239});
    auto key = security::Sm2PublicKey::from_xy(signer->public_key());
    if (!again || !key) throw std::runtime_error("cannot build the signed report");
    return SignedReport{std::move(frame), std::move(*again), std::move(*key)};
  }();
  return report;
}

// Reference: decoding the frame (every session does it for every frame).
void BM_DecodeReport(benchmark::State& state) {
  const auto& r = signed_report();
  for (auto _ : state) {
    auto d = protocol::decode_frame(r.frame, {.profile = protocol::Profile::hj1239});
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_DecodeReport);

// The verification of one report: the signed part, then SM2/SM3.
void BM_VerifyReport(benchmark::State& state) {
  const auto& r = signed_report();
  for (auto _ : state) {
    const auto part = protocol::signed_part(r.decoded, r.frame);
    const bool ok = part && r.key.verify(part->message, part->signature,
                                         security::default_sm2_user_id);
    if (!ok) state.SkipWithError("the report does not verify");
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_VerifyReport);

// Once per login: the registry's hex key made into an OpenSSL key (and checked on the curve).
void BM_KeyFromHex(benchmark::State& state) {
  const std::string hex = protocol::to_hex(signed_report().key.xy());
  for (auto _ : state) {
    auto key = security::Sm2PublicKey::from_hex(hex);
    benchmark::DoNotOptimize(key);
  }
}
BENCHMARK(BM_KeyFromHex);

}  // namespace

BENCHMARK_MAIN();
