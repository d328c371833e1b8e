// The rule engine on the sample registry and zones: for each rule a case that triggers it, one just
// below its threshold, and the boundaries that matter.

#include "rules/engine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "protocol/beijing_time.hpp"
#include "protocol/decode.hpp"
#include "rules/observations.hpp"
#include "rules/records_json.hpp"
#include "test_support.hpp"

namespace lantian::rules {
namespace {

std::int64_t beijing(int y, int mo, int d, int h, int mi, int s = 0) {
  return protocol::BeijingTime::from_fields(y, mo, d, h, mi, s).to_unix_seconds().value();
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : zones_(load_zones()) {
    std::ifstream in(std::string(LANTIAN_SAMPLES_DIR) + "/registry-sample.csv");
    for (auto r : import_registry_csv(in, 2027).records) registry_.upsert(std::move(r));
  }
  static ZoneIndex load_zones() {
    std::ifstream in(std::string(LANTIAN_SAMPLES_DIR) + "/zones-henan-sample.geojson");
    std::stringstream s;
    s << in.rdbuf();
    return ZoneIndex(import_zones_geojson(s.str()).zones, 3);
  }

  // Feeds samples of one vehicle and returns the violations raised for the first time, each in
  // its newest form (a violation returned again with newer evidence, like R01's last evidence of
  // the day, replaces the earlier form — as the server stores it).
  std::vector<Violation> run(const std::string& vin, const std::vector<Sample>& samples) {
    std::vector<Violation> all;
    auto& state = states_[vin];
    for (const auto& s : samples) {
      for (auto& v : engine_.step(state, registry_.find(vin), s, zones_)) {
        const auto same =
            std::find_if(all.begin(), all.end(), [&](auto& x) { return x.id == v.id; });
        if (same != all.end())
          *same = std::move(v);
        else if (seen_.insert(v.id).second)
          all.push_back(std::move(v));
      }
    }
    return all;
  }

  static Sample at(std::int64_t t, double lon, double lat, double speed = 40, double rpm = 1300) {
    Sample s;
    s.at_unix_s = t;
    s.lon = lon;
    s.lat = lat;
    s.speed_kmh = speed;
    s.engine_rpm = rpm;
    s.ref = {"frame-" + std::to_string(t), 0};
    return s;
  }
  static Sample smoke(std::int64_t t, double lon, double lat, double k) {
    Sample s;
    s.at_unix_s = t;
    s.lon = lon;
    s.lat = lat;
    s.smoke_k_m1 = k;
    s.ref = {"smoke-" + std::to_string(t), 0};
    return s;
  }
  static Sample warm(std::int64_t t, double lon, double lat, double coolant = 85) {
    Sample s = at(t, lon, lat, 0, 1200);
    s.coolant_c = coolant;
    return s;
  }

  static std::vector<std::string> rules_of(const std::vector<Violation>& v) {
    std::vector<std::string> out;
    for (const auto& x : v) out.push_back(x.rule + (x.zone_id.empty() ? "" : ":" + x.zone_id));
    std::sort(out.begin(), out.end());
    return out;
  }

  // The zone tests move a vehicle across the province in seconds; R12's implied-speed check is
  // tested on its own below.
  static EngineConfig without_implied_speed() {
    EngineConfig c;
    c.r12_max_speed_kmh = 1e9;
    return c;
  }

  Registry registry_;
  ZoneIndex zones_;
  Engine engine_{without_implied_speed()};
  std::map<std::string, VehicleState> states_;
  std::set<std::string> seen_;
};

constexpr const char* cn3_truck = "LZZJ5ACA5AF110265";
constexpr const char* inferred_truck = "LZGSRTFN4CG629137";
constexpr const char* cn4_truck = "LRDS3D9J9GG887446";
constexpr const char* cn6_truck = "LGAD6SJA1RG736370";
constexpr const char* nr2_excavator = "NR6J4CF3WFHPRDY25";
constexpr const char* nr4_excavator = "NRN3477B7N4FYW8B2";
// Kaifeng (no zone), central Zhengzhou (truck zones + machinery ban), the G30 corridor.
constexpr double kaifeng[] = {114.30, 34.80};
constexpr double zhengzhou[] = {113.68, 34.76};
constexpr double corridor[] = {113.68, 34.84};

TEST_F(EngineTest, R01FromThePhaseOutInstantAtBeijingMidnight) {
  const auto midnight = beijing(2026, 1, 1, 0, 0);
  EXPECT_TRUE(run(cn3_truck, {at(midnight - 1, kaifeng[0], kaifeng[1])}).empty());
  const auto v = run(cn3_truck, {at(midnight, kaifeng[0], kaifeng[1]),
                                 at(midnight + 3600, kaifeng[0], kaifeng[1])});
  ASSERT_EQ(v.size(), 1u);  // one per vehicle per day
  EXPECT_EQ(v[0].id, "R01|LZZJ5ACA5AF110265|2026-01-01");
  EXPECT_EQ(v[0].stage, "CN3");
  EXPECT_EQ(v[0].stage_source, "registry");
  EXPECT_FALSE(v[0].suspect);
  // The first and the last evidence of the day.
  EXPECT_EQ(v[0].evidence_times, (std::vector<std::int64_t>{midnight, midnight + 3600}));
  EXPECT_EQ(v[0].evidence[1].frame_key, "frame-" + std::to_string(midnight + 3600));
  EXPECT_EQ(v[0].at_unix_s, midnight);
  EXPECT_EQ(rules_of(run(cn3_truck, {at(midnight + 86400, kaifeng[0], kaifeng[1])})),
            (std::vector<std::string>{"R01"}));
}

TEST_F(EngineTest, R01NeedsMovementAValidFixAndAStageAtMostCn3) {
  const auto t = beijing(2026, 3, 1, 10, 0);
  EXPECT_TRUE(run(cn3_truck, {at(t, kaifeng[0], kaifeng[1], 0, 0)}).empty());  // parked, engine off
  Sample no_fix = at(t + 1, kaifeng[0], kaifeng[1]);
  no_fix.lon.reset(), no_fix.lat.reset();
  EXPECT_TRUE(run(cn3_truck, {no_fix}).empty());
  EXPECT_TRUE(run(cn4_truck, {at(t, kaifeng[0], kaifeng[1])}).empty());
  EXPECT_TRUE(run("LNOTINREGISTRY000", {at(t, kaifeng[0], kaifeng[1])}).empty());
  const auto v = run(inferred_truck, {at(t, kaifeng[0], kaifeng[1])});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].suspect);  // the stage was inferred from the model year
  EXPECT_EQ(v[0].stage_source, "inferred");
}

