#pragma once
// Evaluates durable frames against the rules, off the I/O threads: sessions hand over the samples
// of every stored frame after replying; one worker thread keeps each vehicle's state, runs the
// engine and stores new violations (insert-if-absent, so the same evidence never makes two).
//
// The registry and the zone version are loaded from the archive at start (`lantiand
// import-registry`, `lantiand import-zones` put them there).

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rules/engine.hpp"
#include "server/metrics.hpp"
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

// Runs `engine` over every stored frame from `from` to `to` (collection time) in key order — per
// vehicle, in collection-time order — and returns the violations, by id.
std::map<std::string, rules::Violation> evaluate_archive(
    const storage::Store& store, const rules::Engine& engine, const rules::Registry& registry,
    const rules::ZoneIndex& zones, std::int64_t from_unix_s, std::int64_t to_unix_s);

class RuleRunner {
 public:
  RuleRunner(storage::Store& store, rules::EngineConfig config, ServerMetrics& metrics);
  ~RuleRunner();
  // Evaluates the samples of one stored frame (from any thread; never blocks the caller).
  void submit(std::string vin, std::vector<rules::Sample> samples);
  // Evaluates everything submitted, then stops the worker.
  void stop();
  // Waits until everything submitted so far has been evaluated (tests).
  void drain();

 private:
  struct Job {
    std::string vin;
    std::vector<rules::Sample> samples;
  };
  void run();

  storage::Store& store_;
  rules::Engine engine_;
  ServerMetrics& metrics_;
  rules::Registry registry_;
  std::shared_ptr<const rules::ZoneIndex> zones_;
  std::map<std::string, rules::VehicleState> states_;  // worker thread only

  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace lantian::server
