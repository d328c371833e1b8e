#pragma once
// Heavy-pollution alerts (重污染天气预警) and what they mean at a key freight enterprise's gate.
//
// An officer declares an alert for a city — yellow, orange or red, from one time to another — and
// during it each enterprise may only let through trucks of the emission stages its performance grade
// (绩效分级) allows: the policy table maps grade × alert level to the oldest stage allowed. Its
// defaults follow the 重污染天气重点行业应急减排措施制定技术指南 (2020 revision, 环办大气函〔2020〕340号)
// as cities apply it; docs/enterprises.md cites the sources and says what could not be verified.
// Pure functions: no storage here.

#include <array>
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/vehicle_identity.hpp"

namespace lantian::rules {

enum class AlertLevel { yellow, orange, red };  // ascending severity
[[nodiscard]] std::optional<AlertLevel> parse_alert_level(std::string_view text) noexcept;
[[nodiscard]] std::string_view to_string(AlertLevel level) noexcept;

struct PollutionAlert {
  std::string id;    // "4105-202612100000-orange": city code, start, level (alert_id())
  std::string city;  // one of Henan's 18 cities (is_henan_city)
  AlertLevel level = AlertLevel::yellow;
  std::int64_t from_unix_s = 0;  // in force in [from, to)
  std::int64_t to_unix_s = 0;
  std::string declared_by;  // the token id or "cli"
  std::string note;         // the notice it follows (文号), free text
  std::int64_t declared_unix_ms = 0;
  std::optional<std::int64_t> ended_unix_s;  // lifted early: in force until then instead of `to`

  [[nodiscard]] std::int64_t end_unix_s() const noexcept {
    return ended_unix_s && *ended_unix_s < to_unix_s ? *ended_unix_s : to_unix_s;
  }
  [[nodiscard]] bool in_force_at(std::int64_t unix_s) const noexcept {
    return unix_s >= from_unix_s && unix_s < end_unix_s();
  }
};

// The id an alert is stored under: its city's division code, its start (Beijing, to the minute)
// and its level, so that declaring the same alert twice (a retried request) stores it once.
[[nodiscard]] std::string alert_id(const PollutionAlert& alert);

// An alert as an officer declares it: {"city", "level", "from", "to", "note"} (times ISO 8601 in
// Beijing time — a date alone is its midnight — or Unix seconds). nullopt with every reason in `reasons` when it is not one; an
// alert longer than 31 days or ending before it starts is refused.
[[nodiscard]] std::optional<PollutionAlert> alert_from_request(const boost::json::object& body,
                                                              std::vector<std::string>& reasons);
[[nodiscard]] boost::json::object to_json(const PollutionAlert& alert);
[[nodiscard]] std::optional<PollutionAlert> alert_from_json(std::string_view text);

// The alerts known, for looking up the one in force.
class AlertCalendar {
 public:
  AlertCalendar() = default;
  explicit AlertCalendar(std::vector<PollutionAlert> alerts);
  // The most severe alert in force in `city` at `unix_s` (the earliest declared among equals), or
  // nullptr.
  [[nodiscard]] const PollutionAlert* in_force(std::string_view city, std::int64_t unix_s) const;
  [[nodiscard]] const std::vector<PollutionAlert>& alerts() const noexcept { return alerts_; }

 private:
  std::vector<PollutionAlert> alerts_;
};

// Grade × alert level → the oldest vehicle stage an enterprise may let through its gates (nullopt:
// no restriction at that level). New-energy trucks (electric, hydrogen) are always allowed.
class AlertPolicy {
 public:
  // The default table (docs/enterprises.md, "The policy table"), yellow / orange / red. Orange
  // and red: no heavy truck of 国四 or older (gas ones included) for any grade, as the cities'
  // emergency plans apply the guide. A and 引领性: their grade already requires 国五 or better on
  // the road. B: unrestricted at yellow. C, D and 非绩效: from yellow. Inline, so that whatever
  // holds a configuration (the server's Config) needs no rules code to be built.
  AlertPolicy()
      : table_{{"引领性", {Stage::CN5, Stage::CN5, Stage::CN5}},
               {"A", {Stage::CN5, Stage::CN5, Stage::CN5}},
               {"B", {std::nullopt, Stage::CN5, Stage::CN5}},
               {"C", {Stage::CN5, Stage::CN5, Stage::CN5}},
               {"D", {Stage::CN5, Stage::CN5, Stage::CN5}},
               {"非绩效", {Stage::CN5, Stage::CN5, Stage::CN5}}} {}
  [[nodiscard]] std::optional<Stage> oldest_allowed(std::string_view grade,
                                                    AlertLevel level) const;
  // Applies one entry "GRADE:LEVEL=STAGE" (STAGE a vehicle stage such as CN5, or "none" for no
  // restriction), as --alert-policy gives them. Empty on success, else why not.
  [[nodiscard]] std::string set(std::string_view entry);
  // The table as JSON: {"A": {"yellow": "CN5", …}, …}.
  [[nodiscard]] boost::json::object to_json() const;

 private:
  std::map<std::string, std::array<std::optional<Stage>, 3>, std::less<>> table_;
};

// Fuels counted as new energy: never restricted by an alert, counted as clean transport.
[[nodiscard]] bool is_new_energy_fuel(std::string_view fuel) noexcept;

}  // namespace lantian::rules
