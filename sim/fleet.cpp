#include "sim/fleet.hpp"

#include <array>
#include <boost/geometry/algorithms/within.hpp>
#include <cmath>
#include <istream>
#include <numbers>
#include <ostream>
#include <random>
#include <sstream>

#include "protocol/json.hpp"
#include "rules/vehicle_identity.hpp"

namespace lantian::sim {
namespace {

struct City {
  std::string_view name;
  LonLat centre;
  char plate_letter;
  std::string_view code;  // GB/T 2260 prefecture code
};

// Henan's prefectures: where trips go and machines work.
constexpr std::array<City, 18> cities{{
    {"郑州", {113.6254, 34.7466}, 'A', "410100"}, {"开封", {114.3076, 34.7973}, 'B', "410200"},
    {"洛阳", {112.4540, 34.6197}, 'C', "410300"}, {"平顶山", {113.1925, 33.7662}, 'D', "410400"},
    {"安阳", {114.3925, 36.0976}, 'E', "410500"}, {"鹤壁", {114.2974, 35.7470}, 'F', "410600"},
    {"新乡", {113.9268, 35.3030}, 'G', "410700"}, {"焦作", {113.2418, 35.2159}, 'H', "410800"},
    {"濮阳", {115.0290, 35.7619}, 'J', "410900"}, {"许昌", {113.8526, 34.0357}, 'K', "411000"},
    {"漯河", {114.0166, 33.5816}, 'L', "411100"}, {"三门峡", {111.2003, 34.7726}, 'M', "411200"},
    {"南阳", {112.5283, 32.9908}, 'R', "411300"}, {"商丘", {115.6564, 34.4141}, 'N', "411400"},
    {"信阳", {114.0913, 32.1470}, 'S', "411500"}, {"周口", {114.6969, 33.6260}, 'P', "411600"},
    {"驻马店", {114.0220, 32.9800}, 'Q', "411700"}, {"济源", {112.6023, 35.0670}, 'U', "419001"},
}};

constexpr double metres_per_degree = 111'320.0;
// How far (degrees, ≈ 2 km) planned routes and sites keep from a zone's bounding box.
constexpr double zone_margin_deg = 0.02;

LonLat offset(LonLat from, double metres, double bearing_rad) {
  const double dlat = metres * std::cos(bearing_rad) / metres_per_degree;
  const double dlon = metres * std::sin(bearing_rad) /
                      (metres_per_degree * std::cos(from.lat * std::numbers::pi / 180));
  return {from.lon + dlon, from.lat + dlat};
}

// The bounding boxes, widened by the margin, of the zones a plan must stay away from.
std::vector<rules::GeoBox> zone_boxes(const rules::ZoneIndex* zones) {
  std::vector<rules::GeoBox> out;
  if (!zones) return out;
  for (const auto& z : zones->zones()) {
    auto box = rules::envelope_of(z.area);
    box.min_corner().x(box.min_corner().x() - zone_margin_deg);
    box.min_corner().y(box.min_corner().y() - zone_margin_deg);
    box.max_corner().x(box.max_corner().x() + zone_margin_deg);
    box.max_corner().y(box.max_corner().y() + zone_margin_deg);
    out.push_back(box);
  }
  return out;
}

bool in_any(const std::vector<rules::GeoBox>& boxes, LonLat p) {
  const rules::GeoPoint q(p.lon, p.lat);
  for (const auto& b : boxes)
    if (boost::geometry::within(q, b)) return true;
  return false;
}

// True when the straight leg a→b keeps out of every box (checked every ≈ 200 m).
bool leg_clear(const std::vector<rules::GeoBox>& boxes, LonLat a, LonLat b) {
  const int steps = std::max(1, static_cast<int>(distance_m(a, b) / 200));
  for (int i = 0; i <= steps; ++i) {
    const double f = static_cast<double>(i) / steps;
    if (in_any(boxes, {a.lon + (b.lon - a.lon) * f, a.lat + (b.lat - a.lat) * f})) return false;
  }
  return true;
}

// A logistics park on a city's outskirts, 15–25 km from its centre.
LonLat park_near(const City& city, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> metres(15'000, 25'000), bearing(0, 2 * std::numbers::pi);
  return offset(city.centre, metres(rng), bearing(rng));
}

// A point inside `zone`, at least 1 km from its boundary and outside every exempt corridor, or
// nullopt when 2,000 tries find none.
std::optional<LonLat> point_inside(const rules::Zone& zone, const rules::ZoneIndex& zones,
                                   std::mt19937_64& rng) {
  const auto box = rules::envelope_of(zone.area);
  std::uniform_real_distribution<double> x(box.min_corner().x(), box.max_corner().x());
  std::uniform_real_distribution<double> y(box.min_corner().y(), box.max_corner().y());
  for (int i = 0; i < 2000; ++i) {
    const LonLat p{x(rng), y(rng)};
    const auto here = zones.containing(p.lon, p.lat);
    const bool in_zone =
        std::any_of(here.begin(), here.end(), [&](const rules::Zone* z) { return z == &zone; });
    const bool in_corridor = std::any_of(here.begin(), here.end(), [](const rules::Zone* z) {
      return z->kind == rules::ZoneKind::exempt_corridor;
    });
    if (in_zone && !in_corridor && rules::distance_to_boundary_m(zone.area, p.lon, p.lat) >= 1000)
      return p;
  }
  return std::nullopt;
}

// The zones that ban a role: truck restriction zones banning a 国四 N3 truck, machinery ban zones
// banning a 非道路国二 excavator.
std::vector<const rules::Zone*> banning_zones(const rules::ZoneIndex* zones, bool machine) {
  std::vector<const rules::Zone*> out;
  if (!zones) return out;
  const auto stage = machine ? rules::Stage::NR2 : rules::Stage::CN4;
  for (const auto& z : zones->zones()) {
    const auto kind = machine ? rules::ZoneKind::nrmm_ban : rules::ZoneKind::truck_restriction;
    if (z.kind != kind || !z.banned_max_stage || !rules::stage_at_most(stage, *z.banned_max_stage))
      continue;
    if (!z.applies_to_category(machine ? "nrmm:excavator" : "N3")) continue;
    out.push_back(&z);
  }
  return out;
}

// A VIN with a valid check digit: WMI, VDS, check digit, model year, plant, serial.
std::string make_vin(std::string_view wmi_vds, char model_year, std::size_t serial) {
  std::string vin(wmi_vds);
  vin += '0';  // check digit, computed below
  vin += model_year;
  vin += 'A';
  const std::string digits = std::to_string(100000 + serial % 900000);
  vin += digits.substr(digits.size() - 6);
  vin[8] = *rules::vin_check_digit(vin);
  return vin;
}

// A plate the registry maps to `city`: 豫 + letter + five characters from the fleet index.
std::string make_plate(const City& city, std::size_t index) {
  static constexpr std::string_view alphabet = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ";
  std::string tail(5, '0');
  for (int i = 4; i >= 0; --i) {
    tail[static_cast<std::size_t>(i)] = alphabet[index % alphabet.size()];
    index /= alphabet.size();
  }
  return std::string("豫") + city.plate_letter + tail;
}

}  // namespace

std::string_view to_string(Role role) noexcept {
  switch (role) {
    case Role::guo6_truck: return "guo6_truck";
    case Role::guo3_truck: return "guo3_truck";
    case Role::banned_zone_truck: return "banned_zone_truck";
    case Role::machine: return "machine";
    case Role::black_smoke_machine: return "black_smoke_machine";
    case Role::banned_zone_machine: return "banned_zone_machine";
    case Role::guo3_light_truck: return "guo3_light_truck";
    case Role::unknown_stage_zone_machine: return "unknown_stage_zone_machine";
    case Role::faulty_truck: return "faulty_truck";
  }
  return "?";
}

std::string_view to_string(Fault fault) noexcept {
  switch (fault) {
    case Fault::none: return "none";
    case Fault::no_fix: return "no_fix";
    case Fault::scr_failure: return "scr_failure";
    case Fault::mil_on: return "mil_on";
    case Fault::reagent_empty: return "reagent_empty";
    case Fault::obd_vin_mismatch: return "obd_vin_mismatch";
    case Fault::position_jump: return "position_jump";
  }
  return "?";
}

bool is_machine(Role role) noexcept {
  return role == Role::machine || role == Role::black_smoke_machine ||
         role == Role::banned_zone_machine || role == Role::unknown_stage_zone_machine;
}

double distance_m(LonLat a, LonLat b) noexcept {
  constexpr double r = 6'371'000, rad = std::numbers::pi / 180;
  const double dlat = (b.lat - a.lat) * rad, dlon = (b.lon - a.lon) * rad;
  const double h = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(a.lat * rad) * std::cos(b.lat * rad) * std::sin(dlon / 2) *
                       std::sin(dlon / 2);
  return 2 * r * std::asin(std::min(1.0, std::sqrt(h)));
}

std::optional<Scenario> parse_scenario(std::istream& in, std::string& error) {
  Scenario s;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    const auto eq = line.find('=');
    auto trim = [](std::string t) {
      const auto b = t.find_first_not_of(" \t\r");
      const auto e = t.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : t.substr(b, e - b + 1);
    };
    if (trim(line).empty()) continue;
    const std::string where = "line " + std::to_string(number) + ": ";
    if (eq == std::string::npos) {
      error = where + "expected key = value";
      return std::nullopt;
    }
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    std::size_t* count = key == "guo6_trucks"            ? &s.guo6_trucks
                         : key == "guo3_trucks"          ? &s.guo3_trucks
                         : key == "banned_zone_trucks"   ? &s.banned_zone_trucks
                         : key == "machines"             ? &s.machines
                         : key == "black_smoke_machines" ? &s.black_smoke_machines
                         : key == "banned_zone_machines" ? &s.banned_zone_machines
                         : key == "guo3_light_trucks"    ? &s.guo3_light_trucks
                         : key == "unknown_stage_zone_machines" ? &s.unknown_stage_zone_machines
                         : key == "faulty_trucks"        ? &s.faulty_trucks
                                                         : nullptr;
    try {
      std::size_t used = 0;
      if (count) {
        if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos)
          throw std::invalid_argument(value);
        *count = std::stoul(value, &used);
      } else if (key == "seed") {
        s.seed = std::stoull(value, &used);
      } else if (key == "sign") {
        if (value != "true" && value != "false") {
          error = where + "sign must be true or false";
          return std::nullopt;
        }
        s.sign = value == "true";
        used = value.size();
      } else if (key == "gap_probability" || key == "malformed_probability") {
        const double p = std::stod(value, &used);
        if (p < 0 || p > 1) {
          error = where + key + " must be between 0 and 1";
          return std::nullopt;
        }
        (key == "gap_probability" ? s.gap_probability : s.malformed_probability) = p;
      } else if (key == "truck_profile") {
        const auto p = protocol::parse_profile(value);
        if (!p || (*p != protocol::Profile::gb17691 && *p != protocol::Profile::hj1239)) {
          error = where + "truck_profile must be gb17691 or hj1239";
          return std::nullopt;
        }
        s.truck_profile = *p;
        used = value.size();
      } else {
        error = where + "unknown key '" + key + "'";
        return std::nullopt;
      }
      if (used != value.size()) throw std::invalid_argument(value);
    } catch (const std::exception&) {
      error = where + "bad value '" + value + "' for " + key;
      return std::nullopt;
    }
  }
  if (s.total() == 0) {
    error = "the scenario has no vehicles";
    return std::nullopt;
  }
  return s;
}

