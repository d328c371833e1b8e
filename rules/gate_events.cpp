#include "rules/gate_events.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <set>
#include <sstream>

#include "protocol/beijing_time.hpp"
#include "rules/records_json.hpp"

namespace lantian::rules {
namespace json = boost::json;

namespace {

std::string beijing_date(std::int64_t unix_s) {
  return protocol::BeijingTime::from_unix_seconds(unix_s).iso8601().value_or("").substr(0, 10);
}

constexpr std::string_view fuels[] = {"diesel", "gas", "petrol", "electric", "hydrogen", "hybrid"};

// A short text field: at most `max_bytes`, no control characters.
void short_text(const json::object& o, const char* key, std::size_t max_bytes, bool required,
                std::string& out, std::vector<std::string>& reasons) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null() || (v->is_string() && v->as_string().empty())) {
    if (required) reasons.push_back(std::string("no ") + key);
    return;
  }
  if (!v->is_string()) {
    reasons.push_back(std::string(key) + " must be a string");
    return;
  }
  out = std::string(v->as_string());
  if (out.size() > max_bytes)
    reasons.push_back(std::string(key) + " is longer than " + std::to_string(max_bytes) + " bytes");
  else if (protocol::has_control_character(out))
    reasons.push_back(std::string(key) + " holds a control character");
}

}  // namespace

std::optional<GateEvent> gate_event_from_json(const json::object& o,
                                              std::vector<std::string>& reasons,
                                              bool stored_form, std::int64_t latest_unix_s) {
  static const std::set<std::string_view> known = {
      "id",    "enterprise", "gate",          "time",  "direction", "plate",    "plate_color",
      "vin",   "declared_stage", "declared_fuel", "cargo", "bulk",  "weight_t", "image_ref"};
  for (const auto& field : o)
    if (!known.count(field.key()) &&
        !(stored_form && (field.key() == "matched_vin" || field.key() == "unmatched")))
      reasons.push_back("unknown field '" + std::string(field.key()) + "'");
  GateEvent e;
  short_text(o, "id", 64, true, e.id, reasons);
  short_text(o, "enterprise", 32, true, e.enterprise_id, reasons);
  short_text(o, "gate", 32, true, e.gate, reasons);
  const auto* when = o.if_contains("time");
  if (const auto at = when ? unix_seconds_from_json(*when) : std::nullopt) {
    e.at_unix_s = *at;
    if (*at > latest_unix_s) reasons.push_back("time is in the future");
  } else {
    reasons.push_back("time must be ISO 8601 in Beijing time (+08:00) or Unix seconds");
  }
  std::string direction;
  short_text(o, "direction", 8, true, direction, reasons);
  if (direction == "out")
    e.entering = false;
  else if (!direction.empty() && direction != "in")
    reasons.push_back("direction must be in or out");
  std::string plate;
  short_text(o, "plate", 32, true, plate, reasons);
  if (!plate.empty()) {
    auto normal = normalise_plate(plate);
    if (normal.problem.empty())
      e.plate = std::move(normal.plate);
    else
      reasons.push_back(normal.problem);
  }
  std::string color;
  short_text(o, "plate_color", 16, false, color, reasons);
  if (!color.empty()) {
    if (const auto code = plate_color_code(color))
      e.plate_color = *code;
    else
      reasons.push_back(unknown_plate_color(color));
  }
  short_text(o, "vin", 17, false, e.vin, reasons);
  if (!e.vin.empty() &&
      (e.vin.size() != 17 || !std::all_of(e.vin.begin(), e.vin.end(), [](char c) {
         return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
       })))
    reasons.push_back("vin must be 17 upper-case letters and digits");
  std::string stage;
  short_text(o, "declared_stage", 16, false, stage, reasons);
  if (!stage.empty()) {
    e.declared_stage = parse_stage(stage, false);
    if (!e.declared_stage || is_machine_stage(*e.declared_stage))
      reasons.push_back("declared_stage '" + stage + "' is not a vehicle stage (CN3, 国五, CN6b, …)");
  }
  short_text(o, "declared_fuel", 16, false, e.declared_fuel, reasons);
  if (!e.declared_fuel.empty() &&
      std::find(std::begin(fuels), std::end(fuels), e.declared_fuel) == std::end(fuels))
    reasons.push_back("declared_fuel must be diesel, gas, petrol, electric, hydrogen or hybrid");
  short_text(o, "cargo", 64, false, e.cargo, reasons);
  if (const auto* b = o.if_contains("bulk")) {
    if (b->is_bool())
      e.bulk = b->as_bool();
    else
      reasons.push_back("bulk must be true or false");
  }
  if (const auto* w = o.if_contains("weight_t"); w && !w->is_null()) {
    if (!w->is_number() || w->to_number<double>() < 0 || w->to_number<double>() > 200)
      reasons.push_back("weight_t must be a number of tonnes, 0–200");
    else
      e.weight_t = w->to_number<double>();
  }
  short_text(o, "image_ref", 512, false, e.image_ref, reasons);
  if (stored_form) {
    short_text(o, "matched_vin", 17, false, e.matched_vin, reasons);
    short_text(o, "unmatched", 256, false, e.unmatched_reason, reasons);
  }
  if (!reasons.empty()) return std::nullopt;
  return e;
}

