// Forwarding upward, proven against a real upstream: two lantiand processes, the second the
// receiving platform of the first. 10,000 reports of 200 vehicles go to the first; the upstream is
// killed with SIGKILL while it receives them and started again; the forwarder is killed with
// SIGKILL while it sends its backlog and started again. At the end the upstream's archive holds
// every report of the forwarder's archive exactly once, its data unit byte for byte, in the
// forwarder's arrival order per vehicle.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "forwarding/forwarder.hpp"
#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/framer.hpp"
#include "protocol/platform_link.hpp"
#include "child_process.hpp"
#include "server_fixture.hpp"
#include "test_support.hpp"

namespace lantian::server {
namespace {
using namespace testing;
using namespace std::chrono_literals;
using protocol::Bytes;
namespace asio = boost::asio;

constexpr int vehicles = 200;
constexpr int reports_per_vehicle = 50;

std::string vin_of(int vehicle) {
  auto digits = std::to_string(vehicle);
  return "LFWDTEST" + std::string(9 - digits.size(), '0') + digits;
}

Bytes with_vin(Bytes frame, const std::string& vin) {
  std::copy(vin.begin(), vin.end(), frame.begin() + 3);
  frame.back() = protocol::xor_checksum(protocol::ByteView(frame).subspan(2, frame.size() - 3));
  return frame;
}

// The vehicle's i-th report: e3 with its send time and OBD block time moved by i seconds.
Bytes report(int vehicle, int i) {
  Bytes f = protocol::testing::corpus_frame("e3-hj1239-realtime-signed").bytes;
  for (std::size_t at : {std::size_t{24}, std::size_t{24 + 9}}) {
    f[at + 3] = static_cast<std::uint8_t>(10 + i / 3600);
    f[at + 4] = static_cast<std::uint8_t>(i / 60 % 60);
    f[at + 5] = static_cast<std::uint8_t>(i % 60);
  }
  return with_vin(std::move(f), vin_of(vehicle));
}

// The value of one series of a lantiand's /metrics (nullopt: not reachable, or no such series).
std::optional<double> metric(std::uint16_t admin_port, const std::string& series) {
  try {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), admin_port});
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    asio::write(socket, asio::buffer(request));
    std::string response;
    boost::system::error_code ec;
    asio::read(socket, asio::dynamic_buffer(response), ec);
    const auto at = response.find("\n" + series + " ");
    if (at == std::string::npos) return std::nullopt;
    return std::stod(response.substr(at + series.size() + 2));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Every report (real-time or resend) of an archive: per VIN, data units in arrival order.
std::map<std::string, std::vector<Bytes>> reports_by_vin(const std::filesystem::path& db,
                                                         bool& all_platform_variant) {
  std::string error;
  auto store = storage::Store::open_read_only(db, error);
  EXPECT_TRUE(store) << error;
  std::map<std::string, std::vector<std::pair<std::uint64_t, Bytes>>> found;
  all_platform_variant = true;
  if (store)
    store->for_each_frame(std::nullopt, INT64_MIN / 4, INT64_MAX / 4,
                          [&](const storage::FrameKey& key, const storage::FrameRecord& r) {
                            if (r.raw.size() < protocol::frame_overhead) return true;
                            if (r.raw[2] != 0x02 && r.raw[2] != 0x03) return true;
                            all_platform_variant &= r.raw[3] == protocol::ack_flag::command;
                            Bytes data(r.raw.begin() + protocol::header_size, r.raw.end() - 1);
                            found[std::string(protocol::as_text(key.vin))].emplace_back(
                                key.sequence, std::move(data));
                            return true;
                          });
  std::map<std::string, std::vector<Bytes>> ordered;
  for (auto& [vin, list] : found) {
    std::sort(list.begin(), list.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [sequence, data] : list) ordered[vin].push_back(std::move(data));
  }
  return ordered;
}

// Sends vehicles [first, last) their reports over their own connections (a few at a time);
// returns how many reports were acknowledged.
std::size_t send_fleet(std::uint16_t port, int first, int last) {
  std::atomic<std::size_t> acknowledged{0};
  std::atomic<int> next{first};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] {
      for (int v = next++; v < last; v = next++) {
        TestTerminal t(port);
        t.send(with_vin(protocol::testing::corpus_frame("e1-login").bytes, vin_of(v)));
        if (t.read_frames(1).size() != 1) continue;
        for (int i = 0; i < reports_per_vehicle; i += 10) {
          Bytes burst;
          for (int k = i; k < i + 10; ++k) {
            const auto f = report(v, k);
            burst.insert(burst.end(), f.begin(), f.end());
          }
          t.send(burst);
          acknowledged += t.read_frames(10).size();
        }
      }
    });
  for (auto& w : workers) w.join();
  return acknowledged;
}

