#pragma once
// Evaluates durable frames against the rules, off the I/O threads, on N shard workers.
//
// The input is the session's own decoding: after a batch is durable and answered, the session hands
// its stored frames (archive key + decoded frame) to the shard that owns the vehicle (by VIN hash, so
// one vehicle's frames always meet one thread, in order). Samples of one vehicle are evaluated in
// collection-time order, exactly as `lantiand replay` evaluates the archive:
//   - frames newer than everything evaluated continue from the vehicle's state in memory, from the
//     decoding handed over (nothing is read back);
//   - a late frame (a resend of an earlier period), or the first frame of a vehicle after a
//     restart, restores the newest checkpoint at or before it and evaluates the archive again from
//     there. Violations that re-evaluation no longer raises are marked withdrawn (never deleted: a
//     reviewer may have seen them); the ones it raises again are left as they are.
// Memory is bounded: at most max_held_frames decoded frames wait across the shards; past that a
// vehicle's new frames are remembered by key only and read back from the archive when evaluated,
// so a slow rule worker never grows memory nor slows the terminals (the backlog is the gauge
// lantian_rules_backlog_reports). Pending work is one entry per vehicle.
// Checkpoints (the vehicle's state before the first frame of each checkpoint interval, one hour by
// default) live in the rule_state family; violations are stored through ViolationStore.
//
// The registry and the zone version are loaded from the archive at start (`lantiand
// import-registry`, `lantiand import-zones` put them there) and swapped whole by reload().
//
// R11 offline is checked on a timer by the first shard (and once at start): a registered vehicle
// whose newest frame was received more than r11_offline_s ago.

#include <atomic>
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

#include "protocol/message.hpp"
#include "protocol/signature.hpp"
#include "server/stored_frame_sink.hpp"
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

// Whether the rules read anything in `frame` (reports and removal alarms); other frames are
// skipped by evaluation and never make a vehicle's later frames look late.
[[nodiscard]] bool carries_evidence(const protocol::DecodedFrame& frame);

// Evaluates one frame — decoded with the profile it was received under — for `vehicle` (nullptr: a
// VIN not in the registry, checked only for R12's VIN check). `key` is its archive key.
void fold_decoded(const rules::Engine& engine, const rules::VehicleRecord* vehicle,
                  const rules::ZoneIndex& zones, const storage::FrameKey& key,
                  const protocol::DecodedFrame& decoded, protocol::SignatureCheck signature,
                  bool rejected, std::int64_t receive_unix_ms, rules::VehicleState& state,
                  ViolationSet& out);

struct RuleRunnerOptions {
  std::chrono::seconds checkpoint_interval{3600};
  std::chrono::seconds offline_check_interval{600};
  // Checkpoints kept: every interval for the newest `hourly_for`, then one per Beijing day for the
  // newest `daily_for`. Late data older than the oldest checkpoint is evaluated from the start.
  std::chrono::hours hourly_for{24};
  std::chrono::hours daily_for{24 * 30};
  // Shard workers (threads); 0: one per core.
  std::size_t shards = 0;
  // Decoded frames held for evaluation across all shards; past it frames are read back instead.
  std::size_t max_held_frames = 50000;
};

class RuleRunner final : public StoredFrameSink {
 public:
  RuleRunner(storage::Store& store, rules::EngineConfig config, ServerMetrics& metrics,
             RuleRunnerOptions options = {});
  ~RuleRunner() override;
  // Frames of `vin` are stored (from any thread; never blocks for long). They are evaluated from
  // the decoding given, or read back from the archive where order or memory require it.
  void submit(const protocol::Vin& vin, std::vector<StoredFrame> frames) override;
  // Evaluates everything submitted, then stops the workers.
  void stop();
  // Waits until everything submitted so far has been evaluated (tests, shutdown).
  void drain();
  // Runs the R11 offline check as of `now_unix_s` (the timer does this; tests call it directly).
  void check_offline(std::int64_t now_unix_s);
  // Called with each new violation as stored (the API's live feed), on the thread that stored it
  // (a shard worker, or a check_offline caller); must be thread-safe and must not block.
  void on_violation(std::function<void(const boost::json::object&)> listener);
  // Swaps in the registry and the newest zone version from the archive (after an upload); later
  // evaluations use them. Returns at once; takes effect before each shard's next piece of work.
  void reload();
  // The registry and zones in use (for readers such as the API).
  [[nodiscard]] std::shared_ptr<const rules::Registry> registry() const;
  [[nodiscard]] std::shared_ptr<const rules::ZoneIndex> zones() const;
  [[nodiscard]] ViolationStore& violations() { return violations_; }
  [[nodiscard]] std::size_t shard_count() const noexcept { return shards_.size(); }

 private:
  struct Cursor {
    rules::VehicleState state;
    std::string last_key;  // the newest frame folded into `state`
  };
  // One vehicle's frames waiting for its shard.
  struct Work {
    std::string min_key, max_key;     // the earliest and the latest new archive key
    std::vector<StoredFrame> frames;  // their decodings, unless read_back
    std::size_t count = 0;            // frames submitted (the backlog they make)
    bool read_back = false;           // evaluate from the archive
  };
  struct Shard {
    std::mutex mutex;  // guards pending, busy, stopping
    std::condition_variable wake, idle;
    std::unordered_map<std::string, Work> pending;  // VIN → its work
    bool busy = false;
    bool stopping = false;
    std::unordered_map<std::string, Cursor> cursors;  // the worker's only
    std::thread worker;
  };
  Shard& shard_of(std::string_view vin);
  void run(std::size_t index);
  void refresh_catalogue();
  void evaluate(Shard& shard, const std::string& vin, Work& work);
  // Folds the archived frames of `vin` after `cursor.last_key` (from `from_unix_s` when rebuilding)
  // up to `through_key` (nullopt: to the end): the newest key handed over or folded before. Frames
  // stored after it are folded when their session hands them over — read here, they would make
  // that hand-over look late and be evaluated again.
  void fold_archive(const std::string& vin, Cursor& cursor, std::int64_t from_unix_s,
                    bool rebuilding, const std::optional<std::string>& through_key,
                    ViolationSet& raised);
  // Folds the frames handed over, all newer than `cursor.last_key`, in key order.
  void fold_memory(const std::string& vin, Cursor& cursor, std::vector<StoredFrame>& frames,
                   ViolationSet& raised);
  // Before a frame at `collection_unix_s`: saves a checkpoint when it opens a later interval.
  void checkpoint_before(const std::string& vin, const Cursor& cursor,
                         std::optional<std::int64_t>& bucket, std::int64_t collection_unix_s);
  void save_checkpoint(const std::string& vin, std::int64_t boundary,
                       const rules::VehicleState& state);
  void record(const ViolationSet& raised);

  storage::Store& store_;
  rules::Engine engine_;
  ServerMetrics& metrics_;
  RuleRunnerOptions options_;
  ViolationStore violations_;

  mutable std::mutex mutex_;  // guards the catalogue and the listener
  std::shared_ptr<const rules::Registry> registry_;
  std::shared_ptr<const rules::ZoneIndex> zones_;
  std::function<void(const boost::json::object&)> listener_;
  std::atomic<bool> reload_{false};
  std::mutex reload_mutex_;  // one load at a time
  std::atomic<std::size_t> held_frames_{0};
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace lantian::server
