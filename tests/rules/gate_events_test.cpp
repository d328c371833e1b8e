// Gate records (门禁): parsing, and the rules on them — R01 with the enterprise named, R14 against
// the alert policy, R16 for a declared stage the registry contradicts, R15 for a silent gate
// system — including what must not be raised.

#include "rules/gate_events.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "protocol/beijing_time.hpp"
#include "rules/gate_statistics.hpp"

namespace lantian::rules {
namespace {
namespace json = boost::json;

std::int64_t beijing(int y, int mo, int d, int h, int mi) {
  return protocol::BeijingTime::from_fields(y, mo, d, h, mi, 0).to_unix_seconds().value();
}

GateEvent parsed(const std::string& line) {
  std::vector<std::string> reasons;
  auto e = gate_event_from_json(json::parse(line).as_object(), reasons);
  EXPECT_TRUE(reasons.empty()) << reasons.front();
  return e.value();
}

TEST(GateEvents, AFullRecordIsReadWithEveryField) {
  const auto e = parsed(
      R"({"id":"AY-0001","enterprise":"91410500MA44XQ1T2B","gate":"east","time":"2026-03-01T08:15:00+08:00",)"
      R"("direction":"in","plate":"豫E 12345","plate_color":"黄","vin":"LZZ1CLVB0JA123456",)"
      R"("declared_stage":"国三","declared_fuel":"diesel","cargo":"铁矿石","bulk":true,"weight_t":31.5,)"
      R"("image_ref":"gate/east/20260301/0815-1.jpg"})");
  EXPECT_EQ(e.id, "AY-0001");
  EXPECT_EQ(e.enterprise_id, "91410500MA44XQ1T2B");
  EXPECT_EQ(e.gate, "east");
  EXPECT_EQ(e.at_unix_s, beijing(2026, 3, 1, 8, 15));
  EXPECT_TRUE(e.entering);
  EXPECT_EQ(e.plate, "豫E12345");
  EXPECT_EQ(e.plate_color, "yellow");
  EXPECT_EQ(e.vin, "LZZ1CLVB0JA123456");
  EXPECT_EQ(e.declared_stage, Stage::CN3);
  EXPECT_EQ(e.declared_fuel, "diesel");
  EXPECT_EQ(e.cargo, "铁矿石");
  EXPECT_TRUE(e.bulk);
  EXPECT_EQ(e.weight_t, 31.5);
  EXPECT_EQ(e.image_ref, "gate/east/20260301/0815-1.jpg");
  // The stored form reads back the same, with and without the optional fields.
  const auto again = gate_event_from_json_text(json::serialize(to_json(e))).value();
  EXPECT_EQ(json::serialize(to_json(again)), json::serialize(to_json(e)));
  GateEvent bare;
  bare.id = "AY-0002";
  bare.enterprise_id = e.enterprise_id;
  bare.gate = "west";
  bare.at_unix_s = beijing(2026, 3, 1, 9, 0);
  bare.plate = "豫E12345";
  bare.unmatched_reason = "no registered vehicle has plate 豫E12345";
  const auto stored = json::serialize(to_json(bare));
  EXPECT_EQ(stored,
            R"({"id":"AY-0002","enterprise":"91410500MA44XQ1T2B","gate":"west",)"
            R"("time":"2026-03-01T09:00:00+08:00","direction":"in","plate":"豫E12345",)"
            R"("plate_color":"","vin":"","declared_stage":null,"declared_fuel":"","cargo":"",)"
            R"("bulk":false,"weight_t":null,"image_ref":"",)"
            R"("unmatched":"no registered vehicle has plate 豫E12345"})");
  ASSERT_TRUE(gate_event_from_json_text(stored));
  EXPECT_EQ(json::serialize(to_json(*gate_event_from_json_text(stored))), stored);
}

TEST(GateEvents, EveryProblemOfALineIsReportedWithItsNumber) {
  std::istringstream in(
      R"({"id":"1","enterprise":"E1","gate":"g","time":1767225600,"direction":"in","plate":"豫A1"})"
      "\n\n"
      R"({"id":"2","enterprise":"E1","gate":"g","time":"2026-03-01T08:00:00Z","direction":"sideways",)"
      R"("plate":"豫A2","declared_stage":"NR3","declared_fuel":"coal","weight_t":900,"colour":"x"})"
      "\n"
      R"({"enterprise":"E1","gate":"g","time":1767225600,"direction":"out"})"
      "\n"
      "[1,2]\n");
  const auto imported = import_gate_events_jsonl(in);
  ASSERT_EQ(imported.events.size(), 1u);
  EXPECT_FALSE(imported.events[0].entering == false);
  ASSERT_EQ(imported.rejected.size(), 3u);
  EXPECT_EQ(imported.rejected[0].line, 3u);
  EXPECT_EQ(imported.rejected[0].reason,
            "unknown field 'colour'; time must be ISO 8601 in Beijing time (+08:00) or Unix "
            "seconds; direction must be in or out; declared_stage 'NR3' is not a vehicle stage "
            "(CN3, 国五, CN6b, …); declared_fuel must be diesel, gas, petrol, electric, hydrogen "
            "or hybrid; weight_t must be a number of tonnes, 0–200");
  EXPECT_EQ(imported.rejected[1].line, 4u);
  EXPECT_EQ(imported.rejected[1].reason, "no id; no plate");
  EXPECT_EQ(imported.rejected[2].line, 5u);
  EXPECT_EQ(imported.rejected[2].reason, "not a JSON object");

  // Times out of range, or after the caller's "latest" (a gate dating records in the future would
  // hide its silence from R15).
  std::istringstream times(
      R"({"id":"3","enterprise":"E1","gate":"g","time":9223372036854775807,"direction":"in","plate":"豫A3"})"
      "\n"
      R"({"id":"4","enterprise":"E1","gate":"g","time":"2255-12-31T00:00:00+08:00","direction":"in","plate":"豫A4"})"
      "\n"
      R"({"id":"5","enterprise":"E1","gate":"g","time":1767225600,"direction":"in","plate":"豫A5"})"
      "\n");
  const auto bounded = import_gate_events_jsonl(times, 1767225600 + 3600, 0, 10);
  ASSERT_EQ(bounded.events.size(), 1u);
  EXPECT_EQ(bounded.events[0].id, "5");
  ASSERT_EQ(bounded.rejected.size(), 2u);
  EXPECT_EQ(bounded.rejected[0].line, 10u);  // numbered from the slice's first line
  EXPECT_EQ(bounded.rejected[0].reason,
            "time must be ISO 8601 in Beijing time (+08:00) or Unix seconds");
  EXPECT_EQ(bounded.rejected[1].line, 11u);
  EXPECT_EQ(bounded.rejected[1].reason, "time is in the future");
}

class GateRulesTest : public ::testing::Test {
 protected:
  GateRulesTest() : zones_({}, 0) {
    steel_.id = "91410500MA44XQ1T2B";
    steel_.name = "安阳钢铁";
    steel_.city = "安阳";
    steel_.industry = "钢铁";
    steel_.grade = "B";
    steel_.bulk = true;
    steel_.gates = {{"east", 114.35, 36.10}};
    cement_ = steel_;
    cement_.id = "91410500CEMENT0001";
    cement_.name = "安阳水泥";
    cement_.grade = "C";
    old_truck_ = truck("LZZ1CLVB0JA123456", "豫E12345", Stage::CN3);
    cn4_truck_ = truck("LZZ1CLVB0JA654321", "豫E54321", Stage::CN4);
    cn6_truck_ = truck("LZZ1CLVB0JA111111", "豫E11111", Stage::CN6b);
  }
  static VehicleRecord truck(const std::string& vin, const std::string& plate, Stage stage) {
    VehicleRecord v;
    v.vin = vin;
    v.plate = plate;
    v.plate_color = "yellow";
    v.category = "N3";
    v.fuel = "diesel";
    v.stage = stage;
    return v;
  }
  GateEvent record(const std::string& id, std::int64_t at, const std::string& plate,
                   const Enterprise& at_enterprise, bool in = true) const {
    GateEvent e;
    e.id = id;
    e.enterprise_id = at_enterprise.id;
    e.gate = "east";
    e.at_unix_s = at;
    e.entering = in;
    e.plate = plate;
    e.plate_color = "yellow";
    e.image_ref = "img/" + id + ".jpg";
    return e;
  }
  std::vector<Violation> judge(const GateEvent& e, const VehicleRecord* vehicle,
                               const Enterprise& at) {
    const GateJudgement with{vehicle, &at, &alerts_, &policy_, &zones_};
    return evaluate_gate_event(engine_, states_[gate_vehicle_key(e, vehicle)], e, with);
  }
  void declare(const std::string& city, AlertLevel level, std::int64_t from, std::int64_t to) {
    PollutionAlert a;
    a.city = city;
    a.level = level;
    a.from_unix_s = from;
    a.to_unix_s = to;
    a.id = alert_id(a);
    auto all = alerts_.alerts();
    all.push_back(a);
    alerts_ = AlertCalendar(std::move(all));
  }

