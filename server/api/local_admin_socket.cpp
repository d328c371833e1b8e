#include "server/api/local_admin_socket.hpp"

#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "server/api/api_server.hpp"

namespace lantian::server::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
using local = asio::local::stream_protocol;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// True when the command at the other end has closed its side: it gave up waiting (its timeout
// passed while an earlier request ran), so its change must not be made behind its back.
bool peer_gone(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

asio::awaitable<void> serve_connection(local::socket socket, ApiServer& api,
                                       std::chrono::seconds timeout) {
  ucred peer{};
  socklen_t size = sizeof peer;
  if (getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) co_return;
  // The file's mode keeps others out; the credentials check holds even if it were loosened.
  if (peer.uid != 0 && peer.uid != geteuid()) {
    spdlog::warn("event=local_admin_refused uid={} pid={}", peer.uid, peer.pid);
    co_return;
  }
  const LocalCaller caller{"local:uid=" + std::to_string(peer.uid),
                           "unix:pid=" + std::to_string(peer.pid)};
  beast::basic_stream<local> stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    beast::http::request_parser<beast::http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(LocalAdminSocket::max_body_bytes);
    stream.expires_after(timeout);
    auto [read_error, n] = co_await beast::http::async_read(stream, buffer, parser, nothrow);
    ApiResponse response;
    bool close_after = false;
    if (read_error == beast::http::error::body_limit) {
      response = error_response(beast::http::status::payload_too_large, "too_large",
                                "the request body is larger than " +
                                    std::to_string(LocalAdminSocket::max_body_bytes) + " bytes");
      close_after = true;
    } else if (read_error) {
      break;  // the command left, or sent something that is not HTTP: nothing to answer
    }
    auto& req = parser.get();
    if (!read_error && peer_gone(stream.socket().native_handle())) {
      spdlog::warn("event=local_admin_abandoned peer={} target=\"{}\"", caller.peer,
                   std::string(req.target()));
      break;
    }
    if (!read_error)
      response = api.handle_local(req.method(), req.target(), std::move(req.body()), caller);
    beast::http::response<beast::http::string_body> res{response.status, req.version()};
    res.set(beast::http::field::server, "lantiand");
    res.set(beast::http::field::content_type, response.content_type);
    res.body() = std::move(response.body);
    res.keep_alive(!close_after && req.keep_alive());
    res.prepare_payload();
    stream.expires_after(timeout);
    auto [write_error, written] = co_await beast::http::async_write(stream, res, nothrow);
    if (write_error || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(local::socket::shutdown_both, ignored);
}

}  // namespace

LocalAdminSocket::LocalAdminSocket(ApiServer& api) : api_(api) {}

LocalAdminSocket::~LocalAdminSocket() { stop(); }

bool LocalAdminSocket::start(const std::filesystem::path& path, std::string& problem) {
  boost::system::error_code ec;
  std::error_code fs_ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(path, fs_ec))) {
    // A socket file a server that did not stop cleanly left refuses connections: replace it.
    // Anything else — a live socket (another server's administration), one we may not even try,
    // or not a socket at all — is left alone.
    if (!std::filesystem::is_socket(std::filesystem::symlink_status(path, fs_ec))) {
      problem = "--admin-socket " + path.string() + " exists and is not a socket";
      return false;
    }
    local::socket probe(io_);
    probe.connect(local::endpoint(path.string()), ec);
    if (ec != asio::error::connection_refused) {
      problem = "the admin socket " + path.string() +
                (ec ? " cannot be checked: " + ec.message() : " is in use by another process");
      return false;
    }
    std::filesystem::remove(path, fs_ec);
  }
  auto acceptor = std::make_shared<local::acceptor>(io_);
  acceptor->open(local(), ec);
  if (!ec) acceptor->bind(local::endpoint(path.string()), ec);
  // Owner only. Until this chmod the file has the umask's mode; the peer-credential check on
  // every connection keeps others out meanwhile (the umask is process-wide: changing it here
  // would change the mode of files other threads create at the same moment).
  if (!ec && ::chmod(path.c_str(), 0600) != 0)
    ec.assign(errno, boost::system::system_category());
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    problem = "admin socket " + path.string() + ": " + ec.message();
    std::filesystem::remove(path, fs_ec);
    return false;
  }
  path_ = path;
  acceptor_ = std::move(acceptor);
  spdlog::info("event=local_admin_listening socket={}", path.string());
  asio::co_spawn(
      io_,
      [acceptor = acceptor_, &api = api_,
       timeout = api_.request_timeout()]() -> asio::awaitable<void> {
        asio::steady_timer pause(acceptor->get_executor());
        for (;;) {
          auto [e, socket] = co_await acceptor->async_accept(nothrow);
          if (e == asio::error::operation_aborted || !acceptor->is_open()) co_return;
          if (e) {
            // Out of descriptors, or a connection reset before it was taken: try again shortly
            // rather than spinning on a pending connection.
            pause.expires_after(std::chrono::milliseconds(100));
            co_await pause.async_wait(nothrow);
            continue;
          }
          asio::co_spawn(acceptor->get_executor(),
                         serve_connection(std::move(socket), api, timeout), asio::detached);
        }
      },
      asio::detached);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "lt-local-admin");
    io_.run();
  });
  return true;
}

void LocalAdminSocket::stop() {
  if (!acceptor_) return;
  // run() returns once the handler running now — a request being carried out — has returned;
  // connections waiting for their next request are dropped.
  io_.stop();
  if (thread_.joinable()) thread_.join();
  boost::system::error_code ignored;
  acceptor_->close(ignored);  // the thread has ended: nothing else touches it now
  acceptor_.reset();
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

}  // namespace lantian::server::api
