#include "rules/engine.hpp"

#include <algorithm>
#include <cmath>

#include "protocol/beijing_time.hpp"

namespace lantian::rules {
namespace {
using namespace protocol;

std::string beijing_date(std::int64_t unix_s) {
  return BeijingTime::from_unix_seconds(unix_s).iso8601().value_or("").substr(0, 10);
}

std::int64_t beijing_day(std::int64_t unix_s) {
  return (unix_s + beijing_utc_offset_seconds) / 86400;
}

void set_position(Sample& s, const Position& p) {
  if (!p.fix_valid()) {
    s.position_invalid = true;
    return;
  }
  s.lon = p.lon_deg();
  s.lat = p.lat_deg();
  if (!s.lon || !s.lat) s.lon.reset(), s.lat.reset();
}

template <class Engine>
void set_engine(Sample& s, const Engine& e) {
  s.speed_kmh = e.speed_kmh.get();
  s.engine_rpm = e.engine_rpm.get();
}

std::string stage_text(const VehicleRecord& v) {
  return v.stage ? std::string(to_string(*v.stage)) : std::string();
}
// The category given to a machine that is not in the registry (R13).
constexpr const char* unregistered_machine = "nrmm:unregistered";

std::string source_text(const VehicleRecord& v) {
  if (v.category == unregistered_machine) return "unregistered";
  return v.stage_source == StageSource::inferred ? "inferred" : "registry";
}

}  // namespace

std::string_view to_string(Severity severity) noexcept {
  switch (severity) {
    case Severity::low:
      return "low";
    case Severity::medium:
      return "medium";
    case Severity::high:
      return "high";
  }
  return "high";
}

std::vector<Sample> samples_of(const DecodedFrame& frame, const std::string& frame_key) {
  std::vector<Sample> out;
  if (const auto* alarm = std::get_if<RemovalAlarmBody>(&frame.message.body)) {
    if (const auto at = alarm->time.to_unix_seconds()) {
      Sample s;
      s.at_unix_s = *at;
      s.removal_alarm = true;
      set_position(s, alarm->position);
      s.ref = {frame_key, -1};
      out.push_back(std::move(s));
    }
    return out;
  }
  const auto* r = std::get_if<ReportBody>(&frame.message.body);
  if (!r) return out;
  for (std::size_t i = 0; i < r->blocks.size(); ++i) {
    const Block& b = r->blocks[i];
    const BeijingTime& t = r->layout == Profile::hj1239 ? b.time : r->time;
    const auto at = t.to_unix_seconds();
    if (!at) continue;
    Sample s;
    s.at_unix_s = *at;
    s.ref = {frame_key, static_cast<int>(i)};
    s.nonroad = r->layout == Profile::nonroad;
    if (s.nonroad) set_position(s, r->position);
    if (const auto* stream = std::get_if<StreamBlock>(&b.payload)) {
      set_engine(s, *stream);
      s.coolant_c = stream->coolant_temp_c.get();
      s.reagent_pct = stream->reagent_level_pct.get();
      s.nox_up_ppm = stream->nox_upstream_ppm.get();
      s.nox_down_ppm = stream->nox_downstream_ppm.get();
      s.scr_inlet_c = stream->scr_inlet_temp_c.get();
      s.net_torque_pct = stream->net_torque_pct.get();
      s.nox_channel = true;
      set_position(s, stream->position);
    } else if (const auto* machine = std::get_if<MachineStreamBlock>(&b.payload)) {
      set_engine(s, *machine);
      s.coolant_c = machine->coolant_temp_c.get();
      s.reagent_pct = machine->reagent_level_pct.get();
    } else if (const auto* cat = std::get_if<CatalystBlock>(&b.payload)) {
      set_engine(s, *cat);
      s.coolant_c = cat->coolant_temp_c.get();
      set_position(s, cat->position);
    } else if (const auto* smoke = std::get_if<SmokeBlock>(&b.payload)) {
      s.smoke_k_m1 = smoke->k_m1.get();
    } else if (const auto* obd = std::get_if<ObdBlock>(&b.payload)) {
      if (obd->mil < 0xFE) s.mil = obd->mil;
      s.obd_vin = std::string(as_text(obd->vin));
      s.cvn = std::string(as_text(obd->cvn));
      s.calid = std::string(as_text(obd->calid));
    } else if (const auto* ecd = std::get_if<EcdBlock>(&b.payload)) {
      if (ecd->warning_lamp < 0xFE) s.mil = ecd->warning_lamp == 0 ? 0 : 1;
    } else {
      continue;
    }
    out.push_back(std::move(s));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Sample& a, const Sample& b) { return a.at_unix_s < b.at_unix_s; });
  return out;
}

