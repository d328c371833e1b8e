#pragma once
// The local administration socket (docs/operations.md): a Unix stream socket through which
// lantiand's own commands (import-…, alert, token create|revoke, backup) change a running server,
// which holds the archive's only writer.
//
// Who may connect: the socket file is made mode 0600 (its directory, the data directory, is the
// server's), and each connection's peer credentials (SO_PEERCRED) must be root's or the server's
// own user's; others are closed unanswered. A connection carries HTTP/1.1 requests, routed as
// API requests of a local administrator — every role, no jurisdiction limit — and audited like
// them under "local:uid=N"; besides /api/v1 it answers POST /local/backup {"dir": ABSOLUTE_PATH}.
// Requests run on the API's threads, with the API's deadline for reading and writing, and bodies
// up to max_body_bytes (a registry of hundreds of thousands of vehicles).

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <filesystem>
#include <memory>
#include <string>

namespace lantian::server::api {

class ApiServer;

class LocalAdminSocket {
 public:
  static constexpr std::size_t max_body_bytes = 512u << 20;

  LocalAdminSocket(boost::asio::io_context& io, ApiServer& api);
  ~LocalAdminSocket();
  // Binds `path` (a stale socket file nobody answers on is replaced; one a live process answers on
  // is an error). False with `problem` set on failure.
  bool start(const std::filesystem::path& path, std::string& problem);
  // Stops accepting and removes the socket file; requests in progress finish.
  void stop();

 private:
  boost::asio::io_context& io_;
  ApiServer& api_;
  std::filesystem::path path_;
  // Shared with the accept loop, which may outlive this object until its io_context stops.
  std::shared_ptr<boost::asio::local::stream_protocol::acceptor> acceptor_;
};

}  // namespace lantian::server::api
