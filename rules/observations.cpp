#include "rules/observations.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <set>
#include <string_view>

#include "rules/records_json.hpp"

namespace lantian::rules {
namespace json = boost::json;


namespace {
ObservationImport parse_observations(std::istream& in, bool stored_form) {
  static const std::set<std::string_view> known = {
      "id",         "kind", "vin",   "plate", "plate_color", "time",     "lon",
      "lat",        "ringelmann", "k_m1", "working", "site",  "image_ref",   "source"};
  ObservationImport out;
  for_each_json_line(in, out.rejected, [&](std::size_t n, const json::object& o) {
    auto str = [&](const char* key) {
      const auto* x = o.if_contains(key);
      return x && x->is_string() ? std::string(x->as_string()) : std::string();
    };
    auto num = [&](const char* key) -> std::optional<double> {
      const auto* x = o.if_contains(key);
      return x && x->is_number() ? std::optional<double>(x->to_number<double>()) : std::nullopt;
    };
    std::vector<std::string> reasons;
    for (const auto& field : o)
      if (!known.count(field.key()) && !(stored_form && field.key() == "unmatched"))
        reasons.push_back("unknown field '" + std::string(field.key()) + "'");
    Observation ob;
    ob.id = str("id");
    if (ob.id.empty()) reasons.push_back("no id");
    const auto kind = str("kind");
    if (kind == "smoke")
      ob.kind = Observation::Kind::smoke;
    else if (kind != "sighting")
      reasons.push_back("kind must be smoke or sighting");
    ob.vin = str("vin");
    if (const auto plate = str("plate"); !plate.empty()) {
      auto normal = normalise_plate(plate);
      if (normal.problem.empty())
        ob.plate = std::move(normal.plate);
      else
        reasons.push_back(normal.problem);
    }
    if (ob.vin.empty() && ob.plate.empty()) reasons.push_back("needs a vin or a plate");
    if (const auto color = str("plate_color"); !color.empty()) {
      if (const auto code = plate_color_code(color))
        ob.plate_color = *code;
      else
        reasons.push_back(unknown_plate_color(color));
    }
    if (stored_form) ob.unmatched_reason = str("unmatched");
    const auto* when = o.if_contains("time");
    const auto at = when ? unix_seconds_from_json(*when) : std::nullopt;
    if (!at)
      reasons.push_back("time must be ISO 8601 in Beijing time (+08:00) or Unix seconds");
    else
      ob.at_unix_s = *at;
    ob.lon = num("lon");
    ob.lat = num("lat");
    if (ob.lon.has_value() != ob.lat.has_value() ||
        (ob.lon && (std::fabs(*ob.lon) > 180 || std::fabs(*ob.lat) > 90)))
      reasons.push_back("lon and lat must come together, in degrees");
    if (const auto r = num("ringelmann")) {
      if (*r < 0 || *r > 5 || *r != std::floor(*r))
        reasons.push_back("ringelmann must be a level 0–5");
      else
        ob.ringelmann = static_cast<int>(*r);
    }
    ob.k_m1 = num("k_m1");
    if (ob.k_m1 && (*ob.k_m1 < 0 || *ob.k_m1 > 20)) reasons.push_back("k_m1 must be 0–20");
    if (ob.kind == Observation::Kind::smoke && !ob.ringelmann && !ob.k_m1)
      reasons.push_back("a smoke observation needs ringelmann or k_m1");
    if (const auto* w = o.if_contains("working")) {
      if (w->is_bool())
        ob.working = w->as_bool();
      else
        reasons.push_back("working must be true or false");
    }
    ob.site = str("site");
    ob.image_ref = str("image_ref");
    ob.source = str("source");
    if (!reasons.empty()) {
      out.rejected.push_back(rejected_row(n, reasons));
      return;
    }
    out.observations.push_back(std::move(ob));
  });
  return out;
}
}  // namespace

ObservationImport import_observations_jsonl(std::istream& in) {
  return parse_observations(in, false);
}

ObservationImport import_stored_observations_jsonl(std::istream& in) {
  return parse_observations(in, true);
}

PlateMatch find_vehicle(const Registry& registry, const Observation& ob) {
  if (!ob.vin.empty()) {
    if (const auto* vehicle = registry.find(ob.vin)) return {vehicle, {}};
    return {nullptr, "VIN " + ob.vin + " is not registered"};
  }
  return registry.find_by_plate(ob.plate, ob.plate_color);
}

std::vector<Violation> evaluate_observation(const Engine& engine, VehicleState& state,
                                            const VehicleRecord& vehicle, const Observation& ob,
                                            const ZoneIndex& zones) {
  std::vector<Violation> out;
  const SampleRef ref{"observation:" + ob.id, -1};
  if (ob.kind == Observation::Kind::sighting) {
    // A sighting is evidence that the vehicle is on the road: R01 counts it as moving.
    Sample s;
    s.at_unix_s = ob.at_unix_s;
    s.lon = ob.lon;
    s.lat = ob.lat;
    s.ref = ref;
    return engine.step_sighting(state, vehicle, s, zones, ob.working);
  }
  // R05: Ringelmann above GB 36886's level 1 (every class: Table 1), or k above the limit.
  std::string smoke_class;
  const Zone* strictest = nullptr;  // the zone whose class applies, named in the violation
  if (ob.lon && ob.lat)
    for (const Zone* z : zones.containing(*ob.lon, *ob.lat))
      if (z->active_at(ob.at_unix_s) && z->smoke_class > smoke_class)
        smoke_class = z->smoke_class, strictest = z;
  const int ringelmann_limit = 2;  // level 1 complies, in every class
  double k_limit = engine.config().vehicle_k_limit;
  std::string limit_class = smoke_class;
  if (vehicle.is_machine()) {
    if (limit_class.empty())
      limit_class = vehicle.stage && stage_at_most(Stage::NR3, *vehicle.stage) ? "II" : "I";
    k_limit = Engine::machine_k_limit(limit_class, vehicle.rated_power_kw);
  }
  const bool black_by_eye = ob.ringelmann && *ob.ringelmann >= ringelmann_limit;
  const bool black_by_k = ob.k_m1 && *ob.k_m1 > k_limit;
  if (!black_by_eye && !black_by_k) return out;
  Violation x;
  x.rule = "R05";
  x.vin = vehicle.vin;
  x.id = "R05|" + vehicle.vin + "|" + ob.id;
  x.at_unix_s = ob.at_unix_s;
  x.raised_at_unix_s = ob.at_unix_s;
  if (strictest) {
    x.zone_id = strictest->id;
    x.zone_version = zones.version();
  }
  x.stage = vehicle.stage ? std::string(to_string(*vehicle.stage)) : "";
  x.stage_source = vehicle.stage_source == StageSource::inferred ? "inferred" : "registry";
  x.thresholds = {{"ringelmann_limit", ringelmann_limit}, {"k_limit_m1", k_limit}};
  x.limit_class = limit_class;
  // A machine of unknown power judged on k alone was held to its class's most lenient limit.
  x.suspect = !black_by_eye && vehicle.is_machine() && !vehicle.rated_power_kw;
  if (ob.ringelmann) x.measured["ringelmann"] = *ob.ringelmann;
  if (ob.k_m1) x.measured["k_m1"] = *ob.k_m1;
  x.lon = ob.lon;
  x.lat = ob.lat;
  x.evidence = {ref};
  x.evidence_times = {ob.at_unix_s};
  out.push_back(std::move(x));
  return out;
}

}  // namespace lantian::rules