double Engine::machine_k_limit(const std::string& smoke_class, std::optional<double> power_kw) {
  // Unknown power: the class's most lenient limit (its lowest band), so that no machine is judged
  // by a limit stricter than its own; the violation is then suspect.
  const double p = power_kw.value_or(0);
  const int band = p < 19 ? 0 : p < 37 ? 1 : 2;
  static constexpr double class_i[] = {3.00, 2.00, 1.61};
  static constexpr double class_ii[] = {2.00, 1.00, 0.80};
  if (smoke_class == "III")
    return band == 2 ? 0.50 : class_ii[band];  // Class III is set for P ≥ 37 kW only
  if (smoke_class == "II") return class_ii[band];
  return class_i[band];
}

std::vector<Violation> Engine::step(VehicleState& state, const VehicleRecord* vehicle,
                                    const Sample& sample, const ZoneIndex& zones) const {
  std::vector<Violation> out;
  if (!vehicle) return out;
  // A long silence ends every episode: a back-dated run a week earlier must not continue (or
  // close) a visit, streak or window of today's data, nor today's of its own.
  if (state.last_sample_at != 0 &&
      std::abs(sample.at_unix_s - state.last_sample_at) > config_.episode_gap_s)
    end_episodes(state);
  state.last_sample_at = sample.at_unix_s;
  if (sample.coolant_c) {
    state.last_coolant_c = sample.coolant_c;
    state.last_coolant_at = sample.at_unix_s;
  }
  if (!vehicle->is_machine()) r01(state, *vehicle, sample, out);
  zone_rules(state, *vehicle, sample, zones, out);
  if (sample.smoke_k_m1) r04(state, *vehicle, sample, zones, out);
  r06_r09(state, *vehicle, sample, out);
  r08_r10(state, *vehicle, sample, out);
  r07(state, *vehicle, sample, out);
  r12(state, *vehicle, sample, out);
  r10_nox_flat(state, *vehicle, sample, out);
  r11_gaps(state, *vehicle, sample, out);
  return out;
}

void Engine::end_episodes(VehicleState& state) {
  state.visits.clear();
  state.smoke_streak = 0;
  state.smoke_refs.clear();
  state.smoke_times.clear();
  state.invalid_since.reset();
  state.r06_reported = false;
  state.mil_streak = 0;
  state.empty_since.reset();
  state.r09_reported = false;
  state.nox_window.clear();
  state.nox_flat_since.reset();
  state.nox_flat_value.reset();
  state.nox_flat_reported = false;
}