  Engine engine_{EngineConfig{}};
  ZoneIndex zones_;
  AlertCalendar alerts_;
  AlertPolicy policy_;
  Enterprise steel_, cement_;
  VehicleRecord old_truck_, cn4_truck_, cn6_truck_;
  std::map<std::string, GateVehicleState> states_;
};

TEST_F(GateRulesTest, A国三TruckThroughAGateAfterThePhaseOutIsR01NamingTheEnterprise) {
  const auto at = beijing(2026, 3, 1, 8, 15);
  const auto v = judge(record("AY-1", at, "豫E12345", steel_), &old_truck_, steel_);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].id, "R01|LZZ1CLVB0JA123456|2026-03-01");
  EXPECT_EQ(v[0].enterprise_id, "91410500MA44XQ1T2B");
  EXPECT_EQ(v[0].details.at("enterprise"), "安阳钢铁");
  EXPECT_EQ(v[0].details.at("gate"), "east");
  ASSERT_EQ(v[0].evidence.size(), 1u);
  EXPECT_EQ(v[0].evidence[0].frame_key, "gate:91410500MA44XQ1T2B/AY-1");
  EXPECT_EQ(v[0].lon, 114.35);
  EXPECT_EQ(v[0].lat, 36.10);
  EXPECT_FALSE(v[0].suspect);
  EXPECT_EQ(v[0].city, "安阳");  // filed at the enterprise, whatever plate it carries
  EXPECT_EQ(v[0].details.at("image_ref"), "img/AY-1.jpg");
  // A gate of unknown position gives the violation no position (not 0, 0).
  auto nowhere = steel_;
  nowhere.gates.clear();
  const auto unplaced = judge(record("AY-9", beijing(2026, 3, 2, 8, 0), "豫E12345", nowhere),
                              &old_truck_, nowhere);
  ASSERT_EQ(unplaced.size(), 1u);
  EXPECT_FALSE(unplaced[0].lon.has_value());
  EXPECT_FALSE(unplaced[0].lat.has_value());
  // Before the phase-out, nothing.
  EXPECT_TRUE(judge(record("AY-0", beijing(2025, 12, 31, 23, 0), "豫E12345", steel_), &old_truck_,
                    steel_)
                  .empty());
}

