#pragma once
// A terminal's TLS connection with OpenSSL doing the socket I/O itself (SSL_set_fd on the
// non-blocking socket): when OpenSSL needs the socket to be readable or writable, the coroutine
// waits for it on the io_context. asio::ssl::stream instead moves every record through a BIO pair
// and keeps four 17 KiB buffers per connection for it (≈ 68 KiB); here an idle connection holds
// only the SSL object, whose record buffers SSL_MODE_RELEASE_BUFFERS gives back between reads —
// what lets 100,000 idle terminals fit in a few GiB (docs/performance.md, P3).
//
// One operation at a time: the session reads, then writes its replies, then reads again. Every
// operation completes with an error code; cancelling the awaiting coroutine (a deadline) cancels
// the wait on the socket.

#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstddef>
#include <tuple>

namespace lantian::server {

class TlsSocket {
 public:
  // Takes the socket (made non-blocking); the SSL object is made from `context`, which must
  // outlive this.
  TlsSocket(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& context);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  boost::asio::awaitable<boost::system::error_code> handshake();
  // Reads at least one byte of application data; eof when the peer closed with close_notify or
  // reset the connection, ssl::error::stream_truncated when it closed without close_notify.
  boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buffer);
  boost::asio::awaitable<boost::system::error_code> write_all(boost::asio::const_buffer buffer);
  // Sends close_notify (without waiting for the peer's).
  boost::asio::awaitable<void> shutdown();

  // One attempt without waiting: what the session's loop uses, so that a read or a small write
  // that the socket can take now costs no coroutine and no wait.
  enum class Want { nothing, read, write };  // what the socket must become before trying again
  struct Attempt {
    boost::system::error_code error;  // as read_some / write_all report it
    std::size_t bytes = 0;
    Want want = Want::nothing;
  };
  Attempt try_read(boost::asio::mutable_buffer buffer);
  // Writes all of `buffer` or nothing; after Want::write, the same buffer must be written again
  // (write_all does that).
  Attempt try_write(boost::asio::const_buffer buffer);

  // Moves the connection to another executor (another io_context's thread): the descriptor is
  // released from this socket and adopted by a new one. No operation may be in progress. False
  // (the socket closed) when the descriptor cannot be moved.
  bool rebind(const boost::asio::any_io_executor& executor);

  [[nodiscard]] SSL* native_handle() const noexcept { return ssl_; }
  [[nodiscard]] boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }

 private:
  // Runs `op` (an SSL call returning > 0 on success) until it succeeds or fails, waiting for the
  // socket whenever OpenSSL asks to. Returns op's last result and the error (none on success).
  template <class Op>
  boost::asio::awaitable<std::tuple<int, boost::system::error_code>> drive(Op op);
  // What OpenSSL's result `r` of an I/O call means (SSL_get_error and the error queue).
  Attempt classify(int r);

  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_ = nullptr;
  bool broken_ = false;  // a fatal error happened: no close_notify may be sent
};

}  // namespace lantian::server
