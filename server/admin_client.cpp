#include "server/admin_client.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <thread>

namespace lantian::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;
using local = asio::local::stream_protocol;

namespace {

// Connects to the socket at `path` and checks who listens there: root, or `expected` when given.
boost::system::error_code connect_checked(local::socket& socket, const std::filesystem::path& path,
                                          std::optional<uid_t> expected, std::string& refused) {
  boost::system::error_code ec;
  socket.connect(local::endpoint(path.string()), ec);
  if (ec) return ec;
  ucred peer{};
  socklen_t size = sizeof peer;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0)
    return {errno, boost::system::system_category()};
  if (peer.uid != 0 && expected && peer.uid != *expected) {
    refused = "the process on " + path.string() + " runs as uid " + std::to_string(peer.uid) +
              ", not as the archive's owner (uid " + std::to_string(*expected) +
              "): not sending it anything";
    return boost::system::errc::make_error_code(boost::system::errc::permission_denied);
  }
  return {};
}

// The process holding the archive's lock (RocksDB's fcntl lock on db/LOCK), if another one does.
std::optional<pid_t> archive_holder(const std::filesystem::path& store_dir) {
  const int fd = ::open((store_dir / "LOCK").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  const bool asked = ::fcntl(fd, F_GETLK, &lock) == 0;
  ::close(fd);
  if (!asked || lock.l_type == F_UNLCK) return std::nullopt;
  return lock.l_pid;
}

}  // namespace

AdminClient::~AdminClient() = default;

std::string AdminAnswer::error_message() const {
  if (json.is_object())
    if (const auto* e = json.as_object().if_contains("error"); e && e->is_object())
      if (const auto* m = e->as_object().if_contains("message"); m && m->is_string())
        return std::string(m->as_string());
  return "the server answered " + std::to_string(status) +
         (body.empty() ? std::string() : ": " + body.substr(0, 200));
}

AdminClient::Found AdminClient::find(const ParsedCommandLine& cl,
                                     std::unique_ptr<AdminClient>& client, std::ostream& errors) {
  const auto& path = cl.server_socket;
  if (path.empty()) return Found::no_server;  // admin-socket = off: no server to look for
  if (path.string().size() >= sizeof(sockaddr_un::sun_path)) {
    // No server can listen there (it refuses such a path at start).
    if (!cl.server_required) return Found::no_server;
    errors << "lantiand: " << path.string() << " is too long for a Unix socket\n";
    return Found::failed;
  }
  std::optional<uid_t> owner;
  struct stat info {};
  if (::stat(cl.config.data_dir.c_str(), &info) == 0) owner = info.st_uid;
  asio::io_context io;
  std::string refused;
  auto ec = [&] {
    local::socket probe(io);
    return connect_checked(probe, path, owner, refused);
  }();
  // A server that is starting holds the archive before its socket listens (it opens the archive
  // first): wait for the socket rather than fail on the lock.
  const auto holder = ec ? archive_holder(cl.config.store.dir) : std::nullopt;
  for (int waited_ms = 0; ec && holder && refused.empty() && waited_ms < 30'000; waited_ms += 100) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    local::socket probe(io);
    ec = connect_checked(probe, path, owner, refused);
  }
  if (!ec) {
    client.reset(new AdminClient(path, owner));
    return Found::server;
  }
  if (holder) {
    errors << "lantiand: process " << *holder << " holds the archive in "
           << cl.config.store.dir.string() << " but does not answer on " << path.string() << ": "
           << (refused.empty() ? ec.message() : refused)
           << " (is admin-socket set as in the server's configuration? use --config or --server)\n";
    return Found::failed;
  }
  // No file, or one a stopped server left: nobody holds the archive (opening it will tell if
  // somebody does after all).
  const bool nobody = ec == asio::error::not_found || ec == asio::error::connection_refused ||
                      ec == boost::system::errc::no_such_file_or_directory;
  if (nobody && !cl.server_required) return Found::no_server;
  errors << "lantiand: cannot reach the server's admin socket " << path.string() << ": "
         << (refused.empty() ? ec.message() : refused)
         << (ec == boost::system::errc::permission_denied && refused.empty()
                 ? " (run the command as the server's user, e.g. sudo -u lantian)"
                 : "")
         << '\n';
  return Found::failed;
}

