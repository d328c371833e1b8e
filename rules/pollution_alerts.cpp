#include "rules/pollution_alerts.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "protocol/beijing_time.hpp"
#include "rules/records_json.hpp"
#include "rules/registry.hpp"

namespace lantian::rules {
namespace json = boost::json;

namespace {
constexpr std::int64_t longest_alert_s = 31 * 86400;  // a longer one is a typing error
constexpr std::string_view level_names[] = {"yellow", "orange", "red"};
}  // namespace

std::optional<AlertLevel> parse_alert_level(std::string_view text) noexcept {
  if (text == "yellow" || text == "黄色") return AlertLevel::yellow;
  if (text == "orange" || text == "橙色") return AlertLevel::orange;
  if (text == "red" || text == "红色") return AlertLevel::red;
  return std::nullopt;
}

std::string_view to_string(AlertLevel level) noexcept {
  return level_names[static_cast<int>(level)];
}

std::string alert_id(const PollutionAlert& a) {
  // ASCII, so that it can stand in a URL path: 4105-202612100000-orange.
  const auto from = protocol::BeijingTime::from_unix_seconds(a.from_unix_s).iso8601().value_or("");
  std::string stamp;
  for (const char c : from.substr(0, 16))
    if (c >= '0' && c <= '9') stamp.push_back(c);
  return henan_city_code(a.city) + "-" + stamp + "-" + std::string(to_string(a.level));
}

std::optional<PollutionAlert> alert_from_request(const json::object& body,
                                                 std::vector<std::string>& reasons) {
  for (const auto& [key, value] : body)
    if (key != "city" && key != "level" && key != "from" && key != "to" && key != "note")
      reasons.push_back("unknown field '" + std::string(key) + "'");
  auto text = [&](const char* key) {
    const auto* v = body.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  PollutionAlert a;
  a.city = text("city");
  if (!is_henan_city(a.city)) reasons.push_back("city must be one of Henan's 18 cities (郑州, …)");
  const auto level = parse_alert_level(text("level"));
  if (!level)
    reasons.push_back("level must be yellow, orange or red");
  else
    a.level = *level;
  // A date alone is its Beijing midnight: alerts are declared from and to whole days or hours.
  auto when = [&](const char* key) -> std::optional<std::int64_t> {
    const auto* v = body.if_contains(key);
    if (!v) return std::nullopt;
    if (v->is_string() && v->as_string().size() == 10)
      return unix_seconds_from_json(json::value(std::string(v->as_string()) + "T00:00:00+08:00"));
    return unix_seconds_from_json(*v);
  };
  const auto from_s = when("from");
  const auto to_s = when("to");
  if (!from_s || !to_s) {
    reasons.push_back(
        "from and to must be dates or times in ISO 8601, Beijing time (+08:00), or Unix seconds");
  } else {
    a.from_unix_s = *from_s;
    a.to_unix_s = *to_s;
    if (a.to_unix_s <= a.from_unix_s)
      reasons.push_back("to must be after from");
    else if (a.to_unix_s - a.from_unix_s > longest_alert_s)
      reasons.push_back("an alert lasts at most 31 days");
  }
  a.note = text("note");
  if (a.note.size() > 200) reasons.push_back("note is longer than 200 bytes");
  if (protocol::has_control_character(a.note)) reasons.push_back("note holds a control character");
  if (!reasons.empty()) return std::nullopt;
  a.id = alert_id(a);
  return a;
}

json::object to_json(const PollutionAlert& a) {
  auto iso = [](std::int64_t s) {
    return protocol::BeijingTime::from_unix_seconds(s).iso8601().value_or("");
  };
  return {{"id", a.id},
          {"city", a.city},
          {"level", to_string(a.level)},
          {"from", iso(a.from_unix_s)},
          {"to", iso(a.to_unix_s)},
          {"from_unix_s", a.from_unix_s},
          {"to_unix_s", a.to_unix_s},
          {"ended_unix_s", a.ended_unix_s ? json::value(*a.ended_unix_s) : json::value(nullptr)},
          {"declared_by", a.declared_by},
          {"declared_unix_ms", a.declared_unix_ms},
          {"note", a.note}};
}

std::optional<PollutionAlert> alert_from_json(std::string_view text) try {
  boost::system::error_code ec;
  const auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  PollutionAlert a;
  a.id = std::string(o.at("id").as_string());
  a.city = std::string(o.at("city").as_string());
  const auto level = parse_alert_level(o.at("level").as_string());
  if (!level) return std::nullopt;
  a.level = *level;
  a.from_unix_s = o.at("from_unix_s").to_number<std::int64_t>();
  a.to_unix_s = o.at("to_unix_s").to_number<std::int64_t>();
  if (const auto& e = o.at("ended_unix_s"); e.is_number())
    a.ended_unix_s = e.to_number<std::int64_t>();
  a.declared_by = std::string(o.at("declared_by").as_string());
  a.declared_unix_ms = o.at("declared_unix_ms").to_number<std::int64_t>();
  a.note = std::string(o.at("note").as_string());
  return a;
} catch (const std::exception&) {
  return std::nullopt;  // not a record this version wrote
}

AlertCalendar::AlertCalendar(std::vector<PollutionAlert> alerts) : alerts_(std::move(alerts)) {
  std::sort(alerts_.begin(), alerts_.end(), [](const auto& a, const auto& b) {
    return std::tie(a.from_unix_s, a.id) < std::tie(b.from_unix_s, b.id);
  });
}

const PollutionAlert* AlertCalendar::in_force(std::string_view city, std::int64_t unix_s) const {
  const PollutionAlert* best = nullptr;
  for (const auto& a : alerts_) {
    if (a.from_unix_s > unix_s) break;  // sorted by start
    if (a.city != city || !a.in_force_at(unix_s)) continue;
    if (!best || a.level > best->level) best = &a;
  }
  return best;
}

std::optional<Stage> AlertPolicy::oldest_allowed(std::string_view grade, AlertLevel level) const {
  const auto it = table_.find(grade);
  if (it == table_.end()) return std::nullopt;
  return it->second[static_cast<int>(level)];
}

std::string AlertPolicy::set(std::string_view entry) {
  const auto colon = entry.find(':');
  const auto equals = entry.find('=');
  if (colon == std::string_view::npos || equals == std::string_view::npos || equals < colon)
    return "an alert policy entry is GRADE:LEVEL=STAGE (B:yellow=CN5), not '" +
           std::string(entry) + "'";
  const auto grade = entry.substr(0, colon);
  const auto level = parse_alert_level(entry.substr(colon + 1, equals - colon - 1));
  const auto stage_text = entry.substr(equals + 1);
  const auto it = table_.find(grade);
  if (it == table_.end())
    return "unknown grade '" + std::string(grade) + "' (A, B, C, D, 引领性, 非绩效)";
  if (!level) return "the level in '" + std::string(entry) + "' must be yellow, orange or red";
  std::optional<Stage> stage;
  if (stage_text != "none") {
    stage = parse_stage(stage_text, false);
    if (!stage || is_machine_stage(*stage))
      return "the stage in '" + std::string(entry) + "' must be a vehicle stage (CN4, CN5, CN6a, …) or none";
  }
  it->second[static_cast<int>(*level)] = stage;
  return {};
}

json::object AlertPolicy::to_json() const {
  json::object out;
  for (const auto& [grade, levels] : table_) {
    json::object row;
    for (int i = 0; i < 3; ++i)
      row[level_names[i]] = levels[i] ? json::value(rules::to_string(*levels[i])) : json::value(nullptr);
    out[grade] = std::move(row);
  }
  return out;
}

bool is_new_energy_fuel(std::string_view fuel) noexcept {
  return fuel == "electric" || fuel == "hydrogen";
}

}  // namespace lantian::rules
