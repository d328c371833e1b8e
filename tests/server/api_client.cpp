#include "api_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

namespace lantian::server::testing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

boost::json::value HttpResult::json() const {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  EXPECT_FALSE(ec) << "not JSON: " << body.substr(0, 300);
  return v;
}

namespace {
// Runs `io` until `done` or the deadline; false on the deadline.
bool run_until(asio::io_context& io, const bool& done, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  io.restart();
  while (!done && std::chrono::steady_clock::now() < until)
    io.run_one_for(until - std::chrono::steady_clock::now());
  return done;
}
}  // namespace

HttpResult ApiClient::request(http::verb method, const std::string& target,
                              const std::string& token, const std::string& body,
                              const std::string& content_type,
                              std::chrono::milliseconds deadline) const {
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);  // the test certificate is self-made
  asio::ssl::stream<tcp::socket> stream(io, ctx);
  HttpResult result;
  boost::system::error_code ec;
  stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  if (ec) return result;
  bool done = false;
  stream.async_handshake(asio::ssl::stream_base::client, [&](auto e) { ec = e, done = true; });
  if (!run_until(io, done, deadline) || ec) return result;
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty() || method == http::verb::post || method == http::verb::put) {
    req.set(http::field::content_type, content_type);
    req.body() = body;
  }
  req.keep_alive(false);
  req.prepare_payload();
  done = false;
  http::async_write(stream, req, [&](auto e, std::size_t) { ec = e, done = true; });
  if (!run_until(io, done, deadline) || ec) return result;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256 << 20);
  done = false;
  http::async_read(stream, buffer, parser, [&](auto e, std::size_t) { ec = e, done = true; });
  if (!run_until(io, done, deadline) || ec) return result;
  const auto& res = parser.get();
  result.status = res.result_int();
  result.body = res.body();
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    result.headers[name] = std::string(field.value());
  }
  return result;
}

FeedClient::FeedClient(std::uint16_t port, const std::string& token) {
  stream_ = std::make_unique<asio::ssl::stream<tcp::socket>>(io_, ctx_);
  boost::system::error_code ec;
  stream_->next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return;
  bool done = false;
  stream_->async_handshake(asio::ssl::stream_base::client, [&](auto e) { ec = e, done = true; });
  if (!run_until(io_, done, std::chrono::seconds(5)) || ec) return;
  const std::string request =
      "GET /api/v1/violations/feed HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Authorization: Bearer " +
      token + "\r\nAccept: text/event-stream\r\n\r\n";
  done = false;
  asio::async_write(*stream_, asio::buffer(request),
                    [&](auto e, std::size_t) { ec = e, done = true; });
  if (!run_until(io_, done, std::chrono::seconds(5)) || ec) return;
  received_ = read_until("\r\n\r\n", std::chrono::seconds(5));
  if (received_.starts_with("HTTP/1.1 "))
    status_ = static_cast<unsigned>(std::stoul(received_.substr(9, 3)));
}

FeedClient::~FeedClient() {
  boost::system::error_code ec;
  if (stream_) stream_->next_layer().close(ec);
}

std::string FeedClient::read_until(const std::string& needle, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (received_.find(needle) == std::string::npos && std::chrono::steady_clock::now() < until) {
    char buffer[4096];
    bool done = false;
    boost::system::error_code ec;
    std::size_t n = 0;
    stream_->async_read_some(asio::buffer(buffer),
                             [&](auto e, std::size_t got) { ec = e, n = got, done = true; });
    if (!run_until(io_, done,
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       until - std::chrono::steady_clock::now()))) {
      stream_->next_layer().cancel(ec);
      io_.restart();
      io_.run();
      break;
    }
    received_.append(buffer, n);
    if (ec) break;
  }
  return received_;
}

std::string create_token(storage::Store& store, api::Role role, std::set<std::string> cities,
                         std::set<std::string> zones, std::optional<std::int64_t> expires_unix_ms,
                         std::set<std::string> enterprises) {
  api::TokenRecord r;
  r.role = role;
  r.jurisdiction.cities = std::move(cities);
  r.jurisdiction.zones = std::move(zones);
  r.enterprises = std::move(enterprises);
  r.label = "test";
  r.expires_unix_ms = expires_unix_ms;
  std::string error;
  auto secret = api::TokenStore(store).create(r, error);
  EXPECT_TRUE(secret) << error;
  return secret.value_or("");
}

}  // namespace lantian::server::testing
