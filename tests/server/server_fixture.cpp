#include "server_fixture.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <future>

#include "protocol/framer.hpp"

namespace lantian::server::testing {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace fs = std::filesystem;
using asio::ip::tcp;

const fs::path& test_certificates() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("lantian-test-certs-" + std::to_string(::getpid()));
    fs::remove_all(d);
    const std::string cmd = "bash '" LANTIAN_CERTS_SCRIPT "' '" + d.string() +
                            "' LGAX2BG40N1000001 LZZ5CLSB5PA123456 >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("certificate script failed");
    return d;
  }();
  return dir;
}

TempDir::TempDir() {
  static int counter = 0;
  path_ = fs::temp_directory_path() /
          ("lantian-server-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(path_);
  fs::create_directories(path_);
}
TempDir::~TempDir() {
  fs::remove_all(path_);
}

Config test_config(const fs::path& data_dir, std::vector<std::string> listeners) {
  std::vector<const char*> argv{
      "lantiand", "--data-dir", data_dir.c_str(), "--admin", "127.0.0.1:0", "--sync", "off"};
  for (const auto& l : listeners) {
    argv.push_back("--listen");
    argv.push_back(l.c_str());
  }
  auto parsed = parse_command_line(static_cast<int>(argv.size()), argv.data());
  EXPECT_TRUE(parsed.problems.empty());
  Config c = parsed.config;
  const auto certs = test_certificates();
  c.tls_cert = certs / "server.crt";
  c.tls_key = certs / "server.key";
  c.tls_ca = certs / "ca.crt";
  c.handshake_timeout = std::chrono::seconds(2);
  c.first_frame_timeout = std::chrono::seconds(2);
  c.idle_timeout = std::chrono::seconds(3);
  c.write_timeout = std::chrono::seconds(2);
  c.api.enabled = false;  // API tests turn it on
  // Tests log one VIN in many times; the tests of the login rate set it low.
  c.login_rate_per_second = 1000;
  c.login_burst = 1000;
  // Tests send many requests from one address, many without a token (the console's files); the
  // tests of these limits set them low.
  c.api.anonymous_rate_per_second = 10000;
  c.api.anonymous_burst = 10000;
  c.api.audit_anonymous_per_minute = 100000;
  c.api.max_connections_per_address = 1000;
  c.api.host = "127.0.0.1";
  c.api.port = 0;
  return c;
}

RunningServer::RunningServer(Config config) : config_(std::move(config)) {
  std::string error;
  store_ = storage::Store::open(config_.store, error);
  if (!store_) throw std::runtime_error(error);
  rules_ = std::make_unique<evaluation::ShardedEvaluator>(
      *store_, config_.rules, metrics_.evaluation,
      evaluation::ShardedEvaluatorOptions{.shards = static_cast<std::size_t>(config_.rule_threads),
                                          .max_held_frames = config_.rule_max_held_frames});
  if (!config_.upstreams.empty()) {
    forwarder_ = std::make_unique<forwarding::Forwarder>(config_.upstreams, *store_);
    std::vector<std::string> problems;
    if (!forwarder_->start(problems)) throw std::runtime_error(problems.front());
  }
  server_ = std::make_unique<IngestServer>(io_, config_, *store_, metrics_);
  server_->set_evaluation(rules_.get(), &rules_->catalogue());
  std::vector<std::string> problems;
  if (!server_->start(problems)) throw std::runtime_error(problems.front());
  ports_ = server_->bound_ports();
  if (config_.api.enabled) {
    api_ = std::make_unique<api::ApiServer>(io_, config_, *store_, *rules_, metrics_);
    std::string problem;
    sharing_ = std::make_unique<sharing::ViolationSharing>(
        *store_,
        sharing::SharingOptions{.ca_file = config_.share_ca,
                                .backoff_min = std::chrono::milliseconds(100),
                                .backoff_max = std::chrono::milliseconds(500),
                                .poll = std::chrono::milliseconds(50),
                                .prune_every = std::chrono::milliseconds(200)},
        [this](const sharing::DeliveryAttempt& a) { api_->audit_delivery(a); });
    if (!sharing_->start(problem)) throw std::runtime_error(problem);
    api_->set_sharing(sharing_.get());
    api_->set_forwarder(forwarder_.get());
    if (!api_->start(problem)) throw std::runtime_error(problem);
    rules_->on_violation([this](const boost::json::object& v) { api_->publish(v); });
  }
  thread_ = std::thread([this] { io_.run(); });
}

void RunningServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  std::promise<void> done;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        co_await server_->shutdown();
        if (api_) api_->stop();
        done.set_value();
      },
      asio::detached);
  done.get_future().wait();
  rules_->stop();
  if (sharing_) sharing_->stop();
  if (forwarder_) forwarder_->stop();
  store_->close();
  io_.stop();
  thread_.join();
}