std::optional<Scenario> preset_scenario(std::string_view name, std::size_t vehicles) {
  Scenario s;
  if (name == "guo6") {
    s.guo6_trucks = vehicles;
    return s;
  }
  if (name == "demo") {
    auto demo = preset_scenario("mixed", vehicles);
    demo->faulty_trucks =
        std::min(demo->guo6_trucks, std::max<std::size_t>(6, vehicles * 6 / 100));
    demo->guo6_trucks -= demo->faulty_trucks;
    return demo;
  }
  if (name == "mixed") {
    // Per 100 vehicles: 57 国六, 12 国三, 3 国三 light trucks, 5 into a zone, 12 machines,
    // 5 black smoke, 3 banned, 3 of unknown stage in a ban zone.
    s.guo3_trucks = vehicles * 12 / 100;
    s.guo3_light_trucks = vehicles * 3 / 100;
    s.banned_zone_trucks = vehicles * 5 / 100;
    s.machines = vehicles * 12 / 100;
    s.black_smoke_machines = vehicles * 5 / 100;
    s.banned_zone_machines = vehicles * 3 / 100;
    s.unknown_stage_zone_machines = vehicles * 3 / 100;
    s.guo6_trucks = vehicles - (s.total() - s.guo6_trucks);
    return s;
  }
  return std::nullopt;
}

