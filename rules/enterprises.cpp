#include "rules/enterprises.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>
#include <set>

namespace lantian::rules {
namespace json = boost::json;
namespace {

constexpr std::string_view industries[] = {"钢铁", "焦化", "水泥", "火电", "煤炭", "有色",
                                           "物流园区", "化工", "建材", "铸造", "其他"};
constexpr std::string_view grades[] = {"A", "B", "C", "D", "引领性", "非绩效"};

std::string trimmed(std::string_view s) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

template <std::size_t N>
bool one_of(std::string_view value, const std::string_view (&set)[N]) {
  return std::find(std::begin(set), std::end(set), value) != std::end(set);
}

template <std::size_t N>
std::string listed(const std::string_view (&set)[N]) {
  std::string out;
  for (const auto v : set) out += (out.empty() ? "" : ", ") + std::string(v);
  return out;
}

// 统一社会信用代码 (GB 32100: 18 characters of 0-9 and A-Z without I, O, Z, S, V), or a
// province code of 4 to 32 characters of A-Z, 0-9 and '-'.
bool valid_id(std::string_view id) {
  if (id.size() < 4 || id.size() > 32) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '-';
  });
}

std::optional<double> number(std::string_view text) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// "ID:LON,LAT;ID:LON,LAT" → gates, or the reason it is not.
std::optional<std::vector<Gate>> parse_gates(const std::string& text, std::string& why) {
  std::vector<Gate> gates;
  std::set<std::string> ids;
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    const auto one = trimmed(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    if (one.empty()) continue;
    const auto colon = one.find(':');
    const auto comma = one.find(',', colon == std::string::npos ? 0 : colon);
    if (colon == std::string::npos || comma == std::string::npos) {
      why = "gate '" + one + "' is not ID:LON,LAT";
      return std::nullopt;
    }
    Gate g;
    g.id = trimmed(std::string_view(one).substr(0, colon));
    const auto lon = number(trimmed(std::string_view(one).substr(colon + 1, comma - colon - 1)));
    const auto lat = number(trimmed(std::string_view(one).substr(comma + 1)));
    if (g.id.empty() || g.id.size() > 32) {
      why = "gate '" + one + "' needs an id of 1 to 32 bytes";
      return std::nullopt;
    }
    // Henan lies within 110–117 °E, 31–37 °N; a gate outside is a typo (or swapped numbers).
    if (!lon || !lat || *lon < 110 || *lon > 117 || *lat < 31 || *lat > 37) {
      why = "gate " + g.id + ": longitude and latitude must lie in Henan (110–117 °E, 31–37 °N)";
      return std::nullopt;
    }
    if (!ids.insert(g.id).second) {
      why = "gate " + g.id + " is given twice";
      return std::nullopt;
    }
    g.lon_deg = *lon;
    g.lat_deg = *lat;
    gates.push_back(std::move(g));
  }
  return gates;
}

}  // namespace

EnterpriseImport import_enterprises_csv(std::istream& in) {
  EnterpriseImport out;
  std::string line;
  std::map<std::string, std::size_t> column;
  std::set<std::string> seen;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (n == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trimmed(line).empty()) continue;
    const auto fields = split_csv_line(line);
    if (column.empty()) {
      for (std::size_t i = 0; i < fields.size(); ++i) column[trimmed(fields[i])] = i;
      std::vector<std::string> missing;
      for (const char* name : {"id", "name", "city", "industry", "grade"})
        if (!column.count(name)) missing.emplace_back(name);
      if (!missing.empty()) {
        std::string reason = "header lacks";
        for (const auto& m : missing) reason += " " + m;
        out.rejected.push_back({n, reason});
        return out;
      }
      continue;
    }
    auto get = [&](const char* name) {
      const auto it = column.find(name);
      return it != column.end() && it->second < fields.size() ? trimmed(fields[it->second])
                                                               : std::string();
    };
    std::vector<std::string> reasons;
    Enterprise e;
    e.id = get("id");
    e.name = get("name");
    e.city = get("city");
    e.county = get("county");
    e.industry = get("industry");
    e.grade = get("grade");
    if (!valid_id(e.id))
      reasons.push_back("id must be a 统一社会信用代码 or a code of 4 to 32 of A-Z, 0-9, '-'");
    else if (seen.count(e.id))
      reasons.push_back("id " + e.id + " is given twice");
    if (e.name.empty() || e.name.size() > 200) reasons.push_back("name must be 1 to 200 bytes");
    if (!is_henan_city(e.city)) reasons.push_back("city must be one of Henan's 18 cities (郑州, …)");
    if (e.county.size() > 64) reasons.push_back("county is longer than 64 bytes");
    if (!one_of(e.industry, industries))
      reasons.push_back("unknown industry '" + e.industry + "' (" + listed(industries) + ")");
    if (!one_of(e.grade, grades))
      reasons.push_back("unknown grade '" + e.grade + "' (" + listed(grades) + ")");
    const auto bulk = get("bulk");
    if (bulk == "true" || bulk == "1" || bulk == "是")
      e.bulk = true;
    else if (!(bulk.empty() || bulk == "false" || bulk == "0" || bulk == "否"))
      reasons.push_back("bulk must be true or false (是/否, 1/0)");
    std::string why;
    if (auto gates = parse_gates(get("gates"), why))
      e.gates = std::move(*gates);
    else
      reasons.push_back(why);
    if (!reasons.empty()) {
      out.rejected.push_back(rejected_row(n, reasons));
      continue;
    }
    seen.insert(e.id);
    out.enterprises.push_back(std::move(e));
  }
  if (column.empty()) out.rejected.push_back({1, "no header line"});
  return out;
}

json::object to_json(const Enterprise& e) {
  json::array gates;
  for (const auto& g : e.gates)
    gates.push_back(json::object{{"id", g.id}, {"lon", g.lon_deg}, {"lat", g.lat_deg}});
  return {{"id", e.id},
          {"name", e.name},
          {"city", e.city},
          {"county", e.county.empty() ? json::value(nullptr) : json::value(e.county)},
          {"industry", e.industry},
          {"grade", e.grade},
          {"bulk", e.bulk},
          {"gates", std::move(gates)}};
}

std::optional<Enterprise> enterprise_from_json(std::string_view text) {
  boost::system::error_code ec;
  const auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  const auto str = [&](const char* key) {
    const auto* x = o.if_contains(key);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  Enterprise e;
  e.id = str("id");
  e.name = str("name");
  e.city = str("city");
  e.county = str("county");
  e.industry = str("industry");
  e.grade = str("grade");
  if (const auto* b = o.if_contains("bulk"); b && b->is_bool()) e.bulk = b->as_bool();
  if (const auto* gates = o.if_contains("gates"); gates && gates->is_array())
    for (const auto& g : gates->as_array()) {
      if (!g.is_object()) continue;
      const auto* id = g.as_object().if_contains("id");
      const auto* lon = g.as_object().if_contains("lon");
      const auto* lat = g.as_object().if_contains("lat");
      if (!id || !id->is_string() || !lon || !lon->is_number() || !lat || !lat->is_number())
        continue;
      e.gates.push_back({std::string(id->as_string()), lon->to_number<double>(),
                         lat->to_number<double>()});
    }
  if (e.id.empty()) return std::nullopt;
  return e;
}

}  // namespace lantian::rules