TEST(ForwardingChain, EveryReportReachesTheUpstreamOnceInOrderThroughKillNineOfEither) {
  TempDir dir;
  const auto upstream_port = free_port(), upstream_admin = free_port();
  const auto forwarder_port = free_port(), forwarder_admin = free_port();
  const auto upstream_data = dir.path() / "upstream", forwarder_data = dir.path() / "forwarder";
  Lantiand upstream(dir.path() / "upstream.log",
                    {"--data-dir", upstream_data.string(), "--listen",
                     "tcp://127.0.0.1:" + std::to_string(upstream_port) + "?profile=auto",
                     "--admin", "127.0.0.1:" + std::to_string(upstream_admin), "--api", "off",
                     "--platform-account", "HA0001:link-secret"});
  Lantiand forwarder(
      dir.path() / "forwarder.log",
      {"--data-dir", forwarder_data.string(), "--listen",
       "tcp://127.0.0.1:" + std::to_string(forwarder_port) + "?profile=hj1239", "--admin",
       "127.0.0.1:" + std::to_string(forwarder_admin), "--api", "off", "--upstream",
       "tcp://127.0.0.1:" + std::to_string(upstream_port) +
           "?name=province&user=HA0001&password=link-secret&platform=LANTIANTEST000001"
           "&window=4&backoff-min-ms=50&backoff-max-ms=400&reply-timeout-s=5"});
  const auto stored_upstream = [&] {
    return metric(upstream_admin, "lantian_frames_stored_total").value_or(-1);
  };
  upstream.start();
  forwarder.start();
  ASSERT_TRUE(eventually([&] { return stored_upstream() >= 0; }, 20s)) << "upstream not up";
  ASSERT_TRUE(eventually([&] { return metric(forwarder_admin, "lantian_frames_stored_total"); }, 20s))
      << "forwarder not up";

  // The first half of the fleet; the upstream dies while it receives them.
  std::size_t acknowledged = 0;
  std::thread first_half([&] { acknowledged += send_fleet(forwarder_port, 0, vehicles / 2); });
  const bool upstream_received = eventually([&] { return stored_upstream() >= 1500; }, 60s);
  const double stored_before_kill = stored_upstream();
  upstream.kill9();
  first_half.join();
  ASSERT_TRUE(upstream_received);
  EXPECT_LT(stored_before_kill, vehicles / 2 * reports_per_vehicle) << "killed too late to count";

  // The second half while the upstream is down: the forwarder keeps its backlog.
  acknowledged += send_fleet(forwarder_port, vehicles / 2, vehicles);
  EXPECT_EQ(acknowledged, std::size_t{vehicles * reports_per_vehicle});

  // The upstream returns; the forwarder dies while it sends the backlog.
  upstream.start();
  const bool drained_some = eventually([&] { return stored_upstream() >= 6000; }, 60s);
  const double stored_at_forwarder_kill = stored_upstream();
  forwarder.kill9();
  ASSERT_TRUE(drained_some);
  EXPECT_LT(stored_at_forwarder_kill, vehicles * reports_per_vehicle) << "killed too late to count";
  forwarder.start();

  // Everything arrives: the forwarder's lag drops to 0 and stays there.
  EXPECT_TRUE(eventually(
      [&] {
        return metric(forwarder_admin, "lantian_upstream_lag_reports{upstream=\"province\"}") ==
                   0.0 &&
               metric(forwarder_admin, "lantian_upstream_connected{upstream=\"province\"}") == 1.0;
      },
      60s));
  // What the run went through (for the log): reports the upstream had when each was killed, and
  // what the restarted forwarder sent again that the upstream already held.
  std::cout << "upstream killed at " << stored_before_kill << " stored, forwarder killed at "
            << stored_at_forwarder_kill << "; after the restarts the upstream counted "
            << metric(upstream_admin, "lantian_duplicates_total").value_or(-1)
            << " duplicates, the forwarder sent "
            << metric(forwarder_admin, "lantian_upstream_sent_total{upstream=\"province\"}").value_or(-1)
            << "\n";
  EXPECT_TRUE(forwarder.stop());
  EXPECT_TRUE(upstream.stop());

  bool forwarder_variant = false, upstream_variant = false;
  const auto sent = reports_by_vin(forwarder_data / "db", forwarder_variant);
  const auto received = reports_by_vin(upstream_data / "db", upstream_variant);
  EXPECT_FALSE(forwarder_variant);  // the terminals' own frames
  EXPECT_TRUE(upstream_variant);    // what the link carried
  std::size_t sent_total = 0, received_total = 0;
  for (const auto& [vin, list] : sent) sent_total += list.size();
  for (const auto& [vin, list] : received) received_total += list.size();
  EXPECT_EQ(sent_total, std::size_t{vehicles * reports_per_vehicle});
  EXPECT_EQ(received_total, sent_total);
  ASSERT_EQ(received.size(), std::size_t{vehicles});
  for (const auto& [vin, list] : sent) {
    const auto it = received.find(vin);
    ASSERT_NE(it, received.end()) << vin;
    EXPECT_TRUE(it->second == list) << vin << ": reports differ, are repeated or out of order";
  }
}

}  // namespace
}  // namespace lantian::server

