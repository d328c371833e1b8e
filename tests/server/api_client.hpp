#pragma once
// A blocking HTTPS client for the API tests: one connection per request (or a long-lived one for
// the live feed), every operation with a deadline so that a server bug fails a test instead of
// hanging it.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "server/api/tokens.hpp"
#include "storage/store.hpp"

namespace lantian::server::testing {

struct HttpResult {
  unsigned status = 0;  // 0: no answer (connection closed or deadline)
  std::string body;
  std::map<std::string, std::string> headers;     // lower-case names
  [[nodiscard]] boost::json::value json() const;  // the body parsed (test failure if not JSON)
};

class ApiClient {
 public:
  explicit ApiClient(std::uint16_t port) : port_(port) {}
  HttpResult request(boost::beast::http::verb method, const std::string& target,
                     const std::string& token = {}, const std::string& body = {},
                     const std::string& content_type = "application/json",
                     std::chrono::milliseconds deadline = std::chrono::seconds(10)) const;
  HttpResult get(const std::string& target, const std::string& token = {}) const {
    return request(boost::beast::http::verb::get, target, token);
  }
  HttpResult post(const std::string& target, const std::string& token,
                  const std::string& body) const {
    return request(boost::beast::http::verb::post, target, token, body);
  }

 private:
  std::uint16_t port_;
};

// A new bearer token of `role`, confined to `cities` and `zones` when given, written straight to
// the server's token store; returns its secret (empty, with a test failure, if that failed).
std::string create_token(storage::Store& store, api::Role role, std::set<std::string> cities = {},
                         std::set<std::string> zones = {},
                         std::optional<std::int64_t> expires_unix_ms = std::nullopt,
                         std::set<std::string> enterprises = {});

// A subscription to the live feed: connects, sends the request and reads the response head.
class FeedClient {
 public:
  FeedClient(std::uint16_t port, const std::string& token);
  ~FeedClient();
  [[nodiscard]] unsigned status() const { return status_; }
  // Reads until the received text contains `needle` or the deadline passes; returns all received.
  std::string read_until(const std::string& needle, std::chrono::milliseconds deadline);

 private:
  boost::asio::io_context io_;
  boost::asio::ssl::context ctx_{boost::asio::ssl::context::tls_client};
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> stream_;
  unsigned status_ = 0;
  std::string received_;
};

}  // namespace lantian::server::testing
