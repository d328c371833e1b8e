// Violations to enforcement systems, against a real HTTPS receiver: subscribers registered through
// the API receive each new violation and review decision, signed, in order, within their
// jurisdiction; the receiver goes down for a while and, once back, has every violation exactly
// once; every delivery attempt is in the audit log.

#include <gtest/gtest.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "api_client.hpp"
#include "protocol/framer.hpp"
#include "server/api/tokens.hpp"
#include "server_fixture.hpp"
#include "sharing/violation_sharing.hpp"
#include "test_support.hpp"

namespace lantian::server {
namespace {
using namespace testing;
using namespace std::chrono_literals;
using protocol::Bytes;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using verb = http::verb;

constexpr const char* secret = "enforcement-hook-secret-1";

// An enforcement system's HTTPS endpoint: checks each delivery's signature and timestamp, keeps
// what it received, answers 200. It can be taken down (the listening socket closed) and brought up
// again on the same port.
class Receiver {
 public:
  struct Delivery {
    std::string path, event, id;
    std::uint64_t version = 0;
  };
  Receiver() : tls_(asio::ssl::context::tls_server) {
    const auto& certs = test_certificates();
    tls_.use_certificate_chain_file((certs / "server.crt").string());
    tls_.use_private_key_file((certs / "server.key").string(), asio::ssl::context::pem);
    up();
    port_ = acceptor_->local_endpoint().port();
  }
  ~Receiver() { down(); }
  void up() {
    acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(
        io_, asio::ip::tcp::endpoint{asio::ip::make_address("127.0.0.1"), port_});
    stopping_ = false;
    thread_ = std::thread([this] { serve(); });
  }
  void down() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    boost::system::error_code ec;
    asio::ip::tcp::socket wake(io_);
    wake.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);  // ends the blocking accept
    thread_.join();
    acceptor_.reset();
  }
  std::uint16_t port() const { return port_; }
  std::vector<Delivery> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  int bad_signatures() {
    std::lock_guard lock(mutex_);
    return bad_signatures_;
  }

 private:
  void serve() {
    while (!stopping_) {
      asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_->accept(socket, ec);
      if (ec || stopping_) return;
      beast::ssl_stream<asio::ip::tcp::socket&> stream(socket, tls_);
      stream.handshake(asio::ssl::stream_base::server, ec);
      if (ec) continue;
      beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(stream, buffer, request, ec);
      if (ec) continue;
      const std::string signature(request["X-Lantian-Signature"]);
      const auto comma = signature.find(',');
      const auto t = comma == std::string::npos ? 0 : std::stoll(signature.substr(2, comma - 2));
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      const bool genuine = std::llabs(now - t) <= 300 &&
                           sharing::delivery_signature(secret, t, request.body()) == signature;
      {
        std::lock_guard lock(mutex_);
        if (!genuine) {
          ++bad_signatures_;
        } else {
          const auto body = json::parse(request.body()).as_object();
          received_.push_back({std::string(request.target()),
                               std::string(body.at("event").as_string()),
                               std::string(body.at("id").as_string()),
                               body.at("version").to_number<std::uint64_t>()});
        }
      }
      http::response<http::string_body> response{genuine ? http::status::ok
                                                          : http::status::unauthorized,
                                                 request.version()};
      response.body() = "{}";
      response.prepare_payload();
      http::write(stream, response, ec);
      stream.shutdown(ec);
    }
  }
  asio::io_context io_;
  asio::ssl::context tls_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<Delivery> received_;
  int bad_signatures_ = 0;
};

// A vehicle whose VIN fails its check digit ('Z' in the 9th place): each raises one R12.
void send_vehicle(std::uint16_t port, int n) {
  auto digits = std::to_string(n);
  const std::string vin = "LZZ5CLSBZPA" + std::string(6 - digits.size(), '0') + digits;
  TestTerminal t(port);
  for (const char* name : {"e1-login", "e3-hj1239-realtime-signed"}) {
    Bytes f = protocol::testing::corpus_frame(name).bytes;
    std::copy(vin.begin(), vin.end(), f.begin() + 3);
    f.back() = protocol::xor_checksum(protocol::ByteView(f).subspan(2, f.size() - 3));
    t.send(f);
    ASSERT_EQ(t.read_frames(1).size(), 1u);
  }
}