namespace lantian::server {
namespace {

// An upstream in the test's own thread: accepts one link after another, answers the platform
// login, and answers each report 0x01 — or 0x02 for the VINs in `refuse`, 0x03 for those in
// `duplicate`.
class FakeUpstream {
 public:
  FakeUpstream(std::set<std::string> refuse, std::set<std::string> duplicate)
      : refuse_(std::move(refuse)),
        duplicate_(std::move(duplicate)),
        acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}),
        thread_([this] { serve(); }) {}
  ~FakeUpstream() {
    // The thread waits in a blocking accept (or read, until the link closes): a connection of
    // our own wakes it to see that it must stop.
    stopping_ = true;
    boost::system::error_code ec;
    asio::ip::tcp::socket wake(io_);
    wake.connect({asio::ip::make_address("127.0.0.1"), port()}, ec);
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::atomic<int> logins{0};
  std::atomic<int> reports{0};

 private:
  void serve() {
    while (!stopping_) {
      boost::system::error_code ec;
      socket_ = std::make_unique<asio::ip::tcp::socket>(io_);
      acceptor_.accept(*socket_, ec);
      if (ec || stopping_) return;
      protocol::Framer framer;
      for (;;) {
        auto region = framer.prepare();
        const auto n = socket_->read_some(asio::buffer(region.data(), region.size()), ec);
        if (ec) break;
        framer.commit(n);
        Bytes answers;
        for (auto e = framer.next(); e.kind != protocol::FramerEvent::Kind::need_more;
             e = framer.next()) {
          if (e.kind != protocol::FramerEvent::Kind::frame) continue;
          const auto header = protocol::decode_header(e.frame);
          if (!header) continue;
          const std::string vin(protocol::as_text(header->vin));
          std::uint8_t ack = protocol::ack_flag::success;
          if (header->command == 0x05) {
            ++logins;
          } else {
            ++reports;
            if (refuse_.count(vin)) ack = protocol::ack_flag::error;
            if (duplicate_.count(vin)) ack = protocol::ack_flag::vin_duplicate;
          }
          const auto reply = protocol::make_platform_ack(
              *header, ack, protocol::BeijingTime::from_fields(2026, 12, 7, 8, 0, 0));
          answers.insert(answers.end(), reply.begin(), reply.end());
        }
        asio::write(*socket_, asio::buffer(answers), ec);
      }
    }
  }
  std::set<std::string> refuse_, duplicate_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<asio::ip::tcp::socket> socket_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

TEST(UpstreamLink, ARefusedReportIsSetAsideWithItsReasonAndTheCursorGoesOn) {
  TempDir dir;
  FakeUpstream upstream({"LFWDTEST000000002"}, {"LFWDTEST000000003"});
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.store.forward_log = true;
  RunningServer server(config);
  std::string problem;
  auto link = forwarding::parse_upstream(
      "tcp://127.0.0.1:" + std::to_string(upstream.port()) +
          "?name=province&user=HA0001&password=p&backoff-min-ms=20&backoff-max-ms=100",
      problem);
  ASSERT_TRUE(link) << problem;
  forwarding::Forwarder forwarder({*link}, server.store());
  std::vector<std::string> problems;
  ASSERT_TRUE(forwarder.start(problems));
  const auto& counters = forwarder.links().front()->counters();
  for (int v = 1; v <= 4; ++v) {
    TestTerminal t(server.port());
    t.send(with_vin(protocol::testing::corpus_frame("e1-login").bytes, vin_of(v)));
    Bytes burst;
    for (int i = 0; i < 3; ++i) {
      const auto f = report(v, i);
      burst.insert(burst.end(), f.begin(), f.end());
    }
    t.send(burst);
    ASSERT_EQ(t.read_frames(4).size(), 4u);
  }
  // The upstream counts a report when it reads it; the link counts it when the answer is back.
  // Waiting for both keeps the answers' counters from being read before they are in.
  ASSERT_TRUE(eventually(
      [&] {
        return counters.lag_reports == 0 && upstream.reports == 12 &&
               counters.acknowledged + counters.rejected + counters.duplicates == 12;
      },
      10s))
      << upstream.reports << " reports reached the upstream";
  EXPECT_EQ(counters.sent, 12u);
  EXPECT_EQ(counters.acknowledged, 6u);
  EXPECT_EQ(counters.rejected, 3u);
  EXPECT_EQ(counters.duplicates, 3u);
  EXPECT_EQ(upstream.logins, 1);
  forwarder.stop();  // saves the cursor
  forwarding::ForwardStore log(server.store());
  const auto set_aside = log.set_aside("province", 10);
  ASSERT_EQ(set_aside.size(), 3u);
  for (const auto& s : set_aside) {
    EXPECT_EQ(s.vin, "LFWDTEST000000002");
    EXPECT_EQ(s.reason, "upstream answered error (0x02)");
  }
  // The cursor is past every report: nothing is sent again, nothing is waiting.
  EXPECT_EQ(log.read(*log.cursor("province"), server.store().stable_sequence(), 100).size(), 0u);
  EXPECT_EQ(log.count(0, server.store().stable_sequence()), 12u);  // the log itself, not yet pruned
  const auto metrics = forwarder.render_metrics();
  EXPECT_NE(metrics.find("lantian_upstream_rejected_total{upstream=\"province\"} 3\n"),
            std::string::npos)
      << metrics;
  server.stop();
}

}  // namespace
}  // namespace lantian::server

