// tls_hold: the least a TLS server can keep per idle terminal — the reference of performance
// targets P3 (memory per connection) and P4 (full handshakes per second). It accepts TLS
// connections with lantiand's own TLS settings (server/tls_context: TLS 1.2–1.3, ECDHE, released
// buffers), completes the handshake, then only waits for the socket to become readable and
// discards what arrives. No framing, no sessions, no storage.
//
//   tls_hold PORT CERT KEY          prints "listening PORT" and serves until killed

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <iostream>

#include "server/tls_context.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

asio::awaitable<void> hold(asio::ssl::stream<tcp::socket> stream) {
  boost::system::error_code ec;
  co_await stream.async_handshake(asio::ssl::stream_base::server,
                                  asio::redirect_error(asio::use_awaitable, ec));
  char sink[512];
  while (!ec) {
    co_await stream.next_layer().async_wait(tcp::socket::wait_read,
                                            asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> accept(tcp::acceptor& acceptor, asio::ssl::context& tls) {
  for (;;) {
    boost::system::error_code ec;
    auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) continue;
    asio::co_spawn(acceptor.get_executor(),
                   hold(asio::ssl::stream<tcp::socket>(std::move(socket), tls)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: tls_hold PORT CERT KEY\n";
    return 2;
  }
  std::string error;
  lantian::server::Config config;
  config.tls_cert = argv[2];
  config.tls_key = argv[3];
  auto tls = lantian::server::make_tls_context(config, error);
  if (!tls) {
    std::cerr << "tls_hold: " << error << '\n';
    return 1;
  }
  asio::io_context io(1);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"),
                              static_cast<unsigned short>(std::atoi(argv[1]))});
  acceptor.listen(65535);
  std::cout << "listening " << acceptor.local_endpoint().port() << std::endl;
  asio::co_spawn(io, accept(acceptor, *tls), asio::detached);
  io.run();
}
