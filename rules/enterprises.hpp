#pragma once
// Key freight enterprises (重点用车企业): the steel, coke, cement, power, coal and non-ferrous plants
// and logistics parks whose gate systems (门禁) record every truck through their gates. Henan's plan
// (豫政〔2024〕12号) sets their targets: the share of bulk materials moved by clean transport, and
// emergency reduction on heavy-pollution days according to each enterprise's performance grade
// (绩效分级). See docs/enterprises.md.
//
// The enterprise list is read from CSV (`lantiand import-enterprises`): id, name, city, county,
// industry, grade, bulk, gates. Pure functions: no storage here.

#include <boost/json/object.hpp>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/registry.hpp"

namespace lantian::rules {

// One gate of an enterprise, where its gate system records trucks.
struct Gate {
  std::string id;  // unique within the enterprise ("east", "G2")
  double lon_deg = 0, lat_deg = 0;  // WGS-84
};

struct Enterprise {
  // 统一社会信用代码 (18 characters) or the province's own code (4 to 32 of A-Z, 0-9, '-').
  std::string id;
  std::string name;
  std::string city;    // one of Henan's 18 cities, as tokens name them (郑州, 开封, …)
  std::string county;  // optional
  std::string industry;  // 钢铁, 焦化, 水泥, 火电, 煤炭, 有色, 物流园区, 化工, 建材, 铸造, 其他
  std::string grade;     // A, B, C, D, 引领性, 非绩效
  bool bulk = false;     // moves bulk materials (大宗物料): counted against the clean-transport share
  std::vector<Gate> gates;
};

struct EnterpriseImport {
  std::vector<Enterprise> enterprises;
  std::vector<RejectedRow> rejected;
};

// Reads the enterprise CSV (UTF-8, an optional BOM, RFC 4180 quoting; the header names the
// columns, in any order): id, name, city, industry, grade are required; county, bulk (true/false,
// 是/否, 1/0; default false) and gates ("ID:LON,LAT;ID:LON,LAT", quoted) are optional. Every
// rejected row is reported with its line and all its reasons; an id given twice is rejected the
// second time.
[[nodiscard]] EnterpriseImport import_enterprises_csv(std::istream& in);

[[nodiscard]] boost::json::object to_json(const Enterprise& enterprise);
[[nodiscard]] std::optional<Enterprise> enterprise_from_json(std::string_view text);

}  // namespace lantian::rules
