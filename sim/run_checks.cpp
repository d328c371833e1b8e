#include "sim/run_checks.hpp"

#include <boost/json.hpp>
#include <set>

#include "protocol/json.hpp"
#include "sim/terminal.hpp"

namespace lantian::sim {
namespace json = boost::json;
namespace {

// Calls `fn` with each line of `in` that is a JSON object.
template <class Fn>
void for_each_object(std::istream& in, Fn fn) {
  std::string line;
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    const auto v = json::parse(line, ec);
    if (!ec && v.is_object()) fn(v.as_object());
  }
}

std::string text(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

AckedCheck check_acked(std::istream& acked, std::istream& exported) {
  std::set<std::string> stored;
  for_each_object(exported, [&](const json::object& o) {
    if (const auto bytes = protocol::from_hex(text(o, "raw")))
      stored.insert(text(o, "vin") + ' ' + report_digest(*bytes));
  });
  AckedCheck out;
  std::string line;
  while (std::getline(acked, line)) {
    if (line.empty()) continue;
    ++out.acknowledged;
    if (stored.count(line))
      ++out.stored;
    else
      out.missing.push_back(line);
  }
  return out;
}

ViolationsCheck check_violations(std::istream& expected, std::istream& stored,
                                 const std::vector<std::string>& fleet_vins) {
  // A vehicle by VIN; an unregistered truck at a gate by its plate; R15 by its enterprise.
  auto who = [](const json::object& o, const char* enterprise_key) {
    if (auto vin = text(o, "vin"); !vin.empty()) return vin;
    if (auto plate = text(o, "plate"); !plate.empty()) return "plate:" + plate;
    return "enterprise:" + text(o, enterprise_key);
  };
  auto id = [](const std::string& rule, const std::string& vin, const std::string& zone,
               const json::value* at) {
    std::string out = rule + ' ' + vin + (zone.empty() ? "" : ' ' + zone);
    if (at && at->is_int64()) out += " @" + std::to_string(at->as_int64());
    return out;
  };
  std::set<std::string> predicted, raised;
  for_each_object(expected, [&](const json::object& o) {
    predicted.insert(
        id(text(o, "rule"), who(o, "enterprise"), text(o, "zone"), o.if_contains("at_unix_s")));
  });
  const std::set<std::string> fleet(fleet_vins.begin(), fleet_vins.end());
  for_each_object(stored, [&](const json::object& o) {
    if (const auto* w = o.if_contains("withdrawn"); w && !w->is_null()) return;
    // Violations without a VIN come from gate records only, all of them simulated.
    if (!fleet.empty() && !text(o, "vin").empty() && !fleet.count(text(o, "vin"))) return;
    raised.insert(
        id(text(o, "rule"), who(o, "enterprise_id"), text(o, "zone_id"), o.if_contains("unix_s")));
  });
  ViolationsCheck out;
  out.expected = predicted.size();
  for (const auto& p : predicted) {
    if (raised.count(p))
      ++out.found;
    else
      out.missing.push_back(p);
  }
  for (const auto& r : raised)
    if (!predicted.count(r)) out.unexpected.push_back(r);
  return out;
}

}  // namespace lantian::sim
