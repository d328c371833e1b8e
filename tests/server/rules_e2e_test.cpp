// The rules end to end: the sample registry and zones imported with the commands, frames driven
// through a real TLS server, violations found in the archive, and a replay that reproduces them.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "protocol/encode.hpp"
#include "rule_frames.hpp"
#include "server/rules_commands.hpp"
#include "server_fixture.hpp"

namespace lantian::server {
namespace {
using namespace testing;
using namespace testing::frames;
using namespace protocol;

TEST(RulesEndToEnd, SampleFleetThroughATlsServer) {
  TempDir dir;
  std::ostringstream err;
  const std::string data = dir.path().string();
  ASSERT_EQ(import_samples(dir.path()),
            "imported 16 vehicles and machines, rejected 0 rows\nstored 6 zones as version 1\n");
  // City and county outlines: violations are filed where they happen. A version with one bad
  // feature is refused whole.
  {
    const std::string areas = std::string(LANTIAN_SAMPLES_DIR) + "/areas-henan-sample.geojson";
    const auto bad = (dir.path() / "bad-areas.geojson").string();
    std::ofstream(bad) << R"({"type":"FeatureCollection","features":[{"type":"Feature",)"
                          R"("properties":{"adcode":"41","name":"河南","level":"province"},)"
                          R"("geometry":{"type":"Polygon","coordinates":[]}}]})";
    std::ostringstream out, bad_err;
    EXPECT_EQ(run_import_areas(command({"lantiand", "import-areas", "--data-dir", data.c_str(),
                                        bad.c_str()}),
                               out, bad_err),
              1);
    EXPECT_EQ(bad_err.str(), bad +
                                 ": feature 1 (41): adcode must be six digits (GB/T 2260)\n"
                                 "lantiand import-areas: nothing imported (a version is all or "
                                 "nothing)\n");
    EXPECT_EQ(run_import_areas(command({"lantiand", "import-areas", "--data-dir", data.c_str(),
                                        areas.c_str()}),
                               out, err),
              0)
        << err.str();
    EXPECT_EQ(out.str(), "stored 5 city and 1 county outlines as area version 1\n");
  }

  const double zz[] = {113.68, 34.76};  // central Zhengzhou: truck zones and the machinery ban zone
  {
    RunningServer server(test_config(
        dir.path(), {"tls://127.0.0.1:0?profile=auto", "tls://127.0.0.1:0?profile=nonroad"}));
    // A 国三 truck (gb17691) at 23:00, after the phase-out: R01 and R02.
    TestTerminal cn3(server.port(0), true);
    cn3.send(cat({login("LZZJ5ACA5AF110265", bj(2026, 3, 1, 22, 59, 0)),
                  truck_sample("LZZJ5ACA5AF110265", Profile::gb17691, bj(2026, 3, 1, 23, 0, 0),
                               zz[0], zz[1]),
                  truck_sample("LZZJ5ACA5AF110265", Profile::gb17691, bj(2026, 3, 1, 23, 0, 10),
                               zz[0], zz[1])}));
    // A 国六 truck (hj1239) on the same route at night: nothing.
    TestTerminal cn6(server.port(0), true);
    cn6.send(cat(
        {login("LGAD6SJA1RG736370", bj(2026, 3, 1, 22, 59, 0)),
         truck_sample("LGAD6SJA1RG736370", Profile::hj1239, bj(2026, 3, 1, 23, 0, 0), zz[0], zz[1]),
         truck_sample("LGAD6SJA1RG736370", Profile::hj1239, bj(2026, 3, 1, 23, 0, 10), zz[0],
                      zz[1])}));
    EXPECT_EQ(cn6.read_frames(3).size(), 3u);  // hj1239: login and both samples answered
    // A 国二 excavator working in the ban zone: R03.
    TestTerminal nr2(server.port(1), true);
    nr2.send(cat(
        {login("NR6J4CF3WFHPRDY25", bj(2026, 4, 1, 8, 59, 0)),
         machine_sample("NR6J4CF3WFHPRDY25", bj(2026, 4, 1, 9, 0, 0), zz[0], zz[1], std::nullopt),
         machine_sample("NR6J4CF3WFHPRDY25", bj(2026, 4, 1, 9, 1, 0), zz[0], zz[1],
                        std::nullopt)}));
    // A 国四 excavator with black smoke (k 1.62 > Class III 0.50) for three samples: R04.
    TestTerminal smoky(server.port(1), true);
    smoky.send(cat(
        {login("NRN3477B7N4FYW8B2", bj(2026, 4, 1, 8, 59, 0)),
         machine_sample("NRN3477B7N4FYW8B2", bj(2026, 4, 1, 9, 0, 0), zz[0], zz[1], std::nullopt),
         machine_sample("NRN3477B7N4FYW8B2", bj(2026, 4, 1, 9, 0, 1), zz[0], zz[1], 1.62),
         machine_sample("NRN3477B7N4FYW8B2", bj(2026, 4, 1, 9, 0, 2), zz[0], zz[1], 1.62),
         machine_sample("NRN3477B7N4FYW8B2", bj(2026, 4, 1, 9, 0, 3), zz[0], zz[1], 1.62)}));
    ASSERT_TRUE(eventually([&] { return server.metrics().frames_stored.value() == 14; }));
    server.drain_rules();
    EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R01"), 1u);
    EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R02"), 1u);
    EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R03"), 1u);
    EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R04"), 1u);
  }

  std::ostringstream listing;
  ASSERT_EQ(run_list_violations(command({"lantiand", "violations", "--data-dir", data.c_str()}),
                                listing, err),
            0);
  std::set<std::string> ids;
  std::istringstream lines(listing.str());
  for (std::string line; std::getline(lines, line);) {
    const auto v = boost::json::parse(line).as_object();
    ids.insert(std::string(v.at("id").as_string()));
    EXPECT_EQ(v.at("status").as_string(), "open");
    EXPECT_FALSE(v.at("evidence").as_array().empty());
    EXPECT_NE(v.at("vin").as_string(), "LGAD6SJA1RG736370");  // the 国六 truck
  }
  const auto t0 = BeijingTime::from_fields(2026, 3, 1, 23, 0, 0).to_unix_seconds().value();
  const auto m0 = BeijingTime::from_fields(2026, 4, 1, 9, 0, 0).to_unix_seconds().value();
  EXPECT_EQ(ids, (std::set<std::string>{"R01|LZZJ5ACA5AF110265|2026-03-01",
                                        "R02|LZZJ5ACA5AF110265|zz-4ring-cn3|" + std::to_string(t0),
                                        "R03|NR6J4CF3WFHPRDY25|zz-nrmm-ban|" + std::to_string(m0),
                                        "R04|NRN3477B7N4FYW8B2|" + std::to_string(m0 + 1)}));
  // Where they happened: central 郑州 (the area version's 410100), and no county there.
  std::ostringstream r02;
  run_list_violations(
      command({"lantiand", "violations", "--data-dir", data.c_str(), "--rule", "R02"}), r02, err);
  const auto zone_violation = boost::json::parse(r02.str()).as_object();
  EXPECT_EQ(zone_violation.at("city").as_string(), "郑州");
  EXPECT_EQ(zone_violation.at("city_adcode").as_string(), "410100");
  EXPECT_EQ(zone_violation.at("area_version").as_int64(), 1);
  EXPECT_FALSE(zone_violation.contains("county"));
  std::ostringstream r04;
  run_list_violations(
      command({"lantiand", "violations", "--data-dir", data.c_str(), "--rule", "R04"}), r04, err);
  const auto v = boost::json::parse(r04.str()).as_object();
  EXPECT_EQ(v.at("thresholds").at("k_limit_m1").as_double(), 0.5);
  EXPECT_EQ(v.at("evidence").as_array().size(), 3u);

  // External observations: a gate's sighting of a 国三 truck by its plate (R01), black smoke at a
  // roadside check (R05), a level-1 Ringelmann outside any Class III zone (nothing), a bad line.
  const auto observations = (dir.path() / "observations.jsonl").string();
  {
    std::ofstream f(observations);
    f << R"({"id":"gate-1","kind":"sighting","plate":"豫A27583","time":"2026-03-02T07:15:00+08:00","site":"物流园门禁"})"
      << "\n"
      << R"({"id":"check-1","kind":"smoke","vin":"NRCNCZVY6RRDY6AGJ","time":"2026-04-02T10:00:00+08:00","lon":114.30,"lat":34.80,"ringelmann":2,"image_ref":"img/check-1.jpg"})"
      << "\n"
      << R"({"id":"check-2","kind":"smoke","vin":"NRCNCZVY6RRDY6AGJ","time":"2026-04-02T11:00:00+08:00","lon":114.30,"lat":34.80,"ringelmann":1})"
      << "\n"
      << R"({"id":"bad","kind":"smoke","vin":"NRCNCZVY6RRDY6AGJ","time":"yesterday"})"
      << "\n";
  }
  std::ostringstream obs_out, obs_err;
  EXPECT_EQ(run_import_observations(command({"lantiand", "import-observations", "--data-dir",
                                             data.c_str(), observations.c_str()}),
                                    obs_out, obs_err),
            1);  // one line rejected
  EXPECT_EQ(obs_out.str(),
            "imported 3 observations (0 already known, 0 matching no registered vehicle), raised 2 "
            "violations, rejected 1 lines\n");
  EXPECT_NE(obs_err.str().find(":4: rejected: time must be ISO 8601"), std::string::npos)
      << obs_err.str();
  std::ostringstream again;
  run_import_observations(command({"lantiand", "import-observations", "--data-dir", data.c_str(),
                                   observations.c_str()}),
                          again, obs_err);
  EXPECT_EQ(again.str(),
            "imported 0 observations (3 already known, 0 matching no registered vehicle), raised 0 "
            "violations, rejected 1 lines\n");
  std::ostringstream all;
  run_list_violations(command({"lantiand", "violations", "--data-dir", data.c_str()}), all, err);
  EXPECT_NE(all.str().find("\"id\":\"R01|LFWD2ZPZ9BA158472|2026-03-02\""), std::string::npos);
  EXPECT_NE(all.str().find("\"id\":\"R05|NRCNCZVY6RRDY6AGJ|check-1\""), std::string::npos);
  EXPECT_EQ(all.str().find("check-2"), std::string::npos);

  // Replaying the archive from scratch reproduces exactly the stored set.
  std::ostringstream replay_out, replay_err;
  EXPECT_EQ(run_replay(command({"lantiand", "replay", "--data-dir", data.c_str()}), replay_out,
                       replay_err),
            0)
      << replay_err.str();
  EXPECT_EQ(replay_out.str(),
            "replayed: 6 violations; identical 6, not stored 0, not reproduced 0; withdrawn 0, awaiting re-review 0; "
            "offline (R11) confirmed by the archive 0, not confirmed 0; gate silence (R15) not replayed 0\n");
}

}  // namespace
}  // namespace lantian::server