#include "sim/upstream_platform.hpp"

namespace lantian::server {
namespace {

TEST(SimulatedUpstream, RefusesAndStallsAsToldAndCountsRepeats) {
  TempDir dir;
  sim::UpstreamOptions options;
  options.port = free_port();
  options.user = "HA0001";
  options.password = "link-secret";
  options.refuse_every = 5;
  options.stall_after = 10;
  options.stall_for = std::chrono::seconds(3);  // beyond the link's 1 s reply deadline
  options.duration = std::chrono::seconds(8);
  sim::UpstreamCounts counts;
  std::thread upstream([&] { counts = sim::run_upstream_platform(options); });

  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.store.forward_log = true;
  RunningServer server(config);
  std::string problem;
  auto link = forwarding::parse_upstream(
      "tcp://127.0.0.1:" + std::to_string(options.port) +
          "?name=sim&user=HA0001&password=link-secret&window=2&reply-timeout-s=1"
          "&backoff-min-ms=50&backoff-max-ms=200",
      problem);
  ASSERT_TRUE(link) << problem;
  forwarding::Forwarder forwarder({*link}, server.store());
  std::vector<std::string> problems;
  ASSERT_TRUE(forwarder.start(problems));
  for (int v = 1; v <= 4; ++v) {
    TestTerminal t(server.port());
    t.send(with_vin(protocol::testing::corpus_frame("e1-login").bytes, vin_of(v)));
    Bytes burst;
    for (int i = 0; i < 5; ++i) {
      const auto f = report(v, i);
      burst.insert(burst.end(), f.begin(), f.end());
    }
    t.send(burst);
    ASSERT_EQ(t.read_frames(6).size(), 6u);
  }
  const auto& c = forwarder.links().front()->counters();
  EXPECT_TRUE(eventually([&] { return c.lag_reports == 0 && c.reconnects >= 1; }, 7s))
      << c.lag_reports << " unanswered, " << c.reconnects << " reconnects";
  forwarder.stop();
  upstream.join();
  // 20 reports, each answered at least once; the stall made the link drop and send the
  // unanswered ones again. Every 5th report received was refused (and set aside here).
  EXPECT_EQ(counts.distinct, 20u);
  EXPECT_EQ(counts.reports, counts.distinct + counts.repeated);
  EXPECT_GE(counts.repeated, 1u);
  EXPECT_EQ(counts.refused, counts.reports / 5);
  EXPECT_EQ(c.acknowledged + c.rejected + c.duplicates, 20u);  // each resolved once
  EXPECT_EQ(counts.logins, c.reconnects + 1);
  server.stop();
}

}  // namespace
}  // namespace lantian::server