TEST_F(EngineTest, R01CoversEveryDieselTruckCategoryAndOnlyThoseConfigured) {
  // The plan orders 国三-and-older diesel trucks (柴油货车) off the road: light trucks (N1) too.
  VehicleRecord light = *registry_.find(cn3_truck);
  light.vin = "LZZ1LIGHTN1000001";
  light.plate = "豫A1L001";
  light.category = "N1";
  registry_.upsert(light);
  VehicleRecord bus = light;
  bus.vin = "LZZ1COACHM3000001";
  bus.plate = "豫A1B001";
  bus.category = "M3";
  registry_.upsert(bus);
  const auto t = beijing(2026, 3, 1, 10, 0);
  const auto v = run(light.vin, {at(t, kaifeng[0], kaifeng[1])});
  ASSERT_EQ(rules_of(v), (std::vector<std::string>{"R01"}));
  EXPECT_EQ(v[0].id, "R01|LZZ1LIGHTN1000001|2026-03-01");
  EXPECT_TRUE(run(bus.vin, {at(t, kaifeng[0], kaifeng[1])}).empty());  // a coach is no truck
  // With the categories narrowed to N2 and N3 (configuration), the light truck raises nothing.
  EngineConfig narrow = without_implied_speed();
  narrow.r01_categories = {"N2", "N3"};
  VehicleState fresh;
  EXPECT_TRUE(Engine(narrow)
                  .step(fresh, registry_.find(light.vin), at(t, kaifeng[0], kaifeng[1]), zones_)
                  .empty());
}

// R05 from roadside smoke checks, GB 36886-2018 Table 1: Ringelmann level 1 complies in every
// class (Class III included), level 2 does not; k must be strictly above the limit.
TEST_F(EngineTest, R05RingelmannAboveLevelOneAndKStrictlyAboveTheLimit) {
  const auto t = beijing(2026, 4, 2, 10, 0);
  const VehicleRecord& excavator = *registry_.find(nr4_excavator);  // NR4, 132 kW
  const auto check = [&](const std::string& id, std::optional<int> ringelmann,
                         std::optional<double> k, const double* where) {
    Observation ob;
    ob.id = id;
    ob.kind = Observation::Kind::smoke;
    ob.vin = excavator.vin;
    ob.at_unix_s = t;
    ob.lon = where[0];
    ob.lat = where[1];
    ob.ringelmann = ringelmann;
    ob.k_m1 = k;
    VehicleState state;
    return evaluate_observation(engine_, state, excavator, ob, zones_);
  };
  // Inside 郑州's Class III 禁用区: level 1 complies, level 2 is black smoke.
  EXPECT_TRUE(check("c1", 1, std::nullopt, zhengzhou).empty());
  auto v = check("c2", 2, std::nullopt, zhengzhou);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].id, "R05|NRN3477B7N4FYW8B2|c2");
  EXPECT_EQ(v[0].limit_class, "III");
  EXPECT_EQ(v[0].thresholds.at("ringelmann_limit"), 2.0);
  EXPECT_FALSE(v[0].suspect);
  // k at the Class III limit (0.50, P ≥ 37 kW) complies; above it does not.
  EXPECT_TRUE(check("c3", std::nullopt, 0.50, zhengzhou).empty());
  v = check("c4", std::nullopt, 0.51, zhengzhou);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].thresholds.at("k_limit_m1"), 0.50);
  // Outside any zone an NR4 machine is held to Class II (0.80 at 132 kW).
  EXPECT_TRUE(check("c5", 1, 0.80, kaifeng).empty());
  EXPECT_EQ(check("c6", std::nullopt, 0.81, kaifeng).size(), 1u);
}

TEST_F(EngineTest, R05OfAMachineOfUnknownPowerUsesTheMostLenientLimitAndIsSuspect) {
  VehicleRecord unknown = *registry_.find(nr2_excavator);  // NR2: Class I outside zones
  unknown.vin = "NRUNKNOWNPOWER001";
  unknown.rated_power_kw.reset();
  registry_.upsert(unknown);
  const auto t = beijing(2026, 4, 2, 10, 0);
  Observation ob;
  ob.kind = Observation::Kind::smoke;
  ob.vin = unknown.vin;
  ob.at_unix_s = t;
  ob.lon = kaifeng[0];
  ob.lat = kaifeng[1];
  VehicleState state;
  ob.id = "k-2.5";
  ob.k_m1 = 2.5;  // above Class I's 1.61 (≥ 37 kW) but within its 3.00 (< 19 kW)
  EXPECT_TRUE(evaluate_observation(engine_, state, unknown, ob, zones_).empty());
  ob.id = "k-3.2";
  ob.k_m1 = 3.2;
  auto v = evaluate_observation(engine_, state, unknown, ob, zones_);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].thresholds.at("k_limit_m1"), 3.00);
  EXPECT_EQ(v[0].limit_class, "I");
  EXPECT_TRUE(v[0].suspect);
  // Black to the eye, the power does not matter: not suspect.
  ob.id = "eye";
  ob.k_m1.reset();
  ob.ringelmann = 3;
  v = evaluate_observation(engine_, state, unknown, ob, zones_);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].suspect);
}

