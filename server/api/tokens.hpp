#pragma once
// API access tokens. A token is shown once, when created; the archive keeps only its SHA-256 (the
// `tokens` family: hash → JSON record), so a copy of the database does not give access. Each token
// has one role and optionally a jurisdiction (cities and/or zones) that filters what it can see.
//
// Roles: police (read violations, vehicles, tracks, zones, statistics), reviewer (police + review),
// operator (registry, zones, observations, enterprises, alerts; reads vehicles and zones), admin
// (tokens, audit log), gate (an enterprise's gate system: writes the gate records of its own
// enterprises and reads nothing else).

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "evaluation/violation_store.hpp"
#include "storage/store.hpp"

namespace lantian::server::api {

enum class Role { police, reviewer, operator_, admin, gate };
[[nodiscard]] std::optional<Role> parse_role(std::string_view text) noexcept;
[[nodiscard]] std::string_view to_string(Role role) noexcept;

struct TokenRecord {
  std::string id;  // public identifier: the first 12 hex digits of the hash (audit, revocation)
  Role role = Role::police;
  evaluation::Jurisdiction jurisdiction;
  std::set<std::string> enterprises;  // gate: the enterprises whose records it may write
  std::string label;  // who it is for
  std::int64_t created_unix_ms = 0;
  std::optional<std::int64_t> expires_unix_ms;
  bool revoked = false;
  // The caller of the local administration socket (LocalAdminSocket): not a stored token; it has
  // every role.
  bool local = false;
};

class TokenStore {
 public:
  explicit TokenStore(storage::Store& store) : store_(store) {}
  // Creates a token; returns its secret (to show once) and stores the record. nullopt on a storage
  // error (`error` set).
  std::optional<std::string> create(TokenRecord record, std::string& error);
  enum class Check { ok, unknown, revoked, expired };
  // The record of the token presented as `secret`, if it is valid now.
  [[nodiscard]] Check authenticate(std::string_view secret, std::int64_t now_unix_ms,
                                   TokenRecord& record) const;
  [[nodiscard]] std::vector<TokenRecord> list() const;
  // Revokes by id; false when no such token.
  bool revoke(const std::string& id, std::string& error, bool* was_revoked = nullptr);

 private:
  storage::Store& store_;
};

[[nodiscard]] std::string sha256_hex(std::string_view data);
// A token's record as the API shows it (never the secret or its hash).
[[nodiscard]] boost::json::object to_json(const TokenRecord& record);
// The record to_json wrote; nullopt when it is not one.
[[nodiscard]] std::optional<TokenRecord> token_from_json(const boost::json::object& record);

}  // namespace lantian::server::api
