// tls_hold: the least a TLS server can keep per idle terminal — the reference of performance
// targets P3 (memory per connection) and P4 (full handshakes per second). It accepts TLS
// connections with lantiand's own TLS settings and TLS layer (server/tls_context, server/
// tls_socket: TLS 1.2–1.3, ECDHE, OpenSSL on the socket, released buffers), completes the
// handshake, then only waits for the socket to become readable and discards what arrives. No
// framing, no sessions, no storage.
//
//   tls_hold PORT CERT KEY          prints "listening PORT" and serves until killed

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "server/tls_context.hpp"
#include "server/tls_socket.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

asio::awaitable<void> hold(tcp::socket socket, asio::ssl::context& tls) {
  lantian::server::TlsSocket stream(std::move(socket), tls);
  auto ec = co_await stream.handshake();
  while (!ec) {
    co_await stream.socket().async_wait(tcp::socket::wait_read,
                                        asio::redirect_error(asio::use_awaitable, ec));
    char sink[512];
    if (!ec) ec = std::get<0>(co_await stream.read_some(asio::buffer(sink)));
  }
}

asio::awaitable<void> accept(tcp::acceptor& acceptor, asio::ssl::context& tls) {
  for (;;) {
    boost::system::error_code ec;
    auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) continue;
    asio::co_spawn(acceptor.get_executor(), hold(std::move(socket), tls), asio::detached);
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
  ::signal(SIGPIPE, SIG_IGN);  // OpenSSL writes to the sockets itself
  asio::io_context io(1);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"),
                              static_cast<unsigned short>(std::atoi(argv[1]))});
  acceptor.listen(65535);
  std::cout << "listening " << acceptor.local_endpoint().port() << std::endl;
  asio::co_spawn(io, accept(acceptor, *tls), asio::detached);
  io.run();
}
