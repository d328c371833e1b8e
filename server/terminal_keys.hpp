#pragma once
// The SM2 keys hj1239 terminals sign with (docs/security.md): the vehicle's registry record
// (`sm2_public_key`, `chip_id`) first, else the key the terminal registered with a verified
// activation frame (0x07), kept in the store's terminal_keys family so that it survives restarts.
//
// Activation is trust on first use: a VIN that has a key — in the registry or from an earlier
// activation — is never re-keyed by a frame; a different key is refused ("chip already
// activated") and only an operator can change it (a registry import). Re-sending the same
// activation is answered ok.
//
// In a cluster the learned keys are shared by every ingest node (SharedKeys, a replicated bucket):
// a VIN's first activation anywhere wins, and a node that meets a terminal which activated
// elsewhere fetches its key once and keeps it.
//
// Thread-safety: every member may be called from any thread; activations are serialised.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/message.hpp"
#include "rules/registry.hpp"
#include "security/sm2.hpp"
#include "storage/store.hpp"

namespace lantian::server {

struct TerminalKey {
  security::Sm2PublicKey key;
  std::string chip_id;  // may be empty (a registry row without one)
  enum class Source { registry, activation } source = Source::registry;
};

// How an activation was answered (0x08) and why, for the log and the metric.
struct ActivationVerdict {
  protocol::ActivationReplyBody reply;
  std::string result;  // "activated", "already_active", "bad_signature", "vin_mismatch", …
};

// The keys learned by activation across a cluster (cluster/terminal_key_bucket.hpp). Both calls
// block for a round trip to the brokers.
struct SharedKeys {
  // The record stored for a VIN; nullopt when none, or (`reachable` false) when it cannot be asked.
  std::function<std::optional<std::string>(const std::string& vin, bool& reachable)> find;
  // Stores a VIN's first record: true when stored; false with the record already there in
  // `existing`, or with `error` when it cannot be reached.
  std::function<bool(const std::string& vin, const std::string& record,
                     std::optional<std::string>& existing, std::string& error)>
      add_first;
};

class TerminalKeys {
 public:
  using RegistrySource = std::function<std::shared_ptr<const rules::Registry>()>;
  // `user_id` is the SM2 user ID signatures are verified with; "chip-id" means each terminal's
  // chip id (the firmwares that sign with it).
  TerminalKeys(storage::Store& store, RegistrySource registry, std::string user_id);

  // Shares learned keys with the other nodes of a cluster (set before the listeners start).
  void share(SharedKeys shared) { shared_ = std::move(shared); }

  // The key `vin` signs with, if one is known. A registry key that is not a valid SM2 point is
  // logged and treated as absent. In a cluster, a key this node has not learned is looked up in
  // the shared keys (then kept here); a VIN found in neither is not asked again for a minute.
  [[nodiscard]] std::optional<TerminalKey> key_for(std::string_view vin) const;

  // The SM2 user ID to verify `key`'s signatures with.
  [[nodiscard]] std::string_view user_id_for(const TerminalKey& key) const noexcept;

  // Handles an activation sent on a connection logged in (or about to log in) as `header_vin`:
  // the frame's VIN must be the header's, its key a valid SM2 point, its signature (over time …
  // VIN, §5) valid with that key; then the key is stored, durably, before the answer — in a
  // cluster first in the shared keys, where another node's activation of the VIN may have won
  // ("key_conflict", or "already_active" for the same key), and which must be reachable
  // ("cluster_unavailable" otherwise).
  ActivationVerdict activate(const protocol::ActivationBody& body, const protocol::Vin& header_vin,
                             protocol::ByteView signed_bytes, std::int64_t now_unix_ms);

 private:
  [[nodiscard]] std::optional<TerminalKey> learned_key(std::string_view vin) const;
  [[nodiscard]] std::optional<TerminalKey> shared_key(const std::string& vin) const;

  storage::Store& store_;
  SharedKeys shared_;
  // VINs the shared keys did not have, and when they were asked (a signed frame of a terminal
  // without a key must not cost a round trip each time).
  mutable std::mutex unknown_mutex_;
  mutable std::map<std::string, std::chrono::steady_clock::time_point> unknown_;
  RegistrySource registry_;
  std::string user_id_;
  std::mutex activation_mutex_;
};

}  // namespace lantian::server