namespace lantian::server {
namespace {

// The link over TLS to a lantiand upstream (the test CA, the certificate's name checked), and
// /healthz's lag limit while the upstream is not there yet.
TEST(UpstreamLink, ForwardsOverTlsAndReportsLagPastItsLimit) {
  TempDir dir;
  auto upstream_config = test_config(dir.path() / "upstream", {"tls://127.0.0.1:0?profile=auto"});
  upstream_config.platform_accounts = {{"HA0001", "link-secret"}};
  const auto upstream_port = free_port();
  upstream_config.listeners.front().port = upstream_port;

  auto config = test_config(dir.path() / "forwarder", {"tcp://127.0.0.1:0?profile=hj1239"});
  config.store.forward_log = true;
  RunningServer server(config);
  std::string problem;
  auto link = forwarding::parse_upstream(
      "tls://127.0.0.1:" + std::to_string(upstream_port) +
          "?name=province&user=HA0001&password=link-secret&max-lag-s=1&backoff-min-ms=50"
          "&backoff-max-ms=200&ca=" + (test_certificates() / "ca.crt").string(),
      problem);
  ASSERT_TRUE(link) << problem;
  forwarding::Forwarder forwarder({*link}, server.store());
  std::vector<std::string> problems;
  ASSERT_TRUE(forwarder.start(problems));
  {
    TestTerminal t(server.port());
    t.send(with_vin(protocol::testing::corpus_frame("e1-login").bytes, vin_of(7)));
    Bytes burst;
    for (int i = 0; i < 3; ++i) {
      const auto f = report(7, i);
      burst.insert(burst.end(), f.begin(), f.end());
    }
    t.send(burst);
    ASSERT_EQ(t.read_frames(4).size(), 4u);
  }
  // No upstream yet: the oldest report ages past the 1 s limit.
  EXPECT_TRUE(eventually([&] { return !forwarder.lagging().empty(); }, 5s));
  EXPECT_TRUE(forwarder.lagging().starts_with("upstream province lags ")) << forwarder.lagging();
  EXPECT_NE(forwarder.render_metrics().find("lantian_upstream_lag_reports{upstream=\"province\"} 3\n"),
            std::string::npos);

  RunningServer upstream(upstream_config);
  const auto& c = forwarder.links().front()->counters();
  EXPECT_TRUE(eventually([&] { return c.acknowledged == 3 && c.lag_reports == 0; }, 10s));
  EXPECT_TRUE(eventually([&] { return forwarder.lagging().empty(); }, 5s));
  EXPECT_EQ(upstream.metrics().frames_stored.value(), 3u);
  forwarder.stop();
  upstream.stop();
  server.stop();
}

}  // namespace
}  // namespace lantian::server