// R07: inside the valid window (warm engine, SCR hot, under load), a 5-minute mean of downstream
// NOx above the limit, or an SCR conversion below 50 % for 30 minutes cumulated in a day. One of
// each per vehicle per Beijing day.
void Engine::r07(VehicleState& state, const VehicleRecord& v, const Sample& s,
                 std::vector<Violation>& out) const {
  if (!s.nox_down_ppm && !s.engine_rpm) return;  // not a data-stream sample
  const auto day = beijing_day(s.at_unix_s);
  if (day != state.nox_day) {
    state.nox_day = day;
    state.low_conversion_s = 0;
    state.nox_mean_reported = state.conversion_reported = false;
  }
  const bool valid = s.coolant_c.value_or(-1000) >= config_.r07_min_coolant_c &&
                     s.scr_inlet_c.value_or(-1000) >= config_.r07_min_scr_inlet_c &&
                     s.engine_rpm.value_or(0) > config_.r07_min_rpm &&
                     s.net_torque_pct.value_or(-1000) > config_.r07_min_torque_pct &&
                     s.nox_down_ppm.has_value();
  if (!valid) {
    state.nox_window.clear();
    return;
  }
  // The 5-minute mean.
  state.nox_window.emplace_back(s.at_unix_s, *s.nox_down_ppm);
  while (!state.nox_window.empty() &&
         state.nox_window.front().first <= s.at_unix_s - config_.r07_mean_window_s)
    state.nox_window.pop_front();
  // Summed afresh (not kept as a running sum): the result then depends only on the window's
  // readings, which survive a checkpoint exactly, so a restored state decides as the original.
  double sum = 0;
  for (const auto& [at, ppm] : state.nox_window) sum += ppm;
  const bool full = s.at_unix_s - state.nox_window.front().first >= config_.r07_mean_window_s - 10;
  const double mean = sum / static_cast<double>(state.nox_window.size());
  if (full && mean > config_.r07_mean_limit_ppm && !state.nox_mean_reported) {
    state.nox_mean_reported = true;
    auto x = make("R07", Severity::medium, v, s, "nox_mean|" + beijing_date(s.at_unix_s));
    x.thresholds = {{"mean_limit_ppm", config_.r07_mean_limit_ppm},
                    {"window_s", static_cast<double>(config_.r07_mean_window_s)},
                    };
    x.measured = {{"mean_ppm", std::round(mean * 10) / 10}};
    out.push_back(std::move(x));
  }
  // Conversion efficiency, accumulated over valid samples (gaps longer than 10 s count as 10 s).
  if (s.nox_up_ppm && *s.nox_up_ppm > 0) {
    const double conversion = 1 - *s.nox_down_ppm / *s.nox_up_ppm;
    const std::int64_t dt = state.nox_last_valid_at
                                ? std::min<std::int64_t>(s.at_unix_s - state.nox_last_valid_at, 10)
                                : 1;
    if (conversion < config_.r07_min_conversion && dt > 0) state.low_conversion_s += dt;
    if (state.low_conversion_s >= config_.r07_low_conversion_s && !state.conversion_reported) {
      state.conversion_reported = true;
      auto x = make("R07", Severity::medium, v, s, "conversion|" + beijing_date(s.at_unix_s));
      x.thresholds = {{"min_conversion", config_.r07_min_conversion},
                      {"low_conversion_s", static_cast<double>(config_.r07_low_conversion_s)}};
      out.push_back(std::move(x));
    }
  }
  state.nox_last_valid_at = s.at_unix_s;
}

std::vector<Violation> Engine::step_sighting(VehicleState& state, const VehicleRecord& vehicle,
                                             const Sample& sample, const ZoneIndex& zones,
                                             bool working) const {
  std::vector<Violation> out;
  const bool machine = vehicle.is_machine();
  if (!machine) {
    Sample seen = sample;
    if (!seen.lon) seen.lon = 0, seen.lat = 0;  // r01 wants a position; a sighting is one by itself
    seen.speed_kmh = 1;
    r01(state, vehicle, seen, out);
  }
  if (!sample.lon || !sample.lat || (machine && !working)) return out;
  for (const Zone* z : banned_zones_at(vehicle, *sample.lon, *sample.lat, sample.at_unix_s, zones)) {
    auto x = make(zone_rule(vehicle), Severity::high, vehicle, sample,
                  z->id + "|" + sample.ref.frame_key);
    x.suspect = vehicle.stage_source == StageSource::inferred;
    x.zone_id = z->id;
    x.zone_version = zones.version();
    x.thresholds = {{"buffer_m", z->buffer_m}};
    out.push_back(std::move(x));
  }
  return out;
}