TEST_F(GateRulesTest, AnUnregisteredTruckIsJudgedOnItsPapersAndSuspect) {
  auto e = record("AY-2", beijing(2026, 3, 1, 9, 0), "豫E77777", steel_);
  e.declared_stage = Stage::CN3;
  e.declared_fuel = "diesel";
  const auto v = judge(e, nullptr, steel_);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].id, "R01|豫E77777/yellow|2026-03-01");
  EXPECT_EQ(v[0].vin, "");
  EXPECT_EQ(v[0].plate, "豫E77777");
  EXPECT_EQ(v[0].city, "安阳");
  EXPECT_EQ(v[0].stage, "CN3");
  EXPECT_EQ(v[0].stage_source, "declared");
  EXPECT_TRUE(v[0].suspect);
  EXPECT_EQ(v[0].details.at("image_ref"), "img/AY-2.jpg");
  // Out again the same day: the same violation, with the first and the last record.
  auto out = record("AY-3", beijing(2026, 3, 1, 11, 0), "豫E77777", steel_, false);
  out.declared_stage = Stage::CN3;
  out.declared_fuel = "diesel";
  const auto again = judge(out, nullptr, steel_);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, v[0].id);
  ASSERT_EQ(again[0].evidence.size(), 2u);
  EXPECT_EQ(again[0].evidence[0].frame_key, "gate:91410500MA44XQ1T2B/AY-2");
  EXPECT_EQ(again[0].evidence[1].frame_key, "gate:91410500MA44XQ1T2B/AY-3");
  EXPECT_EQ(again[0].at_unix_s, beijing(2026, 3, 1, 9, 0));
  // A VIN the gate read that is not registered (a misread?) is kept aside: the truck goes by plate.
  auto read = record("AY-8", beijing(2026, 3, 1, 12, 0), "豫E77777", steel_);
  read.vin = "LZZ1CLVB0JA999999";
  read.declared_stage = Stage::CN3;
  read.declared_fuel = "diesel";
  const auto by_plate = judge(read, nullptr, steel_);
  ASSERT_EQ(by_plate.size(), 1u);
  EXPECT_EQ(by_plate[0].id, v[0].id);
  EXPECT_EQ(by_plate[0].vin, "");
  EXPECT_EQ(by_plate[0].details.at("vin_read"), "LZZ1CLVB0JA999999");
  // A gas truck of the same stage is not a diesel truck; nor is one whose papers say nothing.
  auto gas = record("AY-4", beijing(2026, 3, 1, 9, 0), "豫E88888", steel_);
  gas.declared_stage = Stage::CN3;
  gas.declared_fuel = "gas";
  EXPECT_TRUE(judge(gas, nullptr, steel_).empty());
  EXPECT_TRUE(judge(record("AY-5", beijing(2026, 3, 1, 9, 0), "豫E99999", steel_), nullptr, steel_)
                  .empty());
}