// Most old trucks and machines carry no terminal: a camera or an enforcement check is the only
// evidence, and it counts in zones.
TEST_F(EngineTest, SightingsInsideBanZonesRaiseR02AndR03) {
  const auto night = beijing(2026, 3, 1, 23, 0);
  const auto sight = [&](const std::string& vin, const std::string& id, const double* where,
                         bool working) {
    Observation ob;
    ob.id = id;
    ob.kind = Observation::Kind::sighting;
    ob.vin = vin;
    ob.at_unix_s = night;
    ob.lon = where[0];
    ob.lat = where[1];
    ob.working = working;
    VehicleState state;
    auto v = evaluate_observation(engine_, state, *registry_.find(vin), ob, zones_);
    return std::pair{rules_of(v), v};
  };
  auto [rules, v] = sight(cn3_truck, "cam-7", zhengzhou, false);
  EXPECT_EQ(rules, (std::vector<std::string>{"R01", "R02:zz-4ring-cn3"}));
  const auto r02 = std::find_if(v.begin(), v.end(), [](auto& x) { return x.rule == "R02"; });
  EXPECT_EQ(r02->id, "R02|LZZJ5ACA5AF110265|zz-4ring-cn3|observation:cam-7");
  EXPECT_EQ(r02->evidence.at(0).frame_key, "observation:cam-7");
  EXPECT_EQ(r02->evidence_times, (std::vector<std::int64_t>{night}));
  // Outside every zone: R01 only. A 国四 truck in the 国三 zone: nothing.
  EXPECT_EQ(sight(cn3_truck, "cam-8", kaifeng, false).first, (std::vector<std::string>{"R01"}));
  EXPECT_TRUE(sight(cn4_truck, "cam-9", zhengzhou, false).first.empty());
  // A 国二 machine seen working inside 郑州's 禁用区: R03; seen parked there: nothing.
  EXPECT_EQ(sight(nr2_excavator, "check-1", zhengzhou, true).first,
            (std::vector<std::string>{"R03:zz-nrmm-ban"}));
  EXPECT_TRUE(sight(nr2_excavator, "check-2", zhengzhou, false).first.empty());
  EXPECT_TRUE(sight(nr4_excavator, "check-3", zhengzhou, true).first.empty());  // 国四 may work
}

// 禁用区 require machines to be registered (编码登记) with a known stage: R13 for a machine working
// there that is not in the registry (from its frames) or whose stage is unknown.
TEST_F(EngineTest, R13UnregisteredOrUnknownStageMachinesWorkingInABanZone) {
  const auto t = beijing(2026, 4, 2, 10, 0);
  Sample working = at(t, zhengzhou[0], zhengzhou[1], 0, 1500);
  working.nonroad = true;
  Sample again = working;
  again.at_unix_s = t + 10;
  again.ref = {"frame-" + std::to_string(t + 10), 0};
  // Not in the registry (its frames are non-road): two working samples inside → one R13.
  VehicleState state;
  auto v = engine_.step_unregistered(state, "NRNBDYKNWS0000001", working, zones_);
  EXPECT_TRUE(v.empty());
  v = engine_.step_unregistered(state, "NRNBDYKNWS0000001", again, zones_);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].rule, "R13");
  EXPECT_EQ(v[0].id, "R13|NRNBDYKNWS0000001|zz-nrmm-ban|" + std::to_string(t));
  EXPECT_EQ(v[0].stage_source, "unregistered");
  EXPECT_EQ(v[0].evidence.size(), 2u);
  // Outside every 禁用区, or an on-road frame of an unknown VIN: no R13.
  VehicleState elsewhere;
  Sample outside = working;
  outside.lon = kaifeng[0];
  outside.lat = kaifeng[1];
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(engine_.step_unregistered(elsewhere, "NRNBDYKNWS0000002", outside, zones_).empty());
  // Registered, stage unknown: R13 too (from frames and from a sighting of it working).
  VehicleRecord unknown = *registry_.find(nr2_excavator);
  unknown.vin = "NRSTAGEUNKNWN0001";
  unknown.stage.reset();
  registry_.upsert(unknown);
  EXPECT_EQ(rules_of(run(unknown.vin, {working, again})),
            (std::vector<std::string>{"R13:zz-nrmm-ban"}));
  Observation seen;
  seen.id = "check-13";
  seen.vin = unknown.vin;
  seen.at_unix_s = t;
  seen.lon = zhengzhou[0];
  seen.lat = zhengzhou[1];
  seen.working = true;
  VehicleState sighting_state;
  v = evaluate_observation(engine_, sighting_state, unknown, seen, zones_);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].id, "R13|NRSTAGEUNKNWN0001|zz-nrmm-ban|observation:check-13");
}

TEST_F(EngineTest, R02AfterTwoConsecutiveFixesInsideOncePerVisit) {
  const auto night = beijing(2026, 3, 1, 23, 0);
  EXPECT_EQ(rules_of(run(cn3_truck, {at(night, zhengzhou[0], zhengzhou[1])})),
            (std::vector<std::string>{"R01"}));
  const auto v = run(cn3_truck, {at(night + 10, zhengzhou[0], zhengzhou[1]),
                                 at(night + 20, zhengzhou[0], zhengzhou[1])});
  ASSERT_EQ(rules_of(v),
            (std::vector<std::string>{"R02:zz-4ring-cn3"}));  // night: the daytime ban is off
  EXPECT_EQ(v[0].id, "R02|LZZJ5ACA5AF110265|zz-4ring-cn3|" + std::to_string(night));
  EXPECT_EQ(v[0].zone_version, 3);
  EXPECT_EQ(v[0].evidence.size(), 2u);
  EXPECT_EQ(v[0].thresholds.at("buffer_m"), 30.0);
  // Leaving and coming back is a new visit.
  EXPECT_TRUE(run(cn3_truck, {at(night + 30, kaifeng[0], kaifeng[1])}).empty());
  EXPECT_EQ(rules_of(run(cn3_truck, {at(night + 40, zhengzhou[0], zhengzhou[1]),
                                     at(night + 50, zhengzhou[0], zhengzhou[1])})),
            (std::vector<std::string>{"R02:zz-4ring-cn3"}));
}

