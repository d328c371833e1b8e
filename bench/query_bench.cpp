// The API's query targets (docs/performance.md):
//   P9  a filtered page of 100 violations with N violations stored (10M by default): p99 ≤ 20 ms
//   P8  one vehicle-day track (8,640 frames of 10 samples) from the API: ≤ 100 ms, against a raw
//       RocksDB prefix scan of the same keys in the same run.
// Queries go through the real HTTPS API (TLS, bearer token, audit log) of an in-process server, on
// one keep-alive connection; the storage-level listing is timed too, to show where time goes.
//
//   build/bin/query_bench [--violations N] [--vehicles V] [--dir DIR] [--queries Q]
//
// --dir keeps the generated archive for later runs (generation of 10M violations takes minutes).

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "evaluation/catalogue_store.hpp"
#include "evaluation/sharded_evaluator.hpp"
#include "evaluation/violation_store.hpp"
#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "server/api/api_server.hpp"
#include "server/config.hpp"

using namespace lantian;
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const char* const cities[] = {"郑州", "开封", "洛阳",   "平顶山", "安阳", "鹤壁",
                              "新乡", "焦作", "濮阳",   "许昌",   "漯河", "三门峡",
                              "商丘", "周口", "驻马店", "南阳",   "信阳", "济源"};
const char* const letters[] = {"A", "B", "C", "D", "E", "F", "G", "H", "J",
                               "K", "L", "M", "N", "P", "Q", "R", "S", "U"};

std::string vin_of(int i) {
  char buffer[18];
  std::snprintf(buffer, sizeof buffer, "LBENCH%011d", i);
  return buffer;
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

struct Percentiles {
  double p50, p99, max;
};
Percentiles percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
  };
  return {at(0.5), at(0.99), v.back()};
}

// One keep-alive HTTPS connection.
class Client {
 public:
  explicit Client(std::uint16_t port) : stream_(io_, ctx_) {
    stream_.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    stream_.handshake(asio::ssl::stream_base::client);
  }
  std::pair<unsigned, std::string> get(const std::string& target, const std::string& token) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, "Bearer " + token);
    http::write(stream_, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(512 << 20);
    http::read(stream_, buffer_, parser);
    return {parser.get().result_int(), parser.get().body()};
  }

 private:
  asio::io_context io_;
  asio::ssl::context ctx_{asio::ssl::context::tls_client};
  asio::ssl::stream<asio::ip::tcp::socket> stream_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace

int main(int argc, char** argv) {
  std::size_t violations = 10'000'000, vehicles = 100'000, queries = 200;
  fs::path dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--violations")
      violations = std::stoull(argv[i + 1]);
    else if (a == "--vehicles")
      vehicles = std::stoull(argv[i + 1]);
    else if (a == "--queries")
      queries = std::stoull(argv[i + 1]);
    else if (a == "--dir")
      dir = argv[i + 1];
    else {
      std::cerr << "usage: query_bench [--violations N] [--vehicles V] [--queries Q] [--dir DIR]\n";
      return 2;
    }
  }
  const bool keep = !dir.empty();
  if (!keep)
    dir = fs::temp_directory_path() / ("lantian-query-bench-" + std::to_string(::getpid()));
  const char* args[] = {"lantiand", "--data-dir",  dir.c_str(),  "--sync", "off",
                        "--api",    "127.0.0.1:0", "--api-rate", "100000", "--api-burst",
                        "100000",   "--log-level", "warn"};
  auto parsed = server::parse_command_line(static_cast<int>(std::size(args)), args);
  if (!parsed.problems.empty()) {
    std::cerr << parsed.problems.front() << '\n';
    return 2;
  }
  const auto& config = parsed.config;
  std::string error;
  auto store = storage::Store::open(config.store, error);
  if (!store) {
    std::cerr << error << '\n';
    return 1;
  }

  // The registry: vehicles spread over the 18 prefectures by plate.
  rules::Registry registry;
  for (std::size_t i = 0; i < vehicles; ++i) {
    rules::VehicleRecord r;
    r.vin = vin_of(static_cast<int>(i));
    r.plate = std::string("豫") + letters[i % 18] + std::to_string(10000 + i % 90000);
    r.category = "N3";
    r.fuel = "diesel";
    r.stage = rules::Stage::CN3;
    registry.upsert(r);
  }
  const auto zones = evaluation::CatalogueStore(*store).load_latest_zones();
  evaluation::ViolationStore violation_store(*store);

  // Generation (skipped when --dir already holds them).
  const auto marker = dir / "violations.generated";
  if (!fs::exists(marker)) {
    std::mt19937_64 rng(42);
    const std::int64_t start = 1767196800;  // 2026-01-01 Beijing
    const char* rules_ids[] = {"R01", "R02", "R03", "R04", "R05", "R06",
                               "R07", "R08", "R09", "R10", "R11", "R12"};
    const auto began = Clock::now();
    evaluation::ViolationSet batch;
    for (std::size_t i = 0; i < violations; ++i) {
      rules::Violation v;
      v.rule = rules_ids[rng() % 12];
      v.vin = vin_of(static_cast<int>(rng() % vehicles));
      v.at_unix_s = v.raised_at_unix_s = start + static_cast<std::int64_t>(rng() % (365 * 86400));
      v.id = v.rule + "|" + v.vin + "|" + std::to_string(v.at_unix_s) + "|" + std::to_string(i);
      v.severity = rules::Severity::high;
      v.stage = "CN3";
      v.stage_source = "registry";
      v.lon = 112.0 + static_cast<double>(rng() % 40000) / 10000.0;
      v.lat = 33.0 + static_cast<double>(rng() % 30000) / 10000.0;
      v.thresholds = {{"consecutive_fixes", 2}, {"buffer_m", 30}};
      v.evidence = {{"4c42454e4348" + std::to_string(i), 0},
                    {"4c42454e4348" + std::to_string(i), 1}};
      v.evidence_times = {v.at_unix_s, v.at_unix_s + 10};
      batch.emplace(v.id, std::move(v));
      if (batch.size() == 10000 || i + 1 == violations) {
        violation_store.record(batch, {&registry, zones.get(), false});
        batch.clear();
        if ((i + 1) % 1'000'000 == 0)
          std::cerr
              << "generated " << (i + 1) << " violations in "
              << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - began).count()
              << " s\n";
      }
    }
    // A sample of reviews (about 1 %), as an uncommon filter.
    evaluation::ViolationQuery q;
    q.limit = 1000;
    auto page = violation_store.list(q, {});
    for (std::size_t k = 0; k < page.items.size(); k += 100)
      violation_store.review(std::string(page.items[k].at("id").as_string()), "confirmed", "bench",
                             "bench");
    // One vehicle-day of frames for P8: 8,640 frames of 10 samples (1 Hz, one frame every 10 s).
    const auto track_vin = protocol::make_vin(vin_of(7));
    const std::int64_t day = start + 40 * 86400;
    std::atomic<std::size_t> done{0};
    for (int f = 0; f < 8640; ++f) {
      protocol::Message m;
      m.header.command = protocol::command::realtime;
      m.header.vin = track_vin;
      protocol::ReportBody r;
      r.layout = protocol::Profile::hj1239;
      r.time = protocol::BeijingTime::from_unix_seconds(day + f * 10);
      r.serial = static_cast<std::uint16_t>(f);
      for (int s = 0; s < 10; ++s) {
        protocol::StreamBlock b;
        const double t = f * 10 + s;
        b.speed_kmh.set(50);
        b.engine_rpm.set(1400);
        b.position.longitude.set(113.0 + t * 0.00001);
        b.position.latitude.set(34.5 + t * 0.000005);
        protocol::Block block;
        block.type = protocol::block_type::stream;
        block.serial = static_cast<std::uint16_t>(s);
        block.time = protocol::BeijingTime::from_unix_seconds(day + f * 10 + s);
        block.payload = b;
        r.blocks.push_back(block);
      }
      m.body = r;
      const auto bytes = protocol::encode(m).value();
      protocol::DecodeOptions options;
      options.profile = protocol::Profile::hj1239;
      const auto decoded = protocol::decode_frame(bytes, options).value();
      auto write = storage::make_frame_write(
          decoded, bytes,
          {(day + f * 10) * 1000, 1, "bench", "127.0.0.1", protocol::Profile::hj1239});
      while (!store->try_submit(std::move(write),
                                [&](storage::WriteOutcome, const std::string&) { ++done; }))
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    while (done < 8640) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::cerr << "generated in "
              << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - began).count()
              << " s\n";
    std::ofstream(marker) << violations << '\n';
  }

  // The server's API, in process.
  server::ServerMetrics metrics;
  evaluation::ShardedEvaluator rules(*store, config.rules, metrics.evaluation);
  asio::io_context io;
  server::api::ApiServer api(io, config, *store, rules, metrics);
  if (!api.start(error)) {
    std::cerr << error << '\n';
    return 1;
  }
  std::thread io_thread([&] { io.run(); });
  server::api::TokenRecord unrestricted, luoyang;
  luoyang.jurisdiction.cities = {"洛阳"};
  auto police = server::api::TokenStore(*store).create(unrestricted, error).value();
  auto luoyang_police = server::api::TokenStore(*store).create(luoyang, error).value();
  Client client(api.port());

  std::mt19937 rng(7);
  struct Case {
    std::string name;
    std::function<std::string()> target;
    std::string token;
  };
  auto day_param = [&](int d) {
    char b[11];
    std::snprintf(b, sizeof b, "2026-%02d-%02d", 1 + d / 28 % 12, 1 + d % 28);
    return std::string(b);
  };
  std::vector<Case> cases{
      {"newest page, no filter", [] { return std::string("/api/v1/violations?limit=100"); },
       police},
      {"rule",
       [&] { return "/api/v1/violations?limit=100&rule=R0" + std::to_string(1 + rng() % 9); },
       police},
      {"city + rule",
       [&] {
         return "/api/v1/violations?limit=100&rule=R05&city=" +
                std::string("%E6%B4%9B%E9%98%B3");  // 洛阳
       },
       police},
      {"vehicle (VIN)",
       [&] {
         return "/api/v1/violations?limit=100&vin=" + vin_of(static_cast<int>(rng() % vehicles));
       },
       police},
      {"one day + city jurisdiction",
       [&] {
         const auto d = day_param(static_cast<int>(rng() % 300));
         return "/api/v1/violations?limit=100&from=" + d + "&to=" + d;
       },
       luoyang_police},
      {"status=confirmed (10 reviewed in all: the status index)",
       [] { return std::string("/api/v1/violations?limit=100&status=confirmed"); }, police},
  };
  std::printf(
      "\nP9: a page of 100 violations with %zu stored (%zu vehicles), %zu queries each, "
      "HTTPS keep-alive\n",
      violations, vehicles, queries);
  std::printf("| query | p50 ms | p99 ms | max ms | items |\n|---|---|---|---|---|\n");
  for (const auto& c : cases) {
    std::vector<double> t;
    std::size_t items = 0;
    for (std::size_t k = 0; k < queries; ++k) {
      const auto target = c.target();
      const auto began = Clock::now();
      const auto [status, body] = client.get(target, c.token);
      t.push_back(ms(Clock::now() - began));
      if (status != 200) {
        std::cerr << target << ": " << status << ' ' << body << '\n';
        return 1;
      }
      items += boost::json::parse(body).at("items").as_array().size();
    }
    const auto p = percentiles(t);
    std::printf("| %s | %.2f | %.2f | %.2f | %.0f |\n", c.name.c_str(), p.p50, p.p99, p.max,
                static_cast<double>(items) / static_cast<double>(queries));
  }

  // P8: the track, against the raw prefix scan of the same keys.
  const auto track_vin = protocol::make_vin(vin_of(7));
  const std::int64_t day = 1767196800 + 40 * 86400;
  std::vector<double> raw, track;
  std::size_t frames = 0, bytes = 0, points = 0;
  for (int k = 0; k < 20; ++k) {
    frames = bytes = 0;
    auto began = Clock::now();
    store->for_each_frame(track_vin, day, day + 86399,
                          [&](const storage::FrameKey&, const storage::FrameRecord& r) {
                            ++frames;
                            bytes += r.raw.size();
                            return true;
                          });
    raw.push_back(ms(Clock::now() - began));
    const auto d = protocol::BeijingTime::from_unix_seconds(day).iso8601().value().substr(0, 10);
    began = Clock::now();
    const auto [status, body] =
        client.get("/api/v1/vehicles/" + vin_of(7) + "/track?from=" + d + "&to=" + d, police);
    track.push_back(ms(Clock::now() - began));
    if (status != 200) {
      std::cerr << "track: " << status << ' ' << body.substr(0, 200) << '\n';
      return 1;
    }
    points = boost::json::parse(body)
                 .at("features")
                 .at(0)
                 .at("properties")
                 .at("points")
                 .to_number<std::size_t>();
  }
  const auto pr = percentiles(raw), pt = percentiles(track);
  std::printf("\nP8: one vehicle-day track, %zu frames (%zu bytes), %zu points, 20 runs\n", frames,
              bytes, points);
  std::printf("| what | p50 ms | max ms |\n|---|---|---|\n");
  std::printf("| raw RocksDB prefix scan (reference) | %.2f | %.2f |\n", pr.p50, pr.max);
  std::printf("| GET /api/v1/vehicles/{vin}/track (HTTPS, decode, GeoJSON) | %.2f | %.2f |\n",
              pt.p50, pt.max);

  api.stop();
  io.stop();
  io_thread.join();
  rules.stop();
  store->close();
  if (!keep) fs::remove_all(dir);
  return 0;
}
