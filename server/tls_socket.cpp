#include "server/tls_socket.hpp"

#include <openssl/err.h>

#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

namespace lantian::server {
namespace asio = boost::asio;
using boost::system::error_code;

TlsSocket::TlsSocket(asio::ip::tcp::socket socket, asio::ssl::context& context)
    : socket_(std::move(socket)), ssl_(SSL_new(context.native_handle())) {
  if (!ssl_) throw std::bad_alloc();
  error_code ec;
  socket_.non_blocking(true, ec);
  SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle()));
  SSL_set_accept_state(ssl_);
}

TlsSocket::~TlsSocket() { SSL_free(ssl_); }

template <class Op>
asio::awaitable<std::tuple<int, error_code>> TlsSocket::drive(Op op) {
  for (;;) {
    ERR_clear_error();
    const int r = op();
    if (r > 0) co_return std::tuple{r, error_code{}};
    const int reason = SSL_get_error(ssl_, r);
    error_code ec;
    switch (reason) {
      case SSL_ERROR_WANT_READ:
        co_await socket_.async_wait(asio::ip::tcp::socket::wait_read,
                                    asio::redirect_error(asio::use_awaitable, ec));
        break;
      case SSL_ERROR_WANT_WRITE:
        co_await socket_.async_wait(asio::ip::tcp::socket::wait_write,
                                    asio::redirect_error(asio::use_awaitable, ec));
        break;
      case SSL_ERROR_ZERO_RETURN:  // close_notify
        co_return std::tuple{r, error_code(asio::error::eof)};
      case SSL_ERROR_SYSCALL:
        // A peer that closed without close_notify (r == 0 and no queued error) reads as eof.
        co_return std::tuple{r, ERR_peek_error() == 0 && errno == 0
                                    ? error_code(asio::error::eof)
                                    : error_code(errno ? errno : EIO, boost::system::system_category())};
      default: {
        const unsigned long error = ERR_get_error();
        if (ERR_GET_REASON(error) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
          co_return std::tuple{r, error_code(asio::ssl::error::stream_truncated)};
        co_return std::tuple{r, error_code(static_cast<int>(error), asio::error::get_ssl_category())};
      }
    }
    if (ec) co_return std::tuple{r, ec};  // the wait was cancelled (deadline) or failed
  }
}

asio::awaitable<error_code> TlsSocket::handshake() {
  auto [r, ec] = co_await drive([this] { return SSL_do_handshake(ssl_); });
  co_return ec;
}

asio::awaitable<std::tuple<error_code, std::size_t>> TlsSocket::read_some(asio::mutable_buffer buffer) {
  std::size_t n = 0;
  auto [r, ec] = co_await drive([&] {
    errno = 0;
    return SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n) == 1 ? 1 : 0;
  });
  co_return std::tuple{ec, ec ? std::size_t{0} : n};
}

asio::awaitable<error_code> TlsSocket::write_all(asio::const_buffer buffer) {
  const auto* data = static_cast<const unsigned char*>(buffer.data());
  std::size_t left = buffer.size();
  while (left > 0) {
    std::size_t n = 0;
    auto [r, ec] = co_await drive([&] {
      errno = 0;
      return SSL_write_ex(ssl_, data, left, &n) == 1 ? 1 : 0;
    });
    if (ec) co_return ec;
    data += n;
    left -= n;
  }
  co_return error_code{};
}

asio::awaitable<void> TlsSocket::shutdown() {
  // One attempt with what the socket takes now: a terminal that does not read must not hold the
  // close up (the caller closes the socket right after).
  ERR_clear_error();
  if (SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
  co_return;
}

}  // namespace lantian::server
