#pragma once
// The API's append-only audit log: one record per request — who (token id and role, or none), when,
// from where, what was asked (method and target), the answer's status and how many records it
// returned. Kept in the `audit` family under time · sequence keys; nothing ever rewrites or deletes
// an entry. Admins read it through the API.

#include <atomic>
#include <boost/json/object.hpp>
#include <cstdint>
#include <limits>
#include <string>
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
};

class AuditLog {
 public:
  explicit AuditLog(storage::Store& store);
  // Appends durably (synced); false with `error` on a storage error.
  bool append(const AuditEntry& entry, std::string& error);
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
