#include "rules/geo.hpp"

#include <algorithm>
#include <boost/geometry/algorithms/correct.hpp>
#include <boost/geometry/algorithms/is_valid.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <limits>

namespace lantian::rules {
namespace bg = boost::geometry;
namespace json = boost::json;

namespace {

constexpr double pi = 3.14159265358979323846;

bool outside_china(double lon, double lat) noexcept {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

double transform_lat(double x, double y) noexcept {
  double r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * std::sqrt(std::fabs(x));
  r += (20.0 * std::sin(6.0 * x * pi) + 20.0 * std::sin(2.0 * x * pi)) * 2.0 / 3.0;
  r += (20.0 * std::sin(y * pi) + 40.0 * std::sin(y / 3.0 * pi)) * 2.0 / 3.0;
  r += (160.0 * std::sin(y / 12.0 * pi) + 320.0 * std::sin(y * pi / 30.0)) * 2.0 / 3.0;
  return r;
}

double transform_lon(double x, double y) noexcept {
  double r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * std::sqrt(std::fabs(x));
  r += (20.0 * std::sin(6.0 * x * pi) + 20.0 * std::sin(2.0 * x * pi)) * 2.0 / 3.0;
  r += (20.0 * std::sin(x * pi) + 40.0 * std::sin(x / 3.0 * pi)) * 2.0 / 3.0;
  r += (150.0 * std::sin(x / 12.0 * pi) + 300.0 * std::sin(x / 30.0 * pi)) * 2.0 / 3.0;
  return r;
}

// Reads a GeoJSON ring; converts GCJ-02 to WGS-84 when asked.
bool read_ring(const json::value& v, bool gcj02, GeoPolygon::ring_type& ring,
               std::string& problem) {
  if (!v.is_array() || v.as_array().size() < 4) {
    problem = "a ring needs at least 4 positions";
    return false;
  }
  for (const auto& p : v.as_array()) {
    if (!p.is_array() || p.as_array().size() < 2 || !p.as_array()[0].is_number() ||
        !p.as_array()[1].is_number()) {
      problem = "a position must be [lon, lat]";
      return false;
    }
    GeoPoint point(p.as_array()[0].to_number<double>(), p.as_array()[1].to_number<double>());
    if (std::fabs(point.x()) > 180 || std::fabs(point.y()) > 90) {
      problem = "a position is outside [-180, 180] × [-90, 90]";
      return false;
    }
    ring.push_back(gcj02 ? gcj02_to_wgs84(point) : point);
  }
  return true;
}

bool read_polygon(const json::value& v, bool gcj02, GeoPolygon& polygon, std::string& problem) {
  if (!v.is_array() || v.as_array().empty()) {
    problem = "a polygon needs an outer ring";
    return false;
  }
  const auto& rings = v.as_array();
  if (!read_ring(rings[0], gcj02, polygon.outer(), problem)) return false;
  for (std::size_t i = 1; i < rings.size(); ++i) {
    polygon.inners().emplace_back();
    if (!read_ring(rings[i], gcj02, polygon.inners().back(), problem)) return false;
  }
  bg::correct(polygon);  // orientation and closure as Boost.Geometry expects
  return true;
}

}  // namespace

GeoPoint wgs84_to_gcj02(GeoPoint wgs) noexcept {
  const double lon = wgs.x(), lat = wgs.y();
  if (outside_china(lon, lat)) return wgs;
  constexpr double a = 6378245.0;
  constexpr double ee = 0.00669342162296594323;
  double d_lat = transform_lat(lon - 105.0, lat - 35.0);
  double d_lon = transform_lon(lon - 105.0, lat - 35.0);
  const double rad_lat = lat / 180.0 * pi;
  double magic = std::sin(rad_lat);
  magic = 1 - ee * magic * magic;
  const double sqrt_magic = std::sqrt(magic);
  d_lat = (d_lat * 180.0) / ((a * (1 - ee)) / (magic * sqrt_magic) * pi);
  d_lon = (d_lon * 180.0) / (a / sqrt_magic * std::cos(rad_lat) * pi);
  return {lon + d_lon, lat + d_lat};
}

GeoPoint gcj02_to_wgs84(GeoPoint gcj) noexcept {
  if (outside_china(gcj.x(), gcj.y())) return gcj;
  GeoPoint wgs = gcj;
  for (int i = 0; i < 10; ++i) {  // fixed point: converges to ~1e-9° in a few steps
    const GeoPoint back = wgs84_to_gcj02(wgs);
    wgs = GeoPoint(wgs.x() - (back.x() - gcj.x()), wgs.y() - (back.y() - gcj.y()));
  }
  return wgs;
}

double distance_to_boundary_m(const GeoMultiPolygon& area, double lon, double lat) {
  // Local equirectangular metres around the point: ample for distances of tens of metres.
  const double m_per_deg_lat = 110574.0;
  const double m_per_deg_lon = 111320.0 * std::cos(lat * pi / 180.0);
  double best = std::numeric_limits<double>::infinity();
  auto ring_distance = [&](const GeoPolygon::ring_type& ring) {
    for (std::size_t i = 0; i + 1 < ring.size(); ++i) {
      const double ax = (ring[i].x() - lon) * m_per_deg_lon,
                   ay = (ring[i].y() - lat) * m_per_deg_lat;
      const double bx = (ring[i + 1].x() - lon) * m_per_deg_lon,
                   by = (ring[i + 1].y() - lat) * m_per_deg_lat;
      const double dx = bx - ax, dy = by - ay;
      const double len2 = dx * dx + dy * dy;
      double t = len2 > 0 ? -(ax * dx + ay * dy) / len2 : 0;
      t = std::clamp(t, 0.0, 1.0);
      best = std::min(best, std::hypot(ax + t * dx, ay + t * dy));
    }
  };
  for (const auto& polygon : area) {
    ring_distance(polygon.outer());
    for (const auto& inner : polygon.inners()) ring_distance(inner);
  }
  return best;
}

GeoBox envelope_of(const GeoMultiPolygon& area) {
  // Corners spanned by hand rather than with bg::envelope, whose cartesian strategy state trips
  // GCC 12's -Wmaybe-uninitialized when inlined here.
  double min_x = std::numeric_limits<double>::infinity(), min_y = min_x;
  double max_x = -min_x, max_y = -min_x;
  for (const auto& polygon : area)
    for (const auto& p : polygon.outer()) {
      min_x = std::min(min_x, p.x());
      min_y = std::min(min_y, p.y());
      max_x = std::max(max_x, p.x());
      max_y = std::max(max_y, p.y());
    }
  return {GeoPoint(min_x, min_y), GeoPoint(max_x, max_y)};
}

std::string text_property(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string read_feature_area(const json::object& p, const json::value& geometry,
                              GeoMultiPolygon& area) {
  if (!geometry.is_object()) return "no geometry";
  const auto crs = text_property(p, "crs");
  if (!crs.empty() && crs != "wgs84" && crs != "gcj02") return "crs must be wgs84 or gcj02";
  const bool gcj02 = crs == "gcj02";

  const auto& g = geometry.as_object();
  const auto type = text_property(g, "type");
  const auto* coords = g.if_contains("coordinates");
  if (!coords) return "geometry has no coordinates";
  std::string problem;
  if (type == "Polygon") {
    GeoPolygon polygon;
    if (!read_polygon(*coords, gcj02, polygon, problem)) return problem;
    area.push_back(std::move(polygon));
  } else if (type == "MultiPolygon") {
    if (!coords->is_array()) return "MultiPolygon coordinates must be a list of polygons";
    for (const auto& pv : coords->as_array()) {
      GeoPolygon polygon;
      if (!read_polygon(pv, gcj02, polygon, problem)) return problem;
      area.push_back(std::move(polygon));
    }
  } else {
    return "geometry must be Polygon or MultiPolygon, not '" + type + "'";
  }
  if (std::string reason; !bg::is_valid(area, reason)) return "invalid geometry: " + reason;
  return {};
}

std::vector<std::string> read_feature_collection(std::string_view text, const FeatureReader& fn) {
  std::vector<std::string> problems;
  boost::system::error_code ec;
  const auto doc = json::parse(text, ec);
  if (ec) return {"not JSON: " + ec.message()};
  const auto* features = doc.is_object() ? doc.as_object().if_contains("features") : nullptr;
  if (!features || !features->is_array())
    return {"not a GeoJSON FeatureCollection (no features list)"};
  std::size_t n = 0;
  for (const auto& f : features->as_array()) {
    ++n;
    std::string id, problem;
    const auto* props = f.is_object() ? f.as_object().if_contains("properties") : nullptr;
    const auto* geometry = f.is_object() ? f.as_object().if_contains("geometry") : nullptr;
    if (!f.is_object())
      problem = "not a GeoJSON Feature";
    else if (!props || !props->is_object())
      problem = "no properties";
    else if (!geometry || !geometry->is_object())
      problem = "no geometry";
    else
      problem = fn(n, props->as_object(), *geometry, id);
    if (!problem.empty())
      problems.push_back("feature " + std::to_string(n) + (id.empty() ? "" : " (" + id + ")") +
                         ": " + problem);
  }
  return problems;
}

}  // namespace lantian::rules
