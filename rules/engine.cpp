#include "rules/engine.hpp"

#include <algorithm>

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
  if (!p.fix_valid()) return;
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
std::string source_text(const VehicleRecord& v) {
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
    if (r->layout == Profile::nonroad) set_position(s, r->position);
    if (const auto* stream = std::get_if<StreamBlock>(&b.payload)) {
      set_engine(s, *stream);
      s.coolant_c = stream->coolant_temp_c.get();
      set_position(s, stream->position);
    } else if (const auto* machine = std::get_if<MachineStreamBlock>(&b.payload)) {
      set_engine(s, *machine);
      s.coolant_c = machine->coolant_temp_c.get();
    } else if (const auto* cat = std::get_if<CatalystBlock>(&b.payload)) {
      set_engine(s, *cat);
      s.coolant_c = cat->coolant_temp_c.get();
      set_position(s, cat->position);
    } else if (const auto* smoke = std::get_if<SmokeBlock>(&b.payload)) {
      s.smoke_k_m1 = smoke->k_m1.get();
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
  const double p = power_kw.value_or(37);
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
  if (sample.coolant_c) {
    state.last_coolant_c = sample.coolant_c;
    state.last_coolant_at = sample.at_unix_s;
  }
  if (!vehicle->is_machine()) r01(state, *vehicle, sample, out);
  zone_rules(state, *vehicle, sample, zones, out);
  if (sample.smoke_k_m1) r04(state, *vehicle, sample, zones, out);
  return out;
}

void Engine::r01(VehicleState& state, const VehicleRecord& v, const Sample& s,
                 std::vector<Violation>& out) const {
  if (!v.fuel.empty() && v.fuel != "diesel") return;
  if (!config_.r01_categories.count(v.category) || !v.stage || !stage_at_most(*v.stage, Stage::CN3))
    return;
  if (s.at_unix_s < config_.phase_out_unix_s || !s.lon) return;
  const bool moving = s.speed_kmh.value_or(0) > 0 || s.engine_rpm.value_or(0) > 0;
  if (!moving) return;
  const auto day = beijing_day(s.at_unix_s);
  if (state.r01_last_day == day) return;  // one per vehicle per day
  state.r01_last_day = day;
  Violation x;
  x.rule = "R01";
  x.vin = v.vin;
  x.id = "R01|" + v.vin + "|" + beijing_date(s.at_unix_s);
  x.suspect = v.stage_source == StageSource::inferred;
  x.at_unix_s = s.at_unix_s;
  x.stage = stage_text(v);
  x.stage_source = source_text(v);
  x.thresholds = {{"phase_out_unix_s", static_cast<double>(config_.phase_out_unix_s)}};
  x.evidence = {s.ref};
  x.evidence_times = {s.at_unix_s};
  out.push_back(std::move(x));
}

void Engine::zone_rules(VehicleState& state, const VehicleRecord& v, const Sample& s,
                        const ZoneIndex& zones, std::vector<Violation>& out) const {
  if (!s.lon || !s.lat) return;  // an invalid fix neither counts nor ends a visit
  const bool machine = v.is_machine();
  if (machine && !s.engine_rpm) return;  // a smoke-only sample says nothing about working
  const auto here = zones.containing(*s.lon, *s.lat);
  const bool exempt = std::any_of(here.begin(), here.end(), [&](const Zone* z) {
    return z->kind == ZoneKind::exempt_corridor && z->applies_to_category(v.category) &&
           z->active_at(s.at_unix_s);
  });
  std::set<std::string> inside;
  if (!exempt && v.stage) {
    for (const Zone* z : here) {
      const bool kind_fits =
          machine ? z->kind == ZoneKind::nrmm_ban : z->kind == ZoneKind::truck_restriction;
      if (!kind_fits || !z->applies_to_category(v.category) || !z->active_at(s.at_unix_s)) continue;
      if (!z->banned_max_stage || !stage_at_most(*v.stage, *z->banned_max_stage)) continue;
      if (machine && s.engine_rpm.value_or(0) < config_.r03_min_rpm) continue;  // e.g. on a trailer
      inside.insert(z->id);
    }
  }
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
    Violation x;
    x.rule = machine ? "R03" : "R02";
    x.vin = v.vin;
    x.id = x.rule + "|" + v.vin + "|" + id + "|" + std::to_string(visit.times.front());
    x.suspect = v.stage_source == StageSource::inferred;
    x.at_unix_s = visit.times.front();
    x.zone_id = id;
    x.zone_version = zones.version();
    x.stage = stage_text(v);
    x.stage_source = source_text(v);
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
  x.stage = stage_text(v);
  x.stage_source = source_text(v);
  x.thresholds = {{"k_limit_m1", limit},
                  {"consecutive", config_.r04_consecutive},
                  {"min_coolant_c", config_.r04_min_coolant_c}};
  if (!smoke_class.empty())
    x.thresholds["smoke_class"] = static_cast<double>(smoke_class.size());  // I=1, II=2, III=3
  x.evidence = state.smoke_refs;
  x.evidence_times = state.smoke_times;
  out.push_back(std::move(x));
}

}  // namespace lantian::rules
