// VIN checks, stage labels and inference, and the registry CSV import with its rejection report.

#include "rules/registry.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace lantian::rules {
namespace {

TEST(Vin, CheckDigit) {
  EXPECT_TRUE(vin_valid("LZZJ5ACA5AF110265"));
  EXPECT_TRUE(vin_valid("LFWLBN777SC254138"));
  EXPECT_EQ(vin_check_digit("LZZJ5ACA0AF110265"), '5');
  EXPECT_FALSE(vin_valid("LZZJ5ACA0AF110265"));
  EXPECT_EQ(vin_check_digit("1M8GDM9AXKP042788"), 'X');  // the classic example with an X
  EXPECT_TRUE(vin_valid("1M8GDM9AXKP042788"));
  EXPECT_FALSE(vin_well_formed("LZZJ5ACA5AF11026"));   // 16 characters
  EXPECT_FALSE(vin_well_formed("LZZJ5ACA5AFI10265"));  // I is not allowed
  EXPECT_FALSE(vin_well_formed("lzzj5aca5af110265"));
}

TEST(Vin, ModelYearTakesTheLatestYearNotAfterNextYear) {
  EXPECT_EQ(vin_model_year("LZZJ5ACA5AF110265", 2027), 2010);  // A
  EXPECT_EQ(vin_model_year("LGABWSXZ79D742275", 2027), 2009);  // 9
  EXPECT_EQ(vin_model_year("LZZCJC3V3JF800454", 2027), 2018);  // J
  EXPECT_EQ(vin_model_year("LFWLBN777SC254138", 2027), 2025);  // S
  EXPECT_EQ(vin_model_year("LFWLBN777TC254138", 2027), 2026);  // T
  EXPECT_EQ(vin_model_year("LFWLBN777VC254138", 2027), 2027);  // V: next year at most
  EXPECT_EQ(vin_model_year("LFWLBN777WC254138", 2027), 1998);  // W would be 2028: too late
  EXPECT_EQ(infer_stage("LZZJ5ACA5AF110265", 2027), InferredStage::at_most_cn3);
  EXPECT_EQ(infer_stage("LZGSRTFN4CG629137", 2027), InferredStage::at_most_cn3);  // C = 2012
  EXPECT_EQ(infer_stage("LZGSRTFN4DG629137", 2027), InferredStage::ambiguous);    // D = 2013
  EXPECT_EQ(infer_stage("LZGSRTFN4EG629137", 2027), InferredStage::ambiguous);    // E = 2014
  EXPECT_EQ(infer_stage("LZGSRTFN4FG629137", 2027), InferredStage::after_cn3);    // F = 2015
}

TEST(Stage, LabelsAreNormalised) {
  EXPECT_EQ(parse_stage("CN3", false), Stage::CN3);
  EXPECT_EQ(parse_stage("国三", false), Stage::CN3);
  EXPECT_EQ(parse_stage("国Ⅲ", false), Stage::CN3);
  EXPECT_EQ(parse_stage("国III", false), Stage::CN3);
  EXPECT_EQ(parse_stage("国3", false), Stage::CN3);
  EXPECT_EQ(parse_stage("国六b", false), Stage::CN6b);
  EXPECT_EQ(parse_stage("国VIa", false), Stage::CN6a);
  EXPECT_EQ(parse_stage("CN6b", false), Stage::CN6b);
  EXPECT_EQ(parse_stage("国二", true), Stage::NR2);
  EXPECT_EQ(parse_stage("非道路国四", false), Stage::NR4);
  EXPECT_EQ(parse_stage("NR2", true), Stage::NR2);
  EXPECT_FALSE(parse_stage("国七", false).has_value());
  EXPECT_FALSE(parse_stage("国五", true).has_value());  // no non-road stage 5
  EXPECT_FALSE(parse_stage("Euro 5", false).has_value());
  EXPECT_TRUE(stage_at_most(Stage::CN2, Stage::CN3));
  EXPECT_TRUE(stage_at_most(Stage::CN3, Stage::CN3));
  EXPECT_FALSE(stage_at_most(Stage::CN4, Stage::CN3));
  EXPECT_FALSE(stage_at_most(Stage::NR1, Stage::CN3));  // different families never compare
  // Machines from before non-road stage I (非道路国零), which the plan phases out first.
  EXPECT_EQ(parse_stage("非道路国零", false), Stage::NR0);
  EXPECT_EQ(parse_stage("国零", true), Stage::NR0);
  EXPECT_EQ(parse_stage("NR0", true), Stage::NR0);
  EXPECT_EQ(to_string(Stage::NR0), "NR0");
  EXPECT_FALSE(parse_stage("国零", false).has_value());  // no on-road stage 0
  EXPECT_FALSE(parse_stage("国0", false).has_value());
  EXPECT_TRUE(stage_at_most(Stage::NR0, Stage::NR1));
  EXPECT_TRUE(is_machine_stage(Stage::NR0));
  std::istringstream in(
      "vin,category,fuel,emission_stage,rated_power_kw\n"
      "NRPRESTAGE1000001,nrmm:loader,diesel,非道路国零,55\n");
  const auto imported = import_registry_csv(in, 2027);
  ASSERT_TRUE(imported.rejected.empty()) << imported.rejected[0].reason;
  EXPECT_EQ(imported.records.at(0).stage, Stage::NR0);
}

TEST(Registry, ImportsTheSample) {
  std::ifstream in(std::string(LANTIAN_SAMPLES_DIR) + "/registry-sample.csv");
  const auto result = import_registry_csv(in, 2027);
  EXPECT_TRUE(result.rejected.empty()) << result.rejected.front().reason;
  ASSERT_EQ(result.records.size(), 16u);
  const auto& first = result.records[0];
  EXPECT_EQ(first.vin, "LZZJ5ACA5AF110265");
  EXPECT_EQ(first.plate, "豫A87590");
  EXPECT_EQ(first.category, "N3");
  EXPECT_EQ(first.stage, Stage::CN3);
  EXPECT_EQ(first.stage_source, StageSource::registry);
  EXPECT_EQ(first.rated_power_kw, 247.0);
  EXPECT_EQ(first.profile, protocol::Profile::gb17691);
  EXPECT_EQ(first.owner, "郑州某物流有限公司");
  // No stage in the registry: inferred from model year 2012 (C) as suspected ≤ 国三.
  const auto& unknown = result.records[3];
  EXPECT_EQ(unknown.vin, "LZGSRTFN4CG629137");
  EXPECT_EQ(unknown.stage, Stage::CN3);
  EXPECT_EQ(unknown.stage_source, StageSource::inferred);
  EXPECT_FALSE(unknown.profile.has_value());  // auto
  const auto& excavator = result.records[10];
  EXPECT_TRUE(excavator.is_machine());
  EXPECT_EQ(excavator.stage, Stage::NR2);
  EXPECT_EQ(excavator.registration_code, "41029805392158");

  Registry registry;
  for (auto r : result.records) registry.upsert(std::move(r));
  EXPECT_EQ(registry.size(), 16u);
  ASSERT_NE(registry.find_by_plate("豫A95498", "yellow").vehicle, nullptr);
  EXPECT_EQ(registry.find_by_plate("豫A95498", "yellow").vehicle->vin, "LZZCJC3V3JF800454");
  EXPECT_EQ(registry.find_by_plate("豫A95498", "").vehicle->vin, "LZZCJC3V3JF800454");
  EXPECT_EQ(registry.find("NOSUCHVIN00000000"), nullptr);
}

// A plate is its number and its colour: the blue-plate car 豫A11111 is not the yellow-plate truck
// 豫A11111.
TEST(Registry, APlateIsItsNumberAndItsColour) {
  std::istringstream in(
      "vin,plate,plate_color,category,fuel,emission_stage\n"
      "LZZJ5ACA5AF110265,豫A11111,黄色,N3,diesel,国三\n"
      "LRDS3D9J9GG887446,豫A22222,yellow,N3,diesel,国三\n"
      "LGAD6SJA1RG736370,豫A11111,blue,M1,gasoline,国六b\n"
      "LZGSRTFN4CG629137,豫A33333,purple,N3,diesel,国三\n");
  auto result = import_registry_csv(in, 2027);
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].line, 5u);
  EXPECT_NE(result.rejected[0].reason.find("unknown plate_color 'purple'"), std::string::npos);
  Registry registry;
  for (auto r : result.records) registry.upsert(std::move(r));
  EXPECT_EQ(registry.find("LZZJ5ACA5AF110265")->plate_color, "yellow");  // 黄色, kept as its code
  EXPECT_EQ(registry.find_by_plate("豫A11111", "yellow").vehicle->vin, "LZZJ5ACA5AF110265");
  EXPECT_EQ(registry.find_by_plate("豫A11111", "blue").vehicle->vin, "LGAD6SJA1RG736370");
  auto none = registry.find_by_plate("豫A11111", "green");
  EXPECT_EQ(none.vehicle, nullptr);
  EXPECT_EQ(none.unmatched_reason, "no registered vehicle has plate 豫A11111 in green");
  auto ambiguous = registry.find_by_plate("豫A11111", "");
  EXPECT_EQ(ambiguous.vehicle, nullptr);
  EXPECT_EQ(ambiguous.unmatched_reason,
            "plate 豫A11111 is registered 2 times (blue, yellow) and the sighting gives no colour");
  EXPECT_EQ(registry.find_by_plate("豫A22222", "").vehicle->vin, "LRDS3D9J9GG887446");
  EXPECT_EQ(registry.find_by_plate("豫A99999", "").unmatched_reason,
            "no registered vehicle has plate 豫A99999");
  // A new plate for a VIN frees the old (number, colour).
  VehicleRecord moved = *registry.find("LRDS3D9J9GG887446");
  moved.plate = "豫A44444";
  registry.upsert(moved);
  EXPECT_EQ(registry.find_by_plate("豫A22222", "yellow").vehicle, nullptr);
  EXPECT_EQ(registry.find_by_plate("豫A44444", "yellow").vehicle->vin, "LRDS3D9J9GG887446");
}

