#include "rules/zones.hpp"

#include <boost/geometry/algorithms/correct.hpp>
#include <boost/geometry/algorithms/envelope.hpp>
#include <boost/geometry/algorithms/is_valid.hpp>
#include <boost/geometry/algorithms/within.hpp>
#include <boost/json.hpp>
#include <cmath>

#include "protocol/beijing_time.hpp"

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

// Beijing midnight of "YYYY-MM-DD" as Unix seconds.
std::optional<std::int64_t> beijing_midnight(std::string_view date) {
  int y = 0, m = 0, d = 0;
  if (date.size() != 10 || std::sscanf(std::string(date).c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3)
    return std::nullopt;
  if (y < 2000 || y > 2255) return std::nullopt;
  return protocol::BeijingTime::from_fields(y, m, d, 0, 0, 0).to_unix_seconds();
}

std::optional<int> minute_of_day(std::string_view hhmm) {
  int h = 0, m = 0;
  if (hhmm.size() != 5 || std::sscanf(std::string(hhmm).c_str(), "%2d:%2d", &h, &m) != 2)
    return std::nullopt;
  if (h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
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

std::optional<ZoneKind> parse_kind(std::string_view s) {
  if (s == "truck_restriction") return ZoneKind::truck_restriction;
  if (s == "nrmm_ban") return ZoneKind::nrmm_ban;
  if (s == "exempt_corridor") return ZoneKind::exempt_corridor;
  return std::nullopt;
}

std::string text_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Reads one feature; returns the problem (empty when the zone is good).
std::string read_feature(const json::value& feature, Zone& z) {
  if (!feature.is_object()) return "not a GeoJSON Feature";
  const auto& f = feature.as_object();
  const auto* props_v = f.if_contains("properties");
  const auto* geometry_v = f.if_contains("geometry");
  if (!props_v || !props_v->is_object()) return "no properties";
  if (!geometry_v || !geometry_v->is_object()) return "no geometry";
  const auto& p = props_v->as_object();
  z.id = text_of(p, "id");
  z.name = text_of(p, "name");
  z.city = text_of(p, "city");
  z.source = text_of(p, "source");
  if (z.id.empty()) return "no id";
  const auto kind = parse_kind(text_of(p, "kind"));
  if (!kind) return "kind must be truck_restriction, nrmm_ban or exempt_corridor";
  z.kind = *kind;
  if (const auto* a = p.if_contains("applies_to"); a && a->is_array())
    for (const auto& c : a->as_array())
      if (c.is_string()) z.applies_to.emplace_back(c.as_string());
  if (const auto stage = text_of(p, "banned_max_stage"); !stage.empty()) {
    z.banned_max_stage = parse_stage(stage, z.kind == ZoneKind::nrmm_ban);
    if (!z.banned_max_stage) return "unknown banned_max_stage '" + stage + "'";
  }
  z.smoke_class = text_of(p, "smoke_class");
  if (!z.smoke_class.empty() && z.smoke_class != "I" && z.smoke_class != "II" &&
      z.smoke_class != "III")
    return "smoke_class must be I, II or III";
  if (const auto* h = p.if_contains("hours"); h && !h->is_null()) {
    if (h->is_string() && h->as_string() == "24h") {
      // all day
    } else if (h->is_array()) {
      for (const auto& w : h->as_array()) {
        if (!w.is_array() || w.as_array().size() != 2 || !w.as_array()[0].is_string() ||
            !w.as_array()[1].is_string())
          return "hours must be \"24h\" or a list of [\"HH:MM\", \"HH:MM\"] windows";
        const auto from = minute_of_day(w.as_array()[0].as_string());
        const auto to = minute_of_day(w.as_array()[1].as_string());
        if (!from || !to || *from == *to) return "bad hours window";
        z.hours.push_back({*from, *to});
      }
    } else {
      return "hours must be \"24h\" or a list of windows";
    }
  }
  if (const auto from = text_of(p, "valid_from"); !from.empty()) {
    z.valid_from_unix_s = beijing_midnight(from);
    if (!z.valid_from_unix_s) return "valid_from must be YYYY-MM-DD";
  }
  if (const auto to = text_of(p, "valid_to"); !to.empty()) {
    const auto midnight = beijing_midnight(to);
    if (!midnight) return "valid_to must be YYYY-MM-DD";
    z.valid_until_unix_s = *midnight + 86400;  // valid through the whole day
  }
  if (const auto* b = p.if_contains("buffer_m"); b && !b->is_null()) {
    if (!b->is_number() || b->to_number<double>() < 0 || b->to_number<double>() > 10000)
      return "buffer_m must be 0..10000";
    z.buffer_m = b->to_number<double>();
  }
  const auto crs = text_of(p, "crs");
  if (!crs.empty() && crs != "wgs84" && crs != "gcj02") return "crs must be wgs84 or gcj02";
  const bool gcj02 = crs == "gcj02";

  const auto& g = geometry_v->as_object();
  const auto type = text_of(g, "type");
  const auto* coords = g.if_contains("coordinates");
  if (!coords) return "geometry has no coordinates";
  std::string problem;
  if (type == "Polygon") {
    GeoPolygon polygon;
    if (!read_polygon(*coords, gcj02, polygon, problem)) return problem;
    z.area.push_back(std::move(polygon));
  } else if (type == "MultiPolygon") {
    if (!coords->is_array()) return "MultiPolygon coordinates must be a list of polygons";
    for (const auto& pv : coords->as_array()) {
      GeoPolygon polygon;
      if (!read_polygon(pv, gcj02, polygon, problem)) return problem;
      z.area.push_back(std::move(polygon));
    }
  } else {
    return "geometry must be Polygon or MultiPolygon, not '" + type + "'";
  }
  if (std::string reason; !bg::is_valid(z.area, reason)) return "invalid geometry: " + reason;
  return {};
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

std::string_view to_string(ZoneKind kind) noexcept {
  switch (kind) {
    case ZoneKind::truck_restriction:
      return "truck_restriction";
    case ZoneKind::nrmm_ban:
      return "nrmm_ban";
    case ZoneKind::exempt_corridor:
      return "exempt_corridor";
  }
  return "truck_restriction";
}

bool Zone::applies_to_category(std::string_view category) const {
  for (const auto& c : applies_to) {
    if (c == category) return true;
    if (c == "nrmm:*" && category.starts_with("nrmm:")) return true;
  }
  return false;
}

bool Zone::active_at(std::int64_t unix_s) const {
  if (valid_from_unix_s && unix_s < *valid_from_unix_s) return false;
  if (valid_until_unix_s && unix_s >= *valid_until_unix_s) return false;
  if (hours.empty()) return true;
  const std::int64_t local = unix_s + protocol::beijing_utc_offset_seconds;
  const int minute = static_cast<int>(((local % 86400) + 86400) % 86400 / 60);
  for (const auto& w : hours) {
    const bool inside = w.start_minute < w.end_minute
                            ? (minute >= w.start_minute && minute < w.end_minute)
                            : (minute >= w.start_minute || minute < w.end_minute);
    if (inside) return true;
  }
  return false;
}

ZoneImport import_zones_geojson(std::string_view text) {
  ZoneImport out;
  boost::system::error_code ec;
  const auto doc = json::parse(text, ec);
  if (ec) {
    out.problems.push_back("not JSON: " + ec.message());
    return out;
  }
  const auto* features = doc.is_object() ? doc.as_object().if_contains("features") : nullptr;
  if (!features || !features->is_array()) {
    out.problems.push_back("not a GeoJSON FeatureCollection (no features list)");
    return out;
  }
  std::size_t n = 0;
  for (const auto& f : features->as_array()) {
    ++n;
    Zone z;
    if (const auto problem = read_feature(f, z); !problem.empty()) {
      out.problems.push_back("feature " + std::to_string(n) +
                             (z.id.empty() ? "" : " (" + z.id + ")") + ": " + problem);
      continue;
    }
    out.zones.push_back(std::move(z));
  }
  return out;
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

ZoneIndex::ZoneIndex(std::vector<Zone> zones, int version)
    : zones_(std::move(zones)), version_(version) {
  std::vector<Entry> entries;
  entries.reserve(zones_.size());
  for (std::size_t i = 0; i < zones_.size(); ++i)
    entries.emplace_back(bg::return_envelope<GeoBox>(zones_[i].area), i);
  tree_ = decltype(tree_)(entries.begin(), entries.end());  // bulk-loaded (packing)
}

const Zone* ZoneIndex::find(std::string_view id) const {
  for (const auto& z : zones_)
    if (z.id == id) return &z;
  return nullptr;
}

bool ZoneIndex::contains(const Zone& zone, const GeoPoint& p) const {
  if (!bg::within(p, zone.area)) return false;
  return zone.buffer_m <= 0 || distance_to_boundary_m(zone.area, p.x(), p.y()) >= zone.buffer_m;
}

std::vector<const Zone*> ZoneIndex::containing(double lon, double lat) const {
  const GeoPoint p(lon, lat);
  std::vector<const Zone*> out;
  for (auto it = tree_.qbegin(bg::index::intersects(p)); it != tree_.qend(); ++it)
    if (contains(zones_[it->second], p)) out.push_back(&zones_[it->second]);
  std::sort(out.begin(), out.end());  // a stable order (by position in the version)
  return out;
}

std::vector<const Zone*> ZoneIndex::containing_by_scan(double lon, double lat) const {
  const GeoPoint p(lon, lat);
  std::vector<const Zone*> out;
  for (const auto& z : zones_)
    if (contains(z, p)) out.push_back(&z);
  return out;
}

}  // namespace lantian::rules
