#pragma once
// Evaluates durable frames against the rules, off the I/O threads, on N shard workers.
//
// The input is the session's own decoding: after a batch is durable and answered, the session hands
// its stored frames (archive key + decoded frame) to the shard that owns the vehicle (by VIN hash,
// so one vehicle's frames always meet one thread, in order). Samples of one vehicle are evaluated
// in collection-time order, exactly as `lantiand replay` evaluates the archive:
//   - frames newer than everything evaluated continue from the vehicle's state in memory, from the
//     decoding handed over (nothing is read back);
//   - a late frame (a resend of an earlier period), or the first frame of a vehicle after a
//     restart, restores the newest checkpoint at or before it and evaluates the archive again from
//     there. Violations that re-evaluation no longer raises are marked withdrawn (never deleted: a
//     reviewer may have seen them); the ones it raises again are left as they are.
// Memory is bounded: at most max_held_frames decoded frames wait across the shards; past that a
// vehicle's new frames are remembered by key only and read back from the archive when evaluated,
// so a slow rule worker never grows memory nor slows the terminals (the backlog is the gauge
// lantian_rules_backlog_reports). Pending work is one entry per vehicle, and the violation changes
// of evaluating one vehicle's pending work (new ones, updates, withdrawals) are one synced batch.
// Checkpoints (the vehicle's state before the first frame of each checkpoint interval, one hour by
// default) are kept by CheckpointStore; violations by ViolationStore.
//
// The catalogue (registry, permits, newest zone version) is loaded from the archive at start
// (`lantiand import-registry`, `lantiand import-zones` put it there) and replaced whole by
// reload(); each shard takes one snapshot per round of work.
//
// R11 offline is checked on a timer by the first shard (and once at start): a registered vehicle
// whose newest frame was received more than r11_offline_s ago. R15 (a key freight enterprise's
// gate system silent for a day) is checked with it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "evaluation/catalogue.hpp"
#include "evaluation/catalogue_store.hpp"
#include "evaluation/checkpoint_store.hpp"
#include "evaluation/metrics.hpp"
#include "evaluation/stored_frame_sink.hpp"
#include "evaluation/violation_store.hpp"
#include "rules/engine.hpp"
#include "storage/store.hpp"

namespace lantian::evaluation {

struct ShardedEvaluatorOptions {
  std::chrono::seconds checkpoint_interval{3600};
  std::chrono::seconds offline_check_interval{600};
  // Checkpoints kept; late data older than the oldest checkpoint is evaluated from the start.
  CheckpointRetention retention;
  // Shard workers (threads); 0: one per core.
  std::size_t shards = 0;
  // Decoded frames held for evaluation across all shards; past it frames are read back instead.
  std::size_t max_held_frames = 50000;
  // A cluster's processor node: whether this node owns the vehicle's partition now. Only those
  // vehicles are checked for R11 (an archive keeps the vehicles of partitions it once owned, whose
  // frames now go to another node), and R15, which is about enterprises rather than vehicles, is
  // left to the node the gate records go to. Empty: every vehicle (the embedded server).
  std::function<bool(const protocol::Vin&)> owns_vehicle;
};

class ShardedEvaluator final : public StoredFrameSink {
 public:
  ShardedEvaluator(storage::Store& store, rules::EngineConfig config, EvaluationMetrics& metrics,
                   ShardedEvaluatorOptions options = {});
  ~ShardedEvaluator() override;
  // Frames of `vin` are stored (from any thread; never blocks for long). They are evaluated from
  // the decoding given, or read back from the archive where order or memory require it.
  void submit(const protocol::Vin& vin, std::vector<StoredFrame> frames) override;
  // Evaluates everything submitted, then stops the workers.
  void stop();
  // Waits until everything submitted so far has been evaluated (tests, shutdown).
  void drain();
  // Runs the R11 offline check as of `now_unix_s` (the timer does this; tests call it directly).
  void check_offline(std::int64_t now_unix_s);
  // Called with each new violation once it is durable (the API's live feed), on the thread that
  // stored it (a shard worker, or a check_offline caller); must be thread-safe and must not block.
  void on_violation(std::function<void(const boost::json::object&)> listener);
  // Loads the catalogue from the archive again (after an upload); later evaluations use it.
  // Returns at once; takes effect before each shard's next round of work.
  void reload();
  // The catalogue in use, for readers such as ingest and the API.
  [[nodiscard]] const CurrentCatalogue& catalogue() const noexcept { return catalogue_; }
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
  void evaluate(Shard& shard, const Catalogue& catalogue, const std::string& vin, Work& work);
  // Folds the archived frames of `vin` after `cursor.last_key` (from `from_unix_s` when rebuilding)
  // up to `through_key` (nullopt: to the end): the newest key handed over or folded before. Frames
  // stored after it are folded when their session hands them over — read here, they would make
  // that hand-over look late and be evaluated again.
  void fold_archive(const Catalogue& catalogue, const std::string& vin, Cursor& cursor,
                    std::int64_t from_unix_s, bool rebuilding,
                    const std::optional<std::string>& through_key, ViolationSet& raised);
  // Folds the frames handed over, all newer than `cursor.last_key`, in key order.
  void fold_memory(const Catalogue& catalogue, const std::string& vin, Cursor& cursor,
                   std::vector<StoredFrame>& frames, ViolationSet& raised);
  // Before a frame at `collection_unix_s`: saves a checkpoint when it opens a later interval.
  void checkpoint_before(const std::string& vin, const Cursor& cursor,
                         std::optional<std::int64_t>& bucket, std::int64_t collection_unix_s);
  // Writes the changes (of vehicle `vin`; empty: of several), then counts, logs and publishes
  // what they made.
  void write(const ViolationChanges& changes, std::string_view vin);

  storage::Store& store_;
  rules::Engine engine_;
  EvaluationMetrics& metrics_;
  ShardedEvaluatorOptions options_;
  CatalogueStore catalogue_store_;
  CheckpointStore checkpoints_;
  ViolationStore violations_;
  CurrentCatalogue catalogue_;

  mutable std::mutex listener_mutex_;  // guards listener_
  std::function<void(const boost::json::object&)> listener_;
  std::atomic<bool> reload_{false};
  std::mutex reload_mutex_;  // one load at a time
  std::atomic<std::size_t> held_frames_{0};
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace lantian::evaluation
