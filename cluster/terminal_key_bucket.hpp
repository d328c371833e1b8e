#pragma once
// The SM2 keys terminals registered by activation, shared by a cluster's ingest nodes
// (docs/deploy-cluster.md): a terminal that activated through one node has its signatures
// verified by every node it moves to. A replicated key-value bucket (`lantian_terminal_keys`, file
// storage, one value per VIN, kept), written only by kvStore_Create, so that the first activation
// of a VIN wins across the cluster as it does on one node (server/terminal_keys.hpp).
//
// Thread-safety: every method may be called from any thread. Each call is a round trip to the
// brokers (JetStream's wait, 5 s at most).

#include <optional>
#include <string>

#include "cluster/nats_link.hpp"

namespace lantian::cluster {

class TerminalKeyBucket {
 public:
  explicit TerminalKeyBucket(NatsLink& link) : link_(link) {}

  // The record stored for `vin`; nullopt when there is none, or (`reachable` false) when the
  // bucket could not be asked.
  [[nodiscard]] std::optional<std::string> find(const std::string& vin, bool& reachable);
  // Stores `record` as `vin`'s first: true when stored; false with the record already there in
  // `existing`, or with `error` when the bucket could not be reached.
  bool add_first(const std::string& vin, const std::string& record,
                 std::optional<std::string>& existing, std::string& error);

 private:
  NatsLink& link_;
};

}  // namespace lantian::cluster