GateEventImport import_gate_events_jsonl(std::istream& in, std::int64_t latest_unix_s,
                                         std::size_t max_lines, std::size_t first_line) {
  GateEventImport out;
  // One slice of the stream: its lines, numbered as in the whole file.
  std::string slice, line;
  for (std::size_t n = 0; (max_lines == 0 || n < max_lines) && std::getline(in, line); ++n)
    slice += line + '\n';
  std::istringstream lines(slice);
  for_each_json_line(
      lines, out.rejected,
      [&](std::size_t n, const json::object& o) {
        std::vector<std::string> reasons;
        if (auto e = gate_event_from_json(o, reasons, false, latest_unix_s))
          out.events.push_back(std::move(*e));
        else
          out.rejected.push_back(rejected_row(n, reasons));
      },
      first_line);
  return out;
}

json::object to_json(const GateEvent& e) {
  json::object o{{"id", e.id},
                 {"enterprise", e.enterprise_id},
                 {"gate", e.gate},
                 {"time", protocol::BeijingTime::from_unix_seconds(e.at_unix_s).iso8601().value_or("")},
                 {"direction", e.entering ? "in" : "out"},
                 {"plate", e.plate},
                 {"plate_color", e.plate_color},
                 {"vin", e.vin},
                 {"declared_stage",
                  e.declared_stage ? json::value(to_string(*e.declared_stage)) : json::value(nullptr)},
                 {"declared_fuel", e.declared_fuel},
                 {"cargo", e.cargo},
                 {"bulk", e.bulk},
                 {"weight_t", e.weight_t ? json::value(*e.weight_t) : json::value(nullptr)},
                 {"image_ref", e.image_ref}};
  if (!e.matched_vin.empty()) o["matched_vin"] = e.matched_vin;
  if (!e.unmatched_reason.empty()) o["unmatched"] = e.unmatched_reason;
  return o;
}

std::optional<GateEvent> gate_event_from_json_text(std::string_view text) {
  boost::system::error_code ec;
  const auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  std::vector<std::string> reasons;
  return gate_event_from_json(v.as_object(), reasons, true);
}

std::string gate_evidence_ref(const GateEvent& e) {
  return "gate:" + e.enterprise_id + "/" + e.id;
}

std::string gate_vehicle_key(const GateEvent& e, const VehicleRecord* vehicle) {
  if (vehicle) return vehicle->vin;
  return e.plate + "/" + e.plate_color;
}

namespace {

}  // namespace

GateTruck gate_truck(const GateEvent& e, const VehicleRecord* v) {
  GateTruck j;
  if (v && v->stage) {
    j.stage = v->stage;
    j.source = v->stage_source == StageSource::inferred ? "inferred" : "registry";
    j.suspect = v->stage_source == StageSource::inferred;
  } else if (e.declared_stage) {
    // Only the 随车清单's word: enough for a lead, not for a finding.
    j.stage = e.declared_stage;
    j.source = "declared";
    j.suspect = true;
  }
  j.fuel = v && !v->fuel.empty() ? v->fuel : e.declared_fuel;
  j.heavy = !v || v->category == "N3";
  return j;
}

