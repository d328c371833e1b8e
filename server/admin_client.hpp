#pragma once
// The command side of the local administration socket (api/local_admin_socket.hpp): lantiand's
// administrative commands look for a running server on the data directory's admin socket and,
// when one answers, send it their change as an API request; when none runs they open the archive
// themselves (RocksDB has one writer: a running server holds it).

#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <sys/types.h>

#include "server/config.hpp"

namespace lantian::server {

struct AdminAnswer {
  unsigned status = 0;
  std::string body;
  boost::json::value json;  // the body parsed (null when it is not JSON)
  // The API's error message ({"error": {"message": …}}), or the status when there is none.
  [[nodiscard]] std::string error_message() const;
};

class AdminClient {
 public:
  enum class Found {
    server,     // a running server answers: send it the change
    no_server,  // nothing listens (no socket file, or a stale one): work on the archive
    failed      // a server is there but refuses us, or --server named one that does not answer
  };
  // Looks for a server on cl.server_socket; `errors` says why on `failed`. The server found
  // must run as root or as the owner of the data directory: a socket another local user bound
  // in its place would otherwise receive the change and could answer anything.
  static Found find(const ParsedCommandLine& cl, std::unique_ptr<AdminClient>& client,
                    std::ostream& errors);
  ~AdminClient();
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // One request, on a connection of its own (the server's read deadline never runs while the
  // command reads its input); nullopt with `error` set when the connection fails or the server
  // does not answer within `timeout` — the change may then still be made: the error says so.
  std::optional<AdminAnswer> request(boost::beast::http::verb method, const std::string& target,
                                     std::string body, const std::string& content_type,
                                     std::string& error,
                                     std::chrono::seconds timeout = std::chrono::minutes(30));

  [[nodiscard]] const std::filesystem::path& socket_path() const { return path_; }

 private:
  AdminClient(std::filesystem::path path, std::optional<uid_t> server_uid)
      : path_(std::move(path)), server_uid_(server_uid) {}
  std::filesystem::path path_;
  std::optional<uid_t> server_uid_;  // who the server must run as besides root (when known)
};

// False (said on `errors`) when root would write into an archive another user owns: the files
// it made would be root's, and the server, running as that user, could no longer open them.
[[nodiscard]] bool may_write_archive(const ParsedCommandLine& cl, std::ostream& errors);

// Runs `through_server(client)` when a server answers on the admin socket, `on_archive()` when
// none runs (and may_write_archive); 1 when a server is there but cannot be reached (said on
// `errors`).
template <class ThroughServer, class OnArchive>
int through_server_or_archive(const ParsedCommandLine& cl, std::ostream& errors,
                              ThroughServer&& through_server, OnArchive&& on_archive) {
  std::unique_ptr<AdminClient> client;
  switch (AdminClient::find(cl, client, errors)) {
    case AdminClient::Found::server:
      return through_server(*client);
    case AdminClient::Found::no_server:
      return may_write_archive(cl, errors) ? on_archive() : 1;
    case AdminClient::Found::failed:
      break;
  }
  return 1;
}

// Sends one request; a success (2xx) is returned, anything else is said on `errors` as
// "lantiand COMMAND: why" (with each problem the server listed) and gives nullopt.
[[nodiscard]] std::optional<AdminAnswer> ask_server(AdminClient& server, std::string_view command,
                                                    boost::beast::http::verb method,
                                                    const std::string& target, std::string body,
                                                    const std::string& content_type,
                                                    std::ostream& errors);

}  // namespace lantian::server
