#pragma once
// The admin port: GET /metrics (Prometheus text) and GET /healthz. Plain HTTP, meant for a local or
// management network only; one request per connection, with deadlines.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

namespace lantian::server {

class AdminHttp {
 public:
  // `metrics_text` renders /metrics; `health_problem` decides /healthz: empty → 200 "ok",
  // otherwise 503 with the problem ("stopping", an upstream lagging past its limit).
  AdminHttp(boost::asio::io_context& io, std::function<std::string()> metrics_text,
            std::function<std::string()> health_problem);
  // Binds HOST:PORT (port 0: any); false with `problem` set on failure.
  bool start(const std::string& host, std::uint16_t port, std::string& problem);
  [[nodiscard]] std::uint16_t port() const;
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  std::function<std::string()> metrics_text_;
  std::function<std::string()> health_problem_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
};

}  // namespace lantian::server