std::vector<const Zone*> Engine::banned_zones_at(const VehicleRecord& v, double lon, double lat,
                                                 std::int64_t at_unix_s,
                                                 const ZoneIndex& zones) const {
  std::vector<const Zone*> out;
  const bool machine = v.is_machine();
  if (!v.stage && !machine) return out;
  const auto here = zones.containing(lon, lat);
  const bool exempt = std::any_of(here.begin(), here.end(), [&](const Zone* z) {
    return z->kind == ZoneKind::exempt_corridor && z->applies_to_category(v.category) &&
           z->active_at(at_unix_s);
  });
  if (exempt) return out;
  // A machine nobody registered is of no known kind: every 禁用区 applies to it.
  const bool any_kind = v.category == unregistered_machine;
  for (const Zone* z : here) {
    const bool kind_fits =
        machine ? z->kind == ZoneKind::nrmm_ban : z->kind == ZoneKind::truck_restriction;
    if (!kind_fits || !(any_kind || z->applies_to_category(v.category)) || !z->active_at(at_unix_s))
      continue;
    // A stage is known, or (a machine) it is not: then the machine cannot show it may be there.
    if (v.stage && (!z->banned_max_stage || !stage_at_most(*v.stage, *z->banned_max_stage)))
      continue;
    if (!machine && v.has_permit(z->id, at_unix_s)) continue;  // 通行证: exempt from R02 here
    out.push_back(z);
  }
  return out;
}

std::string Engine::zone_rule(const VehicleRecord& v) {
  if (!v.is_machine()) return "R02";
  return v.stage ? "R03" : "R13";
}

Violation Engine::make(const std::string& rule, Severity severity, const VehicleRecord& v,
                       const Sample& s, const std::string& id_suffix) const {
  Violation x;
  x.rule = rule;
  x.vin = v.vin;
  x.id = rule + "|" + v.vin + "|" + id_suffix;
  x.severity = severity;
  x.at_unix_s = s.at_unix_s;
  x.raised_at_unix_s = s.at_unix_s;
  x.stage = stage_text(v);
  x.stage_source = source_text(v);
  x.evidence = {s.ref};
  x.evidence_times = {s.at_unix_s};
  x.lon = s.lon;
  x.lat = s.lat;
  return x;
}

// R06 (position invalid while working) and R09 (reagent empty while running): a condition that must
// last; one violation per episode, stamped with the episode's start.
void Engine::r06_r09(VehicleState& state, const VehicleRecord& v, const Sample& s,
                     std::vector<Violation>& out) const {
  const bool running = s.engine_rpm.value_or(0) > 0;
  if (s.engine_rpm || s.lon || s.position_invalid) {
    if (running && s.position_invalid) {
      if (!state.invalid_since) state.invalid_since = s.at_unix_s, state.r06_reported = false;
      if (!state.r06_reported && s.at_unix_s - *state.invalid_since >= config_.r06_invalid_for_s) {
        state.r06_reported = true;
        auto x = make("R06", Severity::medium, v, s, std::to_string(*state.invalid_since));
        x.at_unix_s = *state.invalid_since;
        x.thresholds = {{"invalid_for_s", static_cast<double>(config_.r06_invalid_for_s)}};
        out.push_back(std::move(x));
      }
    } else if (s.lon || !running) {
      state.invalid_since.reset();
    }
  }
  if (s.reagent_pct && s.engine_rpm) {
    if (running && *s.reagent_pct <= config_.r09_empty_pct) {
      if (!state.empty_since) state.empty_since = s.at_unix_s, state.r09_reported = false;
      if (!state.r09_reported && s.at_unix_s - *state.empty_since >= config_.r09_empty_for_s) {
        state.r09_reported = true;
        auto x = make("R09", Severity::low, v, s, std::to_string(*state.empty_since));
        x.at_unix_s = *state.empty_since;
        x.thresholds = {{"empty_pct", config_.r09_empty_pct},
                        {"empty_for_s", static_cast<double>(config_.r09_empty_for_s)}};
        out.push_back(std::move(x));
      }
    } else {
      state.empty_since.reset();
    }
  }
}

