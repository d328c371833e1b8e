#include "sim/expectations.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "protocol/beijing_time.hpp"
#include "rules/engine.hpp"

namespace lantian::sim {
namespace {
// docs/rules.md defaults the plan relies on.
constexpr int consecutive_fixes = 2;  // R02/R03
constexpr double r03_min_rpm = 500;
constexpr int smoke_consecutive = 3;  // R04
constexpr double warm_coolant_c = 70;
constexpr std::int64_t coolant_max_age_s = 600;
}  // namespace

Expectations::Expectations(const VehicleSpec& spec, const rules::ZoneIndex* zones,
                           std::int64_t phase_out_unix_s)
    : spec_(spec),
      zones_(zones),
      phase_out_(phase_out_unix_s),
      stage_(rules::parse_stage(spec.stage, is_machine(spec.role))) {}

void Expectations::observe(const SimSample& s) {
  const bool machine = is_machine(spec_.role);
  const auto here = zones_ ? zones_->containing(s.position.lon, s.position.lat)
                           : std::vector<const rules::Zone*>{};
  // R01: a 国三 truck moving at or after the phase-out, once per Beijing day.
  if (!machine && stage_ && rules::stage_at_most(*stage_, rules::Stage::CN3) &&
      (s.speed_kmh > 0 || s.engine_rpm > 0) && s.unix_s >= phase_out_) {
    if (r01_days_.insert((s.unix_s + 8 * 3600) / 86400).second)
      out_.push_back({"R01", spec_.vin, "", s.unix_s});
  }
  // R02 / R03 / R13: consecutive fixes inside a zone that bans this vehicle now.
  const bool exempt = std::any_of(here.begin(), here.end(), [&](const rules::Zone* z) {
    return z->kind == rules::ZoneKind::exempt_corridor && z->applies_to_category(spec_.category) &&
           z->active_at(s.unix_s);
  });
  // A machine of unknown stage cannot show it may work in any 禁用区 (R13).
  std::set<std::string> inside;
  if (!exempt && (stage_ || machine)) {
    for (const rules::Zone* z : here) {
      const auto kind = machine ? rules::ZoneKind::nrmm_ban : rules::ZoneKind::truck_restriction;
      if (z->kind != kind || !z->applies_to_category(spec_.category) || !z->active_at(s.unix_s))
        continue;
      if (stage_ && (!z->banned_max_stage || !rules::stage_at_most(*stage_, *z->banned_max_stage)))
        continue;
      if (machine && s.engine_rpm < r03_min_rpm) continue;
      inside.insert(z->id);
    }
  }
  std::erase_if(visits_, [&](const auto& v) { return !inside.count(v.first); });
  for (const auto& id : inside) {
    auto [it, fresh] = visits_.try_emplace(id, 0);
    if (++it->second == consecutive_fixes)
      out_.push_back({!machine ? "R02" : stage_ ? "R03" : "R13", spec_.vin, id,
                      s.unix_s - (consecutive_fixes - 1)});
  }
  // R04: the smoke meter above the limit for three consecutive samples with a warm engine.
  last_coolant_ = s.coolant_c;
  last_coolant_at_ = s.unix_s;
  if (s.smoke_k_m1) {
    std::string smoke_class;
    for (const rules::Zone* z : here)
      if (z->kind == rules::ZoneKind::nrmm_ban && z->active_at(s.unix_s) &&
          z->smoke_class > smoke_class)
        smoke_class = z->smoke_class;
    if (smoke_class.empty())
      smoke_class = stage_ && rules::stage_at_most(rules::Stage::NR3, *stage_) ? "II" : "I";
    const double limit = rules::Engine::machine_k_limit(smoke_class, spec_.rated_power_kw);
    const bool warm = last_coolant_ && *last_coolant_ >= warm_coolant_c &&
                      s.unix_s - last_coolant_at_ <= coolant_max_age_s;
    if (warm && *s.smoke_k_m1 > limit) {
      if (++smoke_streak_ == smoke_consecutive)
        out_.push_back({"R04", spec_.vin, "", s.unix_s - (smoke_consecutive - 1)});
    } else {
      smoke_streak_ = 0;
    }
  }
}

void write_expected(const std::vector<ExpectedViolation>& violations, std::ostream& out) {
  for (const auto& v : violations) {
    boost::json::object line{{"rule", v.rule}, {"vin", v.vin}};
    if (!v.zone.empty()) line["zone"] = v.zone;
    if (!v.plate.empty()) line["plate"] = v.plate;
    if (!v.enterprise.empty()) line["enterprise"] = v.enterprise;
    line["at"] = protocol::BeijingTime::from_unix_seconds(v.at_unix_s).iso8601().value_or("");
    line["at_unix_s"] = v.at_unix_s;
    out << boost::json::serialize(line) << '\n';
  }
}

}  // namespace lantian::sim