// No episode carries across a silence longer than episode_gap_s: a visit that resumes after it is a
// new visit (a back-dated run a week earlier neither continues nor closes today's), a shorter
// silence (a coverage gap) continues it.
TEST_F(EngineTest, AVisitDoesNotCarryAcrossALongSilence) {
  const auto night = beijing(2026, 3, 1, 23, 0);
  const auto inside = [&](std::int64_t t) { return at(t, zhengzhou[0], zhengzhou[1]); };
  EXPECT_EQ(rules_of(run(cn3_truck, {inside(night), inside(night + 10)})),
            (std::vector<std::string>{"R01", "R02:zz-4ring-cn3"}));
  // 20 minutes without a frame: the same visit.
  EXPECT_TRUE(run(cn3_truck, {inside(night + 1210), inside(night + 1220)}).empty());
  // 31 minutes: a new visit, a new R02.
  const auto later = night + 1220 + 1801;
  const auto v = run(cn3_truck, {inside(later), inside(later + 10)});
  ASSERT_EQ(rules_of(v), (std::vector<std::string>{"R02:zz-4ring-cn3"}));
  EXPECT_EQ(v[0].id, "R02|LZZJ5ACA5AF110265|zz-4ring-cn3|" + std::to_string(later));
  // A run a week earlier, evaluated after today's frames: its visit is its own.
  const auto week_before = night - 7 * 86400;
  EXPECT_EQ(rules_of(run(cn3_truck, {inside(week_before), inside(week_before + 10)})),
            (std::vector<std::string>{"R01", "R02:zz-4ring-cn3"}));
}

TEST_F(EngineTest, R02ByDayIncludesTheDaytimeTruckBan) {
  const auto day = beijing(2026, 3, 2, 10, 0);
  EXPECT_EQ(rules_of(run(cn6_truck, {at(day, zhengzhou[0], zhengzhou[1]),
                                     at(day + 10, zhengzhou[0], zhengzhou[1])})),
            (std::vector<std::string>{"R02:zz-4ring-trucks-day"}));
  // 国六 at night on the same route: nothing.
  const auto night = beijing(2026, 3, 2, 22, 30);
  EXPECT_TRUE(run(cn6_truck, {at(night, zhengzhou[0], zhengzhou[1]),
                              at(night + 10, zhengzhou[0], zhengzhou[1])})
                  .empty());
}

TEST_F(EngineTest, R02NotWithAValidPermitForThatZone) {
  std::istringstream csv(
      "vin,zone_id,valid_from,valid_to,permit_no\n"
      "LZZJ5ACA5AF110265,zz-4ring-cn3,2026-03-01,2026-03-01,ZZ-2026-0001\n");
  const auto permits = import_permits_csv(csv);
  ASSERT_EQ(permits.permits.size(), 1u);
  ASSERT_TRUE(registry_.add_permit(permits.permits[0].vin, permits.permits[0].permit));
  EXPECT_FALSE(registry_.add_permit("NOSUCHVIN00000000", permits.permits[0].permit));
  const auto night = beijing(2026, 3, 1, 23, 0);  // the permit's last day
  EXPECT_EQ(rules_of(run(cn3_truck, {at(night, zhengzhou[0], zhengzhou[1]),
                                     at(night + 10, zhengzhou[0], zhengzhou[1])})),
            (std::vector<std::string>{"R01"}));
  const auto next = beijing(2026, 3, 2, 0, 0, 30);  // expired at midnight
  EXPECT_EQ(rules_of(run(cn3_truck, {at(next, zhengzhou[0], zhengzhou[1]),
                                     at(next + 10, zhengzhou[0], zhengzhou[1])})),
            (std::vector<std::string>{"R01", "R02:zz-4ring-cn3"}));
}

TEST_F(EngineTest, R02NotInsideTheExemptCorridorNorWithinTheBuffer) {
  const auto night = beijing(2026, 3, 3, 23, 0);
  const auto v = run(
      cn3_truck, {at(night, corridor[0], corridor[1]), at(night + 10, corridor[0], corridor[1])});
  EXPECT_EQ(rules_of(v), (std::vector<std::string>{"R01"}));
  const double metre = 1.0 / (111320.0 * std::cos(34.76 * 3.14159265358979 / 180));
  EXPECT_TRUE(run(cn4_truck, {at(night, 113.53 + 20 * metre, 34.76),
                              at(night + 10, 113.53 + 20 * metre, 34.76)})
                  .empty());
  EXPECT_TRUE(run(cn3_truck, {at(night + 20, 113.53 + 20 * metre, 34.76),
                              at(night + 30, 113.53 + 20 * metre, 34.76)})
                  .empty());
}

TEST_F(EngineTest, R02InvalidFixesNeitherCountNorEndAVisit) {
  const auto night = beijing(2026, 3, 4, 23, 0);
  Sample lost = at(night + 5, zhengzhou[0], zhengzhou[1]);
  lost.lon.reset(), lost.lat.reset();
  EXPECT_EQ(rules_of(run(cn3_truck, {at(night, zhengzhou[0], zhengzhou[1]), lost})),
            (std::vector<std::string>{"R01"}));
  EXPECT_EQ(rules_of(run(cn3_truck, {at(night + 10, zhengzhou[0], zhengzhou[1])})),
            (std::vector<std::string>{"R02:zz-4ring-cn3"}));
}

TEST_F(EngineTest, R03BannedMachineWorkingInsideTheBanZone) {
  const auto t = beijing(2026, 4, 1, 9, 0);
  const auto v = run(nr2_excavator, {at(t, zhengzhou[0], zhengzhou[1], 0, 1200),
                                     at(t + 60, zhengzhou[0], zhengzhou[1], 0, 1250)});
  ASSERT_EQ(rules_of(v), (std::vector<std::string>{"R03:zz-nrmm-ban"}));
  EXPECT_EQ(v[0].thresholds.at("min_rpm"), 500.0);
  EXPECT_EQ(v[0].stage, "NR2");
}