TEST(ViolationSharing, EveryViolationReachesItsSubscriberOnceThroughAnOutageAndARestart) {
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.api.enabled = true;
  config.share_ca = test_certificates() / "ca.crt";
  auto server = std::make_unique<RunningServer>(config);
  ApiClient api(server->api_port());
  const auto admin = create_token(server->store(), api::Role::admin);
  const auto reviewer = create_token(server->store(), api::Role::reviewer);
  Receiver receiver;
  const auto url = "https://127.0.0.1:" + std::to_string(receiver.port());

  // Two subscribers: one for every city and rule, one for R01 only (it must get nothing here).
  const auto everything = api.post("/api/v1/subscribers", admin,
                                    json::serialize(json::object{{"name", "省公安厅 非现场执法"},
                                                                 {"url", url + "/all"},
                                                                 {"secret", secret}}));
  ASSERT_EQ(everything.status, 201u) << everything.body;
  const std::string id(everything.json().at("id").as_string());
  EXPECT_EQ(everything.json().as_object().count("secret"), 0u);
  const auto r01_only = api.post(
      "/api/v1/subscribers", admin,
      json::serialize(json::object{
          {"name", "R01 only"}, {"url", url + "/r01"}, {"secret", secret}, {"rules", {"R01"}}}));
  ASSERT_EQ(r01_only.status, 201u) << r01_only.body;
  EXPECT_EQ(api.post("/api/v1/subscribers", admin,
                     R"({"name":"x","url":"http://127.0.0.1/","secret":"0123456789abcdef"})")
                .status,
            400u);
  EXPECT_EQ(api.post("/api/v1/subscribers", reviewer,
                     R"({"name":"x","url":"https://127.0.0.1/","secret":"0123456789abcdef"})")
                .status,
            403u);

  for (int n = 1; n <= 5; ++n) send_vehicle(server->port(), n);
  ASSERT_TRUE(eventually([&] { return receiver.received().size() == 5; }, 20s))
      << receiver.received().size();

  // The receiver goes away; five more violations wait for it, through a restart of the server.
  receiver.down();
  for (int n = 6; n <= 10; ++n) send_vehicle(server->port(), n);
  const auto failed_attempts = [&] {
    const auto list = api.get("/api/v1/subscribers", admin).json().at("items").as_array();
    for (const auto& s : list)
      if (s.at("id").as_string() == id)
        return s.at("delivery").at("failed_attempts").to_number<std::int64_t>();
    return std::int64_t{-1};
  };
  ASSERT_TRUE(eventually([&] { return failed_attempts() >= 2; }, 20s));
  EXPECT_EQ(receiver.received().size(), 5u);
  server->stop();
  server = std::make_unique<RunningServer>(config);
  api = ApiClient(server->api_port());

  receiver.up();
  ASSERT_TRUE(eventually([&] { return receiver.received().size() >= 10; }, 20s))
      << receiver.received().size();

  // A review decision follows as a change of its own.
  const auto first = receiver.received().front();
  std::string path_id;  // the id in a path: its '|' percent-encoded
  for (char c : first.id) path_id += c == '|' ? std::string("%7C") : std::string(1, c);
  const auto reviewed = api.post("/api/v1/violations/" + path_id + "/review", reviewer,
                                 R"({"decision":"confirmed","comment":"seen on camera"})");
  ASSERT_EQ(reviewed.status, 200u) << reviewed.body;
  ASSERT_TRUE(eventually([&] { return receiver.received().size() >= 11; }, 20s));
  std::this_thread::sleep_for(300ms);  // nothing more may come

  const auto all = receiver.received();
  ASSERT_EQ(all.size(), 11u);
  std::map<std::pair<std::string, std::uint64_t>, int> times;
  std::uint64_t last_version = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].path, "/all");
    const auto key = std::make_pair(all[i].id, all[i].version);
    EXPECT_EQ(++times[key], 1) << all[i].id << " delivered twice";
    EXPECT_GT(all[i].version, last_version) << "out of order";
    last_version = all[i].version;
    EXPECT_EQ(all[i].event, i < 10 ? "violation.raised" : "violation.reviewed");
    EXPECT_TRUE(all[i].id.starts_with("R12|LZZ5CLSBZPA0000")) << all[i].id;
  }
  EXPECT_EQ(all[10].id, first.id);
  EXPECT_EQ(receiver.bad_signatures(), 0);
  // Both subscribers are past every change: the log keeps only the newest.
  EXPECT_TRUE(eventually(
      [&] { return sharing::SubscriberStore(server->store()).changes_after(0, 100).size() == 1; },
      5s));

  // Every attempt is audited under the subscriber: 11 delivered, the failed ones too.
  const auto audit = api.get("/api/v1/audit?token=subscriber:" + id + "&limit=1000", admin);
  ASSERT_EQ(audit.status, 200u) << audit.body;
  int delivered = 0, failed = 0;
  const auto entries = audit.json();
  for (const auto& e : entries.at("items").as_array()) {
    const auto& change = e.at("change").as_object();
    (change.at("delivered").as_bool() ? delivered : failed)++;
  }
  EXPECT_EQ(delivered, 11);
  EXPECT_GE(failed, 2);

  // Disabling stops deliveries; the record stays, marked.
  EXPECT_EQ(api.request(verb::delete_, "/api/v1/subscribers/" + id, admin).status, 204u);
  const auto list = api.get("/api/v1/subscribers", admin).json().at("items").as_array();
  ASSERT_EQ(list.size(), 2u);
  for (const auto& s : list) {
    if (s.at("id").as_string() == id) {
      EXPECT_TRUE(s.at("disabled").as_bool());
    }
  }
  server->stop();
}

}  // namespace
}  // namespace lantian::server