// R08 (MIL on in consecutive OBD blocks) and R10 (tamper signs).
void Engine::r08_r10(VehicleState& state, const VehicleRecord& v, const Sample& s,
                     std::vector<Violation>& out) const {
  if (s.removal_alarm)
    out.push_back(
        make("R10", Severity::medium, v, s, "removal_alarm|" + std::to_string(s.at_unix_s)));
  if (s.mil) {
    if (*s.mil == 1) {
      if (state.mil_streak++ == 0) state.mil_first = s.at_unix_s;
      if (state.mil_streak == config_.r08_consecutive) {
        auto x = make("R08", Severity::low, v, s, std::to_string(state.mil_first));
        x.at_unix_s = state.mil_first;
        x.thresholds = {{"consecutive", config_.r08_consecutive}};
        out.push_back(std::move(x));
      }
    } else {
      state.mil_streak = 0;
    }
  }
  if (!s.obd_vin.empty() && !v.is_machine()) {
    // Some ECUs pad or leave the VIN blank; only a different, well-formed VIN is a signal.
    if (s.obd_vin != v.vin && vin_well_formed(s.obd_vin))
      out.push_back(make("R10", Severity::medium, v, s,
                         "obd_vin|" + s.obd_vin + "|" + beijing_date(s.at_unix_s)));
  }
  auto changed = [&](const char* what, std::string& last, const std::string& now) {
    if (now.empty()) return;
    if (!last.empty() && last != now)
      out.push_back(
          make("R10", Severity::medium, v, s,
               std::string(what) + "|" + last + "|" + now + "|" + std::to_string(s.at_unix_s)));
    last = now;
  };
  changed("cvn_changed", state.last_cvn, s.cvn);
  changed("calid_changed", state.last_calid, s.calid);
}

// R12: collection time too far ahead of arrival; consecutive fixes implying an impossible speed.
void Engine::r12(VehicleState& state, const VehicleRecord& v, const Sample& s,
                 std::vector<Violation>& out) const {
  if (s.received_unix_s && s.at_unix_s - *s.received_unix_s > config_.r12_future_s) {
    auto x = make("R12", Severity::low, v, s, "future_time|" + std::to_string(s.at_unix_s));
    x.thresholds = {{"future_s", static_cast<double>(config_.r12_future_s)}};
    out.push_back(std::move(x));
  }
  if (!s.lon || !s.lat) return;
  if (state.last_lon && s.at_unix_s > state.last_fix_at) {
    constexpr double pi = 3.14159265358979323846;
    const double mid_lat = (*s.lat + *state.last_lat) / 2 * pi / 180;
    const double dx = (*s.lon - *state.last_lon) * 111320.0 * std::cos(mid_lat);
    const double dy = (*s.lat - *state.last_lat) * 110574.0;
    const double kmh = std::hypot(dx, dy) / 1000.0 /
                       (static_cast<double>(s.at_unix_s - state.last_fix_at) / 3600.0);
    if (kmh > config_.r12_max_speed_kmh) {
      auto x = make("R12", Severity::low, v, s, "implied_speed|" + std::to_string(s.at_unix_s));
      x.thresholds = {{"max_speed_kmh", config_.r12_max_speed_kmh}};
      x.measured = {{"implied_speed_kmh", std::round(kmh)}};
      out.push_back(std::move(x));
    }
  }
  if (s.at_unix_s >= state.last_fix_at) {
    state.last_lon = s.lon;
    state.last_lat = s.lat;
    state.last_fix_at = s.at_unix_s;
  }
}

