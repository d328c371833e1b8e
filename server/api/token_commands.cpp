#include "server/api/token_commands.hpp"

#include <boost/json/serialize.hpp>
#include <chrono>

#include "server/api/tokens.hpp"

namespace lantian::server::api {
namespace {

std::unique_ptr<storage::Store> open_store(const Config& config, bool write, std::ostream& errors) {
  std::string error;
  auto store = write ? storage::Store::open(config.store, error)
                     : storage::Store::open_read_only(config.store.dir, error);
  if (!store)
    errors << "lantiand token: " << error
           << (write ? " (is the server running? use POST /api/v1/tokens then)" : "") << '\n';
  return store;
}

}  // namespace

int run_token_create(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
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
  out << *secret << '\n';
  errors << "token id " << sha256_hex(*secret).substr(0, 12) << ", role " << cl.token.role
         << ": keep the token secret, it is not shown again\n";
  return 0;
}

int run_token_list(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  auto store = open_store(cl.config, false, errors);
  if (!store) return 1;
  for (const auto& t : TokenStore(*store).list()) out << boost::json::serialize(to_json(t)) << '\n';
  return 0;
}

int run_token_revoke(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
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

}  // namespace lantian::server::api