TEST_F(GateRulesTest, ADeclaredStageTheRegistryContradictsIsR16ForReview) {
  auto e = record("AY-6", beijing(2026, 3, 2, 10, 0), "豫E54321", steel_);
  e.declared_stage = Stage::CN6a;
  const auto v = judge(e, &cn4_truck_, steel_);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].id, "R16|LZZ1CLVB0JA654321|gate:91410500MA44XQ1T2B/AY-6");
  EXPECT_EQ(v[0].severity, Severity::medium);
  EXPECT_EQ(v[0].details.at("declared_stage"), "CN6a");
  EXPECT_EQ(v[0].details.at("registry_stage"), "CN4");
  // Papers that agree raise nothing.
  e.id = "AY-7";
  e.declared_stage = Stage::CN4;
  EXPECT_TRUE(judge(e, &cn4_truck_, steel_).empty());
}

TEST_F(GateRulesTest, DuringAnAlertEachGradeLetsThroughOnlyTheStagesThePolicyAllows) {
  const auto from = beijing(2026, 12, 10, 0, 0), to = beijing(2026, 12, 13, 0, 0);
  declare("安阳", AlertLevel::yellow, from, to);
  const auto at = beijing(2026, 12, 11, 7, 30);
  // Yellow: a B enterprise is not restricted; a C one is, from 国五.
  EXPECT_TRUE(judge(record("B-1", at, "豫E54321", steel_), &cn4_truck_, steel_).empty());
  const auto c = judge(record("C-1", at, "豫E54321", cement_), &cn4_truck_, cement_);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].id, "R14|LZZ1CLVB0JA654321|91410500CEMENT0001|2026-12-11");
  EXPECT_EQ(c[0].rule, "R14");
  EXPECT_EQ(c[0].enterprise_id, "91410500CEMENT0001");
  EXPECT_EQ(c[0].city, "安阳");
  EXPECT_EQ(c[0].details.at("alert_id"), "4105-202612100000-yellow");
  EXPECT_EQ(c[0].details.at("alert_level"), "yellow");
  EXPECT_EQ(c[0].details.at("grade"), "C");
  EXPECT_EQ(c[0].details.at("oldest_allowed"), "CN5");
  EXPECT_EQ(c[0].details.at("image_ref"), "img/C-1.jpg");
  EXPECT_EQ(c[0].stage, "CN4");
  // Orange over it: now the B enterprise is restricted too.
  declare("安阳", AlertLevel::orange, beijing(2026, 12, 11, 0, 0), to);
  const auto b = judge(record("B-2", at, "豫E54321", steel_), &cn4_truck_, steel_);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].details.at("alert_level"), "orange");
  // Must not raise: a 国六 truck, a new-energy one, another city's alert, after the alert.
  EXPECT_TRUE(judge(record("B-3", at, "豫E11111", steel_), &cn6_truck_, steel_).empty());
  auto electric = cn4_truck_;
  electric.vin = "LZZ1CLVB0JA222222";
  electric.fuel = "electric";
  EXPECT_TRUE(judge(record("B-4", at, "豫E22222", steel_), &electric, steel_).empty());
  auto zhengzhou = steel_;
  zhengzhou.city = "郑州";
  EXPECT_TRUE(judge(record("B-5", at, "豫E54321", zhengzhou), &cn4_truck_, zhengzhou).empty());
  EXPECT_TRUE(judge(record("B-6", to, "豫E54321", steel_), &cn4_truck_, steel_).empty());
  // A light truck is not a heavy one.
  auto light = cn4_truck_;
  light.vin = "LZZ1CLVB0JA333333";
  light.category = "N1";
  EXPECT_TRUE(judge(record("B-7", at, "豫E33333", steel_), &light, steel_).empty());
}

