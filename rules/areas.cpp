#include "rules/areas.hpp"

#include <algorithm>
#include <boost/geometry/algorithms/covered_by.hpp>
#include <boost/json.hpp>
#include <set>

#include "rules/registry.hpp"

namespace lantian::rules {
namespace bg = boost::geometry;
namespace json = boost::json;

AreaImport import_areas_geojson(std::string_view text) {
  AreaImport out;
  std::set<std::string> adcodes;
  out.problems = read_feature_collection(
      text, [&](std::size_t, const json::object& p, const json::value& geometry, std::string& id) {
        AdminArea a;
        a.adcode = text_property(p, "adcode");
        if (const auto* code = p.if_contains("adcode"); code && code->is_int64())
          a.adcode = std::to_string(code->as_int64());  // adcodes are often numbers in GeoJSON
        id = a.adcode;
        a.name = text_property(p, "name");
        if (a.adcode.size() != 6 ||
            !std::all_of(a.adcode.begin(), a.adcode.end(), [](char c) { return c >= '0' && c <= '9'; }))
          return std::string("adcode must be six digits (GB/T 2260)");
        if (a.name.empty()) return std::string("no name");
        const auto level = text_property(p, "level");
        if (level == "city")
          a.level = AreaLevel::city;
        else if (level == "county")
          a.level = AreaLevel::county;
        else
          return "level must be city or county, not '" + level + "'";
        if (!adcodes.insert(a.adcode).second) return std::string("adcode given twice");
        if (auto problem = read_feature_area(p, geometry, a.area); !problem.empty()) return problem;
        const auto henan_city = city_of_division_code(a.adcode);
        a.jurisdiction = a.level == AreaLevel::city && !henan_city.empty() ? henan_city : a.name;
        out.areas.push_back(std::move(a));
        return std::string();
      });
  return out;
}

AreaIndex::AreaIndex(std::vector<AdminArea> areas, int version)
    : areas_(std::move(areas)), version_(version) {
  std::vector<Entry> entries;
  entries.reserve(areas_.size());
  for (std::size_t i = 0; i < areas_.size(); ++i) entries.emplace_back(envelope_of(areas_[i].area), i);
  tree_ = decltype(tree_)(entries.begin(), entries.end());
}

Place AreaIndex::locate(double lon, double lat) const {
  const GeoPoint p(lon, lat);
  std::vector<std::size_t> hits;
  for (auto it = tree_.qbegin(bg::index::intersects(p)); it != tree_.qend(); ++it)
    if (bg::covered_by(p, areas_[it->second].area)) hits.push_back(it->second);
  std::sort(hits.begin(), hits.end());  // the first of the version wins
  Place place;
  for (const auto i : hits) {
    auto& slot = areas_[i].level == AreaLevel::city ? place.city : place.county;
    if (!slot) slot = &areas_[i];
  }
  return place;
}

}  // namespace lantian::rules
