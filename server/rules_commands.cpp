#include "server/rules_commands.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>

#include "protocol/json.hpp"
#include "rules/records_json.hpp"
#include "server/rule_runner.hpp"
#include "storage/store.hpp"

namespace lantian::server {
namespace {

std::unique_ptr<storage::Store> open_for_writing(const Config& config, std::ostream& errors) {
  std::string error;
  auto store = storage::Store::open(config.store, error);
  if (!store)
    errors << "lantiand: " << error << " (is the server running? imports need it stopped)\n";
  return store;
}

int latest_year() {
  const auto now = std::chrono::system_clock::now();
  const auto days = std::chrono::floor<std::chrono::days>(now);
  return static_cast<int>(std::chrono::year_month_day(days).year()) + 1;
}

}  // namespace

int run_import_registry(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  std::ifstream in(cl.input_file);
  if (!in) {
    errors << "lantiand import-registry: cannot read " << cl.input_file << '\n';
    return 1;
  }
  const auto imported = rules::import_registry_csv(in, latest_year());
  for (const auto& r : imported.rejected)
    errors << cl.input_file << ":" << r.line << ": rejected: " << r.reason << '\n';
  auto store = open_for_writing(cl.config, errors);
  if (!store) return 1;
  std::size_t written = 0;
  for (const auto& record : imported.records) {
    std::string error;
    if (!store->put(storage::Family::registry, record.vin,
                    boost::json::serialize(rules::to_json(record)), error)) {
      errors << "lantiand import-registry: " << error << '\n';
      return 1;
    }
    ++written;
  }
  out << "imported " << written << " vehicles and machines, rejected " << imported.rejected.size()
      << " rows\n";
  return imported.rejected.empty() ? 0 : 1;
}

int run_import_zones(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  std::ifstream in(cl.input_file);
  if (!in) {
    errors << "lantiand import-zones: cannot read " << cl.input_file << '\n';
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  const auto imported = rules::import_zones_geojson(text.str());
  if (!imported.problems.empty()) {
    for (const auto& p : imported.problems) errors << cl.input_file << ": " << p << '\n';
    errors << "lantiand import-zones: nothing imported (a zone version is all or nothing)\n";
    return 1;
  }
  auto store = open_for_writing(cl.config, errors);
  if (!store) return 1;
  const int version = load_latest_zones(*store)->version() + 1;
  std::string error;
  if (!store->put(storage::Family::zones, zone_version_key(version), text.str(), error)) {
    errors << "lantiand import-zones: " << error << '\n';
    return 1;
  }
  out << "stored " << imported.zones.size() << " zones as version " << version << '\n';
  return 0;
}

int run_import_permits(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  std::ifstream in(cl.input_file);
  if (!in) {
    errors << "lantiand import-permits: cannot read " << cl.input_file << '\n';
    return 1;
  }
  const auto imported = rules::import_permits_csv(in);
  for (const auto& r : imported.rejected)
    errors << cl.input_file << ":" << r.line << ": rejected: " << r.reason << '\n';
  auto store = open_for_writing(cl.config, errors);
  if (!store) return 1;
  for (const auto& row : imported.permits) {
    std::string error;
    const std::string key = row.vin + "|" + row.permit.zone_id + "|" + row.permit.permit_no;
    const std::string value = std::to_string(row.permit.valid_from_unix_s) + "," +
                              std::to_string(row.permit.valid_until_unix_s);
    if (!store->put(storage::Family::permits, key, value, error)) {
      errors << "lantiand import-permits: " << error << '\n';
      return 1;
    }
  }
  out << "imported " << imported.permits.size() << " permits, rejected " << imported.rejected.size()
      << " rows\n";
  return imported.rejected.empty() ? 0 : 1;
}

int run_import_observations(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  std::ifstream in(cl.input_file);
  if (!in) {
    errors << "lantiand import-observations: cannot read " << cl.input_file << '\n';
    return 1;
  }
  const auto imported = rules::import_observations_jsonl(in);
  for (const auto& r : imported.rejected)
    errors << cl.input_file << ":" << r.line << ": rejected: " << r.reason << '\n';
  auto store = open_for_writing(cl.config, errors);
  if (!store) return 1;
  const auto registry = load_registry(*store);
  const auto zones = load_latest_zones(*store);
  const rules::Engine engine(cl.config.rules);
  const auto stored = store_observations(*store, engine, registry, *zones, imported.observations);
  if (!stored.error.empty()) {
    errors << "lantiand import-observations: " << stored.error << '\n';
    return 1;
  }
  const auto [added, known, unmatched, raised] =
      std::tuple(stored.added, stored.known, stored.unmatched, stored.raised);
  out << "imported " << added << " observations (" << known << " already known, " << unmatched
      << " matching no registered vehicle), raised " << raised << " violations, rejected "
      << imported.rejected.size() << " lines\n";
  return imported.rejected.empty() ? 0 : 1;
}

int run_list_violations(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  std::string error;
  auto store = storage::Store::open_read_only(cl.config.store.dir, error);
  if (!store) {
    errors << "lantiand violations: " << error << '\n';
    return 1;
  }
  const auto& q = cl.export_query;
  const std::string vin = q.vin ? std::string(protocol::as_text(*q.vin)) : std::string();
  store->for_each(storage::Family::violations, cl.rule.empty() ? "" : cl.rule + "|",
                  [&](const std::string&, const std::string& value) {
                    boost::system::error_code ec;
                    const auto v = boost::json::parse(value, ec);
                    if (ec || !v.is_object()) return true;
                    const auto& o = v.as_object();
                    const auto t = o.at("unix_s").to_number<std::int64_t>();
                    if (t < q.from_unix_s || t > q.to_unix_s) return true;
                    if (!vin.empty() && o.at("vin").as_string() != vin) return true;
                    out << protocol::to_json_text(v) << '\n';
                    return true;
                  });
  return 0;
}

int run_replay(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  std::string error;
  auto store = storage::Store::open_read_only(cl.config.store.dir, error);
  if (!store) {
    errors << "lantiand replay: " << error << '\n';
    return 1;
  }
  const auto& q = cl.export_query;
  const rules::Engine engine(cl.config.rules);
  const auto registry = load_registry(*store);
  const auto zones = load_latest_zones(*store);
  const auto replayed =
      evaluate_archive(*store, engine, registry, *zones, q.from_unix_s, q.to_unix_s);
  // R11 offline depends on when the server checked: it is compared with the episodes the archive
  // shows as of the last check instead.
  std::set<std::string> offline;
  std::int64_t checked = 0;
  if (const auto t = store->get(storage::Family::rule_state, rule_state_keys::last_offline_check))
    checked = std::stoll(*t);
  for (const auto& [vin, vehicle] : registry.records())
    for (const auto& v : offline_episodes(*store, engine, vehicle, checked)) offline.insert(v.id);
  auto is_offline = [](const std::string& id) {
    return id.starts_with("R11|") && id.find("|offline|") != std::string::npos;
  };
  std::map<std::string, std::int64_t> stored;
  std::size_t withdrawn = 0;
  store->for_each(storage::Family::violations, "",
                  [&](const std::string& key, const std::string& value) {
                    boost::system::error_code ec;
                    const auto v = boost::json::parse(value, ec);
                    if (ec || !v.is_object()) return true;
                    if (v.as_object().contains("withdrawn"))
                      ++withdrawn;  // superseded by late data: not part of the set
                    else
                      stored[key] = v.as_object().at("unix_s").to_number<std::int64_t>();
                    return true;
                  });
  std::size_t missing = 0, extra = 0, same = 0, offline_confirmed = 0, offline_unconfirmed = 0;
  for (const auto& [id, v] : replayed) {
    if (stored.count(id))
      ++same;
    else {
      ++missing;
      errors << "replay raises a violation that is not stored: " << id << '\n';
    }
  }
  for (const auto& [id, t] : stored) {
    if (is_offline(id)) {
      if (offline.count(id)) {
        ++offline_confirmed;
      } else {
        ++offline_unconfirmed;
        errors << "stored offline violation not shown by the archive: " << id << '\n';
      }
      continue;
    }
    // Only violations whose evidence lies in the replayed range can be reproduced by it.
    if (t < q.from_unix_s || t > q.to_unix_s || replayed.count(id)) continue;
    ++extra;
    errors << "stored violation not reproduced by replay: " << id << '\n';
  }
  out << "replayed: " << replayed.size() << " violations; identical " << same << ", not stored "
      << missing << ", not reproduced " << extra << "; withdrawn " << withdrawn
      << "; offline (R11) confirmed by the archive " << offline_confirmed << ", not confirmed "
      << offline_unconfirmed << '\n';
  return missing == 0 && extra == 0 && offline_unconfirmed == 0 ? 0 : 1;
}

}  // namespace lantian::server
