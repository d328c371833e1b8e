#pragma once
// Zones (rules.md, input 3): truck restriction zones, non-road machinery ban zones (禁用区) and
// exempt corridors, imported from GeoJSON, versioned, and queried by position through an R-tree.
//
// Coordinates are WGS-84 (rules/geo.hpp: a zone drawn in GCJ-02 is converted on import). A
// position is inside a zone when it is inside its polygon (holes excluded) and at least `buffer_m`
// from its boundary, so GPS jitter at the edge does not count as entry.

#include <boost/geometry/index/rtree.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/geo.hpp"
#include "rules/vehicle_identity.hpp"

namespace lantian::rules {

enum class ZoneKind { truck_restriction, nrmm_ban, exempt_corridor };
[[nodiscard]] std::string_view to_string(ZoneKind kind) noexcept;

// A daily window in Beijing time, minutes after midnight; start > end crosses midnight.
struct HoursWindow {
  int start_minute = 0;
  int end_minute = 24 * 60;
  bool operator==(const HoursWindow&) const = default;
};

struct Zone {
  std::string id, name, city, source;
  ZoneKind kind = ZoneKind::truck_restriction;
  std::vector<std::string> applies_to;  // categories; "nrmm:*" matches every machine
  std::optional<Stage> banned_max_stage;
  std::string smoke_class;                         // "I", "II", "III" or empty
  std::vector<HoursWindow> hours;                  // empty: all day ("24h")
  std::optional<std::int64_t> valid_from_unix_s;   // Beijing midnight of valid_from
  std::optional<std::int64_t> valid_until_unix_s;  // Beijing midnight after valid_to (exclusive)
  double buffer_m = 30;
  GeoMultiPolygon area;  // WGS-84

  [[nodiscard]] bool applies_to_category(std::string_view category) const;
  // Valid on that day and inside one of its hours windows (Beijing time).
  [[nodiscard]] bool active_at(std::int64_t unix_s) const;
};

struct ZoneImport {
  std::vector<Zone> zones;
  std::vector<std::string> problems;  // "feature 3 (zz-4ring-cn3): …"; the feature is skipped
};
// Reads a GeoJSON FeatureCollection of Polygon and MultiPolygon features with the properties of
// rules.md (id, name, city, kind, applies_to, banned_max_stage, smoke_class, hours, valid_from,
// valid_to, source, crs, buffer_m).
[[nodiscard]] ZoneImport import_zones_geojson(std::string_view text);

// One version of the zone set, immutable, with its R-tree. Thread-safe for concurrent queries.
class ZoneIndex {
 public:
  ZoneIndex(std::vector<Zone> zones, int version);
  [[nodiscard]] int version() const noexcept { return version_; }
  [[nodiscard]] const std::vector<Zone>& zones() const noexcept { return zones_; }
  [[nodiscard]] const Zone* find(std::string_view id) const;

  // The zones containing (lon, lat) by more than their buffer, of any kind, whatever the time.
  [[nodiscard]] std::vector<const Zone*> containing(double lon, double lat) const;
  // The same by testing every zone (the reference the benchmark compares with).
  [[nodiscard]] std::vector<const Zone*> containing_by_scan(double lon, double lat) const;

 private:
  using Entry = std::pair<GeoBox, std::size_t>;
  [[nodiscard]] bool contains(const Zone& zone, const GeoPoint& p) const;
  std::vector<Zone> zones_;
  int version_;
  boost::geometry::index::rtree<Entry, boost::geometry::index::quadratic<16>> tree_;
};

}  // namespace lantian::rules