// Before: a plate was kept as typed — full-width letters made a second 豫A87590, a zero-width
// space an invisible twin, and =HYPERLINK(…) went to the CSV export.
TEST(Registry, PlatesAreNormalisedOrRefusedNamingTheCharacter) {
  const auto plate = [](std::string_view text) { return normalise_plate(text).plate; };
  const auto problem = [](std::string_view text) { return normalise_plate(text).problem; };
  EXPECT_EQ(plate("豫A87590"), "豫A87590");
  EXPECT_EQ(plate("豫Ａ８７５９０"), "豫A87590");  // full-width
  EXPECT_EQ(plate("豫a·87590"), "豫A87590");      // lower case, middle dot
  EXPECT_EQ(plate("豫A 875　90"), "豫A87590");     // spaces, an ideographic one too
  EXPECT_EQ(plate("豫A1234挂"), "豫A1234挂");
  const std::string rule = "; a plate is letters, digits and Chinese characters";
  EXPECT_EQ(problem("豫A875\u200B90"),
            "the plate holds an invisible or control character U+200B" + rule);
  EXPECT_EQ(problem(std::string("豫A875\0" "90", 10)),
            "the plate holds an invisible or control character U+0000" + rule);
  EXPECT_EQ(problem("\uFEFF豫A87590"),
            "the plate holds an invisible or control character U+FEFF" + rule);
  EXPECT_EQ(problem("=HYPERLINK(1)"), "the plate holds the character U+003D ('=')" + rule);
  EXPECT_EQ(problem("豫A\xff"), "the plate is not UTF-8 text");
  EXPECT_EQ(problem("豫A\xc0\x80"), "the plate is not UTF-8 text");  // an overlong NUL
  EXPECT_EQ(problem("豫A12345678901"), "the plate is longer than 12 characters");
  EXPECT_EQ(problem("· "), "the plate is empty");

  std::istringstream in(
      "vin,plate,plate_color,category,fuel,emission_stage\n"
      "LZZJ5ACA5AF110265,豫Ａ８７５９０,yellow,N3,diesel,国三\n"
      "LRDS3D9J9GG887446,豫A2\u200B2222,yellow,N3,diesel,国三\n");
  auto result = import_registry_csv(in, 2027);
  ASSERT_EQ(result.records.size(), 1u);
  EXPECT_EQ(result.records[0].plate, "豫A87590");
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].line, 3u);
  EXPECT_EQ(result.rejected[0].reason,
            "the plate holds an invisible or control character U+200B" + rule);
}