#include "api_client.hpp"

namespace lantian::server {
namespace {

TEST(UpstreamLink, TheApiShowsEachUpstreamAndTheReportsItRefused) {
  TempDir dir;
  FakeUpstream upstream({"LFWDTEST000000009"}, {});
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.api.enabled = true;
  config.store.forward_log = true;
  std::string problem;
  auto link = forwarding::parse_upstream(
      "tcp://127.0.0.1:" + std::to_string(upstream.port()) +
          "?name=province&user=HA0001&password=p&platform=LANTIANHENAN00001",
      problem);
  ASSERT_TRUE(link) << problem;
  config.upstreams = {*link};
  RunningServer server(config);
  {
    TestTerminal t(server.port());
    t.send(with_vin(protocol::testing::corpus_frame("e1-login").bytes, vin_of(9)));
    t.send(report(9, 0));
    ASSERT_EQ(t.read_frames(2).size(), 2u);
  }
  const auto& c = server.forwarder()->links().front()->counters();
  ASSERT_TRUE(eventually([&] { return c.rejected == 1 && c.lag_reports == 0; }, 10s));
  ApiClient api(server.api_port());
  const auto admin = create_token(server.store(), api::Role::admin);
  const auto reviewer = create_token(server.store(), api::Role::reviewer);
  EXPECT_EQ(api.get("/api/v1/upstreams", reviewer).status, 403u);
  // The set-aside record is saved with the cursor (at most 200 ms after the answer).

  for (int i = 0; i < 50; ++i) {
    const auto answer = api.get("/api/v1/upstreams", admin);
    ASSERT_EQ(answer.status, 200u) << answer.body;
    const auto body = answer.json();
    const auto& items = body.at("items").as_array();
    ASSERT_EQ(items.size(), 1u);
    const auto& u = items[0].as_object();
    if (u.at("set_aside").as_array().empty()) {
      std::this_thread::sleep_for(100ms);
      continue;
    }
    EXPECT_EQ(u.at("name").as_string(), "province");
    EXPECT_EQ(u.at("platform").as_string(), "LANTIANHENAN00001");
    EXPECT_TRUE(u.at("connected").as_bool());
    EXPECT_EQ(u.at("rejected").to_number<int>(), 1);
    EXPECT_EQ(u.at("lag_reports").to_number<int>(), 0);
    const auto& s = u.at("set_aside").as_array()[0].as_object();
    EXPECT_EQ(s.at("vin").as_string(), "LFWDTEST000000009");
    EXPECT_EQ(s.at("reason").as_string(), "upstream answered error (0x02)");
    server.stop();
    return;
  }
  FAIL() << "the refused report was not listed";
}

}  // namespace
}  // namespace lantian::server
