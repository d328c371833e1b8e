#include "server/api/token_commands.hpp"

#include <boost/json/serialize.hpp>
#include <algorithm>
#include <cctype>
#include <chrono>

#include "server/admin_client.hpp"
#include "server/api/tokens.hpp"

namespace lantian::server::api {
namespace {

std::unique_ptr<storage::Store> open_store(const Config& config, bool write, std::ostream& errors) {
  std::string error;
  auto store = write ? storage::Store::open(config.store, error)
                     : storage::Store::open_read_only(config.store.dir, error);
  if (!store)
    errors << "lantiand token: " << error
           << (write ? " (a server holds the archive but its admin socket did not answer: use "
                       "--config or --server)"
                     : "")
           << '\n';
  return store;
}

void report_created(const std::string& secret, const std::string& role, std::ostream& out,
                    std::ostream& errors) {
  out << secret << '\n';
  errors << "token id " << sha256_hex(secret).substr(0, 12) << ", role " << role
         << ": keep the token secret, it is not shown again\n";
}

int create_through_server(AdminClient& server, const TokenRequest& t, std::ostream& out,
                          std::ostream& errors) {
  namespace json = boost::json;
  json::array cities(t.cities.begin(), t.cities.end()), zones(t.zones.begin(), t.zones.end()),
      enterprises(t.enterprises.begin(), t.enterprises.end());
  json::object body{{"role", t.role},
                    {"label", t.label},
                    {"cities", std::move(cities)},
                    {"zones", std::move(zones)},
                    {"enterprises", std::move(enterprises)}};
  if (t.expires_days) body["expires_days"] = *t.expires_days;
  const auto answer =
      ask_server(server, "token create", boost::beast::http::verb::post, "/api/v1/tokens",
                 json::serialize(body), "application/json", errors);
  if (!answer) return 1;
  const auto* secret =
      answer->json.is_object() ? answer->json.as_object().if_contains("token") : nullptr;
  if (!secret || !secret->is_string()) {
    errors << "lantiand token create: the server's answer holds no token\n";
    return 1;
  }
  report_created(std::string(secret->as_string()), t.role, out, errors);
  return 0;
}

int create_in_archive(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  auto store = open_store(cl.config, true, errors);
  if (!store) return 1;
  TokenRecord record;
  record.role = *parse_role(cl.token.role);
  record.jurisdiction.cities.insert(cl.token.cities.begin(), cl.token.cities.end());
  record.jurisdiction.zones.insert(cl.token.zones.begin(), cl.token.zones.end());
  record.enterprises.insert(cl.token.enterprises.begin(), cl.token.enterprises.end());
  record.label = cl.token.label;
  record.created_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  if (cl.token.expires_days)
    record.expires_unix_ms =
        record.created_unix_ms + std::int64_t{*cl.token.expires_days} * 86400 * 1000;
  std::string error;
  const auto secret = TokenStore(*store).create(record, error);
  if (!secret) {
    errors << "lantiand token create: " << error << '\n';
    return 1;
  }
  report_created(*secret, cl.token.role, out, errors);
  return 0;
}

int revoke_in_archive(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  auto store = open_store(cl.config, true, errors);
  if (!store) return 1;
  std::string error;
  if (!TokenStore(*store).revoke(cl.token.id, error)) {
    errors << "lantiand token revoke: " << (error.empty() ? "no token " + cl.token.id : error)
           << '\n';
    return 1;
  }
  out << "revoked " << cl.token.id << '\n';
  return 0;
}

}  // namespace

int run_token_create(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  return through_server_or_archive(
      cl, errors,
      [&](AdminClient& server) { return create_through_server(server, cl.token, out, errors); },
      [&] { return create_in_archive(cl, out, errors); });
}

int run_token_list(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  auto store = open_store(cl.config, false, errors);
  if (!store) return 1;
  for (const auto& t : TokenStore(*store).list()) out << boost::json::serialize(to_json(t)) << '\n';
  return 0;
}

int run_token_revoke(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  return through_server_or_archive(
      cl, errors,
      [&](AdminClient& server) {
        // A token id is hex digits: anything else is no token, and would not be a path segment.
        if (cl.token.id.empty() || cl.token.id.size() > 64 ||
            !std::all_of(cl.token.id.begin(), cl.token.id.end(),
                         [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
          errors << "lantiand token revoke: no token " << cl.token.id << '\n';
          return 1;
        }
        if (!ask_server(server, "token revoke", boost::beast::http::verb::delete_,
                        "/api/v1/tokens/" + cl.token.id, "", "", errors))
          return 1;
        out << "revoked " << cl.token.id << '\n';
        return 0;
      },
      [&] { return revoke_in_archive(cl, out, errors); });
}

}  // namespace lantian::server::api