namespace lantian::server {
namespace {
using namespace testing;
using namespace testing::frames;
using namespace protocol;

// On an `auto` listener a non-road machine's frames are read with the profile its registry row
// pins: a working sample inside the ban zone raises R03 as on a non-road listener, and no frame of
// it is left with an undetermined layout.
TEST(RulesEndToEnd, AutoListenerDecodesByTheRegisteredProfile) {
  TempDir dir;
  import_samples(dir.path());
  RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=auto"}));
  TestTerminal nr2(server.port(0));
  nr2.send(cat(
      {login("NR6J4CF3WFHPRDY25", bj(2026, 4, 1, 8, 59, 0)),
       machine_sample("NR6J4CF3WFHPRDY25", bj(2026, 4, 1, 9, 0, 0), 113.68, 34.76, std::nullopt),
       machine_sample("NR6J4CF3WFHPRDY25", bj(2026, 4, 1, 9, 1, 0), 113.68, 34.76, std::nullopt)}));
  ASSERT_TRUE(eventually([&] { return server.metrics().frames_stored.value() == 3; }));
  server.drain_rules();
  EXPECT_EQ(server.metrics().decode_errors.value("ambiguous_layout"), 0u);
  EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R03"), 1u);
  // An unregistered machine code on the same listener is read by its bytes alone.
  TestTerminal unknown(server.port(0));
  unknown.send(cat(
      {login("NRZZZZZZZZZZZZZZZ", bj(2026, 4, 1, 8, 59, 0)),
       machine_sample("NRZZZZZZZZZZZZZZZ", bj(2026, 4, 1, 9, 0, 0), 113.68, 34.76, std::nullopt)}));
  ASSERT_TRUE(eventually([&] { return server.metrics().frames_stored.value() == 5; }));
  EXPECT_EQ(server.metrics().decode_errors.value("ambiguous_layout"), 1u);
}

}  // namespace
}  // namespace lantian::server

