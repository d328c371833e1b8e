#include "evaluation/catalogue_store.hpp"

#include <boost/json.hpp>
#include <cstdio>

#include "rules/records_json.hpp"

namespace lantian::evaluation {
namespace {

std::string permit_key(const rules::PermitRow& row) {
  return row.vin + "|" + row.permit.zone_id + "|" + row.permit.permit_no;
}
std::string permit_value(const rules::Permit& permit) {
  return std::to_string(permit.valid_from_unix_s) + "," + std::to_string(permit.valid_until_unix_s);
}
// A stored permit; nullopt for a record that is not one.
std::optional<rules::PermitRow> parse_permit(const std::string& key, const std::string& value) {
  const auto a = key.find('|');
  const auto b = a == std::string::npos ? a : key.find('|', a + 1);
  std::int64_t from = 0, until = 0;
  if (b == std::string::npos || std::sscanf(value.c_str(), "%ld,%ld", &from, &until) != 2)
    return std::nullopt;
  return rules::PermitRow{key.substr(0, a),
                          {key.substr(b + 1), key.substr(a + 1, b - a - 1), from, until}};
}

std::string version_key(int version) {
  std::string key;
  storage::append_u64(key, static_cast<std::uint64_t>(version));
  return key;
}
constexpr std::size_t version_key_size = 8;

}  // namespace

Catalogue CatalogueStore::load() const {
  return {std::make_shared<const rules::Registry>(load_registry()), load_latest_zones(),
          load_latest_areas()};
}

rules::Registry CatalogueStore::load_registry() const {
  rules::Registry registry;
  store_.for_each(storage::Family::registry, "", [&](const std::string&, const std::string& value) {
    if (auto r = rules::vehicle_from_json(value)) registry.upsert(std::move(*r));
    return true;
  });
  store_.for_each(storage::Family::permits, "",
                  [&](const std::string& key, const std::string& value) {
                    if (auto row = parse_permit(key, value))
                      registry.add_permit(row->vin, std::move(row->permit));
                    return true;
                  });
  return registry;
}

std::optional<rules::VehicleRecord> CatalogueStore::vehicle(const std::string& vin) const {
  const auto value = store_.get(storage::Family::registry, vin);
  if (!value) return std::nullopt;
  return rules::vehicle_from_json(*value);
}

int CatalogueStore::latest_version(storage::Family family) const {
  int latest = 0;
  for_each_version(family, [&](int version, const std::string&) { latest = version; });
  return latest;
}

void CatalogueStore::for_each_version(
    storage::Family family, const std::function<void(int, const std::string&)>& fn) const {
  store_.for_each(family, "", [&](const std::string& key, const std::string& value) {
    if (key.size() == version_key_size) fn(static_cast<int>(storage::read_u64(key)), value);
    return true;
  });
}

std::optional<std::string> CatalogueStore::version_text(storage::Family family,
                                                        int version) const {
  return store_.get(family, version_key(version));
}

std::optional<int> CatalogueStore::add_version(storage::Family family, const std::string& text,
                                               std::string& error) {
  // The next number not taken: two uploads at once get a version each.
  for (int version = latest_version(family) + 1;; ++version) {
    if (store_.insert_if_absent(family, version_key(version), text, error)) return version;
    if (!error.empty()) return std::nullopt;
  }
}

std::shared_ptr<const rules::ZoneIndex> CatalogueStore::load_zones(int version) const {
  const auto text = zone_version_text(version);
  if (!text) return nullptr;
  return std::make_shared<rules::ZoneIndex>(rules::import_zones_geojson(*text).zones, version);
}

int CatalogueStore::latest_zone_version() const { return latest_version(storage::Family::zones); }

std::shared_ptr<const rules::ZoneIndex> CatalogueStore::load_latest_zones() const {
  const int latest = latest_zone_version();
  if (latest == 0) return std::make_shared<rules::ZoneIndex>(std::vector<rules::Zone>{}, 0);
  return load_zones(latest);
}

std::optional<std::string> CatalogueStore::zone_version_text(int version) const {
  return version_text(storage::Family::zones, version);
}

void CatalogueStore::for_each_zone_version(
    const std::function<void(int version, const std::string& geojson)>& fn) const {
  for_each_version(storage::Family::zones, fn);
}

std::optional<int> CatalogueStore::add_zone_version(const std::string& geojson,
                                                    std::string& error) {
  return add_version(storage::Family::zones, geojson, error);
}

std::shared_ptr<const rules::AreaIndex> CatalogueStore::load_areas(int version) const {
  const auto text = area_version_text(version);
  if (!text) return nullptr;
  return std::make_shared<rules::AreaIndex>(rules::import_areas_geojson(*text).areas, version);
}

int CatalogueStore::latest_area_version() const { return latest_version(storage::Family::areas); }

std::shared_ptr<const rules::AreaIndex> CatalogueStore::load_latest_areas() const {
  const int latest = latest_area_version();
  if (latest == 0) return std::make_shared<rules::AreaIndex>(std::vector<rules::AdminArea>{}, 0);
  return load_areas(latest);
}

std::optional<std::string> CatalogueStore::area_version_text(int version) const {
  return version_text(storage::Family::areas, version);
}

std::optional<int> CatalogueStore::add_area_version(const std::string& geojson,
                                                    std::string& error) {
  return add_version(storage::Family::areas, geojson, error);
}

bool CatalogueStore::put_vehicles(const std::vector<rules::VehicleRecord>& records,
                                  std::string& error) {
  if (records.empty()) return true;
  std::vector<storage::RecordEdit> edits;
  edits.reserve(records.size());
  for (const auto& record : records)
    edits.push_back(
        {storage::Family::registry, record.vin, boost::json::serialize(rules::to_json(record))});
  return store_.apply(edits, storage::Durability::synced, error);
}

bool CatalogueStore::put_permit(const rules::PermitRow& row, std::string& error) {
  return store_.put(storage::Family::permits, permit_key(row), permit_value(row.permit), error);
}

bool CatalogueStore::put_enterprises(const std::vector<rules::Enterprise>& enterprises,
                                     std::string& error) {
  if (enterprises.empty()) return true;
  std::vector<storage::RecordEdit> edits;
  edits.reserve(enterprises.size());
  for (const auto& e : enterprises)
    edits.push_back({storage::Family::enterprises, e.id, boost::json::serialize(rules::to_json(e))});
  return store_.apply(edits, storage::Durability::synced, error);
}

std::vector<rules::Enterprise> CatalogueStore::enterprises() const {
  std::vector<rules::Enterprise> out;
  store_.for_each(storage::Family::enterprises, "", [&](const std::string&, const std::string& v) {
    if (auto e = rules::enterprise_from_json(v)) out.push_back(std::move(*e));
    return true;
  });
  return out;
}

std::optional<rules::Enterprise> CatalogueStore::enterprise(const std::string& id) const {
  const auto value = store_.get(storage::Family::enterprises, id);
  return value ? rules::enterprise_from_json(*value) : std::nullopt;
}

}  // namespace lantian::evaluation