void Engine::r01(VehicleState& state, const VehicleRecord& v, const Sample& s,
                 std::vector<Violation>& out) const {
  if (!v.fuel.empty() && v.fuel != "diesel") return;
  if (!config_.r01_categories.count(v.category) || !v.stage || !stage_at_most(*v.stage, Stage::CN3))
    return;
  if (s.at_unix_s < config_.phase_out_unix_s || !s.lon) return;
  const bool moving = s.speed_kmh.value_or(0) > 0 || s.engine_rpm.value_or(0) > 0;
  if (!moving) return;
  // One per vehicle per day: the first sample opens it, every later one that day is returned again
  // as the same violation with the newer last evidence (the caller keeps the newest).
  const auto day = beijing_day(s.at_unix_s);
  if (state.r01_last_day != day) {
    state.r01_last_day = day;
    state.r01_first_ref = s.ref;
    state.r01_first_at = s.at_unix_s;
    state.r01_first_lon = s.lon;
    state.r01_first_lat = s.lat;
  }
  Violation x;
  x.rule = "R01";
  x.vin = v.vin;
  x.id = "R01|" + v.vin + "|" + beijing_date(s.at_unix_s);
  x.suspect = v.stage_source == StageSource::inferred;
  x.at_unix_s = state.r01_first_at;
  x.raised_at_unix_s = state.r01_first_at;
  x.stage = stage_text(v);
  x.stage_source = source_text(v);
  x.thresholds = {{"phase_out_unix_s", static_cast<double>(config_.phase_out_unix_s)}};
  x.lon = state.r01_first_lon;  // where it was first seen that day, with the time
  x.lat = state.r01_first_lat;
  x.evidence = {state.r01_first_ref};
  x.evidence_times = {state.r01_first_at};
  if (s.at_unix_s != state.r01_first_at || s.ref.frame_key != state.r01_first_ref.frame_key ||
      s.ref.block != state.r01_first_ref.block) {
    x.evidence.push_back(s.ref);
    x.evidence_times.push_back(s.at_unix_s);
  }
  out.push_back(std::move(x));
}

void Engine::zone_rules(VehicleState& state, const VehicleRecord& v, const Sample& s,
                        const ZoneIndex& zones, std::vector<Violation>& out) const {
  if (!s.lon || !s.lat) return;  // an invalid fix neither counts nor ends a visit
  const bool machine = v.is_machine();
  if (machine && !s.engine_rpm) return;  // a smoke-only sample says nothing about working
  std::set<std::string> inside;
  // A machine idling below the working speed (e.g. carried on a trailer) is not working there.
  if (!machine || s.engine_rpm.value_or(0) >= config_.r03_min_rpm)
    for (const Zone* z : banned_zones_at(v, *s.lon, *s.lat, s.at_unix_s, zones)) inside.insert(z->id);
  // A fix outside a zone ends the visit there (a later entry is a new visit).
  for (auto it = state.visits.begin(); it != state.visits.end();)
    it = inside.count(it->first) ? std::next(it) : state.visits.erase(it);
  for (const auto& id : inside) {
    auto& visit = state.visits[id];
    ++visit.consecutive;
    if (visit.refs.size() < 10) {
      visit.refs.push_back(s.ref);
      visit.times.push_back(s.at_unix_s);
    }
    if (visit.reported || visit.consecutive < config_.consecutive_fixes) continue;
    visit.reported = true;
    const Zone* z = zones.find(id);
    // Raised at this sample, dated from the visit's first fix, with the visit's fixes as evidence.
    auto x = make(zone_rule(v), Severity::high, v, s, id + "|" + std::to_string(visit.times.front()));
    x.suspect = v.stage_source == StageSource::inferred;
    x.at_unix_s = visit.times.front();
    x.zone_id = id;
    x.zone_version = zones.version();
    x.thresholds = {{"consecutive_fixes", config_.consecutive_fixes},
                    {"buffer_m", z ? z->buffer_m : 0}};
    if (machine) x.thresholds["min_rpm"] = config_.r03_min_rpm;
    x.evidence = visit.refs;
    x.evidence_times = visit.times;
    out.push_back(std::move(x));
  }
}

