#pragma once
// What Henan's targets for key freight enterprises need from their gate records (豫政〔2024〕12号):
// per enterprise and Beijing month, the entries of bulk cargo and their share by clean transport
// (国六 and new-energy trucks) against the 80 % target, the trucks of each stage seen, and how well
// the enterprise kept to the policy table on alert days. Pure: the caller reads the records.

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rules/gate_events.hpp"

namespace lantian::rules {

inline constexpr double clean_transport_target = 0.8;  // "大宗物料清洁运输……比例达到80%"

// Stage names of the tallies: a vehicle stage (CN3, CN6a, …), "new_energy" or "unknown".
[[nodiscard]] std::string stage_class(const GateTruck& truck);
// Clean transport: 国六 (CN6a, CN6b) or new energy.
[[nodiscard]] bool is_clean_transport(const GateTruck& truck);

struct GateTally {
  std::int64_t entries = 0;  // records with direction in
  std::int64_t bulk_entries = 0, clean_bulk_entries = 0;
  std::map<std::string, std::int64_t> bulk_entries_by_stage;  // stage_class → entries
  std::map<std::string, std::set<std::string>> trucks_by_stage;  // stage_class → vehicle keys
  std::set<std::int64_t> alert_days;  // Beijing days with an alert in force in the city
  std::int64_t entries_during_alerts = 0, entries_against_policy = 0;

  // Adds `other` (another enterprise's, for a city's total).
  void add(const GateTally& other);
  // clean_bulk_entries / bulk_entries; nullopt without bulk entries.
  [[nodiscard]] std::optional<double> clean_share() const;
  // 1 − against / during; nullopt without entries during alerts.
  [[nodiscard]] std::optional<double> alert_compliance() const;
  [[nodiscard]] boost::json::object to_json() const;
};

// Tallies the records (of `judgement.enterprise`, in [from, to)) — each judged as the rules judge it
// (gate_truck, alert_breach) — and the alert days of [from, to) in the enterprise's city.
// `vehicle_of` gives the registered vehicle a stored record was attributed to (nullptr: none).
[[nodiscard]] GateTally tally_gate_records(
    const std::vector<GateEvent>& records, const GateJudgement& judgement,
    const std::function<const VehicleRecord*(const GateEvent&)>& vehicle_of,
    std::int64_t from_unix_s, std::int64_t to_unix_s);

// The Beijing month "YYYY-MM" as [first second, first second of the next month); nullopt when it is
// not one (years 2000–2255).
[[nodiscard]] std::optional<std::pair<std::int64_t, std::int64_t>> beijing_month(
    std::string_view month);

}  // namespace lantian::rules
