#pragma once
// Administrative areas (rules.md, "Jurisdiction"): the outlines of cities and counties, imported
// from GeoJSON (`lantiand import-areas`), versioned like zones, and queried by position. Police
// enforce where a violation happens: a violation is filed under the city and county containing the
// position of its evidence, not under the city its vehicle is registered in.
//
// A feature's properties: `adcode` (GB/T 2260, six digits), `name`, `level` ("city" or
// "county"), optional `crs` ("wgs84", the default, or "gcj02"). A city is filed under its
// jurisdiction name — the short name tokens, the registry and zones use (郑州 for 410100 郑州市)
// for a Henan adcode, its `name` otherwise — so that a police token of 郑州 sees what happened in
// 郑州市's outline.

#include <boost/geometry/index/rtree.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "rules/geo.hpp"

namespace lantian::rules {

enum class AreaLevel { city, county };

struct AdminArea {
  std::string adcode, name;
  AreaLevel level = AreaLevel::city;
  std::string jurisdiction;  // what violations are filed under (see above)
  GeoMultiPolygon area;      // WGS-84
};

struct AreaImport {
  std::vector<AdminArea> areas;
  std::vector<std::string> problems;  // "feature 3 (410122): …"; an area version is all or nothing
};
// Reads a GeoJSON FeatureCollection of Polygon and MultiPolygon features with the properties above.
// An adcode that is not six digits, a level other than city or county, a missing name and a
// repeated adcode are problems.
[[nodiscard]] AreaImport import_areas_geojson(std::string_view text);

// Where a position is: the city and the county containing it (nullptr: none does). Where outlines
// overlap (a border drawn twice), the first area of the version wins, so the answer is stable.
struct Place {
  const AdminArea* city = nullptr;
  const AdminArea* county = nullptr;
};

// One version of the area set, immutable, with its R-tree. Thread-safe for concurrent queries.
class AreaIndex {
 public:
  AreaIndex(std::vector<AdminArea> areas, int version);
  [[nodiscard]] int version() const noexcept { return version_; }
  [[nodiscard]] const std::vector<AdminArea>& areas() const noexcept { return areas_; }
  [[nodiscard]] bool empty() const noexcept { return areas_.empty(); }
  [[nodiscard]] Place locate(double lon, double lat) const;

 private:
  using Entry = std::pair<GeoBox, std::size_t>;
  std::vector<AdminArea> areas_;
  int version_;
  boost::geometry::index::rtree<Entry, boost::geometry::index::quadratic<16>> tree_;
};

}  // namespace lantian::rules