void RunningServer::drain_rules() {
  // A session hands its frames over after they are stored and answered: wait for that first.
  eventually([&] {
    return metrics_.evaluation.frames_handed_over.value() >= metrics_.frames_stored.value();
  });
  rules_->drain();
}

RunningServer::~RunningServer() {
  stop();
}

TestTerminal::TestTerminal(std::uint16_t port, bool tls, std::optional<std::string> client_vin,
                           std::optional<fs::path> trusted_ca) {
  socket_ = std::make_unique<tcp::socket>(io_);
  socket_->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  socket_->set_option(tcp::no_delay(true));
  if (tls) {
    ctx_ = std::make_unique<ssl::context>(ssl::context::tls_client);
    ctx_->load_verify_file(trusted_ca.value_or(test_certificates() / "ca.crt").string());
    ctx_->set_verify_mode(ssl::verify_peer);
    if (client_vin) {
      ctx_->use_certificate_chain_file(
          (test_certificates() / ("client-" + *client_vin + ".crt")).string());
      ctx_->use_private_key_file(
          (test_certificates() / ("client-" + *client_vin + ".key")).string(), ssl::context::pem);
    }
    tls_ = std::make_unique<ssl::stream<tcp::socket&>>(*socket_, *ctx_);
    tls_->handshake(ssl::stream_base::client);
  }
}

void TestTerminal::send(protocol::ByteView bytes) {
  if (tls_)
    asio::write(*tls_, asio::buffer(bytes.data(), bytes.size()));
  else
    asio::write(*socket_, asio::buffer(bytes.data(), bytes.size()));
}

std::size_t TestTerminal::read_some(std::uint8_t* data, std::size_t size,
                                    std::chrono::milliseconds deadline, bool& eof) {
  std::size_t got = 0;
  boost::system::error_code result = asio::error::would_block;
  auto handler = [&](const boost::system::error_code& ec, std::size_t n) {
    result = ec;
    got = n;
  };
  if (tls_)
    tls_->async_read_some(asio::buffer(data, size), handler);
  else
    socket_->async_read_some(asio::buffer(data, size), handler);
  io_.restart();
  io_.run_for(deadline);
  if (result == asio::error::would_block) {
    socket_->cancel();
    io_.restart();
    io_.run();
    return 0;
  }
  eof = static_cast<bool>(result);
  return got;
}

std::vector<protocol::Bytes> TestTerminal::read_frames(std::size_t n,
                                                       std::chrono::milliseconds deadline) {
  std::vector<protocol::Bytes> frames;
  const auto until = std::chrono::steady_clock::now() + deadline;
  auto& framer = replies_;
  auto drain = [&] {
    for (protocol::FramerEvent e;
         (e = framer.next()).kind != protocol::FramerEvent::Kind::need_more;)
      if (e.kind == protocol::FramerEvent::Kind::frame)
        frames.emplace_back(e.frame.begin(), e.frame.end());
  };
  drain();
  while (frames.size() < n && std::chrono::steady_clock::now() < until) {
    std::uint8_t buf[4096];
    bool eof = false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    const std::size_t got =
        read_some(buf, sizeof buf, std::max(left, std::chrono::milliseconds(1)), eof);
    framer.feed(protocol::ByteView(buf, got));
    drain();
    if (eof) break;
  }
  return frames;
}

bool TestTerminal::closed_by_server(std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    std::uint8_t buf[4096];
    bool eof = false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    read_some(buf, sizeof buf, std::max(left, std::chrono::milliseconds(1)), eof);
    if (eof) return true;
  }
  return false;
}

std::vector<storage::FrameRecord> stored_frames(const fs::path& data_dir) {
  std::string error;
  auto store = storage::Store::open_read_only(data_dir / "db", error);
  EXPECT_TRUE(store) << error;
  std::vector<storage::FrameRecord> out;
  if (!store) return out;
  store->for_each_frame(std::nullopt, INT64_MIN / 4, INT64_MAX / 4,
                        [&](const storage::FrameKey&, const storage::FrameRecord& r) {
                          out.push_back(r);
                          return true;
                        });
  return out;
}

}  // namespace lantian::server::testing
