#include "server/tls_socket.hpp"

#include <openssl/err.h>
#include <unistd.h>

#include <cerrno>

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

bool TlsSocket::rebind(const asio::any_io_executor& executor) {
  error_code ec;
  const auto protocol = socket_.local_endpoint(ec).protocol();
  if (ec) return false;
  const auto fd = socket_.release(ec);
  if (ec) return false;
  asio::ip::tcp::socket moved(executor);
  moved.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    return false;
  }
  moved.non_blocking(true, ec);
  socket_ = std::move(moved);
  return true;
}

TlsSocket::Attempt TlsSocket::classify(int r) {
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ:
      return {{}, 0, Want::read};
    case SSL_ERROR_WANT_WRITE:
      return {{}, 0, Want::write};
    case SSL_ERROR_ZERO_RETURN:  // close_notify
      return {error_code(asio::error::eof)};
    case SSL_ERROR_SYSCALL: {
      // The socket failed (OpenSSL 3 reports a peer that left without close_notify as
      // SSL_ERROR_SSL, below). A reset or a broken pipe is the peer going away.
      broken_ = true;
      const int e = errno ? errno : EIO;
      if (e == ECONNRESET || e == EPIPE) return {error_code(asio::error::eof)};
      return {error_code(e, boost::system::system_category())};
    }
    default: {
      broken_ = true;
      const unsigned long error = ERR_peek_last_error();
      ERR_clear_error();
      if (ERR_GET_REASON(error) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        return {error_code(asio::ssl::error::stream_truncated)};
      // A reason OpenSSL did not queue (or a callback state this server never sets up) is still
      // a failure: never report success for r <= 0.
      return {error == 0 ? error_code(asio::error::fault)
                         : error_code(static_cast<int>(error), asio::error::get_ssl_category())};
    }
  }
}

TlsSocket::Attempt TlsSocket::try_read(asio::mutable_buffer buffer) {
  ERR_clear_error();
  errno = 0;
  std::size_t n = 0;
  if (SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n) == 1) return {{}, n};
  return classify(0);
}

TlsSocket::Attempt TlsSocket::try_write(asio::const_buffer buffer) {
  ERR_clear_error();
  errno = 0;
  std::size_t n = 0;
  if (SSL_write_ex(ssl_, buffer.data(), buffer.size(), &n) == 1) return {{}, n};
  return classify(0);
}

template <class Op>
asio::awaitable<std::tuple<int, error_code>> TlsSocket::drive(Op op) {
  for (;;) {
    ERR_clear_error();
    const int r = op();
    if (r > 0) co_return std::tuple{r, error_code{}};
    const auto attempt = classify(r);
    if (attempt.want == Want::nothing) co_return std::tuple{r, attempt.error};
    error_code ec;
    co_await socket_.async_wait(attempt.want == Want::read ? asio::ip::tcp::socket::wait_read
                                                           : asio::ip::tcp::socket::wait_write,
                                asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return std::tuple{r, ec};  // the wait was cancelled (deadline) or failed
  }
}

asio::awaitable<error_code> TlsSocket::handshake() {
  auto [r, ec] = co_await drive([this] {
    errno = 0;
    return SSL_do_handshake(ssl_);
  });
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
  // Not after a fatal error (OpenSSL forbids it), nor on an unfinished handshake.
  if (!broken_ && SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
  co_return;
}

}  // namespace lantian::server
