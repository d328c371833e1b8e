#pragma once
// How lantiand takes part in a cluster (docs/deploy-cluster.md, ADR 0023). Without `servers` it is
// the embedded single-process server: frames go to its own RocksDB archive.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace lantian::cluster {

struct ClusterOptions {
  // NATS URLs of the brokers (nats://host:port, several for a cluster). Empty: not a cluster.
  std::vector<std::string> servers;
  // This node's name: unique in the cluster, [A-Za-z0-9_-], used in its consumers' names.
  std::string node;
  // What the node does: terminal sessions publishing to the log, and/or consuming partitions.
  bool ingest = true;
  bool processor = true;
  // The stream of frames; subject `<subject_prefix>.<partition>`.
  std::string stream = "LANTIAN_FRAMES";
  std::string subject_prefix = "lantian.frames";
  // The stream of violation changes every processor publishes and every node applies, so that
  // each node's API lists the whole cluster's violations (cluster/violation_replicator.hpp). Kept
  // without an age limit: a node that joins rebuilds the whole set from it.
  std::string violation_stream = "LANTIAN_VIOLATIONS";
  std::string violation_subject = "lantian.violations";
  // Requests about one vehicle (its frames, track, evidence, a review) go to the node owning its
  // partition on `<api_subject_prefix>.<partition>` (cluster/owner_requests.hpp) and are answered
  // within api_timeout.
  std::string api_subject_prefix = "lantian.api";
  std::chrono::milliseconds api_timeout{10000};
  // Vehicles are spread over this many partitions by a stable hash of the VIN. Fixed for the life
  // of a stream: changing it moves vehicles between partitions.
  unsigned partitions = 16;
  // Copies of the stream (and the membership bucket) on distinct brokers: 3 survives one broker.
  int replicas = 3;
  // How long the stream keeps frames: a processor that takes a partition over rebuilds it from
  // what the stream still holds.
  std::chrono::hours retention{24};
  // JetStream's de-duplication window for the reports' idempotency keys (message ids).
  std::chrono::seconds duplicate_window{120};
  // Frames published and not yet acknowledged by JetStream, in all: beyond it sessions wait.
  std::size_t max_pending = 20000;
  // A publish not acknowledged within this fails: the frames are not answered (the terminal
  // resends them).
  std::chrono::milliseconds publish_timeout{5000};
  // Membership: each processor renews its entry this often; an entry older than lease is gone.
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds lease{5000};
  // Messages taken per fetch of one partition.
  int fetch_batch = 500;

  [[nodiscard]] bool enabled() const noexcept { return !servers.empty(); }
};

}  // namespace lantian::cluster
