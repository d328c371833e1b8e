#include "sim/gate_systems.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <tuple>

#include "protocol/beijing_time.hpp"

namespace lantian::sim {
namespace json = boost::json;

namespace {

// A truck seen at the gates: a fleet truck (registered) or one with papers only.
struct GateTruckPlan {
  std::string vin, plate, plate_color, category, fuel;
  std::optional<rules::Stage> stage;
  bool registered = true;
};

// The papers of trucks that are not registered: the mix of stages a freight gate sees.
struct Papers {
  const char* stage;
  const char* fuel;
  double weight;
};
constexpr Papers unregistered_mix[] = {{"CN3", "diesel", 0.2},
                                       {"CN4", "diesel", 0.2},
                                       {"CN5", "gas", 0.1},
                                       {"CN5", "diesel", 0.2},
                                       {"CN6b", "diesel", 0.2},
                                       {"", "electric", 0.1}};

bool is_truck(Role role) {
  return role == Role::guo6_truck || role == Role::guo3_truck ||
         role == Role::banned_zone_truck || role == Role::guo3_light_truck;
}

std::string iso(std::int64_t unix_s) {
  return protocol::BeijingTime::from_unix_seconds(unix_s).iso8601().value_or("");
}

}  // namespace

GatePlan plan_gate_records(const std::vector<VehicleSpec>& fleet,
                           const std::vector<rules::Enterprise>& enterprises,
                           const rules::AlertCalendar& alerts, const rules::AlertPolicy& policy,
                           const rules::ZoneIndex* zones, const GatePlanOptions& o) {
  GatePlan plan;
  // Enterprises and the gate each uses: the first one outside every zone (or "main" without
  // positions).
  std::vector<std::pair<const rules::Enterprise*, std::string>> sites;
  for (const auto& e : enterprises) {
    if (e.gates.empty()) {
      sites.emplace_back(&e, "main");
      continue;
    }
    for (const auto& g : e.gates)
      if (!zones || zones->containing(g.lon_deg, g.lat_deg).empty()) {
        sites.emplace_back(&e, g.id);
        break;
      }
  }
  if (sites.empty()) return plan;
  std::vector<GateTruckPlan> trucks;
  for (const auto& v : fleet)
    if (is_truck(v.role))
      trucks.push_back({v.vin, v.plate, v.plate_color, v.category, "diesel",
                        rules::parse_stage(v.stage, false), true});

  std::mt19937_64 random(o.seed);
  auto uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(random);
  };
  std::size_t serial = 0;
  struct Visit {
    GateTruckPlan truck;
    const rules::Enterprise* enterprise;
    std::string gate;
    std::int64_t in_s, out_s;
    bool bulk;
  };
  std::vector<Visit> visits;
  for (int day = 0; day < o.days; ++day) {
    const auto midnight = o.first_day_unix_s + std::int64_t{day} * 86400;
    auto times = [&] {
      const auto in = midnight + static_cast<std::int64_t>(uniform(6, 19)) * 3600 +
                      static_cast<std::int64_t>(uniform(0, 60)) * 60;
      return std::pair{in, in + static_cast<std::int64_t>(uniform(30, 240)) * 60};
    };
    for (const auto& t : trucks) {
      if (uniform(0, 1) >= o.visit_probability) continue;
      const auto& [enterprise, gate] =
          sites[static_cast<std::size_t>(uniform(0, static_cast<double>(sites.size())))];
      const auto [in, out] = times();
      visits.push_back({t, enterprise, gate, in, out, enterprise->bulk});
    }
    for (const auto& [enterprise, gate] : sites)
      for (int k = 0; k < o.unregistered_per_day; ++k) {
        double pick = uniform(0, 1);
        const Papers* papers = &unregistered_mix[0];
        for (const auto& p : unregistered_mix) {
          papers = &p;
          if ((pick -= p.weight) < 0) break;
        }
        const bool electric = std::string_view(papers->fuel) == "electric";
        const std::string digits = std::to_string(10000 + serial++ % 90000).substr(1);
        GateTruckPlan t{"", (electric ? "豫AD" : "豫AG") + digits, electric ? "green" : "yellow",
                        "", papers->fuel,
                        *papers->stage ? rules::parse_stage(papers->stage, false) : std::nullopt,
                        false};
        const auto [in, out] = times();
        visits.push_back({t, enterprise, gate, in, out, enterprise->bulk});
      }
  }

