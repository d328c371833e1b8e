#pragma once
// One set of violations for a whole cluster (docs/deploy-cluster.md, ADR 0024). Each violation has
// one writer: the processor owning its vehicle's partition raises, updates and withdraws it, and
// reviews are carried out there (an API node sends them to the owner, cluster/owner_requests.hpp).
// Every change a node makes is in its archive's change log (`violation_changes`, with
// ViolationStore::log_every_change); this node
//   - publishes its log, in order, to the replicated violation stream (message id NODE:SEQUENCE,
//     so a change published twice after a crash is stored once), keeping its durable cursor
//     `v|published` in the `cluster` family; the log is kept above that cursor;
//   - applies the stream, in order, from its own position (`v|applied`), in batches of up to 500
//     changes written together with the position: each change made by another node replaces this
//     node's record of that violation (ViolationStore::apply_replicated); its own are already
//     applied.
// So every node's API lists, counts and maps every violation of the cluster, and they converge to
// the same records: one writer per violation, one order for every reader.
//
// Thread-safety: start/stop from one thread; the rest from any.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/object.hpp>

#include "cluster/nats_link.hpp"
#include "cluster/partition_processor.hpp"
#include "evaluation/violation_store.hpp"
#include "storage/store.hpp"

namespace lantian::cluster {

struct ReplicatorCounters {
  std::atomic<std::uint64_t> published{0};        // this node's changes published
  std::atomic<std::uint64_t> applied{0};          // other nodes' changes applied here
  std::atomic<std::uint64_t> publish_failures{0};  // attempts that failed (tried again)
  std::atomic<std::uint64_t> unreadable{0};       // stream messages that are no change (skipped)
  std::atomic<std::uint64_t> superseded{0};  // others' rule changes to vehicles owned here (skipped)
};

class ViolationReplicator {
 public:
  // A processor (`ownership` set) publishes its change log; every node applies the others'. `on_raised` (may be empty) hears each violation another node raised,
  // after it is stored here (the API's live feed). All references must outlive the replicator.
  // `ownership`: the partitions this node owns (nullptr: none). Rule changes (raised, updated,
  // withdrawn) another node made to a violation of a vehicle owned here are not applied: this
  // node is its writer now, and another's are late (a handover); reviews always are.
  ViolationReplicator(NatsLink& link, storage::Store& store, evaluation::ViolationStore& violations,
                      const Ownership* ownership,
                      std::function<void(const boost::json::object&)> on_raised = {});
  ~ViolationReplicator();
  ViolationReplicator(const ViolationReplicator&) = delete;
  ViolationReplicator& operator=(const ViolationReplicator&) = delete;

  void start();
  // Stops both threads; the changes logged so far are published first (call it after the rule
  // shards stopped), and what is published and applied is saved.
  void stop();

  // The last change-log sequence published (the log must be kept above it): 0 when none, and the
  // whole log when this node does not publish.
  [[nodiscard]] std::uint64_t published_through() const noexcept;
  [[nodiscard]] const ReplicatorCounters& counters() const noexcept { return counters_; }
  // Prometheus text (lantian_cluster_violations_*).
  [[nodiscard]] std::string render_metrics() const;

 private:
  void publish_loop();
  void apply_loop();
  // Publishes the changes after the cursor (up to a batch); false when the stream refused one.
  bool publish_some(bool& more);
  // Changes read from the stream, to be applied in one write with the position.
  struct Batch {
    std::vector<boost::json::object> records;  // others' records, in stream order
    std::vector<std::size_t> raised;           // which of them were raised (the live feed)
    std::uint64_t last_sequence = 0;           // the last stream sequence read into it
  };
  // Adds a stream message to `batch` unless it is this node's own change, a late rule change to
  // a vehicle owned here, or unreadable (counted and skipped).
  void take(const char* data, std::size_t size, std::uint64_t sequence, Batch& batch);
  // Applies `batch` with the position in one synced write; false when the write failed.
  bool apply(Batch& batch);
  std::uint64_t load(const std::string& key) const;
  bool save(const std::string& key, std::uint64_t value);
  void pause(std::chrono::milliseconds d);

  NatsLink& link_;
  storage::Store& store_;
  evaluation::ViolationStore& violations_;
  const Ownership* ownership_;
  const bool publish_;
  std::function<void(const boost::json::object&)> on_raised_;
  ReplicatorCounters counters_;
  std::atomic<std::uint64_t> published_through_{0};
  std::atomic<std::uint64_t> applied_through_{0};
  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::thread publisher_, applier_;
};

}  // namespace lantian::cluster
