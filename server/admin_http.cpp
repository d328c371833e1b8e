#include "server/admin_http.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace lantian::server {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

AdminHttp::AdminHttp(asio::io_context& io, std::function<std::string()> metrics_text,
                     std::function<std::string()> health_problem)
    : io_(io), metrics_text_(std::move(metrics_text)), health_problem_(std::move(health_problem)) {}

bool AdminHttp::start(const std::string& host, std::uint16_t port, std::string& problem) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    problem = "--admin: not an IP address: " + host;
    return false;
  }
  acceptor_ = std::make_unique<tcp::acceptor>(io_);
  const tcp::endpoint endpoint(address, port);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(64, ec);
  if (ec) {
    problem = "--admin " + host + ":" + std::to_string(port) + ": cannot listen: " + ec.message();
    return false;
  }
  spdlog::info("event=admin_listening port={} paths=/metrics,/healthz",
               acceptor_->local_endpoint().port());
  asio::co_spawn(io_, accept_loop(), asio::detached);
  return true;
}

std::uint16_t AdminHttp::port() const {
  return acceptor_->local_endpoint().port();
}

void AdminHttp::stop() {
  boost::system::error_code ec;
  if (acceptor_) acceptor_->close(ec);
}

asio::awaitable<void> AdminHttp::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_->async_accept(nothrow);
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) co_return;
    if (!ec) asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> AdminHttp::serve(tcp::socket socket) {
  boost::beast::flat_buffer buffer(8192);
  http::request_parser<http::empty_body> parser;
  parser.header_limit(8192);
  asio::steady_timer deadline(co_await asio::this_coro::executor, std::chrono::seconds(5));
  auto r =
      co_await (http::async_read(socket, buffer, parser, nothrow) || deadline.async_wait(nothrow));
  if (r.index() == 1 || std::get<0>(std::get<0>(r))) co_return;
  const auto& req = parser.get();
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(false);
  res.set(http::field::server, "lantiand");
  if (req.method() != http::verb::get) {
    res.result(http::status::method_not_allowed);
    res.body() = "only GET\n";
  } else if (req.target() == "/metrics") {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = metrics_text_();
  } else if (req.target() == "/healthz") {
    const auto problem = health_problem_();
    res.result(problem.empty() ? http::status::ok : http::status::service_unavailable);
    res.set(http::field::content_type, "text/plain");
    res.body() = problem.empty() ? "ok\n" : problem + "\n";
  } else {
    res.result(http::status::not_found);
    res.body() = "not found: try /metrics or /healthz\n";
  }
  res.prepare_payload();
  deadline.expires_after(std::chrono::seconds(5));
  co_await (http::async_write(socket, res, nothrow) || deadline.async_wait(nothrow));
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace lantian::server
