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
  // `metrics_text` renders /metrics; `healthy` decides /healthz (200 "ok" or 503 "stopping").
  AdminHttp(boost::asio::io_context& io, std::function<std::string()> metrics_text,
            std::function<bool()> healthy);
  // Binds HOST:PORT (port 0: any); false with `problem` set on failure.
  bool start(const std::string& host, std::uint16_t port, std::string& problem);
  [[nodiscard]] std::uint16_t port() const;
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  std::function<std::string()> metrics_text_;
  std::function<bool()> healthy_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
};

}  // namespace lantian::server
