#pragma once
// The catalogue as stored (docs/rules.md) — the only code that knows these families' layouts:
//   registry  VIN → the vehicle's record (JSON, rules/records_json)
//   permits   VIN|ZONE|PERMIT_NO → "VALID_FROM_UNIX_S,VALID_UNTIL_UNIX_S"
//   zones     version (8 bytes big-endian, so versions sort) → the uploaded GeoJSON as given
//   areas     the same for the administrative areas (rules/areas.hpp)
//   enterprises  enterprise id → the enterprise's record (JSON, rules/enterprises)
// Writes are synced on return. Thread-safe as storage::Store is.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evaluation/catalogue.hpp"
#include "rules/areas.hpp"
#include "rules/enterprises.hpp"
#include "rules/registry.hpp"
#include "rules/zones.hpp"
#include "storage/store.hpp"

namespace lantian::evaluation {

class CatalogueStore {
 public:
  explicit CatalogueStore(storage::Store& store) : store_(store) {}

  // The registry with its permits, and the newest zone and area versions.
  [[nodiscard]] Catalogue load() const;
  [[nodiscard]] rules::Registry load_registry() const;
  // The stored record of one vehicle (without permits); nullopt when it is not registered.
  [[nodiscard]] std::optional<rules::VehicleRecord> vehicle(const std::string& vin) const;
  [[nodiscard]] std::shared_ptr<const rules::ZoneIndex> load_latest_zones() const;
  // Zone version `version` (1, 2, …); nullptr when there is none.
  [[nodiscard]] std::shared_ptr<const rules::ZoneIndex> load_zones(int version) const;
  // The newest zone version stored; 0 when none.
  [[nodiscard]] int latest_zone_version() const;
  // The GeoJSON of zone version `version` as uploaded.
  [[nodiscard]] std::optional<std::string> zone_version_text(int version) const;
  // Every zone version in order, with its GeoJSON as uploaded.
  void for_each_zone_version(
      const std::function<void(int version, const std::string& geojson)>& fn) const;

  // Area versions, as zone versions: the newest (version 0 and empty when none), one by number
  // (nullptr when there is none), the newest number, and one's GeoJSON as uploaded.
  [[nodiscard]] std::shared_ptr<const rules::AreaIndex> load_latest_areas() const;
  [[nodiscard]] std::shared_ptr<const rules::AreaIndex> load_areas(int version) const;
  [[nodiscard]] int latest_area_version() const;
  [[nodiscard]] std::optional<std::string> area_version_text(int version) const;
  // Stores `geojson` (already checked with rules::import_areas_geojson) as the next area version.
  [[nodiscard]] std::optional<int> add_area_version(const std::string& geojson,
                                                    std::string& error);

  // Stores (or replaces) vehicle records: all of them or, on error, none.
  [[nodiscard]] bool put_vehicles(const std::vector<rules::VehicleRecord>& records,
                                  std::string& error);
  [[nodiscard]] bool put_permit(const rules::PermitRow& row, std::string& error);

  // Stores (or replaces) enterprise records: all of them or, on error, none.
  [[nodiscard]] bool put_enterprises(const std::vector<rules::Enterprise>& enterprises,
                                     std::string& error);
  // Every stored enterprise, in id order.
  [[nodiscard]] std::vector<rules::Enterprise> enterprises() const;
  [[nodiscard]] std::optional<rules::Enterprise> enterprise(const std::string& id) const;
  // Stores `geojson` (already checked with rules::import_zones_geojson) as the next zone version;
  // returns its number, or nullopt with `error` set.
  [[nodiscard]] std::optional<int> add_zone_version(const std::string& geojson, std::string& error);

 private:
  [[nodiscard]] int latest_version(storage::Family family) const;
  void for_each_version(storage::Family family,
                        const std::function<void(int version, const std::string& text)>& fn) const;
  [[nodiscard]] std::optional<std::string> version_text(storage::Family family, int version) const;
  [[nodiscard]] std::optional<int> add_version(storage::Family family, const std::string& text,
                                               std::string& error);
  storage::Store& store_;
};

}  // namespace lantian::evaluation
