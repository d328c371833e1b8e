// What signature verification does to the other terminals' replies: an in-process lantiand (TCP,
// hj1239, RocksDB with --sync off) serves S terminals that send signed 10-sample reports back to
// back (each verifies, ≈ 0.6 ms) and one probe terminal without a key that sends a report every
// 20 ms; the probe's reply latency is measured. Run twice in the same process: with verification
// on the I/O threads (--verify-threads 0, the reference) and on verifier threads (the default).
//
//   build/bin/verify_bench [--signers S] [--seconds T] [--io-threads N] [--verify-threads V]

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>
#include <thread>

#include "evaluation/sharded_evaluator.hpp"
#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/framer.hpp"
#include "protocol/json.hpp"
#include "rules/vehicle_identity.hpp"
#include "server/config.hpp"
#include "server/ingest_server.hpp"
#include "server/rules_commands.hpp"
#include "sim/sm2_signer.hpp"

using namespace lantian;
namespace asio = boost::asio;
namespace fs = std::filesystem;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using protocol::Bytes;

namespace {

std::string vin_of(int i) {
  std::string number = std::to_string(i % 100000000);
  std::string vin = "LBENC0000" + std::string(8 - number.size(), '0') + number;
  vin[8] = *rules::vin_check_digit(vin);
  return vin;
}

Bytes corpus(const std::string& name) {
  std::ifstream in(fs::path(LANTIAN_CORPUS_DIR) / (name + ".hex"));
  std::stringstream text;
  text << in.rdbuf();
  auto bytes = protocol::from_hex(text.str().substr(0, text.str().find_first_of("\r\n")));
  if (!bytes) throw std::runtime_error("missing corpus frame " + name);
  return *bytes;
}

// `name` from the corpus with the header VIN `vin`; a report is signed by `signer` (or unsigned).
Bytes frame_for(const std::string& name, const std::string& vin, const sim::Sm2Signer* signer) {
  auto d = protocol::decode_frame(corpus(name), {.profile = protocol::Profile::hj1239});
  if (!d) throw std::runtime_error("corpus frame does not decode");
  d->message.header.vin = protocol::make_vin(vin);
  auto* report = std::get_if<protocol::ReportBody>(&d->message.body);
  if (report) report->signature.reset();
  Bytes out = protocol::encode(d->message).value();
  if (report && signer) {
    report->signature = signer->sign(protocol::ByteView(out).subspan(
        protocol::header_size, out.size() - protocol::frame_overhead));
    out = protocol::encode(d->message).value();
  }
  return out;
}

// A blocking terminal: sends a frame, waits for its one reply.
class Terminal {
 public:
  explicit Terminal(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    socket_.set_option(tcp::no_delay(true));
  }
  bool exchange(const Bytes& frame) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(frame), ec);
    if (ec) return false;
    for (;;) {
      if (framer_.next().kind == protocol::FramerEvent::Kind::frame) return true;
      const auto region = framer_.prepare();
      const auto n = socket_.read_some(asio::buffer(region.data(), region.size()), ec);
      if (ec) return false;
      framer_.commit(n);
    }
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  protocol::Framer framer_;
};

struct Result {
  double p50_ms, p99_ms, max_ms;
  std::uint64_t probes, signed_reports;
};

