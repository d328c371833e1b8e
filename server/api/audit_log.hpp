#pragma once
// The API's append-only audit log: one record per request — who (token id and role, or none), when,
// from where, what was asked (method and target), the answer's status and how many records it
// returned, and for a write what it changed (before → after). Kept in the `audit` family under time · sequence keys; nothing ever rewrites or deletes
// an entry. Admins read it through the API.

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "storage/store.hpp"

namespace lantian::server::api {

struct AuditEntry {
  std::int64_t unix_ms = 0;
  std::string token_id, role;  // empty when the request carried no valid token
  std::string peer, method, target;
  unsigned status = 0;
  std::int64_t records = 0;  // records returned (list length, 1 for a detail, 0 for errors)
  std::int64_t duration_us = 0;
  // A summary entry: requests from `peer` without a valid token that got no entry of their own
  // (AnonymousAuditSampler) since the previous summary. 0 for an ordinary entry.
  std::uint64_t unlogged = 0;
  // What a write changed (ApiResponse::change); empty for reads and refusals.
  boost::json::object change;
};

// Bounds the audit entries of requests that carry no valid token, which anyone who can reach the
// port can send: each address gets at most `per_minute` entries of its own in a minute; the others
// are only counted, and take_unlogged() hands the counts over for one summary entry per address.
// Addresses beyond `max_addresses` in one minute are counted together under "*". Thread-safe.
class AnonymousAuditSampler {
 public:
  explicit AnonymousAuditSampler(std::size_t per_minute, std::size_t max_addresses = 10000)
      : per_minute_(per_minute), max_addresses_(max_addresses) {}
  // True when this request gets an entry of its own; false when it is only counted.
  bool admit(const std::string& peer, std::chrono::steady_clock::time_point now);
  // Every address with requests counted since the last call, and how many; resets the counts.
  std::vector<std::pair<std::string, std::uint64_t>> take_unlogged();

 private:
  std::size_t per_minute_, max_addresses_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point window_start_{};
  std::map<std::string, std::size_t> logged_;     // entries this minute, by address
  std::map<std::string, std::uint64_t> unlogged_;  // counted only, by address
};

class AuditLog {
 public:
  explicit AuditLog(storage::Store& store);
  // Appends durably (synced); false with `error` on a storage error, and when the archive's disk
  // is within its free-space reserve — the reserve is for frames, and an entry of a request
  // without a valid token (no token_id) also needs twice the reserve free: refusals that anyone
  // can cause never bring ingest to a stop.
  bool append(const AuditEntry& entry, std::string& error);
  // Deletes every entry older than `before_unix_ms` (the retention); false with `error`.
  bool trim(std::int64_t before_unix_ms, std::string& error);
  struct Query {
    std::int64_t from_unix_ms = 0;
    std::int64_t to_unix_ms = std::numeric_limits<std::int64_t>::max();
    std::string token_id;  // empty: all
    std::string cursor;    // next_cursor of the previous page
    std::size_t limit = 100;
  };
  // Oldest first from `from`, or after the cursor.
  [[nodiscard]] std::vector<boost::json::object> read(const Query& query,
                                                      std::string& next_cursor) const;

 private:
  storage::Store& store_;
  std::atomic<std::uint64_t> sequence_;
};

}  // namespace lantian::server::api
