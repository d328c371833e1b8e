#pragma once
// Geography shared by zones and administrative areas: WGS-84 points and polygons, the GCJ-02
// conversion of Chinese web maps, and reading GeoJSON FeatureCollections of (Multi)Polygons.
//
// Everything stored and compared is WGS-84 longitude/latitude; a layer drawn on a Chinese web map
// (`"crs": "gcj02"` in a feature's properties) is converted when read.

#include <boost/geometry/geometries/box.hpp>
#include <boost/geometry/geometries/multi_polygon.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lantian::rules {

using GeoPoint = boost::geometry::model::d2::point_xy<double>;  // x = longitude, y = latitude
using GeoPolygon = boost::geometry::model::polygon<GeoPoint>;
using GeoMultiPolygon = boost::geometry::model::multi_polygon<GeoPolygon>;
using GeoBox = boost::geometry::model::box<GeoPoint>;

// The standard published GCJ-02 ("Mars coordinates") offset, and its inverse by iteration (better
// than 1e-7° inside China). Outside China GCJ-02 equals WGS-84.
[[nodiscard]] GeoPoint wgs84_to_gcj02(GeoPoint wgs) noexcept;
[[nodiscard]] GeoPoint gcj02_to_wgs84(GeoPoint gcj) noexcept;

// Distance in metres from (lon, lat) to the nearest edge of `area` (local flat-earth approximation,
// accurate to well under a metre at the scale of a buffer).
[[nodiscard]] double distance_to_boundary_m(const GeoMultiPolygon& area, double lon, double lat);

// The bounding box of `area` (for an R-tree).
[[nodiscard]] GeoBox envelope_of(const GeoMultiPolygon& area);

// A string property of a GeoJSON feature (empty when absent or not a string).
[[nodiscard]] std::string text_property(const boost::json::object& properties,
                                        std::string_view key);

// Reads a feature's Polygon or MultiPolygon `geometry` into `area` (WGS-84), converting from
// GCJ-02 when the feature's `crs` property says so ("wgs84", the default, or "gcj02"). Returns the
// problem, empty when the geometry is good (closed, oriented, valid).
[[nodiscard]] std::string read_feature_area(const boost::json::object& properties,
                                            const boost::json::value& geometry,
                                            GeoMultiPolygon& area);

// Calls `fn(n, properties, geometry)` for each feature of a GeoJSON FeatureCollection (n from 1);
// `fn` returns the feature's problem, empty when it is good. Returns the problems, each prefixed
// "feature N: " (or "feature N (ID): " when `fn` set `id`); a document that is not a
// FeatureCollection is one problem.
using FeatureReader = std::function<std::string(std::size_t n, const boost::json::object& properties,
                                                const boost::json::value& geometry,
                                                std::string& id)>;
[[nodiscard]] std::vector<std::string> read_feature_collection(std::string_view text,
                                                               const FeatureReader& fn);

}  // namespace lantian::rules