void Engine::r04(VehicleState& state, const VehicleRecord& v, const Sample& s,
                 const ZoneIndex& zones, std::vector<Violation>& out) const {
  double limit = config_.vehicle_k_limit;
  std::string smoke_class;
  if (v.is_machine()) {
    if (s.lon && s.lat)
      for (const Zone* z : zones.containing(*s.lon, *s.lat))
        if (z->kind == ZoneKind::nrmm_ban && z->active_at(s.at_unix_s) && !z->smoke_class.empty() &&
            z->smoke_class > smoke_class)
          smoke_class = z->smoke_class;  // "III" > "II" > "I"
    if (smoke_class.empty())
      smoke_class = v.stage && stage_at_most(Stage::NR3, *v.stage) ? "II" : "I";
    limit = machine_k_limit(smoke_class, v.rated_power_kw);
  }
  const bool warm = state.last_coolant_c && *state.last_coolant_c >= config_.r04_min_coolant_c &&
                    s.at_unix_s - state.last_coolant_at <= config_.r04_coolant_max_age_s;
  if (!warm || *s.smoke_k_m1 <= limit) {
    state.smoke_streak = 0;
    state.smoke_refs.clear();
    state.smoke_times.clear();
    return;
  }
  ++state.smoke_streak;
  state.smoke_refs.push_back(s.ref);
  state.smoke_times.push_back(s.at_unix_s);
  if (state.smoke_streak != config_.r04_consecutive) return;
  Violation x;
  x.rule = "R04";
  x.vin = v.vin;
  x.id = "R04|" + v.vin + "|" + std::to_string(state.smoke_times.front());
  x.at_unix_s = state.smoke_times.front();
  x.raised_at_unix_s = s.at_unix_s;
  x.stage = stage_text(v);
  x.stage_source = source_text(v);
  x.thresholds = {{"k_limit_m1", limit},
                  {"consecutive", config_.r04_consecutive},
                  {"min_coolant_c", config_.r04_min_coolant_c}};
  x.limit_class = smoke_class;
  x.suspect = v.is_machine() && !v.rated_power_kw;  // judged by its class's most lenient limit
  x.lon = s.lon;
  x.lat = s.lat;
  x.evidence = state.smoke_refs;
  x.evidence_times = state.smoke_times;
  out.push_back(std::move(x));
}

std::optional<Violation> Engine::signature_violation(const VehicleRecord& v,
                                                     protocol::SignatureCheck check,
                                                     std::int64_t at_unix_s,
                                                     const std::string& frame_ref) const {
  if (!protocol::is_failure(check)) return std::nullopt;
  Sample s;
  s.at_unix_s = at_unix_s;
  s.ref = {frame_ref, -1};
  // One a day per verdict: a forging terminal sends a report every ten seconds.
  return make("R10", Severity::medium, v, s,
              "signature_" + std::string(protocol::to_string(check)) + "|" + beijing_date(at_unix_s));
}

// R10: the downstream NOx sensor reads invalid, or exactly the same value, for 30 minutes of
// running — a disconnected or emulated sensor. One per episode; a gap in the data (longer than the
// R11 gap) starts a new one, since nothing is known of the sensor meanwhile.
void Engine::r10_nox_flat(VehicleState& state, const VehicleRecord& v, const Sample& s,
                          std::vector<Violation>& out) const {
  if (!s.nox_channel) return;
  if (s.engine_rpm.value_or(0) <= 0) {
    state.nox_flat_since.reset();
    return;
  }
  const bool gap = s.at_unix_s - state.nox_flat_last_at > config_.r11_gap_s;
  state.nox_flat_last_at = s.at_unix_s;
  if (!state.nox_flat_since || gap || s.nox_down_ppm != state.nox_flat_value) {
    state.nox_flat_since = s.at_unix_s;
    state.nox_flat_value = s.nox_down_ppm;
    state.nox_flat_ref = s.ref;
    state.nox_flat_reported = false;
    return;
  }
  if (state.nox_flat_reported || s.at_unix_s - *state.nox_flat_since < config_.r10_nox_flat_s)
    return;
  state.nox_flat_reported = true;
  auto x = make(
      "R10", Severity::medium, v, s,
      (s.nox_down_ppm ? "nox_constant|" : "nox_invalid|") + std::to_string(*state.nox_flat_since));
  x.at_unix_s = *state.nox_flat_since;
  x.evidence.insert(x.evidence.begin(), state.nox_flat_ref);
  x.evidence_times.insert(x.evidence_times.begin(), *state.nox_flat_since);
  x.thresholds = {{"flat_for_s", static_cast<double>(config_.r10_nox_flat_s)}};
  if (s.nox_down_ppm) x.measured["nox_ppm"] = *s.nox_down_ppm;
  out.push_back(std::move(x));
}