  // The records, and what they raise (docs/enterprises.md): per vehicle and Beijing day the first
  // record of a 国三 diesel truck (R01); per vehicle, enterprise and day the first record let through
  // against an alert (R14).
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> r01;
  std::map<std::tuple<std::string, std::string, std::int64_t>, std::int64_t> r14;
  std::map<std::string, std::int64_t> last_record;
  std::map<std::string, std::set<std::int64_t>> days_with_records;
  std::map<std::pair<std::string, std::int64_t>, ExpectedViolation> r01_who;
  std::map<std::tuple<std::string, std::string, std::int64_t>, ExpectedViolation> r14_who;
  std::size_t id = 0;
  for (const auto& v : visits)
    for (const bool in : {true, false}) {
      const auto at = in ? v.in_s : v.out_s;
      json::object line{{"id", "SIM-" + std::to_string(++id)},
                        {"enterprise", v.enterprise->id},
                        {"gate", v.gate},
                        {"time", iso(at)},
                        {"direction", in ? "in" : "out"},
                        {"plate", v.truck.plate},
                        {"plate_color", v.truck.plate_color},
                        {"bulk", v.bulk && in},
                        {"cargo", v.bulk ? "铁矿石" : "钢材"},
                        {"image_ref", "sim/" + v.enterprise->id + "/" + std::to_string(id) + ".jpg"}};
      if (!v.truck.registered) {
        if (v.truck.stage) line["declared_stage"] = std::string(rules::to_string(*v.truck.stage));
        line["declared_fuel"] = v.truck.fuel;
      }
      plan.records.push_back({json::serialize(line), at});
      last_record[v.enterprise->id] = std::max(last_record[v.enterprise->id], at);
      days_with_records[v.enterprise->id].insert(protocol::beijing_day_number(at));

      const auto day = protocol::beijing_day_number(at);
      const std::string key = v.truck.registered ? v.truck.vin : v.truck.plate + "/" + v.truck.plate_color;
      ExpectedViolation who;
      who.vin = v.truck.vin;
      if (!v.truck.registered) who.plate = v.truck.plate;
      const bool diesel = v.truck.fuel == "diesel";
      const bool truck_category = !v.truck.registered || v.truck.category == "N1" ||
                                  v.truck.category == "N2" || v.truck.category == "N3";
      if (diesel && truck_category && v.truck.stage &&
          rules::stage_at_most(*v.truck.stage, rules::Stage::CN3) && at >= o.phase_out_unix_s) {
        auto [it, fresh] = r01.try_emplace({key, day}, at);
        if (!fresh) it->second = std::min(it->second, at);
        r01_who[{key, day}] = who;
      }
      const bool heavy = !v.truck.registered || v.truck.category == "N3";
      if (const auto* alert = alerts.in_force(v.enterprise->city, at);
          alert && heavy && v.truck.stage && v.truck.fuel != "electric") {
        const auto allowed = policy.oldest_allowed(v.enterprise->grade, alert->level);
        if (allowed && !rules::stage_at_most(*allowed, *v.truck.stage)) {
          auto [it, fresh] = r14.try_emplace({key, v.enterprise->id, day}, at);
          if (!fresh) it->second = std::min(it->second, at);
          r14_who[{key, v.enterprise->id, day}] = who;
        }
      }
    }
  std::sort(plan.records.begin(), plan.records.end(),
            [](const auto& a, const auto& b) { return a.at_unix_s < b.at_unix_s; });
  for (const auto& [key, at] : r01) {
    auto x = r01_who[key];
    x.rule = "R01";
    x.at_unix_s = at;
    plan.expected.push_back(x);
  }
  for (const auto& [key, at] : r14) {
    auto x = r14_who[key];
    x.rule = "R14";
    x.at_unix_s = at;
    plan.expected.push_back(x);
  }
  // R15 as the server checks it at `now`: active on ≥ 3 of the 7 days up to the last record, and a
  // whole Beijing day without records since.
  const auto today = protocol::beijing_day_number(o.now_unix_s);
  for (const auto& [enterprise, last] : last_record) {
    const auto last_day = protocol::beijing_day_number(last);
    const auto active = std::count_if(
        days_with_records[enterprise].begin(), days_with_records[enterprise].end(),
        [&](std::int64_t d) { return d <= last_day && d > last_day - 7; });
    if (active < 3 || today - last_day < 2) continue;
    ExpectedViolation x;
    x.rule = "R15";
    x.enterprise = enterprise;
    x.at_unix_s = last;
    plan.expected.push_back(x);
  }
  return plan;
}

void write_gate_records(const GatePlan& plan, std::ostream& out) {
  for (const auto& r : plan.records) out << r.json << '\n';
}

}  // namespace lantian::sim
