// The enterprise list (重点用车企业): the CSV import with its rejections, and the stored JSON form.

#include "rules/enterprises.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <fstream>
#include <sstream>

namespace lantian::rules {
namespace {

TEST(Enterprises, ImportsTheSample) {
  std::ifstream in(std::string(LANTIAN_SAMPLES_DIR) + "/enterprises-henan-sample.csv");
  ASSERT_TRUE(in);
  const auto imported = import_enterprises_csv(in);
  EXPECT_TRUE(imported.rejected.empty()) << imported.rejected.front().reason;
  ASSERT_EQ(imported.enterprises.size(), 5u);
  const auto& park = imported.enterprises[0];
  EXPECT_EQ(park.id, "91410100MA44SAMP1X");
  EXPECT_EQ(park.city, "郑州");
  EXPECT_EQ(park.county, "中牟县");
  EXPECT_EQ(park.industry, "物流园区");
  EXPECT_EQ(park.grade, "B");
  EXPECT_TRUE(park.bulk);
  ASSERT_EQ(park.gates.size(), 2u);
  EXPECT_EQ(park.gates[1].id, "west");
  EXPECT_DOUBLE_EQ(park.gates[1].lon_deg, 113.9704);
  EXPECT_DOUBLE_EQ(park.gates[1].lat_deg, 34.7188);
  EXPECT_TRUE(imported.enterprises[3].bulk);   // 是
  EXPECT_FALSE(imported.enterprises[4].bulk);  // 否
  EXPECT_TRUE(imported.enterprises[4].gates.empty());
}

TEST(Enterprises, EveryRejectedRowNamesItsLineAndEveryReason) {
  std::istringstream in(
      "\xEF\xBB\xBFid,name,city,industry,grade,bulk,gates\r\n"
      "91410100MA44SAMP1X,园区,郑州,物流园区,B,true,\"a:113.9,34.7\"\r\n"
      "91410100MA44SAMP1X,重复,郑州,物流园区,B,,\r\n"
      "bad id,,北京,造船,E,maybe,\"a:113.9\"\r\n"
      "HN-0002,某厂,开封,焦化,D,0,\"a:34.7,113.9\"\r\n"
      "HN-0003,某厂,开封,焦化,D,0,\"a:114.3,34.8;a:114.31,34.81\"\r\n");
  const auto imported = import_enterprises_csv(in);
  ASSERT_EQ(imported.enterprises.size(), 1u);
  ASSERT_EQ(imported.rejected.size(), 4u);
  EXPECT_EQ(imported.rejected[0].line, 3u);
  EXPECT_EQ(imported.rejected[0].reason, "id 91410100MA44SAMP1X is given twice");
  EXPECT_EQ(imported.rejected[1].line, 4u);
  EXPECT_EQ(imported.rejected[1].reason,
            "id must be a 统一社会信用代码 or a code of 4 to 32 of A-Z, 0-9, '-'; "
            "name must be 1 to 200 bytes; city must be one of Henan's 18 cities (郑州, …); "
            "unknown industry '造船' (钢铁, 焦化, 水泥, 火电, 煤炭, 有色, 物流园区, 化工, 建材, "
            "铸造, 其他); unknown grade 'E' (A, B, C, D, 引领性, 非绩效); "
            "bulk must be true or false (是/否, 1/0); gate 'a:113.9' is not ID:LON,LAT");
  EXPECT_EQ(imported.rejected[2].reason,
            "gate a: longitude and latitude must lie in Henan (110–117 °E, 31–37 °N)");
  EXPECT_EQ(imported.rejected[3].reason, "gate a is given twice");
}

TEST(Enterprises, AHeaderWithoutTheKeyColumnsRejectsTheFile) {
  std::istringstream in("id,name,city\nHN-1,x,郑州\n");
  const auto imported = import_enterprises_csv(in);
  EXPECT_TRUE(imported.enterprises.empty());
  ASSERT_EQ(imported.rejected.size(), 1u);
  EXPECT_EQ(imported.rejected[0].reason, "header lacks industry grade");
}

TEST(Enterprises, TheStoredFormReadsBackWhole) {
  std::istringstream in(
      "id,name,city,county,industry,grade,bulk,gates\n"
      "HN-0009,某焦化厂,安阳,安阳县,焦化,C,true,\"n:114.35,36.1;s:114.36,36.09\"\n");
  const auto imported = import_enterprises_csv(in);
  ASSERT_EQ(imported.enterprises.size(), 1u);
  const auto text = boost::json::serialize(to_json(imported.enterprises[0]));
  EXPECT_EQ(text,
            R"({"id":"HN-0009","name":"某焦化厂","city":"安阳","county":"安阳县","industry":"焦化",)"
            R"("grade":"C","bulk":true,"gates":[{"id":"n","lon":1.1435E2,"lat":3.61E1},)"
            R"({"id":"s","lon":1.1436E2,"lat":3.609E1}]})");
  const auto back = enterprise_from_json(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(boost::json::serialize(to_json(*back)), text);
  EXPECT_FALSE(enterprise_from_json("{}"));
  EXPECT_FALSE(enterprise_from_json("not json"));
}

}  // namespace
}  // namespace lantian::rules