std::optional<std::vector<VehicleSpec>> plan_fleet(const Scenario& scenario,
                                                   const rules::ZoneIndex* zones,
                                                   std::string& error) {
  const auto boxes = zone_boxes(zones);
  const auto truck_zones = banning_zones(zones, false);
  const auto machine_zones = banning_zones(zones, true);
  if (scenario.banned_zone_trucks > 0 && truck_zones.empty()) {
    error = "banned_zone_trucks needs a truck restriction zone banning 国四 N3 trucks (--zones)";
    return std::nullopt;
  }
  const std::size_t into_machine_zones =
      scenario.banned_zone_machines + scenario.unknown_stage_zone_machines;
  if (into_machine_zones > 0 && machine_zones.empty()) {
    error =
        "banned_zone_machines and unknown_stage_zone_machines need a machinery ban zone banning "
        "非道路国二 (--zones)";
    return std::nullopt;
  }
  // Deep points inside each target zone are found once (a few per zone) and shared.
  std::mt19937_64 zone_rng(scenario.seed);
  auto targets = [&](const std::vector<const rules::Zone*>& list) {
    std::vector<std::pair<const rules::Zone*, std::vector<LonLat>>> out;
    for (const auto* z : list) {
      std::vector<LonLat> points;
      for (int i = 0; i < 8; ++i)
        if (auto p = point_inside(*z, *zones, zone_rng)) points.push_back(*p);
      if (!points.empty()) out.emplace_back(z, std::move(points));
    }
    return out;
  };
  const auto truck_targets = targets(truck_zones);
  const auto machine_targets = targets(machine_zones);
  if ((scenario.banned_zone_trucks > 0 && truck_targets.empty()) ||
      (into_machine_zones > 0 && machine_targets.empty())) {
    error = "no point at least 1 km inside a banning zone";
    return std::nullopt;
  }

  std::vector<VehicleSpec> fleet;
  fleet.reserve(scenario.total());
  auto add = [&](Role role, std::size_t count) -> bool {
    for (std::size_t i = 0; i < count; ++i) {
      VehicleSpec v;
      v.index = fleet.size();
      v.role = role;
      v.seed = scenario.seed * 0x9E3779B97F4A7C15ULL + v.index;
      std::mt19937_64 rng(v.seed);
      const City& home = cities[rng() % cities.size()];
      v.registration_code = std::string(home.code);
      if (is_machine(role)) {
        v.profile = protocol::Profile::nonroad;
        v.category = "nrmm:excavator";
        v.rated_power_kw = 75 + static_cast<double>(rng() % 150);
        v.stage = role == Role::machine                      ? "NR4"
                  : role == Role::black_smoke_machine        ? "NR3"
                  : role == Role::unknown_stage_zone_machine ? ""
                                                             : "NR2";
        // The machine code: prefecture code, kind, and the fleet index.
        const std::string serial = std::to_string(100'000'000'000ULL + v.index);
        v.vin = std::string(home.code.substr(0, 4)) + "EX" + serial.substr(1);
        if (role == Role::banned_zone_machine || role == Role::unknown_stage_zone_machine) {
          const auto& [zone, points] = machine_targets[i % machine_targets.size()];
          v.target_zone = zone->id;
          v.site = points[rng() % points.size()];
        } else {
          std::uniform_real_distribution<double> metres(5'000, 30'000),
              bearing(0, 2 * std::numbers::pi);
          bool clear = false;
          for (int tries = 0; tries < 500 && !clear; ++tries) {
            v.site = offset(home.centre, metres(rng), bearing(rng));
            clear = !in_any(boxes, v.site);
          }
          if (!clear) {
            error = "no site clear of the zones near " + std::string(home.name) + " for vehicle " +
                    std::to_string(v.index);
            return false;
          }
        }
      } else {
        v.profile = scenario.truck_profile;
        const bool light = role == Role::guo3_light_truck;
        v.category = light ? "N1" : "N3";
        v.rated_power_kw = light ? 70 + static_cast<double>(rng() % 40)
                                 : 200 + static_cast<double>(rng() % 150);
        const bool guo3 = role == Role::guo3_truck || light;
        const bool guo6 = role == Role::guo6_truck || role == Role::faulty_truck;
        v.stage = guo3 ? "CN3" : guo6 ? "CN6b" : "CN4";
        const char year = guo3 ? 'A' : guo6 ? 'N' : 'E';
        if (role == Role::faulty_truck)
          v.fault = static_cast<Fault>(1 + i % static_cast<std::size_t>(Fault::position_jump));
        v.vin = make_vin(light ? "LGWEF4A5" : "LZZ5CLSB", year, v.index);
        v.plate = make_plate(home, v.index);
        v.plate_color = light ? "blue" : "yellow";  // 小型 plates are blue, 大型 yellow
        // Trips between three parks of different cities; every leg clear of the zones.
        bool planned = false;
        for (int tries = 0; tries < 200 && !planned; ++tries) {
          v.stops.clear();
          for (int k = 0; k < 3; ++k)
            v.stops.push_back(park_near(k == 0 ? home : cities[rng() % cities.size()], rng));
          bool clear = true;
          for (std::size_t k = 0; k < v.stops.size() && clear; ++k) {
            const auto a = v.stops[k], b = v.stops[(k + 1) % v.stops.size()];
            clear = distance_m(a, b) > 20'000 && leg_clear(boxes, a, b);
          }
          planned = clear;
        }
        if (!planned) {
          error = "no trips clear of the zones from " + std::string(home.name) + " for vehicle " +
                  std::to_string(v.index);
          return false;
        }
        if (role == Role::banned_zone_truck) {
          // The second stop becomes a delivery inside the zone.
          const auto& [zone, points] = truck_targets[i % truck_targets.size()];
          v.target_zone = zone->id;
          v.stops[1] = points[rng() % points.size()];
        }
      }
      fleet.push_back(std::move(v));
    }
    return true;
  };
  if (!add(Role::guo6_truck, scenario.guo6_trucks) || !add(Role::guo3_truck, scenario.guo3_trucks) ||
      !add(Role::banned_zone_truck, scenario.banned_zone_trucks) ||
      !add(Role::machine, scenario.machines) ||
      !add(Role::black_smoke_machine, scenario.black_smoke_machines) ||
      !add(Role::banned_zone_machine, scenario.banned_zone_machines) ||
      !add(Role::guo3_light_truck, scenario.guo3_light_trucks) ||
      !add(Role::unknown_stage_zone_machine, scenario.unknown_stage_zone_machines) ||
      !add(Role::faulty_truck, scenario.faulty_trucks))
    return std::nullopt;
  return fleet;
}

bool attach_signers(std::vector<VehicleSpec>& fleet, const std::string& user_id) {
  for (auto& v : fleet) {
    if (v.profile != protocol::Profile::hj1239) continue;
    auto signer = Sm2Signer::derive("lantian-sim|" + v.vin, user_id);
    if (!signer) return false;
    v.signer = std::move(signer);
    const std::string digits = std::to_string(10'000'000'000'000ULL + v.index);
    v.chip_id = "SIM" + digits.substr(digits.size() - 13);
  }
  return true;
}

void write_registry_csv(const std::vector<VehicleSpec>& fleet, std::ostream& out) {
  out << "vin,plate,plate_color,category,fuel,emission_stage,stage_source,rated_power_kw,profile,"
         "owner,registration_code,chip_id,sm2_public_key\n";
  for (const auto& v : fleet) {
    out << v.vin << ',' << v.plate << ',' << v.plate_color << ',' << v.category << ",diesel,"
        << v.stage << ',' << (v.stage.empty() ? "" : "registry") << ',' << v.rated_power_kw << ','
        << protocol::to_string(v.profile) << ",模拟车队 " << to_string(v.role) << ','
        << v.registration_code << ',' << v.chip_id << ','
        << (v.signer ? protocol::to_hex(protocol::ByteView(v.signer->public_key())) : "") << '\n';
  }
}

}  // namespace lantian::sim