// R11 (gaps): two timely engine samples, the engine running at both, further apart than the gap
// limit make a gap inside a trip. A sample received more than r11_fill_within_s after it was
// collected does not count (a resend that late does not fill a gap), so the gaps a vehicle's
// archive shows are the same whenever it is evaluated. A gap is final once the vehicle's timeline
// has moved r11_fill_within_s past its end: every resend that could have filled it was received
// before a sample that late was collected.
void Engine::r11_gaps(VehicleState& state, const VehicleRecord& v, const Sample& s,
                      std::vector<Violation>& out) const {
  while (!state.pending_gaps.empty() &&
         s.at_unix_s >= state.pending_gaps.front().to + config_.r11_fill_within_s) {
    const auto gap = state.pending_gaps.front();
    state.pending_gaps.pop_front();
    auto x = make("R11", Severity::low, v, s, "gap|" + std::to_string(gap.from));
    x.at_unix_s = gap.from;
    x.evidence = {gap.before, gap.after};
    x.evidence_times = {gap.from, gap.to};
    x.thresholds = {{"gap_s", static_cast<double>(config_.r11_gap_s)},
                    {"fill_within_s", static_cast<double>(config_.r11_fill_within_s)}};
    x.measured = {{"gap_length_s", static_cast<double>(gap.to - gap.from)}};
    out.push_back(std::move(x));
  }
  if (!s.engine_rpm && !s.speed_kmh) return;
  if (s.received_unix_s && *s.received_unix_s - s.at_unix_s > config_.r11_fill_within_s) return;
  const bool running = s.engine_rpm.value_or(0) > 0 || s.speed_kmh.value_or(0) > 0;
  if (running && state.trip_last_running && s.at_unix_s - state.trip_last_at >= config_.r11_gap_s) {
    if (state.pending_gaps.size() == VehicleState::max_pending_gaps) state.pending_gaps.pop_front();
    state.pending_gaps.push_back({state.trip_last_at, s.at_unix_s, state.trip_last_ref, s.ref});
  }
  if (s.at_unix_s >= state.trip_last_at) {
    state.trip_last_at = s.at_unix_s;
    state.trip_last_running = running;
    state.trip_last_ref = s.ref;
  }
}

std::vector<Violation> Engine::step_unregistered(VehicleState& state, std::string_view vin,
                                                 const Sample& sample, const ZoneIndex& zones) const {
  std::vector<Violation> out;
  VehicleRecord unknown;
  unknown.vin = std::string(vin);
  if (sample.nonroad) {
    // R13: a machine nobody registered, working in a 禁用区 (a category no zone lists: every
    // active 禁用区 applies).
    unknown.category = unregistered_machine;
    zone_rules(state, unknown, sample, zones, out);
  }
  const bool bad = sample.nonroad ? !vin_well_formed(vin) : !vin_valid(vin);
  const auto day = beijing_day(sample.at_unix_s);
  if (!bad || state.r12_vin_day == day) return out;
  state.r12_vin_day = day;
  auto x =
      make("R12", Severity::low, unknown, sample, "vin_check|" + beijing_date(sample.at_unix_s));
  x.stage_source.clear();
  out.push_back(std::move(x));
  return out;
}

std::optional<Violation> Engine::offline_violation(const VehicleRecord& vehicle,
                                                   std::int64_t last_received_unix_s,
                                                   const SampleRef& last_frame,
                                                   std::int64_t until_unix_s) const {
  if (until_unix_s - last_received_unix_s < config_.r11_offline_s) return std::nullopt;
  Sample last;
  last.at_unix_s = last_received_unix_s;
  last.ref = last_frame;
  auto x =
      make("R11", Severity::low, vehicle, last, "offline|" + std::to_string(last_received_unix_s));
  x.thresholds = {{"offline_s", static_cast<double>(config_.r11_offline_s)}};
  return x;
}

}  // namespace lantian::rules
