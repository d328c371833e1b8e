#include "rules/registry.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "protocol/beijing_time.hpp"

namespace lantian::rules {
namespace {

const std::set<std::string, std::less<>> vehicle_categories = {"N1", "N2", "N3", "M1", "M2", "M3"};

std::string trim(std::string s) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

}  // namespace

RejectedRow rejected_row(std::size_t line, const std::vector<std::string>& reasons) {
  std::string joined;
  for (const auto& reason : reasons) joined += (joined.empty() ? "" : "; ") + reason;
  return {line, joined};
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

RegistryImport import_registry_csv(std::istream& in, int latest_model_year) {
  RegistryImport out;
  std::string line;
  std::size_t line_no = 0;
  std::map<std::string, std::size_t> column;
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // UTF-8 BOM
    if (trim(line).empty()) continue;
    auto fields = split_csv_line(line);
    if (column.empty()) {
      for (std::size_t i = 0; i < fields.size(); ++i) column[trim(fields[i])] = i;
      std::vector<std::string> missing;
      for (const char* name : {"vin", "category", "emission_stage"})
        if (!column.count(name)) missing.push_back(name);
      if (!missing.empty()) {
        std::string reason = "header lacks";
        for (const auto& m : missing) reason += " " + m;
        out.rejected.push_back({line_no, reason});
        return out;
      }
      continue;
    }
    auto get = [&](const char* name) -> std::string {
      const auto it = column.find(name);
      return it != column.end() && it->second < fields.size() ? trim(fields[it->second])
                                                              : std::string();
    };
    std::vector<std::string> reasons;
    VehicleRecord r;
    r.vin = get("vin");
    if (const auto plate = get("plate"); !plate.empty()) {
      auto normal = normalise_plate(plate);
      if (normal.problem.empty())
        r.plate = std::move(normal.plate);
      else
        reasons.push_back(normal.problem);
    }
    r.plate_color = get("plate_color");
    if (!r.plate_color.empty()) {
      if (const auto code = plate_color_code(r.plate_color))
        r.plate_color = *code;
      else
        reasons.push_back(unknown_plate_color(r.plate_color));
    }
    r.category = get("category");
    r.fuel = get("fuel");
    r.owner = get("owner");
    r.registration_code = get("registration_code");
    r.chip_id = get("chip_id");
    r.sm2_public_key_hex = get("sm2_public_key");

    const bool machine = r.is_machine();
    if (!machine && !vehicle_categories.count(r.category))
      reasons.push_back("unknown category '" + r.category + "'");
    if (machine && r.category.size() <= 5)
      reasons.push_back("machine category without a kind (nrmm:<kind>)");
    if (machine) {
      if (r.vin.size() != 17) reasons.push_back("machine code must be 17 characters");
    } else if (!vin_well_formed(r.vin)) {
      reasons.push_back("VIN '" + r.vin + "' is not 17 characters of 0-9 A-Z without I, O, Q");
    } else if (!vin_valid(r.vin)) {
      reasons.push_back("VIN '" + r.vin + "' fails its check digit (expected '" +
                        std::string(1, *vin_check_digit(r.vin)) + "' at position 9)");
    }

    const std::string stage_text = get("emission_stage");
    const std::string source = get("stage_source");
    if (!stage_text.empty()) {
      r.stage = parse_stage(stage_text, machine);
      if (!r.stage)
        reasons.push_back("unknown emission stage '" + stage_text + "'");
      else if (is_machine_stage(*r.stage) != machine)
        reasons.push_back("stage " + std::string(to_string(*r.stage)) + " does not fit category " +
                          r.category);
      if (source == "inferred")
        r.stage_source = StageSource::inferred;
      else if (!source.empty() && source != "registry")
        reasons.push_back("unknown stage_source '" + source + "'");
    } else if (!machine && vin_valid(r.vin)) {
      // rules.md: an inferred stage only ever makes a violation `suspect`.
      r.stage_source = StageSource::inferred;
      if (infer_stage(r.vin, latest_model_year) == InferredStage::at_most_cn3) r.stage = Stage::CN3;
    }

    if (const auto power = get("rated_power_kw"); !power.empty()) {
      double kw = 0;
      const auto [end, ec] = std::from_chars(power.data(), power.data() + power.size(), kw);
      if (ec != std::errc() || end != power.data() + power.size() || kw <= 0 || kw > 10000)
        reasons.push_back("rated_power_kw '" + power + "' is not a power in kW");
      else
        r.rated_power_kw = kw;
    }
    if (const auto profile = get("profile"); !profile.empty() && profile != "auto") {
      r.profile = protocol::parse_profile(profile);
      if (!r.profile) reasons.push_back("unknown profile '" + profile + "'");
    }
    if (!reasons.empty()) {
      out.rejected.push_back(rejected_row(line_no, reasons));
      continue;
    }
    out.records.push_back(std::move(r));
  }
  return out;
}

bool VehicleRecord::has_permit(std::string_view zone_id, std::int64_t unix_s) const noexcept {
  return std::any_of(permits.begin(), permits.end(), [&](const Permit& p) {
    return p.zone_id == zone_id && unix_s >= p.valid_from_unix_s && unix_s < p.valid_until_unix_s;
  });
}

PermitImport import_permits_csv(std::istream& in) {
  PermitImport out;
  std::string line;
  std::map<std::string, std::size_t> column;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (n == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    if (trim(line).empty()) continue;
    const auto fields = split_csv_line(line);
    if (column.empty()) {
      for (std::size_t i = 0; i < fields.size(); ++i) column[trim(fields[i])] = i;
      for (const char* name : {"vin", "zone_id", "valid_from", "valid_to", "permit_no"})
        if (!column.count(name)) {
          out.rejected.push_back({n, std::string("header lacks ") + name});
          return out;
        }
      continue;
    }
    auto get = [&](const char* name) {
      const auto i = column.at(name);
      return i < fields.size() ? trim(fields[i]) : std::string();
    };
    std::vector<std::string> reasons;
    PermitRow row;
    row.vin = get("vin");
    row.permit.zone_id = get("zone_id");
    row.permit.permit_no = get("permit_no");
    if (row.vin.size() != 17) reasons.push_back("vin must be 17 characters");
    if (row.permit.zone_id.empty()) reasons.push_back("no zone_id");
    if (row.permit.permit_no.empty()) reasons.push_back("no permit_no");
    auto day = [](const std::string& text) -> std::optional<std::int64_t> {
      int y = 0, m = 0, d = 0;
      if (text.size() != 10 || std::sscanf(text.c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3 ||
          y < 2000 || y > 2255)
        return std::nullopt;
      return protocol::BeijingTime::from_fields(y, m, d, 0, 0, 0).to_unix_seconds();
    };
    const auto from = day(get("valid_from")), to = day(get("valid_to"));
    if (!from || !to)
      reasons.push_back("valid_from and valid_to must be YYYY-MM-DD");
    else if (*to < *from)
      reasons.push_back("valid_to is before valid_from");
    else
      row.permit.valid_from_unix_s = *from, row.permit.valid_until_unix_s = *to + 86400;
    if (!reasons.empty()) {
      out.rejected.push_back(rejected_row(n, reasons));
      continue;
    }
    out.permits.push_back(std::move(row));
  }
  return out;
}

bool Registry::add_permit(std::string_view vin, Permit permit) {
  const auto it = by_vin_.find(vin);
  if (it == by_vin_.end()) return false;
  it->second.permits.push_back(std::move(permit));
  return true;
}

void Registry::upsert(VehicleRecord record) {
  if (const auto* old = find(record.vin); old && !old->plate.empty())
    vin_by_plate_.erase({old->plate, old->plate_color});
  if (!record.plate.empty()) vin_by_plate_[{record.plate, record.plate_color}] = record.vin;
  const std::string key = record.vin;
  by_vin_[key] = std::move(record);
}

const VehicleRecord* Registry::find(std::string_view vin) const {
  const auto it = by_vin_.find(vin);
  return it == by_vin_.end() ? nullptr : &it->second;
}

std::optional<std::string> plate_color_code(std::string_view text) {
  static constexpr std::pair<std::string_view, std::string_view> names[] = {
      {"blue", "blue"},     {"蓝", "blue"},     {"蓝色", "blue"},
      {"yellow", "yellow"}, {"黄", "yellow"},   {"黄色", "yellow"},
      {"green", "green"},   {"绿", "green"},    {"绿色", "green"},
      {"新能源", "green"},  {"yellow_green", "yellow_green"},
      {"黄绿", "yellow_green"}, {"黄绿色", "yellow_green"},
      {"white", "white"},   {"白", "white"},    {"白色", "white"},
      {"black", "black"},   {"黑", "black"},    {"黑色", "black"},
  };
  for (const auto& [name, code] : names)
    if (text == name) return std::string(code);
  return std::nullopt;
}

std::string unknown_plate_color(std::string_view text) {
  return "unknown plate_color '" + std::string(text) +
         "' (blue, yellow, green, yellow_green, white, black)";
}

PlateText normalise_plate(std::string_view text) {
  PlateText out;
  std::size_t characters = 0;
  for (std::size_t i = 0; i < text.size();) {
    // One UTF-8 sequence: its length from the lead byte, continuation bytes 10xxxxxx, shortest.
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3
                               : (lead >> 3) == 30                ? 4
                                                                  : 0;
    char32_t cp = length == 1 ? lead : length == 2 ? lead & 0x1F : length == 3 ? lead & 0x0F : lead & 0x07;
    bool valid = length != 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      valid = (c & 0xC0) == 0x80;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr char32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (!valid || cp < smallest[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return {{}, "the plate is not UTF-8 text"};
    i += length;
    if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0;  // full-width forms of ASCII
    if (cp >= 'a' && cp <= 'z') cp -= 'a' - 'A';
    if (cp == ' ' || cp == 0x3000 || cp == 0xB7 || cp == 0x30FB || cp == 0x2022) continue;
    if ((cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9')) {
      out.plate += static_cast<char>(cp);
    } else if (cp >= 0x4E00 && cp <= 0x9FFF) {  // CJK unified ideographs: 豫, 挂, 学, 警 …
      out.plate += text.substr(i - length, length);
    } else {
      char code[16];
      std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(cp));
      const bool invisible = cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xAD ||
                             (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2060 && cp <= 0x2064) ||
                             cp == 0xFEFF;
      return {{}, std::string("the plate holds ") +
                      (invisible ? "an invisible or control character " : "the character ") +
                      code + (invisible ? "" : " ('" + std::string(text.substr(i - length, length)) + "')") +
                      "; a plate is letters, digits and Chinese characters"};
    }
    if (++characters > 12) return {{}, "the plate is longer than 12 characters"};
  }
  if (out.plate.empty()) return {{}, "the plate is empty"};
  return out;
}

PlateMatch Registry::find_by_plate(std::string_view plate, std::string_view color) const {
  const std::string number(plate);
  if (!color.empty()) {
    const auto it = vin_by_plate_.find(std::pair{number, std::string(color)});
    if (it != vin_by_plate_.end()) return {find(it->second), {}};
    return {nullptr, "no registered vehicle has plate " + number + " in " + std::string(color)};
  }
  std::vector<const VehicleRecord*> found;
  std::string colors;
  for (auto it = vin_by_plate_.lower_bound(std::pair{number, std::string()});
       it != vin_by_plate_.end() && it->first.first == number; ++it) {
    found.push_back(find(it->second));
    colors += (colors.empty() ? "" : ", ") + (it->first.second.empty() ? "no colour" : it->first.second);
  }
  if (found.size() == 1) return {found.front(), {}};
  if (found.empty()) return {nullptr, "no registered vehicle has plate " + number};
  return {nullptr, "plate " + number + " is registered " + std::to_string(found.size()) +
                       " times (" + colors + ") and the sighting gives no colour"};
}

namespace {
// Henan's prefecture codes (GB/T 2260, the first four digits of an adcode) and the names the
// platform files its cities under (tokens, registry, zones).
constexpr std::pair<std::string_view, std::string_view> henan_prefectures[] = {
    {"4101", "郑州"}, {"4102", "开封"},   {"4103", "洛阳"}, {"4104", "平顶山"}, {"4105", "安阳"},
    {"4106", "鹤壁"}, {"4107", "新乡"},   {"4108", "焦作"}, {"4109", "濮阳"},   {"4110", "许昌"},
    {"4111", "漯河"}, {"4112", "三门峡"}, {"4113", "南阳"}, {"4114", "商丘"},   {"4115", "信阳"},
    {"4116", "周口"}, {"4117", "驻马店"}, {"4190", "济源"}};
}  // namespace

std::string city_of_division_code(std::string_view code) {
  if (code.size() >= 4)
    for (const auto& [prefix, city] : henan_prefectures)
      if (code.starts_with(prefix)) return std::string(city);
  return {};
}

bool is_henan_city(std::string_view name) {
  return !henan_city_code(name).empty();
}

std::string henan_city_code(std::string_view name) {
  for (const auto& [prefix, city] : henan_prefectures)
    if (name == city) return std::string(prefix);
  return {};
}

std::string registration_city(const VehicleRecord& r) {
  // Henan's plate letters, in the order of the prefecture codes.
  static constexpr std::pair<std::string_view, std::string_view> by_plate[] = {
      {"A", "郑州"}, {"B", "开封"},   {"C", "洛阳"}, {"D", "平顶山"}, {"E", "安阳"},
      {"F", "鹤壁"}, {"G", "新乡"},   {"H", "焦作"}, {"J", "濮阳"},   {"K", "许昌"},
      {"L", "漯河"}, {"M", "三门峡"}, {"N", "商丘"}, {"P", "周口"},   {"Q", "驻马店"},
      {"R", "南阳"}, {"S", "信阳"},   {"U", "济源"}};
  constexpr std::string_view henan = "豫";
  const std::string_view plate = r.plate;
  if (plate.starts_with(henan) && plate.size() > henan.size())
    for (const auto& [letter, city] : by_plate)
      if (plate.substr(henan.size(), 1) == letter) return std::string(city);
  return city_of_division_code(r.registration_code);
}

}  // namespace lantian::rules