TEST_F(EngineTest, R03NotOnATrailerNorForANewerMachine) {
  const auto t = beijing(2026, 4, 2, 9, 0);
  // Carried on a trailer: moving, engine off.
  EXPECT_TRUE(run(nr2_excavator, {at(t, zhengzhou[0], zhengzhou[1], 30, 0),
                                  at(t + 60, zhengzhou[0], zhengzhou[1], 30, 0)})
                  .empty());
  // Idling below 500 rpm is not working either.
  EXPECT_TRUE(run(nr2_excavator, {at(t + 120, zhengzhou[0], zhengzhou[1], 0, 499),
                                  at(t + 180, zhengzhou[0], zhengzhou[1], 0, 499)})
                  .empty());
  EXPECT_TRUE(run(nr4_excavator, {at(t, zhengzhou[0], zhengzhou[1], 0, 1200),
                                  at(t + 60, zhengzhou[0], zhengzhou[1], 0, 1200)})
                  .empty());
}

TEST_F(EngineTest, R04ClassIIILimitInsideTheBanZone) {
  const auto t = beijing(2026, 5, 1, 9, 0);
  std::vector<Sample> s{warm(t, zhengzhou[0], zhengzhou[1]),
                        smoke(t + 1, zhengzhou[0], zhengzhou[1], 0.62),
                        smoke(t + 2, zhengzhou[0], zhengzhou[1], 0.62)};
  EXPECT_TRUE(run(nr4_excavator, s).empty());  // two samples: below the streak
  const auto v = run(nr4_excavator, {smoke(t + 3, zhengzhou[0], zhengzhou[1], 0.63),
                                     smoke(t + 4, zhengzhou[0], zhengzhou[1], 0.64)});
  ASSERT_EQ(rules_of(v), (std::vector<std::string>{"R04"}));  // once per streak
  EXPECT_EQ(v[0].thresholds.at("k_limit_m1"), 0.5);
  EXPECT_EQ(v[0].evidence.size(), 3u);
  EXPECT_EQ(v[0].id, "R04|NRN3477B7N4FYW8B2|" + std::to_string(t + 1));
}

TEST_F(EngineTest, R04AtTheLimitColdOrOutsideTheZoneIsNotBlackSmoke) {
  const auto t = beijing(2026, 5, 2, 9, 0);
  EXPECT_TRUE(run(nr4_excavator, {warm(t, zhengzhou[0], zhengzhou[1]),
                                  smoke(t + 1, zhengzhou[0], zhengzhou[1], 0.50),
                                  smoke(t + 2, zhengzhou[0], zhengzhou[1], 0.50),
                                  smoke(t + 3, zhengzhou[0], zhengzhou[1], 0.50)})
                  .empty());
  EXPECT_TRUE(run(nr4_excavator, {warm(t + 10, zhengzhou[0], zhengzhou[1], 60),
                                  smoke(t + 11, zhengzhou[0], zhengzhou[1], 1.0),
                                  smoke(t + 12, zhengzhou[0], zhengzhou[1], 1.0),
                                  smoke(t + 13, zhengzhou[0], zhengzhou[1], 1.0)})
                  .empty());
  // Outside any ban zone an NR4 machine of 132 kW is held to Class II: 0.80.
  EXPECT_TRUE(run(nr4_excavator, {warm(t + 20, kaifeng[0], kaifeng[1]),
                                  smoke(t + 21, kaifeng[0], kaifeng[1], 0.79),
                                  smoke(t + 22, kaifeng[0], kaifeng[1], 0.79),
                                  smoke(t + 23, kaifeng[0], kaifeng[1], 0.79)})
                  .empty());
  const auto v = run(nr4_excavator, {smoke(t + 24, kaifeng[0], kaifeng[1], 0.81),
                                     smoke(t + 25, kaifeng[0], kaifeng[1], 0.81),
                                     smoke(t + 26, kaifeng[0], kaifeng[1], 0.81)});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].thresholds.at("k_limit_m1"), 0.8);
}

TEST_F(EngineTest, R06PositionInvalidWhileWorkingForTenMinutes) {
  const auto t = beijing(2026, 6, 1, 10, 0);
  auto lost = [&](std::int64_t when) {
    Sample s = at(when, 0, 0, 30, 1400);
    s.lon.reset(), s.lat.reset();
    s.position_invalid = true;
    return s;
  };
  EXPECT_TRUE(run(cn4_truck, {lost(t), lost(t + 300), lost(t + 599)}).empty());
  const auto v = run(cn4_truck, {lost(t + 600), lost(t + 900)});
  ASSERT_EQ(rules_of(v), (std::vector<std::string>{"R06"}));
  EXPECT_EQ(v[0].at_unix_s, t);
  EXPECT_EQ(v[0].severity, Severity::medium);
  // A valid fix ends the episode; engine off does too.
  EXPECT_TRUE(run(cn4_truck, {at(t + 1000, kaifeng[0], kaifeng[1]), lost(t + 1010), lost(t + 1500)})
                  .empty());
  Sample parked = lost(t + 1700);
  parked.engine_rpm = 0;
  EXPECT_TRUE(run(cn4_truck, {parked, lost(t + 1800), lost(t + 2300)}).empty());
}

TEST_F(EngineTest, R08MilOnInTwoConsecutiveObdBlocks) {
  const auto t = beijing(2026, 6, 2, 10, 0);
  auto obd = [&](std::int64_t when, int mil) {
    Sample s;
    s.at_unix_s = when;
    s.mil = mil;
    s.obd_vin = cn4_truck;
    return s;
  };
  EXPECT_TRUE(run(cn4_truck, {obd(t, 1), obd(t + 60, 0), obd(t + 120, 1)}).empty());
  const auto v = run(cn4_truck, {obd(t + 180, 1), obd(t + 240, 1)});
  ASSERT_EQ(rules_of(v), (std::vector<std::string>{"R08"}));
  EXPECT_EQ(v[0].at_unix_s, t + 120);
  EXPECT_EQ(v[0].severity, Severity::low);
}

