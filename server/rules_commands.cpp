#include "server/rules_commands.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "evaluation/catalogue_store.hpp"
#include "evaluation/checkpoint_store.hpp"
#include "evaluation/gate_store.hpp"
#include "evaluation/observation_store.hpp"
#include "evaluation/replay.hpp"
#include "evaluation/violation_store.hpp"
#include "protocol/json.hpp"
#include "rules/records_json.hpp"
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

// Reads the command's input file with `read` and reports the rows it rejected, by line; nullopt
// (reported) when the file cannot be read.
template <class Read>
auto read_input(const ParsedCommandLine& cl, std::string_view command, std::ostream& errors,
                Read read) -> std::optional<decltype(read(std::declval<std::istream&>()))> {
  std::ifstream in(cl.input_file);
  if (!in) {
    errors << "lantiand " << command << ": cannot read " << cl.input_file << '\n';
    return std::nullopt;
  }
  auto imported = read(in);
  for (const auto& r : imported.rejected)
    errors << cl.input_file << ":" << r.line << ": rejected: " << r.reason << '\n';
  return imported;
}

}  // namespace

int run_import_registry(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  const auto read = read_input(cl, "import-registry", errors,
                               [](std::istream& in) { return rules::import_registry_csv(in, latest_year()); });
  if (!read) return 1;
  const auto& imported = *read;
  auto store = open_for_writing(cl.config, errors);
  if (!store) return 1;
  std::string error;
  if (!evaluation::CatalogueStore(*store).put_vehicles(imported.records, error)) {
    errors << "lantiand import-registry: " << error << '\n';
    return 1;
  }
  out << "imported " << imported.records.size() << " vehicles and machines, rejected "
      << imported.rejected.size() << " rows\n";
  return imported.rejected.empty() ? 0 : 1;
}