std::optional<AlertBreach> alert_breach(const GateEvent& e, const GateJudgement& with,
                                        const GateTruck& truck) {
  // Only heavy trucks are restricted (a registered vehicle of another category is not); new
  // energy never is; a truck of unknown stage cannot be judged.
  const auto* alert = with.alerts->in_force(with.enterprise->city, e.at_unix_s);
  if (!alert || !truck.heavy || !truck.stage || is_new_energy_fuel(truck.fuel)) return std::nullopt;
  const auto allowed = with.policy->oldest_allowed(with.enterprise->grade, alert->level);
  if (!allowed.has_value() || stage_at_most(allowed.value(), truck.stage.value()))
    return std::nullopt;
  return AlertBreach{alert, allowed.value()};
}

namespace {

// A violation of the vehicle seen at the gate, with the record as evidence.
Violation gate_violation(const std::string& rule, Severity severity, const GateEvent& e,
                         const GateJudgement& with, const GateTruck& j,
                         const std::optional<double>& lon, const std::optional<double>& lat) {
  Violation x;
  x.rule = rule;
  x.severity = severity;
  x.vin = with.vehicle ? with.vehicle->vin : "";  // an unregistered truck goes by its plate
  x.at_unix_s = e.at_unix_s;
  x.raised_at_unix_s = e.at_unix_s;
  x.suspect = j.suspect;
  x.stage = j.stage ? std::string(to_string(*j.stage)) : "";
  x.stage_source = j.source;
  x.lon = lon;
  x.lat = lat;
  x.evidence = {{gate_evidence_ref(e), -1}};
  x.evidence_times = {e.at_unix_s};
  x.enterprise_id = e.enterprise_id;
  x.city = with.enterprise->city;
  if (!with.vehicle) x.plate = e.plate;
  x.details = {{"enterprise", with.enterprise->name}, {"gate", e.gate},
               {"direction", e.entering ? "in" : "out"}};
  if (!e.image_ref.empty()) x.details["image_ref"] = e.image_ref;
  if (!with.vehicle && !e.vin.empty()) x.details["vin_read"] = e.vin;
  return x;
}

// R14 of the vehicle through the gate during `alert`, its stage older than `allowed`.
Violation r14(GateVehicleState& state, const GateEvent& e, const GateJudgement& with,
              const GateTruck& j, const PollutionAlert& alert, Stage allowed,
              const std::string& key, const std::optional<double>& lon,
              const std::optional<double>& lat) {
  const SampleRef ref{gate_evidence_ref(e), -1};
  const auto day = protocol::beijing_day_number(e.at_unix_s);
  auto& first = state.r14[e.enterprise_id];
  if (first.day != day) first = {day, ref, e.at_unix_s};
  auto x = gate_violation("R14", Severity::high, e, with, j, lon, lat);
  x.id = "R14|" + key + "|" + e.enterprise_id + "|" + beijing_date(e.at_unix_s);
  x.at_unix_s = x.raised_at_unix_s = first.at_unix_s;
  x.evidence = {first.ref};
  x.evidence_times = {first.at_unix_s};
  if (first.ref.frame_key != ref.frame_key) {
    x.evidence.push_back(ref);
    x.evidence_times.push_back(e.at_unix_s);
  }
  x.details["alert_id"] = alert.id;
  x.details["alert_level"] = std::string(to_string(alert.level));
  x.details["grade"] = with.enterprise->grade;
  x.details["oldest_allowed"] = std::string(to_string(allowed));
  return x;
}

}  // namespace