TEST_F(EngineTest, R09ReagentEmptyWhileRunningForTenMinutes) {
  const auto t = beijing(2026, 6, 3, 10, 0);
  auto reagent = [&](std::int64_t when, double pct, double rpm = 1300) {
    Sample s = at(when, kaifeng[0], kaifeng[1], 40, rpm);
    s.reagent_pct = pct;
    return s;
  };
  EXPECT_TRUE(
      run(cn4_truck, {reagent(t, 2.8), reagent(t + 700, 2.8)}).empty());  // 2.8 % is only a warning
  EXPECT_TRUE(run(cn4_truck, {reagent(t + 800, 2.4), reagent(t + 1399, 2.4)}).empty());
  EXPECT_EQ(rules_of(run(cn4_truck, {reagent(t + 1400, 2.0)})), (std::vector<std::string>{"R09"}));
}

TEST_F(EngineTest, R10TamperSigns) {
  const auto t = beijing(2026, 6, 4, 10, 0);
  auto obd = [&](std::int64_t when, std::string vin, std::string cvn) {
    Sample s;
    s.at_unix_s = when;
    s.obd_vin = std::move(vin);
    s.cvn = std::move(cvn);
    s.calid = "CAL-1";
    return s;
  };
  EXPECT_TRUE(
      run(cn4_truck, {obd(t, cn4_truck, "AAAA0000"), obd(t + 60, cn4_truck, "AAAA0000")}).empty());
  EXPECT_EQ(rules_of(run(cn4_truck, {obd(t + 120, cn4_truck, "BBBB0000")})),
            (std::vector<std::string>{"R10"}));
  EXPECT_EQ(rules_of(run(cn4_truck, {obd(t + 180, "LZZJ5ACA5AF110265", "BBBB0000")})),
            (std::vector<std::string>{"R10"}));
  Sample alarm;
  alarm.at_unix_s = t + 240;
  alarm.removal_alarm = true;
  const auto v = run(cn4_truck, {alarm});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].id, "R10|LRDS3D9J9GG887446|removal_alarm|" + std::to_string(t + 240));
}

TEST_F(EngineTest, R07NoxMeanAndConversionInTheValidWindow) {
  const auto t = beijing(2026, 6, 6, 10, 0);
  auto hot = [&](std::int64_t when, double up, double down, double coolant = 85) {
    Sample s = at(when, kaifeng[0], kaifeng[1], 60, 1500);
    s.coolant_c = coolant;
    s.scr_inlet_c = 300;
    s.net_torque_pct = 40;
    s.nox_up_ppm = up;
    s.nox_down_ppm = down;
    return s;
  };
  auto minutes = [&](std::int64_t from, int n_minutes, double up, double down,
                     double coolant = 85) {
    std::vector<Sample> v;
    for (std::int64_t k = 0; k <= n_minutes * 6; ++k)
      v.push_back(hot(from + 10 * k, up, down, coolant));
    return v;
  };
  EXPECT_TRUE(run(cn4_truck, minutes(t, 6, 1200, 480)).empty());  // mean 480: below 500
  EXPECT_TRUE(run(cn4_truck, minutes(t + 3600, 6, 1200, 520, 60))
                  .empty());  // cold engine: not a valid window
  const auto mean = run(cn4_truck, minutes(t + 7200, 6, 1200, 520));
  ASSERT_EQ(rules_of(mean), (std::vector<std::string>{"R07"}));
  EXPECT_EQ(mean[0].id, "R07|LRDS3D9J9GG887446|nox_mean|2026-06-06");
  EXPECT_EQ(mean[0].measured.at("mean_ppm"), 520.0);
  EXPECT_GE(mean[0].at_unix_s, t + 7200 + 290);

  // Conversion 1 − 300/500 = 40 % for 30 minutes in a day (NOx mean low).
  const auto next = beijing(2026, 6, 7, 10, 0);
  EXPECT_TRUE(run(cn4_truck, minutes(next, 29, 500, 300)).empty());
  const auto conv = run(cn4_truck, minutes(next + 3600, 2, 500, 300));
  ASSERT_EQ(rules_of(conv), (std::vector<std::string>{"R07"}));
  EXPECT_EQ(conv[0].id, "R07|LRDS3D9J9GG887446|conversion|2026-06-07");
  EXPECT_TRUE(
      run(cn4_truck, minutes(beijing(2026, 6, 8, 10, 0), 40, 500, 200)).empty());  // 60 %: fine
}

TEST_F(EngineTest, R10DownstreamNoxConstantOrInvalidForThirtyMinutesRunning) {
  const auto t = beijing(2026, 6, 9, 10, 0);
  auto stream = [&](std::int64_t when, std::optional<double> nox, double rpm = 1500) {
    Sample s = at(when, kaifeng[0], kaifeng[1], 60, rpm);
    s.nox_channel = true;
    s.nox_down_ppm = nox;
    return s;
  };
  auto series = [&](std::int64_t from, std::int64_t to, std::optional<double> nox) {
    std::vector<Sample> v;
    for (auto when = from; when <= to; when += 10) v.push_back(stream(when, nox));
    return v;
  };
  EXPECT_TRUE(run(cn4_truck, series(t, t + 1790, 150)).empty());  // 29 min 50 s: below
  EXPECT_TRUE(run(cn4_truck, {stream(t + 1800, 151)}).empty());   // a change starts again
  const auto constant = run(cn4_truck, series(t + 1810, t + 3600, 151));
  ASSERT_EQ(rules_of(constant), (std::vector<std::string>{"R10"}));
  EXPECT_EQ(constant[0].id,
            std::string("R10|") + cn4_truck + "|nox_constant|" + std::to_string(t + 1800));
  EXPECT_EQ(constant[0].at_unix_s, t + 1800);
  EXPECT_EQ(constant[0].evidence_times, (std::vector<std::int64_t>{t + 1800, t + 3600}));
  EXPECT_EQ(constant[0].measured.at("nox_ppm"), 151.0);
  EXPECT_TRUE(run(cn4_truck, series(t + 3610, t + 5000, 151)).empty());  // once per episode
  EXPECT_TRUE(run(cn4_truck, {stream(t + 5010, 151, 0)}).empty());       // engine off ends it
  const auto invalid = run(cn4_truck, series(t + 5020, t + 5020 + 1800, std::nullopt));
  ASSERT_EQ(rules_of(invalid), (std::vector<std::string>{"R10"}));
  EXPECT_EQ(invalid[0].id,
            std::string("R10|") + cn4_truck + "|nox_invalid|" + std::to_string(t + 5020));
}

