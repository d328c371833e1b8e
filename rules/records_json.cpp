#include "rules/records_json.hpp"

#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "protocol/beijing_time.hpp"

namespace lantian::rules {
namespace json = boost::json;

std::optional<std::int64_t> unix_seconds_from_json(const json::value& v) {
  // Years 2000–2255, as for text: anything else is a typing error, and would overflow day counts.
  constexpr std::int64_t first = 946656000, last = 9'000'000'000;  // 2000-01-01 +08:00 … 2255
  if (v.is_int64()) {
    if (v.as_int64() < first || v.as_int64() > last) return std::nullopt;
    return v.as_int64();
  }
  if (!v.is_string()) return std::nullopt;
  int y, mo, d, h, mi, s;
  char tail[16] = {};
  const std::string text(v.as_string());
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%15s", &y, &mo, &d, &h, &mi, &s, tail) < 6)
    return std::nullopt;
  if (std::string(tail) != "" && std::string(tail) != "+08:00")
    return std::nullopt;  // Beijing time only
  if (y < 2000 || y > 2255) return std::nullopt;
  return protocol::BeijingTime::from_fields(y, mo, d, h, mi, s).to_unix_seconds();
}

void for_each_json_line(std::istream& in, std::vector<RejectedRow>& rejected,
                        const std::function<void(std::size_t, const json::object&)>& fn,
                        std::size_t first_line) {
  std::string line;
  for (std::size_t n = first_line; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    boost::system::error_code ec;
    const auto v = json::parse(line, ec);
    if (ec || !v.is_object())
      rejected.push_back({n, "not a JSON object"});
    else
      fn(n, v.as_object());
  }
}

json::object to_json(const VehicleRecord& r) {
  json::object o{
      {"vin", r.vin},
      {"plate", r.plate},
      {"plate_color", r.plate_color},
      {"category", r.category},
      {"fuel", r.fuel},
      {"emission_stage", r.stage ? json::value(to_string(*r.stage)) : json::value(nullptr)},
      {"stage_source", r.stage_source == StageSource::inferred ? "inferred" : "registry"},
      {"rated_power_kw", r.rated_power_kw ? json::value(*r.rated_power_kw) : json::value(nullptr)},
      {"profile", r.profile ? json::value(protocol::to_string(*r.profile)) : json::value("auto")},
      {"owner", r.owner},
      {"registration_code", r.registration_code},
      {"chip_id", r.chip_id},
      {"sm2_public_key", r.sm2_public_key_hex}};
  return o;
}

std::optional<VehicleRecord> vehicle_from_json(std::string_view text) {
  boost::system::error_code ec;
  const auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  auto str = [&](const char* key) {
    const auto* x = o.if_contains(key);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  VehicleRecord r;
  r.vin = str("vin");
  r.plate = str("plate");
  r.plate_color = str("plate_color");
  // Records stored before colours were codes may say 黄色: read as the code.
  if (const auto code = plate_color_code(r.plate_color)) r.plate_color = *code;
  r.category = str("category");
  r.fuel = str("fuel");
  if (const auto stage = str("emission_stage"); !stage.empty())
    r.stage = parse_stage(stage, r.is_machine());
  r.stage_source =
      str("stage_source") == "inferred" ? StageSource::inferred : StageSource::registry;
  if (const auto* p = o.if_contains("rated_power_kw"); p && p->is_number())
    r.rated_power_kw = p->to_number<double>();
  r.profile = protocol::parse_profile(str("profile"));
  r.owner = str("owner");
  r.registration_code = str("registration_code");
  r.chip_id = str("chip_id");
  r.sm2_public_key_hex = str("sm2_public_key");
  if (r.vin.empty()) return std::nullopt;
  return r;
}

json::object to_json(const Violation& v, std::int64_t detected_unix_ms) {
  auto iso = [](std::int64_t s) {
    return protocol::BeijingTime::from_unix_seconds(s).iso8601().value_or("");
  };
  json::array evidence;
  for (std::size_t i = 0; i < v.evidence.size(); ++i)
    evidence.push_back(json::object{
        {"frame_key", v.evidence[i].frame_key},
        {"block", v.evidence[i].block},
        {"time", i < v.evidence_times.size() ? json::value(iso(v.evidence_times[i])) : nullptr}});
  // Whole numbers as integers (a time limit reads 1767196800, not 1.7671968E9).
  auto number = [](double x) {
    return std::nearbyint(x) == x && std::fabs(x) < 9e15 ? json::value(static_cast<std::int64_t>(x))
                                                         : json::value(x);
  };
  json::object thresholds, measured;
  for (const auto& [k, x] : v.thresholds) thresholds[k] = number(x);
  for (const auto& [k, x] : v.measured) measured[k] = number(x);
  json::object out{
      {"id", v.id},
      {"rule", v.rule},
      {"vin", v.vin},
      {"severity", to_string(v.severity)},
      {"status", "open"},
      {"suspect", v.suspect},
      {"time", iso(v.at_unix_s)},
      {"unix_s", v.at_unix_s},
      {"raised_unix_s", v.raised_at_unix_s},
      {"detected_unix_ms", detected_unix_ms},
      {"lon", v.lon ? json::value(*v.lon) : json::value(nullptr)},
      {"lat", v.lat ? json::value(*v.lat) : json::value(nullptr)},
      {"zone_id", v.zone_id.empty() ? json::value(nullptr) : json::value(v.zone_id)},
      {"zone_version", v.zone_id.empty() ? json::value(nullptr) : json::value(v.zone_version)},
      {"stage", v.stage},
      {"stage_source", v.stage_source},
      {"thresholds", std::move(thresholds)},
      {"measured", std::move(measured)},
      {"limit_class", v.limit_class.empty() ? json::value(nullptr) : json::value(v.limit_class)},
      {"evidence", std::move(evidence)}};
  if (!v.enterprise_id.empty()) out["enterprise_id"] = v.enterprise_id;
  if (!v.details.empty()) {
    json::object details;
    for (const auto& [k, x] : v.details) details[k] = x;
    out["details"] = std::move(details);
  }
  return out;
}

// The state's members, described for Boost.JSON's generic conversion. A member added to
// VehicleState must be added here too (a test round-trips a fully populated state).
BOOST_DESCRIBE_STRUCT(SampleRef, (), (frame_key, block))
BOOST_DESCRIBE_STRUCT(VehicleState::ZoneVisit, (), (consecutive, reported, refs, times))
BOOST_DESCRIBE_STRUCT(VehicleState::Gap, (), (from, to, before, after))
BOOST_DESCRIBE_STRUCT(VehicleState, (),
                      (r01_last_day, r01_first_ref, r01_first_at, r01_first_lon, r01_first_lat, visits, smoke_streak, smoke_refs,
                       smoke_times, last_coolant_c, last_coolant_at, invalid_since, r06_reported,
                       mil_streak, mil_first, empty_since, r09_reported, last_cvn, last_calid,
                       last_lon, last_lat, last_fix_at, nox_window, nox_day, nox_last_valid_at,
                       low_conversion_s, nox_mean_reported, conversion_reported, nox_flat_since,
                       nox_flat_last_at, nox_flat_value, nox_flat_reported, nox_flat_ref, trip_last_at,
                       trip_last_running, trip_last_ref, pending_gaps, r12_vin_day, last_sample_at))

// The zone visits by hand: Boost.JSON 1.81's generic map conversion calls an unqualified end(),
// ambiguous once Boost.Range (through Boost.Geometry) is visible.
using Visits = std::map<std::string, VehicleState::ZoneVisit>;
void tag_invoke(const json::value_from_tag&, json::value& out, const Visits& visits) {
  auto& o = out.emplace_object();
  for (const auto& [zone, visit] : visits) o[zone] = json::value_from(visit);
}
json::result<Visits> tag_invoke(const json::try_value_to_tag<Visits>&, const json::value& in) {
  if (!in.is_object()) return make_error_code(json::error::not_object);
  Visits out;
  for (const auto& [zone, visit] : in.as_object()) {
    auto v = json::try_value_to<VehicleState::ZoneVisit>(visit);
    if (!v) return v.error();
    out.emplace(std::string(zone), std::move(*v));
  }
  return out;
}

std::string to_json_text(const VehicleState& state) {
  return json::serialize(json::value_from(state));
}

std::optional<VehicleState> vehicle_state_from_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) return std::nullopt;
  // A checkpoint written before `last_sample_at` existed: none known (no episode is ended).
  if (v.is_object() && !v.as_object().contains("last_sample_at"))
    v.as_object()["last_sample_at"] = 0;
  auto state = json::try_value_to<VehicleState>(v);
  if (!state) return std::nullopt;
  return std::move(*state);
}