Result run(int signers, int seconds, int io_threads, int verify_threads) {
  const fs::path dir = fs::temp_directory_path() / ("lantian-verify-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto signer = sim::Sm2Signer::derive("verify-bench", "1234567812345678");
  {
    std::ofstream csv(dir / "registry.csv");
    csv << "vin,plate,plate_color,category,fuel,emission_stage,stage_source,rated_power_kw,profile,"
           "owner,registration_code,chip_id,sm2_public_key\n";
    for (int i = 0; i < signers; ++i)
      csv << vin_of(i) << ",豫A" << 10000 + i << ",yellow,N3,diesel,CN6b,registry,213,hj1239,bench,,,"
          << protocol::to_hex(signer->public_key()) << "\n";
  }
  const std::string data = dir.string(), registry = (dir / "registry.csv").string();
  const char* import_args[] = {"lantiand", "import-registry", "--data-dir", data.c_str(),
                               registry.c_str()};
  std::ostringstream out, err;
  if (server::run_import_registry(server::parse_command_line(5, import_args), out, err) != 0)
    throw std::runtime_error("registry import failed: " + err.str());

  const char* args[] = {"lantiand", "--data-dir", data.c_str(), "--sync", "off",
                        "--listen", "tcp://127.0.0.1:0?profile=hj1239"};
  auto parsed = server::parse_command_line(7, args);
  if (!parsed.problems.empty()) throw std::runtime_error(parsed.problems.front());
  auto config = parsed.config;
  config.api.enabled = false;
  config.verify_threads = verify_threads;
  std::string error;
  auto store = storage::Store::open(config.store, error);
  if (!store) throw std::runtime_error(error);
  server::ServerMetrics metrics;
  evaluation::ShardedEvaluator rules(*store, config.rules, metrics.evaluation);
  asio::io_context io(io_threads);
  server::IngestServer ingest(io, config, *store, metrics);
  ingest.set_evaluation(&rules, &rules.catalogue());
  std::vector<std::string> problems;
  if (!ingest.start(problems)) throw std::runtime_error(problems.front());
  const auto port = ingest.bound_ports().front();
  auto guard = asio::make_work_guard(io);
  std::vector<std::thread> io_pool;
  for (int i = 0; i < io_threads; ++i) io_pool.emplace_back([&] { io.run(); });

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> signed_reports{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < signers; ++i)
    clients.emplace_back([&, i] {
      Terminal t(port);
      const auto vin = vin_of(i);
      if (!t.exchange(frame_for("e1-login", vin, nullptr))) return;
      const Bytes report = frame_for("c02-hj1239-10-samples-signed-tildes", vin, signer.get());
      while (!stop && t.exchange(report)) ++signed_reports;
    });
  std::vector<double> latencies;
  {
    Terminal probe(port);
    const auto vin = vin_of(signers + 1);  // not in the registry: no key, nothing to verify
    probe.exchange(frame_for("e1-login", vin, nullptr));
    const Bytes report = frame_for("c03-hj1239-10-samples-unsigned", vin, nullptr);
    const auto end = Clock::now() + std::chrono::seconds(seconds);
    while (Clock::now() < end) {
      const auto start = Clock::now();
      if (!probe.exchange(report)) break;
      latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  stop = true;
  for (auto& c : clients) c.join();
  std::promise<void> stopped;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await ingest.shutdown();
        stopped.set_value();
      },
      asio::detached);
  stopped.get_future().wait();
  io.stop();
  for (auto& t : io_pool) t.join();
  rules.stop();
  store->close();
  fs::remove_all(dir);
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) {
    return latencies.empty() ? 0.0 : latencies[std::min(latencies.size() - 1,
                                                        static_cast<std::size_t>(q * static_cast<double>(latencies.size())))];
  };
  return {at(0.5), at(0.99), latencies.empty() ? 0.0 : latencies.back(), latencies.size(),
          signed_reports.load()};
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // a session line per terminal would drown the table
  int signers = 8, seconds = 10, io_threads = 2, verify_threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (a == "--signers") signers = v;
    else if (a == "--seconds") seconds = v;
    else if (a == "--io-threads") io_threads = v;
    else if (a == "--verify-threads") verify_threads = v;
    else {
      std::cerr << "usage: verify_bench [--signers S] [--seconds T] [--io-threads N] [--verify-threads V]\n";
      return 2;
    }
  }
  std::printf("%d signing terminals sending back to back, one probe every 20 ms, %d I/O threads, %d s\n",
              signers, io_threads, seconds);
  std::printf("%-34s %9s %9s %9s %8s %14s\n", "verification", "probe p50", "p99", "max", "probes",
              "signed rep/s");
  for (const int v : {0, verify_threads}) {
    const auto r = run(signers, seconds, io_threads, v);
    std::printf("%-34s %7.2f ms %6.2f ms %6.2f ms %8llu %14.0f\n",
                v == 0 ? "on the I/O threads (reference)" : ("on " + std::to_string(v) + " verifier threads").c_str(),
                r.p50_ms, r.p99_ms, r.max_ms, static_cast<unsigned long long>(r.probes),
                static_cast<double>(r.signed_reports) / seconds);
  }
  return 0;
}
