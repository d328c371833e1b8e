#pragma once
// Evaluates durable frames against the rules, off the I/O threads.
//
// The archive is the input: a session tells the runner "VIN has a new stored frame, key K" after
// replying, and one worker thread folds that vehicle's archived frames through the engine in key
// order — collection time, then arrival — exactly as `lantiand replay` does. So samples of one
// vehicle are always evaluated in collection-time order:
//   - a frame newer than everything evaluated continues from the vehicle's current state;
//   - a late frame (a resend of an earlier period), or the first frame after a restart, restores
//   the
//     newest checkpoint at or before it and evaluates the archive again from there. Violations that
//     re-evaluation no longer raises are marked withdrawn (never deleted: a reviewer may have seen
//     them); the ones it raises again are left as they are.
// Checkpoints (the vehicle's state before the first frame of each checkpoint interval, one hour by
// default) live in the rule_state family; violations are stored through ViolationStore. Pending
// work is one entry per vehicle (the smallest new key), so the
// queue is bounded by the number of vehicles, however fast frames arrive.
//
// The registry and the zone version are loaded from the archive at start (`lantiand
// import-registry`, `lantiand import-zones` put them there).
//
// R11 offline is checked on a timer (and once at start): a registered vehicle whose newest frame
// was received more than r11_offline_s ago.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>

#include "rules/engine.hpp"
#include "rules/observations.hpp"
#include "server/metrics.hpp"
#include "server/violation_store.hpp"
#include "storage/store.hpp"

namespace lantian::server {

// The registry and latest zone version kept in the archive.
rules::Registry load_registry(const storage::Store& store);
std::shared_ptr<const rules::ZoneIndex> load_latest_zones(const storage::Store& store);
// The zone version `version` (1, 2, …); nullptr when there is none.
std::shared_ptr<const rules::ZoneIndex> load_zone_version(const storage::Store& store, int version);
// How violations refer to a stored frame: its archive key in hex.
std::string frame_ref(const std::string& frame_key);
// Key of zone version `version` in the zones family (big-endian, so versions sort).
std::string zone_version_key(int version);

// Evaluates one archived frame (decoded with the profile it was received under) for `vehicle`
// (nullptr: a VIN not in the registry, checked only for R12's VIN check).
void fold_frame(const rules::Engine& engine, const rules::VehicleRecord* vehicle,
                const rules::ZoneIndex& zones, const storage::FrameKey& key,
                const storage::FrameRecord& record, rules::VehicleState& state, ViolationSet& out);

// Runs `engine` over every stored frame from `from` to `to` (collection time) in key order — per
// vehicle, in collection-time order, each vehicle from a fresh state — then over the external
// observations, and returns the violations. R11 offline is not among them (it depends on when the
// checks ran; see offline_episodes).
ViolationSet evaluate_archive(const storage::Store& store, const rules::Engine& engine,
                              const rules::Registry& registry, const rules::ZoneIndex& zones,
                              std::int64_t from_unix_s, std::int64_t to_unix_s);

// R11 offline episodes of `vehicle` found in the archive: every pair of consecutively received
// frames further apart than the limit, and the silence from the last one until `now_unix_s`.
std::vector<rules::Violation> offline_episodes(const storage::Store& store,
                                               const rules::Engine& engine,
                                               const rules::VehicleRecord& vehicle,
                                               std::int64_t now_unix_s);

// Stores new external observations (by id; known ones are skipped) and evaluates them: sightings
// count for R01, smoke checks make R05. Each vehicle's observations are evaluated in the order
// given, from a fresh state (they are independent of the frames' state).
struct ObservationsStored {
  std::size_t added = 0, known = 0, unmatched = 0, raised = 0;
  std::vector<boost::json::object> violations;  // the new ones, as stored
  std::string error;                            // a storage error stopped it
};
ObservationsStored store_observations(storage::Store& store, const rules::Engine& engine,
                                      const rules::Registry& registry,
                                      const rules::ZoneIndex& zones,
                                      const std::vector<rules::Observation>& observations);

// Keys of the rule_state family.
namespace rule_state_keys {
std::string checkpoint_prefix(const std::string& vin);
std::string checkpoint(const std::string& vin, std::int64_t boundary_unix_s);
// The time encoded in a checkpoint or index key after its `prefix_size`-byte prefix.
std::int64_t time_of(std::string_view key, std::size_t prefix_size);
inline constexpr const char* last_offline_check = "offline_checked_unix_s";
}  // namespace rule_state_keys

struct RuleRunnerOptions {
  std::chrono::seconds checkpoint_interval{3600};
  std::chrono::seconds offline_check_interval{600};
  // Checkpoints kept: every interval for the newest `hourly_for`, then one per Beijing day for the
  // newest `daily_for`. Late data older than the oldest checkpoint is evaluated from the start.
  std::chrono::hours hourly_for{24};
  std::chrono::hours daily_for{24 * 30};
};

class RuleRunner {
 public:
  RuleRunner(storage::Store& store, rules::EngineConfig config, ServerMetrics& metrics,
             RuleRunnerOptions options = {});
  ~RuleRunner();
  // A frame of `vin` is stored under `frame_key` (from any thread; never blocks for long).
  void submit(const std::string& vin, const std::string& frame_key);
  // Evaluates everything submitted, then stops the worker.
  void stop();
  // Waits until everything submitted so far has been evaluated (tests, shutdown).
  void drain();
  // Runs the R11 offline check as of `now_unix_s` (the timer does this; tests call it directly).
  void check_offline(std::int64_t now_unix_s);
  // Called with each new violation as stored (the API's live feed), on the thread that stored it
  // (the worker, or a check_offline caller); must not block.
  void on_violation(std::function<void(const boost::json::object&)> listener);
  // Swaps in the registry and the newest zone version from the archive (after an upload); later
  // evaluations use them. Returns at once; takes effect before the next piece of work.
  void reload();
  // The registry and zones in use (for readers such as the API).
  [[nodiscard]] std::shared_ptr<const rules::Registry> registry() const;
  [[nodiscard]] std::shared_ptr<const rules::ZoneIndex> zones() const;
  [[nodiscard]] ViolationStore& violations() { return violations_; }

 private:
  struct Cursor {
    rules::VehicleState state;
    std::string last_key;  // the newest frame folded into `state`
  };
  void run();
  void evaluate(const std::string& vin, const std::string& min_key);
  // Folds the frames of `vin` after `cursor.last_key` (from `from_unix_s` when rebuilding).
  void fold(const std::string& vin, Cursor& cursor, std::int64_t from_unix_s, bool rebuilding,
            ViolationSet& raised);
  void save_checkpoint(const std::string& vin, std::int64_t boundary,
                       const rules::VehicleState& state);
  void record(const ViolationSet& raised);

  storage::Store& store_;
  rules::Engine engine_;
  ServerMetrics& metrics_;
  RuleRunnerOptions options_;
  ViolationStore violations_;
  std::unordered_map<std::string, Cursor> cursors_;  // worker thread only

  mutable std::mutex mutex_;
  std::shared_ptr<const rules::Registry> registry_;  // guarded by mutex_ (swapped by reload)
  std::shared_ptr<const rules::ZoneIndex> zones_;    // guarded by mutex_
  bool reload_ = false;
  std::function<void(const boost::json::object&)> listener_;
  std::condition_variable wake_, idle_;
  std::map<std::string, std::string> pending_;  // VIN → smallest new frame key
  bool busy_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace lantian::server
