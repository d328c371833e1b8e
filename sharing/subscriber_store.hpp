#pragma once
// Enforcement systems that receive violations (docs/forwarding.md, "Violations to enforcement
// systems"): who they are, what they may receive, and how far their deliveries got. The one place
// that knows the `subscribers` family and reads the `violation_changes` log:
//
//   subscribers        s|ID          → JSON of the subscriber (secret included; never served)
//   subscribers        c|ID          → cursor (8, big-endian): every change at or below it is
//                                      delivered (acknowledged) or outside the jurisdiction
//   violation_changes  sequence (8)  → JSON {sequence, version, event, id, unix_ms, violation},
//                                      written by evaluation::ViolationStore in the change's batch

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "storage/store.hpp"

namespace lantian::sharing {

struct Subscriber {
  std::string id;    // "sub-" and 12 hex digits
  std::string name;  // e.g. "郑州市公安局交警支队 非现场执法"
  std::string url;   // https://HOST[:PORT]/PATH
  std::string secret;  // HMAC-SHA256 key of the signature header (≥ 16 characters)
  // Jurisdiction: violations filed in these cities (empty: every city), of these rules (empty:
  // every rule), of at least this severity (low, medium, high).
  std::set<std::string> cities, rules;
  std::string min_severity = "low";
  std::int64_t created_unix_ms = 0;
  bool disabled = false;
};

[[nodiscard]] boost::json::object to_json(const Subscriber& s, bool with_secret);
[[nodiscard]] std::optional<Subscriber> subscriber_from_json(std::string_view text);
// Whether `violation` (its `city`, `rule`, `severity`) is within the subscriber's jurisdiction.
[[nodiscard]] bool in_jurisdiction(const Subscriber& s, const boost::json::object& violation);
// low 0, medium 1, high 2; nullopt for anything else.
[[nodiscard]] std::optional<int> severity_rank(std::string_view severity);

struct Change {
  std::uint64_t sequence = 0;  // also its version: the receivers' idempotency key with the id
  std::string event, id;       // "violation.raised" | ".reviewed" | ".withdrawn"; the violation's
  std::string body;  // the record as stored: what is delivered
  boost::json::object violation;
};

class SubscriberStore {
 public:
  explicit SubscriberStore(storage::Store& store) : store_(store) {}

  [[nodiscard]] std::vector<Subscriber> list() const;
  [[nodiscard]] std::optional<Subscriber> get(const std::string& id) const;
  // Writes the subscriber (synced); with `cursor`, its cursor too (a new subscriber starts after
  // the last change: it receives what happens from now on).
  [[nodiscard]] bool put(const Subscriber& s, std::optional<std::uint64_t> cursor,
                         std::string& error);
  [[nodiscard]] std::optional<std::uint64_t> cursor(const std::string& id) const;
  [[nodiscard]] bool save_cursor(const std::string& id, std::uint64_t cursor, std::string& error);
  // How many changes lie after `after`, counting at most `cap` (keys only).
  [[nodiscard]] std::uint64_t count_after(std::uint64_t after, std::uint64_t cap) const;
  // Changes after `after`, oldest first, at most `limit`.
  [[nodiscard]] std::vector<Change> changes_after(std::uint64_t after, std::size_t limit) const;

 private:
  storage::Store& store_;
};

}  // namespace lantian::sharing
