#include "server/terminal_keys.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "protocol/json.hpp"

namespace lantian::server {
namespace json = boost::json;

namespace {
constexpr std::string_view chip_id_mode = "chip-id";

std::string trimmed(std::string_view text) {
  const auto end = text.find_last_not_of(std::string_view("\0 ", 2));
  return std::string(end == std::string_view::npos ? std::string_view() : text.substr(0, end + 1));
}
}  // namespace

TerminalKeys::TerminalKeys(storage::Store& store, RegistrySource registry, std::string user_id)
    : store_(store), registry_(std::move(registry)), user_id_(std::move(user_id)) {}

std::optional<TerminalKey> TerminalKeys::key_for(std::string_view vin) const {
  if (const auto registry = registry_ ? registry_() : nullptr)
    if (const auto* record = registry->find(std::string(vin));
        record && !record->sm2_public_key_hex.empty()) {
      if (auto key = security::Sm2PublicKey::from_hex(record->sm2_public_key_hex))
        return TerminalKey{std::move(*key), record->chip_id, TerminalKey::Source::registry};
      spdlog::warn("event=registry_key_invalid vin={}: not an SM2 public key; ignored", vin);
    }
  return learned_key(vin);
}

namespace {

// A learned key's record (as activate() stores it) as a key; nullopt when it is not one.
std::optional<TerminalKey> parse_learned(const std::string& value) {
  boost::system::error_code ec;
  const auto doc = json::parse(value, ec);
  if (ec || !doc.is_object()) return std::nullopt;
  const auto* hex = doc.as_object().if_contains("public_key");
  const auto* chip = doc.as_object().if_contains("chip_id");
  if (!hex || !hex->is_string()) return std::nullopt;
  auto key = security::Sm2PublicKey::from_hex(hex->as_string());
  if (!key) return std::nullopt;
  return TerminalKey{std::move(*key), chip && chip->is_string() ? std::string(chip->as_string()) : "",
                     TerminalKey::Source::activation};
}

constexpr auto unknown_for = std::chrono::minutes(1);  // a VIN the shared keys lacked: not asked again
constexpr std::size_t max_unknown = 100000;            // remembered at most (then forgotten at once)

}  // namespace

std::optional<TerminalKey> TerminalKeys::learned_key(std::string_view vin) const {
  if (const auto value = store_.get(storage::Family::terminal_keys, std::string(vin)))
    return parse_learned(*value);
  return shared_.find ? shared_key(std::string(vin)) : std::nullopt;
}

std::optional<TerminalKey> TerminalKeys::shared_key(const std::string& vin) const {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(unknown_mutex_);
    if (const auto it = unknown_.find(vin); it != unknown_.end() && now - it->second < unknown_for)
      return std::nullopt;
  }
  bool reachable = true;
  const auto record = shared_.find(vin, reachable);
  if (!record) {
    if (reachable) {
      std::lock_guard lock(unknown_mutex_);
      if (unknown_.size() >= max_unknown) unknown_.clear();
      unknown_[vin] = now;
    }
    return std::nullopt;
  }
  auto key = parse_learned(*record);
  std::string error;
  if (key && !store_.put(storage::Family::terminal_keys, vin, *record, error))
    spdlog::warn("event=shared_key_not_kept vin={} error=\"{}\"", vin, error);
  return key;
}

std::string_view TerminalKeys::user_id_for(const TerminalKey& key) const noexcept {
  if (user_id_ != chip_id_mode) return user_id_;
  return key.chip_id.empty() ? security::default_sm2_user_id : std::string_view(key.chip_id);
}

ActivationVerdict TerminalKeys::activate(const protocol::ActivationBody& body,
                                         const protocol::Vin& header_vin,
                                         protocol::ByteView signed_bytes,
                                         std::int64_t now_unix_ms) {
  using Reply = protocol::ActivationReplyBody;
  constexpr std::uint8_t ok = 0x01, failed = 0x02;
  constexpr std::uint8_t detail_ok = 0x00, already = 0x01, vin_error = 0x02, other_error = 0x03;
  const std::string vin(protocol::as_text(header_vin));
  if (body.vin != header_vin) return {Reply{failed, vin_error}, "vin_mismatch"};
  auto key = security::Sm2PublicKey::from_xy(body.public_key);
  if (!key) return {Reply{failed, other_error}, "bad_key"};
  const std::string chip_id = trimmed(protocol::as_text(body.chip_id));
  const TerminalKey offered{*key, chip_id, TerminalKey::Source::activation};
  // The frame proves possession of the key it carries: its own signature must verify with it.
  if (!key->verify(signed_bytes, body.signature, user_id_for(offered)))
    return {Reply{failed, other_error}, "bad_signature"};

  std::lock_guard lock(activation_mutex_);
  if (const auto known = key_for(vin))
    return known->key == *key ? ActivationVerdict{Reply{ok, detail_ok}, "already_active"}
                              : ActivationVerdict{Reply{failed, already}, "key_conflict"};
  const json::object record{{"vin", vin},
                            {"chip_id", chip_id},
                            {"public_key", protocol::to_hex(key->xy())},
                            {"activated_unix_ms", now_unix_ms}};
  const auto text = json::serialize(record);
  std::string error;
  if (shared_.add_first) {
    std::optional<std::string> existing;
    if (!shared_.add_first(vin, text, existing, error)) {
      const auto other = existing ? parse_learned(*existing) : std::nullopt;
      if (!other) {
        spdlog::error("event=activation_not_shared vin={} error=\"{}\"", vin, error);
        return {Reply{failed, other_error}, "cluster_unavailable"};
      }
      // Another node's activation of this VIN came first: its key stands.
      if (other->key != *key) return {Reply{failed, already}, "key_conflict"};
      if (!store_.put(storage::Family::terminal_keys, vin, *existing, error))
        spdlog::warn("event=shared_key_not_kept vin={} error=\"{}\"", vin, error);
      return {Reply{ok, detail_ok}, "already_active"};
    }
    std::lock_guard unknown_lock(unknown_mutex_);
    unknown_.erase(vin);
  }
  if (!store_.put(storage::Family::terminal_keys, vin, text, error)) {
    spdlog::error("event=activation_not_stored vin={} error=\"{}\"", vin, error);
    return {Reply{failed, other_error}, "storage_failed"};
  }
  return {Reply{ok, detail_ok}, "activated"};
}

}  // namespace lantian::server