std::vector<Violation> evaluate_gate_event(const Engine& engine, GateVehicleState& gate_state,
                                           const GateEvent& e, const GateJudgement& with) {
  auto& state = gate_state.engine;
  std::vector<Violation> out;
  std::optional<double> lon, lat;
  for (const auto& g : with.enterprise->gates)
    if (g.id == e.gate) lon = g.lon_deg, lat = g.lat_deg;
  const auto j = gate_truck(e, with.vehicle);
  const auto key = gate_vehicle_key(e, with.vehicle);
  const SampleRef ref{gate_evidence_ref(e), -1};
  const auto day = protocol::beijing_day_number(e.at_unix_s);

  // R01: a registered vehicle goes through the engine as a sighting at the gate (so that a
  // terminal's frames and the gate make one violation a day); an unregistered one is judged on
  // what its papers declare.
  if (with.vehicle) {
    Sample s;
    s.at_unix_s = e.at_unix_s;
    s.lon = lon;
    s.lat = lat;
    s.ref = ref;
    for (auto& x : engine.step_sighting(state, *with.vehicle, s, *with.zones, false)) {
      // Seen at the enterprise's gate: filed in its city, with the gate's details; a gate of
      // unknown position gives no position (the engine's stand-in for a sighting without one).
      const auto gate = gate_violation(x.rule, x.severity, e, with, j, lon, lat);
      x.enterprise_id = gate.enterprise_id;
      x.city = gate.city;
      for (const auto& [k, v] : gate.details) x.details.emplace(k, v);
      if (!lon) x.lon.reset(), x.lat.reset();
      out.push_back(std::move(x));
    }
  } else if (j.stage && stage_at_most(*j.stage, Stage::CN3) && j.fuel == "diesel" &&
             e.at_unix_s >= engine.config().phase_out_unix_s) {
    if (state.r01_last_day != day) {
      state.r01_last_day = day;
      state.r01_first_ref = ref;
      state.r01_first_at = e.at_unix_s;
      state.r01_first_lon = lon;
      state.r01_first_lat = lat;
    }
    auto x = gate_violation("R01", Severity::high, e, with, j, state.r01_first_lon,
                            state.r01_first_lat);
    x.id = "R01|" + key + "|" + beijing_date(e.at_unix_s);
    x.at_unix_s = x.raised_at_unix_s = state.r01_first_at;
    x.thresholds = {{"phase_out_unix_s", static_cast<double>(engine.config().phase_out_unix_s)}};
    x.evidence = {state.r01_first_ref};
    x.evidence_times = {state.r01_first_at};
    if (state.r01_first_ref.frame_key != ref.frame_key) {
      x.evidence.push_back(ref);
      x.evidence_times.push_back(e.at_unix_s);
    }
    out.push_back(std::move(x));
  }

  // R16: the papers declare another stage than the registry's (not an inferred one).
  if (with.vehicle && with.vehicle->stage && with.vehicle->stage_source == StageSource::registry &&
      e.declared_stage && *e.declared_stage != *with.vehicle->stage) {
    auto x = gate_violation("R16", Severity::medium, e, with, j, lon, lat);
    x.id = "R16|" + key + "|" + ref.frame_key;
    x.details["declared_stage"] = std::string(to_string(*e.declared_stage));
    x.details["registry_stage"] = std::string(to_string(*with.vehicle->stage));
    out.push_back(std::move(x));
  }

  // R14: through the gate during an alert, older than the enterprise's grade allows.
  if (const auto breach = alert_breach(e, with, j))
    out.push_back(r14(gate_state, e, with, j, *breach->alert, breach->allowed, key, lon, lat));
  return out;
}

std::vector<Violation> gate_silence(const std::vector<Enterprise>& enterprises,
                                    const std::map<std::string, GateActivity>& activity,
                                    std::int64_t now_unix_s, int min_active_days) {
  std::vector<Violation> out;
  const auto today = protocol::beijing_day_number(now_unix_s);
  for (const auto& ent : enterprises) {
    const auto it = activity.find(ent.id);
    if (it == activity.end()) continue;  // never sent anything: not yet connected
    const auto& a = it->second;
    const auto last_day = protocol::beijing_day_number(a.last_record_unix_s);
    if (a.active_days < min_active_days || today - last_day < 2) continue;  // a whole day between
    Violation x;
    x.rule = "R15";
    x.severity = Severity::low;
    x.id = "R15|" + ent.id + "|" + beijing_date(a.last_record_unix_s);
    x.at_unix_s = x.raised_at_unix_s = a.last_record_unix_s;
    x.enterprise_id = ent.id;
    x.city = ent.city;
    x.thresholds = {{"min_active_days", min_active_days}};
    x.measured = {{"active_days", a.active_days}};
    x.details = {{"enterprise", ent.name}};
    out.push_back(std::move(x));
  }
  return out;
}

}  // namespace lantian::rules