TEST_F(GateRulesTest, ThePolicyTableIsEditableEntryByEntry) {
  EXPECT_EQ(policy_.oldest_allowed("B", AlertLevel::yellow), std::nullopt);
  EXPECT_EQ(policy_.oldest_allowed("B", AlertLevel::orange), Stage::CN5);
  EXPECT_EQ(policy_.set("B:yellow=CN6a"), "");
  EXPECT_EQ(policy_.oldest_allowed("B", AlertLevel::yellow), Stage::CN6a);
  EXPECT_EQ(policy_.set("C:red=none"), "");
  EXPECT_EQ(policy_.oldest_allowed("C", AlertLevel::red), std::nullopt);
  EXPECT_EQ(policy_.set("E:red=CN5"), "unknown grade 'E' (A, B, C, D, 引领性, 非绩效)");
  EXPECT_EQ(policy_.set("B=CN5"), "an alert policy entry is GRADE:LEVEL=STAGE (B:yellow=CN5), not 'B=CN5'");
  EXPECT_EQ(policy_.set("B:purple=CN5"), "the level in 'B:purple=CN5' must be yellow, orange or red");
  EXPECT_EQ(policy_.set("B:red=NR4"),
            "the stage in 'B:red=NR4' must be a vehicle stage (CN4, CN5, CN6a, …) or none");
  EXPECT_EQ(json::serialize(policy_.to_json().at("B")),
            R"({"yellow":"CN6a","orange":"CN5","red":"CN5"})");
}

TEST_F(GateRulesTest, AnAlertLiftedEarlyIsNoLongerInForce) {
  PollutionAlert a;
  a.city = "安阳";
  a.level = AlertLevel::red;
  a.from_unix_s = beijing(2026, 12, 10, 0, 0);
  a.to_unix_s = beijing(2026, 12, 14, 0, 0);
  a.ended_unix_s = beijing(2026, 12, 11, 12, 0);
  const AlertCalendar calendar({a});
  EXPECT_NE(calendar.in_force("安阳", beijing(2026, 12, 11, 11, 59)), nullptr);
  EXPECT_EQ(calendar.in_force("安阳", beijing(2026, 12, 11, 12, 0)), nullptr);
  EXPECT_EQ(calendar.in_force("安阳", beijing(2026, 12, 9, 23, 59)), nullptr);
}

TEST_F(GateRulesTest, AGateSystemSilentForAWholeDayIsR15WhenItWasActive) {
  std::map<std::string, GateActivity> activity;
  activity[steel_.id] = {beijing(2026, 3, 5, 18, 0), 5};
  activity[cement_.id] = {beijing(2026, 3, 5, 18, 0), 2};  // too seldom to expect every day
  // The day after: not yet a whole day.
  EXPECT_TRUE(gate_silence({steel_, cement_}, activity, beijing(2026, 3, 6, 23, 59)).empty());
  const auto v = gate_silence({steel_, cement_}, activity, beijing(2026, 3, 7, 0, 10));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].id, "R15|91410500MA44XQ1T2B|2026-03-05");
  EXPECT_EQ(v[0].rule, "R15");
  EXPECT_EQ(v[0].severity, Severity::low);
  EXPECT_EQ(v[0].vin, "");
  EXPECT_EQ(v[0].city, "安阳");
  EXPECT_EQ(v[0].measured.at("active_days"), 5);
  EXPECT_EQ(v[0].at_unix_s, beijing(2026, 3, 5, 18, 0));
}

}  // namespace
}  // namespace lantian::rules

namespace lantian::rules {
namespace {

TEST(GateStatistics, AMonthIsItsBeijingCalendarMonth) {
  const auto december = beijing_month("2026-12").value();
  EXPECT_EQ(december.first, protocol::BeijingTime::from_fields(2026, 12, 1, 0, 0, 0).to_unix_seconds());
  EXPECT_EQ(december.second, protocol::BeijingTime::from_fields(2027, 1, 1, 0, 0, 0).to_unix_seconds());
  EXPECT_EQ(beijing_month("2026-13"), std::nullopt);
  EXPECT_EQ(beijing_month("2026-1"), std::nullopt);
  EXPECT_EQ(beijing_month("26-12-1"), std::nullopt);
}

TEST(GateStatistics, CleanTransportIs国六OrNewEnergy) {
  GateTruck truck;
  truck.stage = Stage::CN6b;
  truck.fuel = "diesel";
  EXPECT_TRUE(is_clean_transport(truck));
  EXPECT_EQ(stage_class(truck), "CN6b");
  truck.stage = Stage::CN5;
  EXPECT_FALSE(is_clean_transport(truck));
  truck.fuel = "electric";
  EXPECT_TRUE(is_clean_transport(truck));
  EXPECT_EQ(stage_class(truck), "new_energy");
  truck.fuel = "gas";
  truck.stage.reset();
  EXPECT_FALSE(is_clean_transport(truck));
  EXPECT_EQ(stage_class(truck), "unknown");
}

}  // namespace
}  // namespace lantian::rules
