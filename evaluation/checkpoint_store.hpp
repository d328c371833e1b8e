#pragma once
// The shards' own records in the rule_state family — the only code that knows their layout:
//   c|VIN|time    the vehicle's state (JSON) before the first frame of the checkpoint interval
//                 that begins at `time` (8 bytes big-endian, Unix seconds + 2^63, so that times
//                 sort, before 1970 too)
//   offline_checked_unix_s   when the R11 offline check last ran (decimal Unix seconds)
// (The family's i| entries are the violations' withdrawal index: ViolationStore.)
// Thread-safe as storage::Store is; one vehicle's checkpoints are written by one shard.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "rules/engine.hpp"
#include "storage/store.hpp"

namespace lantian::evaluation {

// Checkpoints kept: every interval for the newest `hourly_for`, then one per Beijing day for the
// newest `daily_for`; older ones are deleted as newer ones are saved.
struct CheckpointRetention {
  std::chrono::hours hourly_for{24};
  std::chrono::hours daily_for{24 * 30};
};

class CheckpointStore {
 public:
  explicit CheckpointStore(storage::Store& store) : store_(store) {}

  struct Checkpoint {
    std::int64_t boundary_unix_s = 0;
    rules::VehicleState state;
  };
  // The newest readable checkpoint of `vin` at or before `unix_s`.
  [[nodiscard]] std::optional<Checkpoint> newest_at_or_before(const std::string& vin,
                                                              std::int64_t unix_s) const;
  // Saves `state` as the checkpoint at `boundary_unix_s`, thinning out the older ones, unsynced: a
  // checkpoint lost in a power cut only means evaluating from an older one.
  [[nodiscard]] bool save(const std::string& vin, std::int64_t boundary_unix_s,
                          const rules::VehicleState& state, const CheckpointRetention& retention,
                          std::string& error);

  // When the offline check last ran (nullopt: never, or unreadable).
  [[nodiscard]] std::optional<std::int64_t> last_offline_check() const;
  [[nodiscard]] bool record_offline_check(std::int64_t now_unix_s, std::string& error);

 private:
  storage::Store& store_;
};

}  // namespace lantian::evaluation