TEST_F(EngineTest, R11GapInsideATripThatNoTimelyResendFills) {
  const auto t = beijing(2026, 6, 10, 10, 0);
  const std::int64_t week = 7 * 86400;
  auto sample = [&](std::int64_t when, std::int64_t received) {
    Sample s = at(when, kaifeng[0], kaifeng[1]);
    s.received_unix_s = received;
    return s;
  };
  // 599 s apart: not a gap. 1,201 s apart: a gap, final once the timeline is a week past its end.
  EXPECT_TRUE(run(cn4_truck, {sample(t, t), sample(t + 599, t + 599)}).empty());
  EXPECT_TRUE(run(cn4_truck, {sample(t + 1800, t + 1800)}).empty());
  EXPECT_TRUE(run(cn4_truck, {sample(t + 1800 + week - 1, t + 1800 + week - 1)}).empty());
  const auto gap = run(cn4_truck, {sample(t + 1800 + week, t + 1800 + week)});
  ASSERT_EQ(rules_of(gap), (std::vector<std::string>{"R11"}));
  EXPECT_EQ(gap[0].id, std::string("R11|") + cn4_truck + "|gap|" + std::to_string(t + 599));
  EXPECT_EQ(gap[0].evidence_times, (std::vector<std::int64_t>{t + 599, t + 1800}));
  EXPECT_EQ(gap[0].measured.at("gap_length_s"), 1201.0);
  EXPECT_EQ(gap[0].severity, Severity::low);

  // Filled by a resend received within the week (in collection-time order, as the server folds
  // the archive): no gap. Filled only by a resend received later: the gap stands.
  const auto u = beijing(2026, 7, 1, 10, 0);
  EXPECT_TRUE(run(cn6_truck, {sample(u, u), sample(u + 500, u + 1300), sample(u + 1000, u + 1000),
                              sample(u + 1000 + week, u + 1000 + week)})
                  .empty());
  const auto v = beijing(2026, 8, 1, 10, 0);
  states_.erase(cn6_truck);  // a new history, not a month-long gap after the first
  const auto late =
      run(cn6_truck, {sample(v, v), sample(v + 500, v + 500 + week + 1), sample(v + 1000, v + 1000),
                      sample(v + 1000 + week, v + 1000 + week)});
  ASSERT_EQ(rules_of(late), (std::vector<std::string>{"R11"}));
  EXPECT_EQ(late[0].id, std::string("R11|") + cn6_truck + "|gap|" + std::to_string(v));
}

TEST(EngineR12, AnUnregisteredVinFailingItsCheckDigitOncePerDay) {
  Engine engine;
  const ZoneIndex none({}, 0);
  VehicleState state;
  Sample s;
  s.at_unix_s = beijing(2026, 6, 11, 10, 0);
  s.ref = {"k", 0};
  EXPECT_TRUE(engine.step_unregistered(state, "LZZJ5ACA5AF110265", s, none).empty());  // valid
  const auto v = engine.step_unregistered(state, "LZZJ5ACA6AF110265", s, none);  // check digit 6 ≠ 5
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].id, "R12|LZZJ5ACA6AF110265|vin_check|2026-06-11");
  s.at_unix_s += 60;
  EXPECT_TRUE(engine.step_unregistered(state, "LZZJ5ACA6AF110265", s, none).empty());  // same day
  s.at_unix_s += 86400;
  EXPECT_EQ(engine.step_unregistered(state, "LZZJ5ACA6AF110265", s, none).size(), 1u);  // next day
  VehicleState machine_state;
  s.nonroad = true;  // a machine code has no check digit, but must still be well formed
  EXPECT_TRUE(engine.step_unregistered(machine_state, "NR6J4CF3WFHPRDY25", s, none).empty());
  EXPECT_EQ(engine.step_unregistered(machine_state, "NR6J4CF3WFHPRDYO5", s, none).size(), 1u);  // 'O'
}

TEST(EngineR11, OfflineAfterSeventyTwoHoursWithoutAFrame) {
  Engine engine;
  VehicleRecord truck;
  truck.vin = "LRDS3D9J9GG887446";
  truck.category = "N3";
  EXPECT_FALSE(engine.offline_violation(truck, 1000, {"k", -1}, 1000 + 72 * 3600 - 1));
  const auto v = engine.offline_violation(truck, 1000, {"k", -1}, 1000 + 72 * 3600);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->id, "R11|LRDS3D9J9GG887446|offline|1000");
  EXPECT_EQ(v->at_unix_s, 1000);
  EXPECT_EQ(v->evidence.at(0).frame_key, "k");
}