std::optional<AdminAnswer> AdminClient::request(beast::http::verb method, const std::string& target,
                                                std::string body, const std::string& content_type,
                                                std::string& error, std::chrono::seconds timeout) {
  asio::io_context io;
  local::socket socket(io);
  std::string refused;
  if (const auto ec = connect_checked(socket, path_, server_uid_, refused); ec) {
    error = "the server's admin socket " + path_.string() + ": " +
            (refused.empty() ? ec.message() : refused);
    return std::nullopt;
  }
  beast::http::request<beast::http::string_body> req{method, target, 11};
  req.set(beast::http::field::host, "localhost");
  req.set(beast::http::field::user_agent, "lantiand-command");
  if (!content_type.empty()) req.set(beast::http::field::content_type, content_type);
  req.body() = std::move(body);
  req.keep_alive(false);
  req.prepare_payload();
  beast::flat_buffer buffer;
  beast::http::response_parser<beast::http::string_body> parser;
  parser.body_limit(64u << 20);
  boost::system::error_code failure;
  bool done = false;
  // The answer is read even when writing failed: a server refusing a body too large answers
  // 413 and closes before it has read the rest.
  beast::http::async_write(socket, req, [&](boost::system::error_code write_error, std::size_t) {
    beast::http::async_read(socket, buffer, parser,
                            [&, write_error](boost::system::error_code read_error, std::size_t) {
                              failure = parser.is_done() ? boost::system::error_code{}
                                        : write_error   ? write_error
                                                        : read_error;
                              done = true;
                            });
  });
  io.run_for(timeout);
  if (!done) {
    boost::system::error_code ignored;
    socket.close(ignored);
    io.run();  // lets the cancelled operations finish before `parser` and `req` go
    error = "the server did not answer within " + std::to_string(timeout.count()) +
            " s; it may still carry the change out — check before repeating it";
    return std::nullopt;
  }
  if (failure) {
    error = "the server's admin socket: " + failure.message() +
            " (the change may or may not have been made: check before repeating it)";
    return std::nullopt;
  }
  AdminAnswer answer;
  answer.status = parser.get().result_int();
  answer.body = std::move(parser.get().body());
  boost::system::error_code parse_error;
  answer.json = json::parse(answer.body, parse_error);
  if (parse_error) answer.json = nullptr;
  return answer;
}

bool may_write_archive(const ParsedCommandLine& cl, std::ostream& errors) {
  struct stat info {};
  if (::geteuid() != 0 || ::stat(cl.config.data_dir.c_str(), &info) != 0 || info.st_uid == 0)
    return true;
  const passwd* owner = ::getpwuid(info.st_uid);
  const std::string name = owner ? owner->pw_name : std::to_string(info.st_uid);
  errors << "lantiand: " << cl.config.data_dir.string() << " belongs to " << name
         << ", and no server answers on its admin socket; run the command as " << name
         << " (sudo -u " << name << " lantiand …), so that the server can still open what it "
            "writes\n";
  return false;
}

std::optional<AdminAnswer> ask_server(AdminClient& server, std::string_view command,
                                      beast::http::verb method, const std::string& target,
                                      std::string body, const std::string& content_type,
                                      std::ostream& errors) {
  std::string error;
  auto answer = server.request(method, target, std::move(body), content_type, error);
  if (!answer) {
    errors << "lantiand " << command << ": " << error << '\n';
    return std::nullopt;
  }
  if (answer->status >= 200 && answer->status < 300) return answer;
  errors << "lantiand " << command << ": " << answer->error_message() << '\n';
  if (answer->json.is_object())
    if (const auto* e = answer->json.as_object().if_contains("error"); e && e->is_object())
      if (const auto* problems = e->as_object().if_contains("problems"); problems && problems->is_array())
        for (const auto& p : problems->as_array())
          if (p.is_string()) errors << "  " << std::string_view(p.as_string()) << '\n';
  return std::nullopt;
}

}  // namespace lantian::server
