// Administrative areas: the sample's import, where positions fall, and the problems that reject a
// version.
#include "rules/areas.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace lantian::rules {
namespace {

std::string sample_areas() {
  std::ifstream in(std::string(LANTIAN_SAMPLES_DIR) + "/areas-henan-sample.geojson");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string one_feature(const std::string& properties, const std::string& geometry =
                                                           R"({"type":"Polygon","coordinates":
    [[[113.0,34.0],[114.0,34.0],[114.0,35.0],[113.0,35.0],[113.0,34.0]]]})") {
  return R"({"type":"FeatureCollection","features":[{"type":"Feature","properties":)" +
         properties + R"(,"geometry":)" + geometry + "}]}";
}

TEST(Areas, TheSampleImportsFiveCitiesAndOneCounty) {
  const auto imported = import_areas_geojson(sample_areas());
  ASSERT_TRUE(imported.problems.empty()) << imported.problems.front();
  ASSERT_EQ(imported.areas.size(), 6u);
  EXPECT_EQ(imported.areas[0].adcode, "410100");
  EXPECT_EQ(imported.areas[0].name, "郑州市");
  EXPECT_EQ(imported.areas[0].jurisdiction, "郑州");  // the name tokens and the registry use
  EXPECT_EQ(imported.areas[1].level, AreaLevel::county);
  EXPECT_EQ(imported.areas[1].jurisdiction, "中牟县");
}

TEST(Areas, APositionIsInItsCityAndCounty) {
  const AreaIndex index(import_areas_geojson(sample_areas()).areas, 1);
  // 中牟: both levels.
  auto place = index.locate(113.95, 34.65);
  ASSERT_NE(place.city, nullptr);
  EXPECT_EQ(place.city->jurisdiction, "郑州");
  ASSERT_NE(place.county, nullptr);
  EXPECT_EQ(place.county->adcode, "410122");
  // 郑州's 4th ring: the city, no county in the sample.
  place = index.locate(113.68, 34.76);
  ASSERT_NE(place.city, nullptr);
  EXPECT_EQ(place.city->jurisdiction, "郑州");
  EXPECT_EQ(place.county, nullptr);
  // 焦作, 三门峡, 洛阳, 许昌.
  EXPECT_EQ(index.locate(113.2, 35.2).city->jurisdiction, "焦作");
  EXPECT_EQ(index.locate(111.2, 34.5).city->jurisdiction, "三门峡");
  EXPECT_EQ(index.locate(112.45, 34.65).city->jurisdiction, "洛阳");
  EXPECT_EQ(index.locate(113.83, 34.03).city->jurisdiction, "许昌");
  // 商丘 is not in the sample: nowhere.
  place = index.locate(115.65, 34.41);
  EXPECT_EQ(place.city, nullptr);
  EXPECT_EQ(place.county, nullptr);
}

TEST(Areas, AGcj02OutlineIsConvertedToWgs84) {
  // A square drawn on a Chinese web map: shifted back to WGS-84 (about 0.006° west here), it takes
  // in a point just west of its drawn west edge and leaves out one just west of its east edge.
  const auto imported = import_areas_geojson(one_feature(
      R"({"adcode":"410100","name":"郑州市","level":"city","crs":"gcj02"})"));
  ASSERT_TRUE(imported.problems.empty()) << imported.problems.front();
  const AreaIndex index(imported.areas, 1);
  EXPECT_NE(index.locate(112.997, 34.5).city, nullptr);
  EXPECT_EQ(index.locate(113.997, 34.5).city, nullptr);
}

TEST(Areas, AnAdcodeMayBeANumberAndACityOutsideHenanKeepsItsName) {
  const auto imported =
      import_areas_geojson(one_feature(R"({"adcode":130100,"name":"石家庄市","level":"city"})"));
  ASSERT_TRUE(imported.problems.empty()) << imported.problems.front();
  EXPECT_EQ(imported.areas[0].adcode, "130100");
  EXPECT_EQ(imported.areas[0].jurisdiction, "石家庄市");
}

TEST(Areas, BadFeaturesAreReportedWithTheirNumberAndAdcode) {
  EXPECT_EQ(import_areas_geojson(one_feature(R"({"adcode":"4101","name":"郑州市","level":"city"})"))
                .problems,
            std::vector<std::string>{"feature 1 (4101): adcode must be six digits (GB/T 2260)"});
  EXPECT_EQ(
      import_areas_geojson(one_feature(R"({"adcode":"410100","name":"郑州市","level":"province"})"))
          .problems,
      std::vector<std::string>{"feature 1 (410100): level must be city or county, not 'province'"});
  EXPECT_EQ(import_areas_geojson(one_feature(R"({"adcode":"410100","level":"city"})")).problems,
            std::vector<std::string>{"feature 1 (410100): no name"});
  EXPECT_EQ(import_areas_geojson(one_feature(R"({"adcode":"410100","name":"郑州市","level":"city"})",
                                             R"({"type":"Point","coordinates":[113,34]})"))
                .problems,
            std::vector<std::string>{
                "feature 1 (410100): geometry must be Polygon or MultiPolygon, not 'Point'"});
  const std::string twice =
      R"({"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"adcode":"410100","name":"a","level":"city"},
       "geometry":{"type":"Polygon","coordinates":[[[113,34],[114,34],[114,35],[113,34]]]}},
      {"type":"Feature","properties":{"adcode":"410100","name":"b","level":"city"},
       "geometry":{"type":"Polygon","coordinates":[[[113,34],[114,34],[114,35],[113,34]]]}}]})";
  EXPECT_EQ(import_areas_geojson(twice).problems,
            std::vector<std::string>{"feature 2 (410100): adcode given twice"});
  EXPECT_EQ(import_areas_geojson("[]").problems,
            std::vector<std::string>{"not a GeoJSON FeatureCollection (no features list)"});
}

}  // namespace
}  // namespace lantian::rules
