#pragma once
// A cluster's processor node: it takes the partitions the membership assigns to it and, for each,
// reads the frame stream in order from the message after the last one it applied, writes the
// frames into its RocksDB archive, hands them to the rule shards, and then records the partition's
// position — the last log sequence applied — in the same archive (the `cluster` family). The
// position is the node's durable cursor (docs/deploy-cluster.md, ADR 0023): the JetStream consumer
// it reads through is an ordered, ephemeral one, which the client library makes again by itself
// when a broker or a consumer leader changes.
//
// Membership: every processor puts its key in the replicated `lantian_processors` bucket each
// heartbeat and watches the bucket; a member whose put this node has not seen within the lease is
// gone, and one that leaves deletes its key (the bucket's TTL clears what a dead node left). Each
// node assigns the partitions over the members it sees by rendezvous hashing (assign_partitions),
// so nodes agree without a coordinator and a join or leave moves only the partitions concerned.
//
// Takeover: a node that gains a partition reads it from its own position: the stream's beginning
// for a partition it never had (rebuilding the partition's archive and rule state from the log),
// or where it stopped for one it owned before. Frames keep their log sequence as their archive key
// (FrameWrite::log_sequence) and reports their idempotency entries, so a message applied twice —
// after a crash between the write and the position, or by two nodes while ownership moves — is
// never a second copy.
//
// Thread-safety: start/stop from one thread; owns() and the metrics from any.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/nats_link.hpp"
#include "evaluation/stored_frame_sink.hpp"
#include "storage/store.hpp"

struct __kvWatcher;

namespace lantian::cluster {

// The partitions this node owns now (written by the membership thread), and whether each has
// caught up with the log since it was gained (written by its worker).
class Ownership {
 public:
  explicit Ownership(unsigned partitions);
  // The vehicle's partition is owned here and has caught up: this archive holds everything the
  // log had for it when its worker last found nothing more to read. The rule shards' R11 offline
  // check asks this, so that the stale state of a partition just taken over (the archive may
  // hold what it had when this node last owned it) never raises an offline violation.
  [[nodiscard]] bool owns(const protocol::Vin& vin) const noexcept;
  // The partition is owned here (caught up or not).
  [[nodiscard]] bool owns_partition(unsigned partition) const noexcept;
  // The partition is owned here and has caught up.
  [[nodiscard]] bool owns(unsigned partition) const noexcept;
  // Owned or given up; either way not caught up until its worker says so.
  void set(unsigned partition, bool owned) noexcept;
  void caught_up(unsigned partition) noexcept;
  [[nodiscard]] unsigned partitions() const noexcept { return count_; }

 private:
  unsigned count_;
  std::unique_ptr<std::atomic<bool>[]> owned_;
  std::unique_ptr<std::atomic<bool>[]> current_;
};

struct ProcessorCounters {
  std::atomic<std::uint64_t> applied{0};     // frames written into this node's archive
  std::atomic<std::uint64_t> duplicates{0};  // reports the archive held already
  std::atomic<std::uint64_t> unreadable{0};  // messages that are no frame record (acknowledged, logged)
  std::atomic<std::uint64_t> gained{0};      // partitions taken over
  std::atomic<std::uint64_t> released{0};    // partitions given up
  std::atomic<std::int64_t> members{0};      // processors seen alive
  std::atomic<std::int64_t> owned{0};        // partitions owned now
};

class PartitionProcessor {
 public:
  // `store` is this node's archive; `sink` evaluates what was stored (may be nullptr). All must
  // outlive the processor.
  PartitionProcessor(NatsLink& link, storage::Store& store, evaluation::StoredFrameSink* sink,
                     Ownership& ownership);
  ~PartitionProcessor();

  // Joins the membership and starts the membership thread (which starts the partition workers).
  bool start(std::string& error);
  // Leaves the membership (so the others take the partitions over at once), stops the partition
  // workers after the batch each is applying, and waits for them.
  void stop();

  [[nodiscard]] const ProcessorCounters& counters() const noexcept { return counters_; }
  // Prometheus text (lantian_cluster_processor_*).
  [[nodiscard]] std::string render_metrics() const;

 private:
  class Worker;
  void membership_loop();
  // Renews this node's key and reads every member's; false when the bucket cannot be reached.
  bool heartbeat(std::vector<std::string>& members);
  void rebalance(const std::vector<std::string>& members);

  NatsLink& link_;
  storage::Store& store_;
  evaluation::StoredFrameSink* sink_;
  Ownership& ownership_;
  ProcessorCounters counters_;
  // Per partition: frames its consumer held beyond the last batch read (the node's lag on it).
  std::unique_ptr<std::atomic<std::int64_t>[]> lag_;
  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::thread membership_;
  std::map<unsigned, std::unique_ptr<Worker>> workers_;  // membership thread only (and stop)
  std::vector<std::unique_ptr<Worker>> retiring_;        // released, finishing their batch
  __kvWatcher* watcher_ = nullptr;                        // the membership bucket's changes
  bool initial_values_read_ = false;                      // the watcher delivered those present
  // Members by the time this node last saw their heartbeat (membership thread only).
  std::map<std::string, std::chrono::steady_clock::time_point> last_seen_;
};

}  // namespace lantian::cluster