TEST(Registry, RejectedRowsAreReportedByLineWithEveryReason) {
  std::istringstream in(
      "vin,plate,category,emission_stage,rated_power_kw,profile,owner\n"
      "LZZJ5ACA5AF110265,豫A1,N3,国三,247,gb17691,\"Zhengzhou Logistics, Ltd.\"\n"
      "LZZJ5ACA0AF110265,豫A2,N3,CN3,247,gb17691,bad check digit\n"
      "\n"
      "LZZJ5ACA5AF110265,豫A3,N9,国七,-5,gb1789,everything wrong\n"
      "NR6J4CF3WFHPRDY25,,nrmm:excavator,CN3,92,nonroad,on-road stage on a machine\n"
      "NR6J4CF3WFHPRDY25,,nrmm:excavator,国二,92,nonroad,machine label normalised\n");
  const auto result = import_registry_csv(in, 2027);
  ASSERT_EQ(result.records.size(), 2u);
  EXPECT_EQ(result.records[0].owner, "Zhengzhou Logistics, Ltd.");
  EXPECT_EQ(result.records[1].stage, Stage::NR2);
  ASSERT_EQ(result.rejected.size(), 3u);
  EXPECT_EQ(result.rejected[0].line, 3u);
  EXPECT_EQ(result.rejected[0].reason,
            "VIN 'LZZJ5ACA0AF110265' fails its check digit (expected '5' at position 9)");
  EXPECT_EQ(result.rejected[1].line, 5u);
  EXPECT_EQ(result.rejected[1].reason,
            "unknown category 'N9'; unknown emission stage '国七'; rated_power_kw '-5' is not a "
            "power in kW; "
            "unknown profile 'gb1789'");
  EXPECT_EQ(result.rejected[2].line, 6u);
  EXPECT_EQ(result.rejected[2].reason, "stage CN3 does not fit category nrmm:excavator");
}

