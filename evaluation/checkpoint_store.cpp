#include "evaluation/checkpoint_store.hpp"

#include <charconv>

#include "protocol/beijing_time.hpp"
#include "rules/records_json.hpp"

namespace lantian::evaluation {
namespace {

constexpr const char* last_offline_check_key = "offline_checked_unix_s";

std::string checkpoint_prefix(const std::string& vin) {
  return "c|" + vin + "|";
}
std::string checkpoint_key(const std::string& vin, std::int64_t boundary_unix_s) {
  auto key = checkpoint_prefix(vin);
  storage::append_time(key, boundary_unix_s);
  return key;
}
std::int64_t boundary_of(std::string_view key, std::size_t prefix_size) {
  return storage::read_time(key.substr(prefix_size));
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}
bool beijing_midnight(std::int64_t unix_s) {
  return floor_div(unix_s + protocol::beijing_utc_offset_seconds, 86400) * 86400 ==
         unix_s + protocol::beijing_utc_offset_seconds;
}

}  // namespace

std::optional<CheckpointStore::Checkpoint> CheckpointStore::newest_at_or_before(
    const std::string& vin, std::int64_t unix_s) const {
  std::optional<Checkpoint> found;
  const auto prefix = checkpoint_prefix(vin);
  store_.for_each(storage::Family::rule_state, prefix,
                  [&](const std::string& key, const std::string& value) {
                    const auto boundary = boundary_of(key, prefix.size());
                    if (boundary > unix_s) return false;
                    if (auto state = rules::vehicle_state_from_json(value))
                      found = Checkpoint{boundary, std::move(*state)};
                    return true;
                  });
  return found;
}

bool CheckpointStore::save(const std::string& vin, std::int64_t boundary_unix_s,
                           const rules::VehicleState& state, const CheckpointRetention& retention,
                           std::string& error) {
  std::vector<storage::RecordEdit> edits{{storage::Family::rule_state,
                                          checkpoint_key(vin, boundary_unix_s),
                                          rules::to_json_text(state)}};
  // Thin out the older ones: every one for the newest day, then the first of each Beijing day.
  const auto hourly_from = boundary_unix_s - std::chrono::seconds(retention.hourly_for).count();
  const auto daily_from = boundary_unix_s - std::chrono::seconds(retention.daily_for).count();
  const auto prefix = checkpoint_prefix(vin);
  store_.for_each(storage::Family::rule_state, prefix,
                  [&](const std::string& key, const std::string&) {
                    const auto t = boundary_of(key, prefix.size());
                    if (t >= hourly_from) return false;
                    if (t < daily_from || !beijing_midnight(t))
                      edits.push_back({storage::Family::rule_state, key, std::nullopt});
                    return true;
                  });
  return store_.apply(edits, storage::Durability::unsynced, error);
}

std::optional<std::int64_t> CheckpointStore::last_offline_check() const {
  const auto text = store_.get(storage::Family::rule_state, last_offline_check_key);
  std::int64_t unix_s = 0;
  if (!text || std::from_chars(text->data(), text->data() + text->size(), unix_s).ec != std::errc())
    return std::nullopt;
  return unix_s;
}

bool CheckpointStore::record_offline_check(std::int64_t now_unix_s, std::string& error) {
  return store_.apply(
      {{storage::Family::rule_state, last_offline_check_key, std::to_string(now_unix_s)}},
      storage::Durability::synced, error);
}

}  // namespace lantian::evaluation