json::object to_json(const Observation& ob) {
  json::object o{
      {"id", ob.id},
      {"kind", ob.kind == Observation::Kind::smoke ? "smoke" : "sighting"},
      {"time", protocol::BeijingTime::from_unix_seconds(ob.at_unix_s).iso8601().value_or("")}};
  if (!ob.vin.empty()) o["vin"] = ob.vin;
  if (!ob.plate.empty()) o["plate"] = ob.plate;
  if (!ob.plate_color.empty()) o["plate_color"] = ob.plate_color;
  if (ob.lon && ob.lat) o["lon"] = *ob.lon, o["lat"] = *ob.lat;
  if (ob.ringelmann) o["ringelmann"] = *ob.ringelmann;
  if (ob.k_m1) o["k_m1"] = *ob.k_m1;
  if (ob.working) o["working"] = true;
  if (!ob.site.empty()) o["site"] = ob.site;
  if (!ob.image_ref.empty()) o["image_ref"] = ob.image_ref;
  if (!ob.source.empty()) o["source"] = ob.source;
  if (!ob.unmatched_reason.empty()) o["unmatched"] = ob.unmatched_reason;
  return o;
}

std::optional<Observation> observation_from_json(std::string_view text) {
  std::istringstream in{std::string(text)};
  auto imported = import_stored_observations_jsonl(in);
  if (imported.observations.size() != 1) return std::nullopt;
  return std::move(imported.observations.front());
}

}  // namespace lantian::rules