TEST(Registry, HeaderMustNameTheKeyColumns) {
  std::istringstream in("plate,owner\n豫A1,x\n");
  const auto result = import_registry_csv(in, 2027);
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].line, 1u);
  EXPECT_EQ(result.rejected[0].reason, "header lacks vin category emission_stage");
}

TEST(Permits, ImportReportsBadRows) {
  std::istringstream in(
      "vin,zone_id,valid_from,valid_to,permit_no\n"
      "LZZJ5ACA5AF110265,zz-4ring-cn3,2026-01-01,2026-12-31,ZZ-1\n"
      "LZZJ5ACA5AF110265,,2026-01-01,2025-12-31,ZZ-2\n");
  const auto result = import_permits_csv(in);
  ASSERT_EQ(result.permits.size(), 1u);
  EXPECT_EQ(result.permits[0].permit.permit_no, "ZZ-1");
  EXPECT_EQ(
      result.permits[0].permit.valid_until_unix_s - result.permits[0].permit.valid_from_unix_s,
      365 * 86400);
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].line, 3u);
  EXPECT_EQ(result.rejected[0].reason, "no zone_id; valid_to is before valid_from");
}

TEST(Csv, Quoting) {
  EXPECT_EQ(split_csv_line("a,\"b,c\",\"say \"\"hi\"\"\",,e\r"),
            (std::vector<std::string>{"a", "b,c", "say \"hi\"", "", "e"}));
}

}  // namespace
}  // namespace lantian::rules
