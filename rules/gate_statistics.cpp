#include "rules/gate_statistics.hpp"

#include <boost/json.hpp>
#include <charconv>

#include "protocol/beijing_time.hpp"

namespace lantian::rules {
namespace json = boost::json;

std::string stage_class(const GateTruck& truck) {
  if (is_new_energy_fuel(truck.fuel)) return "new_energy";
  return truck.stage ? std::string(to_string(*truck.stage)) : "unknown";
}

bool is_clean_transport(const GateTruck& truck) {
  return is_new_energy_fuel(truck.fuel) ||
         (truck.stage && (*truck.stage == Stage::CN6a || *truck.stage == Stage::CN6b));
}

void GateTally::add(const GateTally& o) {
  entries += o.entries;
  bulk_entries += o.bulk_entries;
  clean_bulk_entries += o.clean_bulk_entries;
  for (const auto& [stage, n] : o.bulk_entries_by_stage) bulk_entries_by_stage[stage] += n;
  for (const auto& [stage, trucks] : o.trucks_by_stage)
    trucks_by_stage[stage].insert(trucks.begin(), trucks.end());
  alert_days.insert(o.alert_days.begin(), o.alert_days.end());
  entries_during_alerts += o.entries_during_alerts;
  entries_against_policy += o.entries_against_policy;
}

std::optional<double> GateTally::clean_share() const {
  if (bulk_entries == 0) return std::nullopt;
  return static_cast<double>(clean_bulk_entries) / static_cast<double>(bulk_entries);
}

std::optional<double> GateTally::alert_compliance() const {
  if (entries_during_alerts == 0) return std::nullopt;
  return 1.0 - static_cast<double>(entries_against_policy) /
                   static_cast<double>(entries_during_alerts);
}

json::object GateTally::to_json() const {
  json::object by_stage, trucks;
  for (const auto& [stage, n] : bulk_entries_by_stage) by_stage[stage] = n;
  for (const auto& [stage, keys] : trucks_by_stage)
    trucks[stage] = static_cast<std::int64_t>(keys.size());
  json::array days;
  for (const auto d : alert_days)
    days.emplace_back(
        protocol::BeijingTime::from_unix_seconds(d * 86400 - protocol::beijing_utc_offset_seconds)
            .iso8601()
            .value_or("")
            .substr(0, 10));
  const auto share = clean_share();
  const auto compliance = alert_compliance();
  return {{"entries", entries},
          {"bulk_entries", bulk_entries},
          {"clean_bulk_entries", clean_bulk_entries},
          {"clean_share", share ? json::value(*share) : json::value(nullptr)},
          {"meets_target", share ? json::value(*share >= clean_transport_target) : json::value(nullptr)},
          {"bulk_entries_by_stage", std::move(by_stage)},
          {"trucks_by_stage", std::move(trucks)},
          {"alert_days", std::move(days)},
          {"entries_during_alerts", entries_during_alerts},
          {"entries_against_policy", entries_against_policy},
          {"alert_compliance", compliance ? json::value(*compliance) : json::value(nullptr)}};
}

GateTally tally_gate_records(const std::vector<GateEvent>& records, const GateJudgement& with,
                             const std::function<const VehicleRecord*(const GateEvent&)>& vehicle_of,
                             std::int64_t from_unix_s, std::int64_t to_unix_s) {
  GateTally t;
  for (const auto& e : records) {
    if (!e.entering || e.at_unix_s < from_unix_s || e.at_unix_s >= to_unix_s) continue;
    const auto* vehicle = vehicle_of(e);
    const auto truck = gate_truck(e, vehicle);
    const auto stage = stage_class(truck);
    ++t.entries;
    t.trucks_by_stage[stage].insert(gate_vehicle_key(e, vehicle));
    if (e.bulk) {
      ++t.bulk_entries;
      ++t.bulk_entries_by_stage[stage];
      if (is_clean_transport(truck)) ++t.clean_bulk_entries;
    }
    if (with.alerts->in_force(with.enterprise->city, e.at_unix_s)) {
      ++t.entries_during_alerts;
      if (alert_breach(e, with, truck)) ++t.entries_against_policy;
    }
  }
  // A day counts when an alert was in force at any time of it.
  for (const auto& a : with.alerts->alerts()) {
    if (a.city != with.enterprise->city) continue;
    const auto first = std::max(a.from_unix_s, from_unix_s);
    const auto last = std::min(a.end_unix_s(), to_unix_s) - 1;
    for (auto d = protocol::beijing_day_number(first);
         first <= last && d <= protocol::beijing_day_number(last); ++d)
      t.alert_days.insert(d);
  }
  return t;
}

std::optional<std::pair<std::int64_t, std::int64_t>> beijing_month(std::string_view month) {
  int y = 0, m = 0;
  if (month.size() != 7 || month[4] != '-') return std::nullopt;
  if (std::from_chars(month.data(), month.data() + 4, y).ptr != month.data() + 4 ||
      std::from_chars(month.data() + 5, month.data() + 7, m).ptr != month.data() + 7)
    return std::nullopt;
  if (y < 2000 || y > 2254 || m < 1 || m > 12) return std::nullopt;
  const auto from = protocol::BeijingTime::from_fields(y, m, 1, 0, 0, 0).to_unix_seconds();
  const auto to = protocol::BeijingTime::from_fields(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1, 0,
                                                     0, 0)
                      .to_unix_seconds();
  if (!from || !to) return std::nullopt;
  return std::pair{*from, *to};
}

}  // namespace lantian::rules
