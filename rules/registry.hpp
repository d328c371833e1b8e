#pragma once
// The vehicle and machinery registry (rules.md, input 2): who each VIN or machine code is, its
// category, fuel and emission stage (and where the stage comes from), power, profile, owner, and
// the optional chip id and SM2 key for signed frames. CSV import reports every rejected row by
// line.

#include <istream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/types.hpp"
#include "rules/vehicle_identity.hpp"

namespace lantian::rules {

enum class StageSource { registry, inferred };

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

  [[nodiscard]] bool is_machine() const noexcept { return category.starts_with("nrmm:"); }
  bool operator==(const VehicleRecord&) const = default;
};

struct RejectedRow {
  std::size_t line = 0;  // 1-based line number in the file
  std::string reason;
};

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

// Splits one CSV line (RFC 4180 quoting: "a,b" and "" inside quotes).
[[nodiscard]] std::vector<std::string> split_csv_line(const std::string& line);

class Registry {
 public:
  void upsert(VehicleRecord record);
  [[nodiscard]] const VehicleRecord* find(std::string_view vin) const;
  [[nodiscard]] const VehicleRecord* find_by_plate(std::string_view plate) const;
  [[nodiscard]] std::size_t size() const noexcept { return by_vin_.size(); }

 private:
  std::map<std::string, VehicleRecord, std::less<>> by_vin_;
  std::map<std::string, std::string, std::less<>> vin_by_plate_;
};

}  // namespace lantian::rules