namespace {

// A GeoJSON catalogue layer (zones, areas) checked whole and stored as its next version: all or
// nothing. `describe` says what was stored, e.g. "6 zones as" (before "version 3").
template <class Import>
int import_layer_version(const ParsedCommandLine& cl, std::string_view command,
                         Import (*check)(std::string_view),
                         std::optional<int> (evaluation::CatalogueStore::*add)(const std::string&,
                                                                               std::string&),
                         const std::function<std::string(const Import&)>& describe,
                         std::ostream& out, std::ostream& errors) {
  std::ifstream in(cl.input_file);
  if (!in) {
    errors << "lantiand " << command << ": cannot read " << cl.input_file << '\n';
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  const auto imported = check(text.str());
  if (!imported.problems.empty()) {
    for (const auto& p : imported.problems) errors << cl.input_file << ": " << p << '\n';
    errors << "lantiand " << command << ": nothing imported (a version is all or nothing)\n";
    return 1;
  }
  auto store = open_for_writing(cl.config, errors);
  if (!store) return 1;
  std::string error;
  evaluation::CatalogueStore catalogue(*store);
  const auto version = (catalogue.*add)(text.str(), error);
  if (!version) {
    errors << "lantiand " << command << ": " << error << '\n';
    return 1;
  }
  out << "stored " << describe(imported) << " version " << *version << '\n';
  return 0;
}

}  // namespace

int run_import_zones(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  return import_layer_version<rules::ZoneImport>(
      cl, "import-zones", rules::import_zones_geojson,
      &evaluation::CatalogueStore::add_zone_version,
      [](const rules::ZoneImport& i) { return std::to_string(i.zones.size()) + " zones as"; }, out,
      errors);
}

int run_import_areas(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  return import_layer_version<rules::AreaImport>(
      cl, "import-areas", rules::import_areas_geojson,
      &evaluation::CatalogueStore::add_area_version,
      [](const rules::AreaImport& i) {
        std::size_t cities = 0;
        for (const auto& a : i.areas) cities += a.level == rules::AreaLevel::city;
        return std::to_string(cities) + " city and " + std::to_string(i.areas.size() - cities) +
               " county outlines as area";
      },
      out, errors);
}

int run_import_permits(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  const auto read = read_input(cl, "import-permits", errors,
                               [](std::istream& in) { return rules::import_permits_csv(in); });
  if (!read) return 1;
  const auto& imported = *read;
  auto store = open_for_writing(cl.config, errors);
  if (!store) return 1;
  evaluation::CatalogueStore catalogue(*store);
  for (const auto& row : imported.permits) {
    std::string error;
    if (!catalogue.put_permit(row, error)) {
      errors << "lantiand import-permits: " << error << '\n';
      return 1;
    }
  }
  out << "imported " << imported.permits.size() << " permits, rejected " << imported.rejected.size()
      << " rows\n";
  return imported.rejected.empty() ? 0 : 1;
}

int run_import_enterprises(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  const auto read = read_input(cl, "import-enterprises", errors,
                               [](std::istream& in) { return rules::import_enterprises_csv(in); });
  if (!read) return 1;
  const auto& imported = *read;
  auto store = open_for_writing(cl.config, errors);
  if (!store) return 1;
  std::string error;
  if (!evaluation::CatalogueStore(*store).put_enterprises(imported.enterprises, error)) {
    errors << "lantiand import-enterprises: " << error << '\n';
    return 1;
  }
  out << "imported " << imported.enterprises.size() << " enterprises, rejected "
      << imported.rejected.size() << " rows\n";
  return imported.rejected.empty() ? 0 : 1;
}

int run_import_observations(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  const auto read = read_input(cl, "import-observations", errors,
                               [](std::istream& in) { return rules::import_observations_jsonl(in); });
  if (!read) return 1;
  const auto& imported = *read;
  auto store = open_for_writing(cl.config, errors);
  if (!store) return 1;
  const auto catalogue = evaluation::CatalogueStore(*store).load();
  const rules::Engine engine(cl.config.rules);
  const auto stored =
      evaluation::store_observations(*store, engine, catalogue, imported.observations);
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

int run_import_gate_events(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  std::ifstream in(cl.input_file);
  if (!in) {
    errors << "lantiand import-gate-events: cannot read " << cl.input_file << '\n';
    return 1;
  }
  auto store = open_for_writing(cl.config, errors);
  if (!store) return 1;
  const auto catalogue = evaluation::CatalogueStore(*store).load();
  const rules::Engine engine(cl.config.rules);
  const auto latest = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count() +
                      3600;  // a gate's clock a little ahead; later is refused
  // Slice by slice, so that a back-fill of millions of records is never held in memory at once.
  constexpr std::size_t slice = 10000;
  evaluation::GateEventsStored total;
  std::size_t rejected = 0;
  for (std::size_t first_line = 1; in; first_line += slice) {
    const auto imported = rules::import_gate_events_jsonl(in, latest, slice, first_line);
    for (const auto& r : imported.rejected)
      errors << cl.input_file << ":" << r.line << ": rejected: " << r.reason << '\n';
    rejected += imported.rejected.size();
    if (imported.events.empty()) continue;
    auto stored = evaluation::store_gate_events(*store, {&engine, &cl.config.alert_policy},
                                                catalogue, imported.events);
    for (const auto& [id, reason] : stored.refused)
      errors << cl.input_file << ": record " << id << " refused: " << reason << '\n';
    if (!stored.error.empty()) {
      errors << "lantiand import-gate-events: " << stored.error << '\n';
      return 1;
    }
    total.added += stored.added;
    total.known += stored.known;
    total.unmatched += stored.unmatched;
    total.raised += stored.raised;
    total.unknown_enterprise += stored.unknown_enterprise;
  }
  out << "imported " << total.added << " gate records (" << total.known << " already known, "
      << total.unmatched << " matching no registered vehicle), refused "
      << total.unknown_enterprise << " of enterprises not in the list, raised " << total.raised
      << " violations, rejected " << rejected << " lines\n";
  return rejected == 0 && total.unknown_enterprise == 0 ? 0 : 1;
}

int run_alert(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  const auto& a = cl.alert;
  std::string error;
  if (a.action == AlertRequest::Action::list) {
    auto store = storage::Store::open_read_only(cl.config.store.dir, error);
    if (!store) {
      errors << "lantiand alert: " << error << '\n';
      return 1;
    }
    const auto calendar = evaluation::AlertStore(*store).calendar();
    for (const auto& alert : calendar.alerts())
      out << boost::json::serialize(rules::to_json(alert)) << '\n';
    return 0;
  }
  auto store = open_for_writing(cl.config, errors);
  if (!store) return 1;
  evaluation::AlertStore alerts(*store);
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  if (a.action == AlertRequest::Action::end) {
    rules::PollutionAlert updated;
    switch (alerts.end(a.id, a.at_unix_s.value_or(now_s), error, &updated)) {
      case evaluation::AlertStore::Ended::ended:
        out << "lifted " << a.id << " at " << *updated.ended_unix_s << '\n';
        return 0;
      case evaluation::AlertStore::Ended::not_found:
        errors << "lantiand alert: no alert " << a.id << '\n';
        return 1;
      case evaluation::AlertStore::Ended::already_over:
        errors << "lantiand alert: " << a.id << " was no longer in force then\n";
        return 1;
      case evaluation::AlertStore::Ended::failed:
        break;
    }
    errors << "lantiand alert: " << error << '\n';
    return 1;
  }
  boost::json::object request{{"city", a.city},
                              {"level", a.level},
                              {"from", *a.from_unix_s},
                              {"to", *a.to_unix_s},
                              {"note", a.note}};
  std::vector<std::string> reasons;
  auto alert = rules::alert_from_request(request, reasons);
  if (!alert) {
    for (const auto& r : reasons) errors << "lantiand alert: " << r << '\n';
    return 1;
  }
  alert->declared_by = "cli";
  alert->declared_unix_ms = now_s * 1000;
  rules::PollutionAlert existing;
  if (!alerts.add(*alert, error, &existing)) {
    if (!error.empty()) {
      errors << "lantiand alert: " << error << '\n';
      return 1;
    }
    out << "already declared: " << existing.id << '\n';
    return 0;
  }
  out << "declared " << alert->id << '\n';
  return 0;
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
  evaluation::ViolationStore(*store).for_each(
      cl.rule, [&](const std::string&, const boost::json::object& o) {
        const auto t = o.at("unix_s").to_number<std::int64_t>();
        if (t < q.from_unix_s || t > q.to_unix_s) return true;
        if (!vin.empty() && o.at("vin").as_string() != vin) return true;
        out << protocol::to_json_text(o) << '\n';
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
  const auto catalogue = evaluation::CatalogueStore(*store).load();
  const auto replayed =
      evaluation::evaluate_archive(*store, engine, catalogue, cl.config.alert_policy,
                                   q.from_unix_s, q.to_unix_s);
  // R11 offline depends on when the server checked: it is compared with the episodes the archive
  // shows as of the last check instead.
  std::set<std::string> offline;
  const std::int64_t checked = evaluation::CheckpointStore(*store).last_offline_check().value_or(0);
  for (const auto& [vin, vehicle] : catalogue.registry->records())
    for (const auto& v : evaluation::offline_episodes(*store, engine, vehicle, checked))
      offline.insert(v.id);
  auto is_offline = [](const std::string& id) {
    return id.starts_with("R11|") && id.find("|offline|") != std::string::npos;
  };
  std::map<std::string, std::int64_t> stored;
  std::size_t withdrawn = 0, rereview = 0;
  evaluation::ViolationStore(*store).for_each(
      "", [&](const std::string& id, const boost::json::object& v) {
        if (v.contains("withdrawn"))
          ++withdrawn;  // superseded by late data: not part of the set
        else if (v.contains("rereview"))
          ++rereview;  // reviewed, then no longer raised: a reviewer's to settle, not the rules'
        else
          stored[id] = v.at("unix_s").to_number<std::int64_t>();
        return true;
      });
  std::size_t missing = 0, extra = 0, same = 0, offline_confirmed = 0, offline_unconfirmed = 0,
              gate_silence = 0;
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
    if (id.starts_with("R15|")) {
      ++gate_silence;  // like R11 offline, raised by a timer from what had arrived by then
      continue;
    }
    // Only violations whose evidence lies in the replayed range can be reproduced by it.
    if (t < q.from_unix_s || t > q.to_unix_s || replayed.count(id)) continue;
    ++extra;
    errors << "stored violation not reproduced by replay: " << id << '\n';
  }
  out << "replayed: " << replayed.size() << " violations; identical " << same << ", not stored "
      << missing << ", not reproduced " << extra << "; withdrawn " << withdrawn
      << ", awaiting re-review " << rereview
      << "; offline (R11) confirmed by the archive " << offline_confirmed << ", not confirmed "
      << offline_unconfirmed << "; gate silence (R15) not replayed " << gate_silence << '\n';
  return missing == 0 && extra == 0 && offline_unconfirmed == 0 ? 0 : 1;
}

}  // namespace lantian::server