namespace lantian::server {
namespace {
using namespace testing;

// Gate records and alerts from the command line: an alert declared, records back-filled (twice:
// stored once), the violations listed, and a replay that reproduces them — and tells when a
// different policy table would not.
TEST(RulesEndToEnd, GateRecordsAndAlertsFromTheCommandLine) {
  TempDir dir;
  const std::string data = dir.path().string();
  ASSERT_EQ(import_samples(dir.path()),
            "imported 16 vehicles and machines, rejected 0 rows\nstored 6 zones as version 1\n");
  std::ostringstream out, err;
  const std::string enterprises = std::string(LANTIAN_SAMPLES_DIR) + "/enterprises-henan-sample.csv";
  ASSERT_EQ(run_import_enterprises(command({"lantiand", "import-enterprises", "--data-dir",
                                            data.c_str(), enterprises.c_str()}),
                                   out, err),
            0)
      << err.str();

  std::ostringstream declared;
  ASSERT_EQ(run_alert(command({"lantiand", "alert", "--data-dir", data.c_str(), "--city", "焦作",
                               "--level", "red", "--from", "2026-11-20", "--to", "2026-11-22"}),
                      declared, err),
            0)
      << err.str();
  EXPECT_EQ(declared.str(), "declared 4108-202611200000-red\n");
  std::ostringstream listed;
  run_alert(command({"lantiand", "alert", "--data-dir", data.c_str(), "--list"}), listed, err);
  EXPECT_NE(listed.str().find(R"("id":"4108-202611200000-red","city":"焦作","level":"red")"),
            std::string::npos)
      << listed.str();

  // 焦作's steel works is grade A: during the red alert only 国五 and newer.
  const auto records = (dir.path() / "gate.jsonl").string();
  std::ofstream(records)
      << R"({"id":"J-1","enterprise":"91410800MA45SAMP2Y","gate":"main","time":"2026-11-21T06:00:00+08:00","direction":"in","plate":"豫A41640","plate_color":"yellow","bulk":true})"
         "\n"
      << R"({"id":"J-2","enterprise":"91410800MA45SAMP2Y","gate":"main","time":"2026-11-21T06:05:00+08:00","direction":"in","plate":"豫A68414","plate_color":"yellow","bulk":true})"
         "\n"
      << R"({"id":"J-3","enterprise":"HN-NONE-0001","gate":"main","time":"2026-11-21T06:05:00+08:00","direction":"in","plate":"豫A68414"})"
         "\n";
  std::ostringstream imported, import_err;
  EXPECT_EQ(run_import_gate_events(command({"lantiand", "import-gate-events", "--data-dir",
                                            data.c_str(), records.c_str()}),
                                   imported, import_err),
            1);  // one record of an enterprise not in the list
  EXPECT_EQ(imported.str(),
            "imported 2 gate records (0 already known, 0 matching no registered vehicle), refused 1 "
            "of enterprises not in the list, raised 1 violations, rejected 0 lines\n");
  EXPECT_EQ(import_err.str(), records +
                                  ": record J-3 refused: no enterprise HN-NONE-0001 in the "
                                  "enterprise list\n");
  std::ostringstream again;
  run_import_gate_events(command({"lantiand", "import-gate-events", "--data-dir", data.c_str(),
                                  records.c_str()}),
                         again, import_err);
  EXPECT_EQ(again.str(),
            "imported 0 gate records (2 already known, 0 matching no registered vehicle), refused 1 "
            "of enterprises not in the list, raised 0 violations, rejected 0 lines\n");

  std::ostringstream r14;
  run_list_violations(command({"lantiand", "violations", "--data-dir", data.c_str(), "--rule", "R14"}),
                      r14, err);
  const auto v = boost::json::parse(r14.str()).as_object();
  EXPECT_EQ(v.at("id").as_string(), "R14|LRDS3D9J9GG887446|91410800MA45SAMP2Y|2026-11-21");
  EXPECT_EQ(v.at("city").as_string(), "焦作");

  std::ostringstream replayed, replay_err;
  EXPECT_EQ(run_replay(command({"lantiand", "replay", "--data-dir", data.c_str()}), replayed,
                       replay_err),
            0)
      << replay_err.str();
  EXPECT_EQ(replayed.str(),
            "replayed: 1 violations; identical 1, not stored 0, not reproduced 0; withdrawn 0, "
            "awaiting re-review 0; offline (R11) confirmed by the archive 0, not confirmed 0; gate "
            "silence (R15) not replayed 0\n");
  // With A unrestricted at red, the stored R14 is not what the rules would raise.
  std::ostringstream other, other_err;
  EXPECT_EQ(run_replay(command({"lantiand", "replay", "--data-dir", data.c_str(), "--alert-policy",
                                "A:red=none"}),
                       other, other_err),
            1);
  EXPECT_EQ(other_err.str(),
            "stored violation not reproduced by replay: "
            "R14|LRDS3D9J9GG887446|91410800MA45SAMP2Y|2026-11-21\n");
  EXPECT_EQ(parse_command_line(3, std::array<const char*, 3>{"lantiand", "--alert-policy",
                                                             "A:red=CN9"}
                                      .data())
                .problems,
            (std::vector<std::string>{
                "--alert-policy: the stage in 'A:red=CN9' must be a vehicle stage (CN4, CN5, "
                "CN6a, …) or none"}));
}

}  // namespace
}  // namespace lantian::server
