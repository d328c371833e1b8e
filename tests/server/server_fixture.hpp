#pragma once
// An in-process lantiand for tests: its own io_context thread, a temporary data directory with
// development certificates, listeners on loopback port 0; and blocking test terminals (TCP or TLS)
// with deadlines.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "evaluation/sharded_evaluator.hpp"
#include "protocol/bytes.hpp"
#include "protocol/framer.hpp"
#include "server/api/api_server.hpp"
#include "server/config.hpp"
#include "server/ingest_server.hpp"
#include "server/metrics.hpp"
#include "storage/store.hpp"
#include "forwarding/forwarder.hpp"
#include "sharing/violation_sharing.hpp"

namespace lantian::server::testing {

// A directory with the development PKI, made once per test binary.
const std::filesystem::path& test_certificates();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Config for tests: loopback listeners on port 0, short deadlines, no fsync unless asked.
Config test_config(const std::filesystem::path& data_dir, std::vector<std::string> listeners);

class RunningServer {
 public:
  explicit RunningServer(Config config);
  ~RunningServer();  // graceful stop if still running
  std::uint16_t port(std::size_t listener = 0) const { return ports_.at(listener); }
  // Graceful stop: waits for sessions and closes the store.
  void stop();
  ServerMetrics& metrics() { return metrics_; }
  void reload_tls() { server_->reload_tls(); }
  // Waits until every stored frame has been handed to the rule engine and evaluated.
  void drain_rules();
  evaluation::ShardedEvaluator& rules() { return *rules_; }
  // The HTTPS API's port (config.api.enabled).
  std::uint16_t api_port() const { return api_->port(); }
  api::ApiServer& api() { return *api_; }
  storage::Store& store() { return *store_; }
  forwarding::Forwarder* forwarder() { return forwarder_.get(); }
  const Config& config() const { return config_; }

 private:
  Config config_;
  std::unique_ptr<storage::Store> store_;
  boost::asio::io_context io_;
  ServerMetrics metrics_;
  std::unique_ptr<evaluation::ShardedEvaluator> rules_;
  std::unique_ptr<IngestServer> server_;
  std::unique_ptr<api::ApiServer> api_;
  std::unique_ptr<sharing::ViolationSharing> sharing_;  // with the API
  std::unique_ptr<forwarding::Forwarder> forwarder_;      // with config.upstreams
  std::vector<std::uint16_t> ports_;
  std::thread thread_;
  bool stopped_ = false;
};

// A terminal: connects (TLS optional, with an optional client certificate), sends bytes, reads
// frames with a deadline.
class TestTerminal {
 public:
  TestTerminal(std::uint16_t port, bool tls = false,
               std::optional<std::string> client_vin = std::nullopt,
               std::optional<std::filesystem::path> trusted_ca = std::nullopt);
  void send(protocol::ByteView bytes);
  // Reads until at least `n` complete frames arrived or the deadline passed; returns every frame
  // read (more than `n` when more came in the same read).
  std::vector<protocol::Bytes> read_frames(
      std::size_t n, std::chrono::milliseconds deadline = std::chrono::seconds(3));
  // True when the server closed the connection within the deadline.
  bool closed_by_server(std::chrono::milliseconds deadline = std::chrono::seconds(3));

 private:
  std::size_t read_some(std::uint8_t* data, std::size_t size, std::chrono::milliseconds deadline,
                        bool& eof);
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::ssl::context> ctx_;  // before the stream that uses it
  std::unique_ptr<boost::asio::ip::tcp::socket> socket_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  // Replies read but not yet returned (a read may end inside one): kept across read_frames calls.
  protocol::Framer replies_;
};

// Polls `condition` until it holds or `timeout` passes (for effects the server reports
// asynchronously).
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Every frame stored, in key order (reads the archive of a stopped server).
std::vector<storage::FrameRecord> stored_frames(const std::filesystem::path& data_dir);

}  // namespace lantian::server::testing
