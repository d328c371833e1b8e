#include "server/api/tokens.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <boost/json.hpp>

namespace lantian::server::api {
namespace json = boost::json;
namespace {

std::string hex(const unsigned char* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 15]);
  }
  return out;
}

}  // namespace

json::object to_json(const TokenRecord& r) {
  json::array cities, zones, enterprises;
  for (const auto& c : r.jurisdiction.cities) cities.emplace_back(c);
  for (const auto& z : r.jurisdiction.zones) zones.emplace_back(z);
  for (const auto& e : r.enterprises) enterprises.emplace_back(e);
  return {{"id", r.id},
          {"role", to_string(r.role)},
          {"cities", std::move(cities)},
          {"zones", std::move(zones)},
          {"enterprises", std::move(enterprises)},
          {"label", r.label},
          {"created_unix_ms", r.created_unix_ms},
          {"expires_unix_ms", r.expires_unix_ms ? json::value(*r.expires_unix_ms) : nullptr},
          {"revoked", r.revoked}};
}

std::optional<TokenRecord> token_from_json(const json::object& o) try {
  TokenRecord r;
  const auto role = parse_role(o.at("role").as_string());
  if (!role) return std::nullopt;
  r.role = *role;
  r.id = std::string(o.at("id").as_string());
  for (const auto& c : o.at("cities").as_array()) r.jurisdiction.cities.emplace(c.as_string());
  for (const auto& z : o.at("zones").as_array()) r.jurisdiction.zones.emplace(z.as_string());
  if (const auto* e = o.if_contains("enterprises"))  // absent from records of before gate tokens
    for (const auto& x : e->as_array()) r.enterprises.emplace(x.as_string());
  r.label = std::string(o.at("label").as_string());
  r.created_unix_ms = o.at("created_unix_ms").to_number<std::int64_t>();
  if (const auto& e = o.at("expires_unix_ms"); e.is_number())
    r.expires_unix_ms = e.to_number<std::int64_t>();
  r.revoked = o.at("revoked").as_bool();
  return r;
} catch (const std::exception&) {
  return std::nullopt;  // not a record this version wrote
}

namespace {

std::optional<TokenRecord> from_json(const std::string& text) {
  boost::system::error_code ec;
  const auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return token_from_json(v.as_object());
}

}  // namespace

std::optional<Role> parse_role(std::string_view text) noexcept {
  if (text == "police") return Role::police;
  if (text == "reviewer") return Role::reviewer;
  if (text == "operator") return Role::operator_;
  if (text == "admin") return Role::admin;
  if (text == "gate") return Role::gate;
  return std::nullopt;
}

std::string_view to_string(Role role) noexcept {
  switch (role) {
    case Role::police:
      return "police";
    case Role::reviewer:
      return "reviewer";
    case Role::operator_:
      return "operator";
    case Role::admin:
      return "admin";
    case Role::gate:
      return "gate";
  }
  return "police";
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return hex(digest, size);
}

std::optional<std::string> TokenStore::create(TokenRecord record, std::string& error) {
  unsigned char secret_bytes[32];
  if (RAND_bytes(secret_bytes, sizeof secret_bytes) != 1) {
    error = "no randomness for a token";
    return std::nullopt;
  }
  const std::string secret = "lt_" + hex(secret_bytes, sizeof secret_bytes);
  const std::string hash = sha256_hex(secret);
  record.id = hash.substr(0, 12);
  if (!store_.put(storage::Family::tokens, hash, json::serialize(to_json(record)), error))
    return std::nullopt;
  return secret;
}

TokenStore::Check TokenStore::authenticate(std::string_view secret, std::int64_t now_unix_ms,
                                           TokenRecord& record) const {
  if (secret.size() > 256) return Check::unknown;
  const auto stored = store_.get(storage::Family::tokens, sha256_hex(secret));
  if (!stored) return Check::unknown;
  auto r = from_json(*stored);
  if (!r) return Check::unknown;
  if (r->revoked) return Check::revoked;
  if (r->expires_unix_ms && *r->expires_unix_ms <= now_unix_ms) return Check::expired;
  record = std::move(*r);
  return Check::ok;
}

std::vector<TokenRecord> TokenStore::list() const {
  std::vector<TokenRecord> out;
  store_.for_each(storage::Family::tokens, "", [&](const std::string&, const std::string& value) {
    if (auto r = from_json(value)) out.push_back(std::move(*r));
    return true;
  });
  return out;
}

bool TokenStore::revoke(const std::string& id, std::string& error, bool* was_revoked) {
  std::string hash;
  store_.for_each(storage::Family::tokens, "", [&](const std::string& key, const std::string&) {
    if (key.starts_with(id) && id.size() == 12) hash = key;
    return hash.empty();
  });
  if (hash.empty()) return false;
  bool found = false;
  const bool stored = store_.update(
      storage::Family::tokens, hash,
      [&](const std::optional<std::string>& current,
          std::vector<storage::RecordEdit>&) -> std::optional<std::string> {
        auto r = current ? from_json(*current) : std::nullopt;
        if (!r) return std::nullopt;
        found = true;
        if (was_revoked) *was_revoked = r->revoked;
        r->revoked = true;
        return json::serialize(to_json(*r));
      },
      error);
  return stored && found;
}

}  // namespace lantian::server::api
