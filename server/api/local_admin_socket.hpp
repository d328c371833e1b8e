#pragma once
// The local administration socket (docs/operations.md): a Unix stream socket through which
// lantiand's own commands (import-…, alert, token create|revoke, backup) change a running server,
// which holds the archive's only writer.
//
// Who may connect: the socket file is made mode 0600 (its directory, the data directory, is the
// server's), and each connection's peer credentials (SO_PEERCRED) must be root's or the server's
// own user's; others are closed unanswered. A connection carries HTTP/1.1 requests, routed as
// API requests of a local administrator — every role, no jurisdiction limit — and audited like
// them under "local:uid=N"; besides /api/v1 it answers POST /local/backup (ApiServer::handle_local).
//
// Requests run one at a time on the socket's own thread (lt-local-admin), so that an import of a
// province's registry or a backup never holds the HTTPS API's threads; a request whose command
// has gone (it timed out) before its turn is not carried out. Reads and writes have the API's
// deadline; bodies up to max_body_bytes.

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

namespace lantian::server::api {

class ApiServer;

class LocalAdminSocket {
 public:
  static constexpr std::size_t max_body_bytes = 512u << 20;

  explicit LocalAdminSocket(ApiServer& api);
  ~LocalAdminSocket();
  LocalAdminSocket(const LocalAdminSocket&) = delete;
  LocalAdminSocket& operator=(const LocalAdminSocket&) = delete;
  // Binds `path` (a file a stopped server left, which refuses connections, is replaced; one a live
  // process answers on, or anything else, is an error) and starts the thread. False with
  // `problem` set on failure.
  bool start(const std::filesystem::path& path, std::string& problem);
  // Stops accepting, waits for the request in progress to finish (an import or a backup is never
  // cut short by a stop), stops the thread and removes the socket file.
  void stop();

 private:
  ApiServer& api_;
  boost::asio::io_context io_;
  std::filesystem::path path_;
  std::shared_ptr<boost::asio::local::stream_protocol::acceptor> acceptor_;
  std::thread thread_;
};

}  // namespace lantian::server::api
