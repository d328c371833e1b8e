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
// Thread-safety: every member may be called from any thread; activations are serialised.

#include <functional>
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

class TerminalKeys {
 public:
  using RegistrySource = std::function<std::shared_ptr<const rules::Registry>()>;
  // `user_id` is the SM2 user ID signatures are verified with; "chip-id" means each terminal's
  // chip id (the firmwares that sign with it).
  TerminalKeys(storage::Store& store, RegistrySource registry, std::string user_id);

  // The key `vin` signs with, if one is known. A registry key that is not a valid SM2 point is
  // logged and treated as absent.
  [[nodiscard]] std::optional<TerminalKey> key_for(std::string_view vin) const;

  // The SM2 user ID to verify `key`'s signatures with.
  [[nodiscard]] std::string_view user_id_for(const TerminalKey& key) const noexcept;

  // Handles an activation sent on a connection logged in (or about to log in) as `header_vin`:
  // the frame's VIN must be the header's, its key a valid SM2 point, its signature (over time …
  // VIN, §5) valid with that key; then the key is stored, durably, before the answer.
  ActivationVerdict activate(const protocol::ActivationBody& body, const protocol::Vin& header_vin,
                             protocol::ByteView signed_bytes, std::int64_t now_unix_ms);

 private:
  [[nodiscard]] std::optional<TerminalKey> learned_key(std::string_view vin) const;

  storage::Store& store_;
  RegistrySource registry_;
  std::string user_id_;
  std::mutex activation_mutex_;
};

}  // namespace lantian::server
