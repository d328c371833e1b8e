#pragma once
// The vehicle and machinery registry (rules.md, input 2): who each VIN or machine code is, its
// category, fuel and emission stage (and where the stage comes from), power, profile, owner, and
// the optional chip id and SM2 key for signed frames. CSV import reports every rejected row by
// line.

#include <cstdint>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/types.hpp"
#include "rules/vehicle_identity.hpp"

namespace lantian::rules {

enum class StageSource { registry, inferred };

// A permit (通行证) exempting one vehicle from R02 in one zone during its validity.
struct Permit {
  std::string permit_no;
  std::string zone_id;
  std::int64_t valid_from_unix_s = 0;   // Beijing midnight of valid_from
  std::int64_t valid_until_unix_s = 0;  // Beijing midnight after valid_to
  bool operator==(const Permit&) const = default;
};

struct VehicleRecord {
  std::string vin;  // 17 characters: a VIN, or a machine's code (机械环保代码) in the same slot
  std::string plate, plate_color;
  std::string category;  // N1, N2, N3, M1, M2, M3, or nrmm:<kind>
  std::string fuel;      // diesel, gas, …
  std::optional<Stage> stage;
  StageSource stage_source = StageSource::registry;
  std::optional<double> rated_power_kw;
  std::optional<protocol::Profile> profile;  // nullopt: auto
  std::string owner, registration_code, chip_id, sm2_public_key_hex;
  std::vector<Permit> permits;

  [[nodiscard]] bool is_machine() const noexcept { return category.starts_with("nrmm:"); }
  [[nodiscard]] bool has_permit(std::string_view zone_id, std::int64_t unix_s) const noexcept;
  bool operator==(const VehicleRecord&) const = default;
};

struct RejectedRow {
  std::size_t line = 0;  // 1-based line number in the file
  std::string reason;
};

// A rejected row with all its reasons, joined by "; " (the importers' common report).
[[nodiscard]] RejectedRow rejected_row(std::size_t line, const std::vector<std::string>& reasons);

struct RegistryImport {
  std::vector<VehicleRecord> records;
  std::vector<RejectedRow> rejected;
};

// Reads a registry CSV with the header of rules.md (columns may come in any order; the header names
// them). A row is rejected, with its line and every reason, for: a vehicle VIN that is malformed or
// fails its check digit, a machine code that is not 17 characters, an unknown category, stage,
// stage source or profile, a stage of the wrong family, a bad power. A missing stage for a vehicle
// is inferred from its model year (stage_source inferred, stage nullopt unless ≤ 国三 is suspected,
// then CN3).
[[nodiscard]] RegistryImport import_registry_csv(std::istream& in, int latest_model_year);

struct PermitRow {
  std::string vin;
  Permit permit;
};
struct PermitImport {
  std::vector<PermitRow> permits;
  std::vector<RejectedRow> rejected;
};
// Reads a permits CSV: vin, zone_id, valid_from, valid_to (Beijing dates, valid_to inclusive),
// permit_no; every rejected row reported by line.
[[nodiscard]] PermitImport import_permits_csv(std::istream& in);

// Splits one CSV line (RFC 4180 quoting: "a,b" and "" inside quotes).
[[nodiscard]] std::vector<std::string> split_csv_line(const std::string& line);

// The prefecture a vehicle is registered in: from a Henan plate's letter (豫A → 郑州) for road
// vehicles, from the administrative-division code (GB/T 2260) that starts a machine's environmental
// registration code (4101… → 郑州). Empty when neither says.
[[nodiscard]] std::string registration_city(const VehicleRecord& record);
// The city name of a Henan administrative-division code (GB/T 2260: "410122" → 郑州); empty for a
// code outside Henan.
[[nodiscard]] std::string city_of_division_code(std::string_view code);
// One of the names of Henan's 18 prefectures as the platform files cities (郑州, 开封, …, 济源).
[[nodiscard]] bool is_henan_city(std::string_view name);
// The 4-digit division code of one of those cities ("安阳" → "4105"); empty for another name.
[[nodiscard]] std::string henan_city_code(std::string_view name);

// A plate colour as the registry and observations keep it (blue, yellow, green, yellow_green,
// white, black), from that name or its Chinese one (蓝/蓝色, 黄/黄色, 绿/绿色/新能源, 黄绿/黄绿色,
// 白/白色, 黑/黑色); nullopt for anything else. In China a plate is its number and its colour: the
// same number in blue (a small car) and yellow (a large vehicle) are two vehicles.
[[nodiscard]] std::optional<std::string> plate_color_code(std::string_view text);
// The reason an import gives for a colour plate_color_code does not know.
[[nodiscard]] std::string unknown_plate_color(std::string_view text);

// A plate number as the registry, observations and queries keep it, or why the text is not one.
// Full-width letters and digits become ASCII (ＡＢ１ → AB1), lower case becomes upper case, and the
// separators people type (spaces, the middle dot of 豫A·87590) are dropped. Anything else than
// A-Z, 0-9 and Chinese characters is refused, naming the character: control characters (NUL),
// invisible ones (U+200B zero-width space, U+FEFF) that would make two plates look alike, and
// signs such as = that a spreadsheet reads as a formula. At most 12 characters; text that is not
// UTF-8 is refused.
struct PlateText {
  std::string plate;    // normalised (empty when refused)
  std::string problem;  // why it was refused; empty when accepted
};
[[nodiscard]] PlateText normalise_plate(std::string_view text);

// Who a plate sighting is: the vehicle, or why it is nobody.
struct PlateMatch {
  const VehicleRecord* vehicle = nullptr;
  std::string unmatched_reason;  // set when vehicle is null
};

class Registry {
 public:
  void upsert(VehicleRecord record);
  // Adds a permit to a registered vehicle; false when the VIN is not registered.
  bool add_permit(std::string_view vin, Permit permit);
  [[nodiscard]] const VehicleRecord* find(std::string_view vin) const;
  // The vehicle with this plate number and colour (a colour code, see plate_color_code). Without a
  // colour, the one vehicle registered with that number, if exactly one is: the same number in two
  // colours is two vehicles, and a sighting that does not say which is attributed to neither.
  [[nodiscard]] PlateMatch find_by_plate(std::string_view plate, std::string_view color) const;
  [[nodiscard]] std::size_t size() const noexcept { return by_vin_.size(); }
  // Every record, by VIN.
  [[nodiscard]] const std::map<std::string, VehicleRecord, std::less<>>& records() const noexcept {
    return by_vin_;
  }

 private:
  std::map<std::string, VehicleRecord, std::less<>> by_vin_;
  // (plate number, colour code) → VIN.
  std::map<std::pair<std::string, std::string>, std::string, std::less<>> vin_by_plate_;
};

}  // namespace lantian::rules
