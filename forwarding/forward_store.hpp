#pragma once
// The store-and-forward state of the upstream links (docs/forwarding.md): the forward log the
// archive's writers fill (Family::forward_log: arrival sequence → frame key, one record per
// accepted report, in the batch that stores it), each upstream's cursor, and the reports an
// upstream refused, set aside with the reason. The one place that knows these layouts:
//
//   forward_log   sequence (8, big-endian)            → frame key (storage::frame_key)
//   forwarding    c|UPSTREAM                          → cursor (8, big-endian): every log record
//                                                       at or below it is acknowledged or set aside
//   forwarding    x|UPSTREAM|sequence (8)             → JSON of a set-aside report
//
// Thread-safe (the store is); the links and the pruner share one.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/store.hpp"

namespace lantian::forwarding {

struct LogEntry {
  std::uint64_t sequence = 0;
  std::string frame_key;
};

struct SetAside {
  std::uint64_t sequence = 0;
  std::string frame_key;
  std::string vin;
  std::string reason;  // "upstream answered error (0x02)", …
  std::int64_t at_unix_ms = 0;
};

class ForwardStore {
 public:
  explicit ForwardStore(storage::Store& store) : store_(store) {}

  // The upstream's cursor; nullopt for an upstream never started.
  [[nodiscard]] std::optional<std::uint64_t> cursor(const std::string& upstream) const;
  // Log records after `after` and below `below`, oldest first, at most `limit`.
  [[nodiscard]] std::vector<LogEntry> read(std::uint64_t after, std::uint64_t below,
                                           std::size_t limit) const;
  // How many log records lie after `after` and below `below` (a key scan).
  [[nodiscard]] std::uint64_t count(std::uint64_t after, std::uint64_t below) const;
  // Moves the cursor and records what was set aside with it, in one write. `synced`: on disk on
  // return (a new upstream's first cursor); otherwise the WAL's next sync covers it — a cursor
  // lost in a power cut only makes reports go up again, which the upstream deduplicates.
  [[nodiscard]] bool save(const std::string& upstream, std::uint64_t cursor,
                          const std::vector<SetAside>& set_aside, bool synced,
                          std::string& error);
  // The reports set aside for an upstream, oldest first, at most `limit`.
  [[nodiscard]] std::vector<SetAside> set_aside(const std::string& upstream,
                                                std::size_t limit) const;
  // Drops the log records at or below `through` (every upstream is past them).
  [[nodiscard]] bool prune(std::uint64_t through, std::string& error);

 private:
  storage::Store& store_;
};

}  // namespace lantian::forwarding
