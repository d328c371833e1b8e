// Zones: GeoJSON import, GCJ-02 conversion, buffers, hours across midnight, validity, the R-tree.

#include "rules/zones.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "protocol/beijing_time.hpp"

namespace lantian::rules {
namespace {

std::string sample_zones() {
  std::ifstream in(std::string(LANTIAN_SAMPLES_DIR) + "/zones-henan-sample.geojson");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ZoneIndex sample_index() {
  auto imported = import_zones_geojson(sample_zones());
  EXPECT_TRUE(imported.problems.empty());
  return ZoneIndex(std::move(imported.zones), 1);
}

std::vector<std::string> ids(const std::vector<const Zone*>& zones) {
  std::vector<std::string> out;
  for (const auto* z : zones) out.push_back(z->id);
  std::sort(out.begin(), out.end());
  return out;
}

std::int64_t beijing(int y, int mo, int d, int h, int mi, int s = 0) {
  return protocol::BeijingTime::from_fields(y, mo, d, h, mi, s).to_unix_seconds().value();
}

TEST(Gcj02, KnownPointAndRoundTrip) {
  // Tiananmen: WGS-84 → GCJ-02 per the published algorithm (cross-checked with an independent
  // implementation).
  const auto gcj = wgs84_to_gcj02({116.397128, 39.916527});
  EXPECT_NEAR(gcj.x(), 116.40337249402477, 1e-9);
  EXPECT_NEAR(gcj.y(), 39.91793074924595, 1e-9);
  for (const auto& p : {GeoPoint(116.40337249402477, 39.91793074924595), GeoPoint(113.68, 34.76),
                        GeoPoint(112.46044990593683, 34.61867361312078)}) {
    const auto wgs = gcj02_to_wgs84(p);
    const auto back = wgs84_to_gcj02(wgs);
    EXPECT_NEAR(back.x(), p.x(), 1e-8);
    EXPECT_NEAR(back.y(), p.y(), 1e-8);
  }
  EXPECT_NEAR(gcj02_to_wgs84({116.40337249402477, 39.91793074924595}).x(), 116.397128, 1e-7);
  // Outside China nothing moves.
  EXPECT_EQ(wgs84_to_gcj02({2.2945, 48.8584}).x(), 2.2945);
}

TEST(Zones, SampleImportsWithGcj02Converted) {
  const auto index = sample_index();
  ASSERT_EQ(index.zones().size(), 6u);
  const Zone* luoyang = index.find("ly-nrmm-ban");
  ASSERT_NE(luoyang, nullptr);
  EXPECT_EQ(luoyang->kind, ZoneKind::nrmm_ban);
  EXPECT_EQ(luoyang->banned_max_stage, Stage::NR2);
  EXPECT_EQ(luoyang->smoke_class, "III");
  // The outline's corner (112.37, 34.60) in GCJ-02 is about 560 m west and 130 m south in WGS-84.
  const auto& corner = luoyang->area[0].outer()[0];
  const auto expected = gcj02_to_wgs84({112.37, 34.6});
  EXPECT_NEAR(corner.x(), expected.x(), 1e-12);
  EXPECT_NEAR(corner.y(), expected.y(), 1e-12);
  EXPECT_NEAR(corner.x(), 112.37 - 0.0063, 0.0005);
  const Zone* day = index.find("zz-4ring-trucks-day");
  ASSERT_NE(day, nullptr);
  EXPECT_EQ(day->hours, (std::vector<HoursWindow>{{6 * 60, 22 * 60}}));
  EXPECT_EQ(day->banned_max_stage, Stage::CN6b);
  EXPECT_TRUE(day->applies_to_category("N3"));
  EXPECT_FALSE(day->applies_to_category("N1"));
  EXPECT_TRUE(index.find("zz-nrmm-ban")->applies_to_category("nrmm:excavator"));
  EXPECT_FALSE(index.find("zz-nrmm-ban")->applies_to_category("N3"));
}

TEST(Zones, ContainmentHonoursTheBuffer) {
  const auto index = sample_index();
  EXPECT_EQ(ids(index.containing(113.68, 34.76)),
            (std::vector<std::string>{"zz-4ring-cn3", "zz-4ring-trucks-day", "zz-nrmm-ban"}));
  EXPECT_EQ(ids(index.containing(113.68, 34.84)),
            (std::vector<std::string>{"zz-4ring-cn3", "zz-4ring-trucks-day", "zz-g30-exempt"}));
  EXPECT_TRUE(index.containing(114.30, 34.80).empty());  // Kaifeng: no sample zone
  // The zone's west edge is 113.53°: 20 m inside is within the 30 m buffer, 40 m inside is not.
  const double metre = 1.0 / (111320.0 * std::cos(34.76 * 3.14159265358979 / 180));
  EXPECT_TRUE(ids(index.containing(113.53 + 20 * metre, 34.76)).empty());
  EXPECT_EQ(ids(index.containing(113.53 + 40 * metre, 34.76)),
            (std::vector<std::string>{"zz-4ring-cn3", "zz-4ring-trucks-day"}));
  EXPECT_NEAR(distance_to_boundary_m(index.find("zz-4ring-cn3")->area, 113.53 + 40 * metre, 34.76),
              40.0, 0.5);
}

TEST(Zones, HoursAcrossMidnightAndValidityDates) {
  Zone night;
  night.hours = {{22 * 60, 6 * 60}};
  night.valid_from_unix_s = beijing(2024, 1, 1, 0, 0);
  night.valid_until_unix_s = beijing(2024, 12, 31, 0, 0) + 86400;
  EXPECT_TRUE(night.active_at(beijing(2024, 3, 1, 23, 0)));
  EXPECT_TRUE(night.active_at(beijing(2024, 3, 1, 5, 59, 59)));
  EXPECT_FALSE(night.active_at(beijing(2024, 3, 1, 6, 0)));
  EXPECT_FALSE(night.active_at(beijing(2024, 3, 1, 21, 59, 59)));
  EXPECT_TRUE(night.active_at(beijing(2024, 3, 1, 22, 0)));
  // Validity starts at Beijing midnight (16:00 UTC the day before) and ends after valid_to's day.
  EXPECT_FALSE(night.active_at(beijing(2024, 1, 1, 0, 0) - 1));
  EXPECT_TRUE(night.active_at(beijing(2024, 1, 1, 0, 0)));
  EXPECT_TRUE(night.active_at(beijing(2024, 12, 31, 23, 59)));
  EXPECT_FALSE(night.active_at(beijing(2025, 1, 1, 0, 0)));
}

TEST(Zones, BadFeaturesAreReportedAndSkipped) {
  const auto imported = import_zones_geojson(R"({"type":"FeatureCollection","features":[
    {"type":"Feature","properties":{"id":"a","kind":"nrmm_ban","hours":"24h"},
     "geometry":{"type":"Polygon","coordinates":[[[113,34],[114,34],[114,35],[113,35],[113,34]]]}},
    {"type":"Feature","properties":{"id":"b","kind":"parking"},"geometry":{"type":"Polygon","coordinates":[]}},
    {"type":"Feature","properties":{"id":"c","kind":"nrmm_ban","hours":[["22:00","25:00"]]},
     "geometry":{"type":"Polygon","coordinates":[[[113,34],[114,34],[114,35],[113,35],[113,34]]]}},
    {"type":"Feature","properties":{"id":"d","kind":"nrmm_ban"},
     "geometry":{"type":"Point","coordinates":[113,34]}},
    {"type":"Feature","properties":{"id":"e","kind":"nrmm_ban","banned_max_stage":"NR9"},
     "geometry":{"type":"MultiPolygon","coordinates":[[[[113,34],[114,34],[114,35],[113,35],[113,34]]]]}}]})");
  ASSERT_EQ(imported.zones.size(), 1u);
  EXPECT_EQ(imported.zones[0].id, "a");
  EXPECT_EQ(imported.problems,
            (std::vector<std::string>{
                "feature 2 (b): kind must be truck_restriction, nrmm_ban or exempt_corridor",
                "feature 3 (c): bad hours window",
                "feature 4 (d): geometry must be Polygon or MultiPolygon, not 'Point'",
                "feature 5 (e): unknown banned_max_stage 'NR9'"}));
  EXPECT_EQ(import_zones_geojson("{").problems.size(), 1u);
}

TEST(Zones, HolesAreOutside) {
  const auto imported = import_zones_geojson(R"({"type":"FeatureCollection","features":[
    {"type":"Feature","properties":{"id":"ring","kind":"nrmm_ban","buffer_m":0},
     "geometry":{"type":"Polygon","coordinates":[[[113,34],[114,34],[114,35],[113,35],[113,34]],
                                                 [[113.4,34.4],[113.6,34.4],[113.6,34.6],[113.4,34.6],[113.4,34.4]]]}}]})");
  ASSERT_TRUE(imported.problems.empty()) << imported.problems[0];
  ZoneIndex index(imported.zones, 1);
  EXPECT_EQ(index.containing(113.2, 34.2).size(), 1u);
  EXPECT_TRUE(index.containing(113.5, 34.5).empty());
}

TEST(Zones, RtreeAgreesWithAScan) {
  // 1,000 random rectangles over Henan, 2,000 random points.
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> lon(110.5, 116.5), lat(31.5, 36.3), size(0.01, 0.3);
  std::vector<Zone> zones;
  for (int i = 0; i < 1000; ++i) {
    Zone z;
    z.id = "z" + std::to_string(i);
    const double x = lon(rng), y = lat(rng), w = size(rng), h = size(rng);
    GeoPolygon p;
    p.outer() = {{x, y}, {x, y + h}, {x + w, y + h}, {x + w, y}, {x, y}};
    z.area.push_back(p);
    zones.push_back(std::move(z));
  }
  ZoneIndex index(std::move(zones), 7);
  std::size_t hits = 0;
  for (int i = 0; i < 2000; ++i) {
    const double x = lon(rng), y = lat(rng);
    const auto a = index.containing(x, y), b = index.containing_by_scan(x, y);
    EXPECT_EQ(ids(a), ids(b));
    hits += a.size();
  }
  EXPECT_GT(hits, 100u);
}

}  // namespace
}  // namespace lantian::rules