// A checkpoint must carry everything the engine decides from: evaluating a varied stream with the
// state written out and read back before every sample raises exactly what evaluating it straight
// through raises.
TEST_F(EngineTest, AStateRestoredFromItsCheckpointDecidesAsTheOriginal) {
  std::mt19937 random(7);
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  for (const char* vin : {cn3_truck, nr2_excavator, nr4_excavator}) {
    std::vector<Sample> stream;
    auto t = beijing(2026, 5, 1, 6, 0);
    for (int i = 0; i < 3000; ++i) {
      t += pick(8) == 0 ? 700 : 10;  // now and then a gap
      const double* where = pick(3) == 0 ? kaifeng : zhengzhou;
      Sample s = at(t, where[0], where[1], pick(2) * 40.0, pick(4) == 0 ? 0.0 : 1500.0);
      if (pick(5) == 0) s.lon.reset(), s.lat.reset(), s.position_invalid = true;
      s.coolant_c = pick(3) == 0 ? 60.0 : 85.0;
      s.scr_inlet_c = 300;
      s.net_torque_pct = 40;
      s.nox_channel = true;
      s.nox_up_ppm = 900;
      s.nox_down_ppm = pick(3) == 0 ? std::optional<double>() : 200.0 + 200 * pick(3);
      s.reagent_pct = pick(2) == 0 ? 1.0 : 50.0;
      if (pick(4) == 0) s.smoke_k_m1 = 0.3 * pick(8);
      if (pick(6) == 0) s.mil = pick(2);
      if (pick(9) == 0) s.cvn = pick(2) == 0 ? "CVN-A" : "CVN-B";
      s.received_unix_s = t + (pick(10) == 0 ? 9 * 86400 : 1);
      s.ref = {"f" + std::to_string(i), pick(3)};
      stream.push_back(std::move(s));
    }
    VehicleState straight, restored;
    std::vector<std::string> expected, actual;
    const auto* vehicle = registry_.find(vin);
    for (const auto& s : stream) {
      for (const auto& v : engine_.step(straight, vehicle, s, zones_)) expected.push_back(v.id);
      auto copy = vehicle_state_from_json(to_json_text(restored));
      ASSERT_TRUE(copy);
      restored = std::move(*copy);
      for (const auto& v : engine_.step(restored, vehicle, s, zones_)) actual.push_back(v.id);
    }
    EXPECT_EQ(actual, expected) << vin;
    EXPECT_GT(std::set<std::string>(expected.begin(), expected.end()).size(), 10u) << vin;
    EXPECT_EQ(to_json_text(restored), to_json_text(straight));
  }
  EXPECT_FALSE(vehicle_state_from_json("not json"));
  EXPECT_FALSE(vehicle_state_from_json(R"({"r01_last_day":1})"));  // an incomplete checkpoint
}

TEST(EngineR12, FutureCollectionTimeAndImpossibleSpeed) {
  Engine engine;
  const ZoneIndex none({}, 0);
  VehicleRecord truck;
  truck.vin = "LRDS3D9J9GG887446";
  truck.category = "N3";
  truck.stage = Stage::CN4;
  VehicleState state;
  const auto t = beijing(2026, 6, 5, 10, 0);
  Sample s;
  s.at_unix_s = t;
  s.received_unix_s = t - 600;  // exactly 10 minutes ahead: tolerated
  s.lon = 113.68, s.lat = 34.76;
  EXPECT_TRUE(engine.step(state, &truck, s, none).empty());
  s.at_unix_s = t + 60;  // 1 km in a minute: 60 km/h
  s.lon = 113.68 + 1000 / (111320.0 * std::cos(34.76 * 3.14159265358979 / 180));
  s.received_unix_s = t + 60;
  EXPECT_TRUE(engine.step(state, &truck, s, none).empty());
  s.at_unix_s = t + 70;  // 10 km in 10 s
  s.lon = *s.lon + 0.11;
  s.received_unix_s = t - 600;  // and 670 s ahead of its arrival
  const auto v = engine.step(state, &truck, s, none);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].id, "R12|LRDS3D9J9GG887446|future_time|" + std::to_string(t + 70));
  EXPECT_EQ(v[1].id, "R12|LRDS3D9J9GG887446|implied_speed|" + std::to_string(t + 70));
  EXPECT_GT(v[1].measured.at("implied_speed_kmh"), 3000);
}

TEST(SmokeLimits, Gb36886Table) {
  EXPECT_EQ(Engine::machine_k_limit("I", 18), 3.00);
  EXPECT_EQ(Engine::machine_k_limit("I", 19), 2.00);
  EXPECT_EQ(Engine::machine_k_limit("I", 37), 1.61);
  EXPECT_EQ(Engine::machine_k_limit("II", 30), 1.00);
  EXPECT_EQ(Engine::machine_k_limit("II", 200), 0.80);
  EXPECT_EQ(Engine::machine_k_limit("III", 37), 0.50);
  EXPECT_EQ(Engine::machine_k_limit("III", 20), 1.00);  // Class III is defined for P ≥ 37 kW only
  // Unknown power: the class's most lenient limit, never a stricter one than the machine's own.
  EXPECT_EQ(Engine::machine_k_limit("I", std::nullopt), 3.00);
  EXPECT_EQ(Engine::machine_k_limit("II", std::nullopt), 2.00);
  EXPECT_EQ(Engine::machine_k_limit("III", std::nullopt), 2.00);
}

TEST(Samples, FromDecodedFrames) {
  const auto& c02 = protocol::testing::corpus_frame("c02-hj1239-10-samples-signed-tildes");
  auto samples = samples_of(*protocol::decode_frame(c02.bytes, c02.options), "k");
  ASSERT_EQ(samples.size(), 10u);
  EXPECT_EQ(samples[0].at_unix_s, beijing(2026, 7, 1, 8, 0, 0));
  EXPECT_EQ(samples[9].at_unix_s, beijing(2026, 7, 1, 8, 0, 9));
  EXPECT_NEAR(samples[0].lon.value(), 113.6253, 1e-9);
  EXPECT_EQ(samples[0].engine_rpm, 1400.0);
  EXPECT_EQ(samples[0].coolant_c, 84.0);
  EXPECT_EQ(samples[3].ref.block, 3);
  const auto& smoke_frame = protocol::testing::corpus_frame("c12-nonroad-smoke");
  samples = samples_of(*protocol::decode_frame(smoke_frame.bytes, smoke_frame.options), "k");
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].smoke_k_m1, 1.62);
  EXPECT_NEAR(samples[0].lat.value(), 34.8012, 1e-9);  // the non-road header's position
  EXPECT_FALSE(samples[0].engine_rpm.has_value());
}

}  // namespace
}  // namespace lantian::rules
