#include "rules/zones.hpp"

#include <boost/geometry/algorithms/envelope.hpp>
#include <boost/geometry/algorithms/within.hpp>
#include <boost/json.hpp>

#include "protocol/beijing_time.hpp"

namespace lantian::rules {
namespace bg = boost::geometry;
namespace json = boost::json;

namespace {

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

std::optional<ZoneKind> parse_kind(std::string_view s) {
  if (s == "truck_restriction") return ZoneKind::truck_restriction;
  if (s == "nrmm_ban") return ZoneKind::nrmm_ban;
  if (s == "exempt_corridor") return ZoneKind::exempt_corridor;
  return std::nullopt;
}

// Reads one feature; returns the problem (empty when the zone is good).
std::string read_zone(const json::object& p, const json::value& geometry, Zone& z) {
  z.id = text_property(p, "id");
  z.name = text_property(p, "name");
  z.city = text_property(p, "city");
  z.source = text_property(p, "source");
  if (z.id.empty()) return "no id";
  const auto kind = parse_kind(text_property(p, "kind"));
  if (!kind) return "kind must be truck_restriction, nrmm_ban or exempt_corridor";
  z.kind = *kind;
  if (const auto* a = p.if_contains("applies_to"); a && a->is_array())
    for (const auto& c : a->as_array())
      if (c.is_string()) z.applies_to.emplace_back(c.as_string());
  if (const auto stage = text_property(p, "banned_max_stage"); !stage.empty()) {
    z.banned_max_stage = parse_stage(stage, z.kind == ZoneKind::nrmm_ban);
    if (!z.banned_max_stage) return "unknown banned_max_stage '" + stage + "'";
  }
  z.smoke_class = text_property(p, "smoke_class");
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
  if (const auto from = text_property(p, "valid_from"); !from.empty()) {
    z.valid_from_unix_s = beijing_midnight(from);
    if (!z.valid_from_unix_s) return "valid_from must be YYYY-MM-DD";
  }
  if (const auto to = text_property(p, "valid_to"); !to.empty()) {
    const auto midnight = beijing_midnight(to);
    if (!midnight) return "valid_to must be YYYY-MM-DD";
    z.valid_until_unix_s = *midnight + 86400;  // valid through the whole day
  }
  if (const auto* b = p.if_contains("buffer_m"); b && !b->is_null()) {
    if (!b->is_number() || b->to_number<double>() < 0 || b->to_number<double>() > 10000)
      return "buffer_m must be 0..10000";
    z.buffer_m = b->to_number<double>();
  }
  return read_feature_area(p, geometry, z.area);
}

}  // namespace

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
  out.problems = read_feature_collection(
      text, [&](std::size_t, const json::object& properties, const json::value& geometry,
                std::string& id) {
        Zone z;
        auto problem = read_zone(properties, geometry, z);
        id = z.id;
        if (problem.empty()) out.zones.push_back(std::move(z));
        return problem;
      });
  return out;
}

ZoneIndex::ZoneIndex(std::vector<Zone> zones, int version)
    : zones_(std::move(zones)), version_(version) {
  std::vector<Entry> entries;
  entries.reserve(zones_.size());
  for (std::size_t i = 0; i < zones_.size(); ++i)
    entries.emplace_back(envelope_of(zones_[i].area), i);
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
