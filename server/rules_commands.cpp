#include "server/rules_commands.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <set>
#include <sys/stat.h>
#include <sstream>

#include "evaluation/catalogue_store.hpp"
#include "evaluation/checkpoint_store.hpp"
#include "evaluation/gate_store.hpp"
#include "evaluation/observation_store.hpp"
#include "evaluation/replay.hpp"
#include "evaluation/violation_store.hpp"
#include "protocol/json.hpp"
#include "rules/records_json.hpp"
#include "server/admin_client.hpp"
#include "server/api/api_types.hpp"
#include "server/backup.hpp"
#include "storage/store.hpp"

namespace lantian::server {
namespace {

std::unique_ptr<storage::Store> open_for_writing(const Config& config, std::ostream& errors) {
  std::string error;
  auto store = storage::Store::open(config.store, error);
  if (!store)
    errors << "lantiand: " << error
           << " (a server holds the archive but its admin socket did not answer: is admin-socket "
              "set as in the server's configuration? use --config or --server)\n";
  return store;
}

int latest_year() {
  const auto now = std::chrono::system_clock::now();
  const auto days = std::chrono::floor<std::chrono::days>(now);
  return static_cast<int>(std::chrono::year_month_day(days).year()) + 1;
}

std::optional<std::string> read_whole(const ParsedCommandLine& cl, std::string_view command,
                                      std::ostream& errors) {
  std::ifstream in(cl.input_file, std::ios::binary);
  if (!in) {
    errors << "lantiand " << command << ": cannot read " << cl.input_file << '\n';
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Reads the command's input file with `read` and reports the rows it rejected, by line; nullopt
// (reported) when the file cannot be read.
template <class Read>
auto read_input(const ParsedCommandLine& cl, std::string_view command, std::ostream& errors,
                Read read) -> std::optional<decltype(read(std::declval<std::istream&>()))> {
  auto text = read_whole(cl, command, errors);
  if (!text) return std::nullopt;
  // As the API refuses it: a CSV in another encoding (a GBK export from a spreadsheet) passes the
  // row checks, but its records are stored as JSON no reader accepts.
  if (!api::is_utf8(*text)) {
    errors << "lantiand " << command << ": " << cl.input_file
           << " is not UTF-8 text: save the CSV as UTF-8\n";
    return std::nullopt;
  }
  std::istringstream in(std::move(*text));  // the file's text once in memory, not twice
  auto imported = read(in);
  for (const auto& r : imported.rejected)
    errors << cl.input_file << ":" << r.line << ": rejected: " << r.reason << '\n';
  return imported;
}

namespace json = boost::json;
using http_verb = boost::beast::http::verb;

std::int64_t number(const json::value& answer, std::string_view field) {
  const auto* v = answer.is_object() ? answer.as_object().if_contains(field) : nullptr;
  return v && v->is_int64() ? v->as_int64() : v && v->is_uint64() ? static_cast<std::int64_t>(v->as_uint64()) : 0;
}

// Reports what the server rejected as the archive path reports it: "FILE:LINE: rejected: REASON"
// for a row (`line`, or `index` into the request's records, mapped by `line_of`), "FILE: ID:
// rejected: REASON" for a record refused by id. Returns how many.
std::size_t report_rejected(const json::value& answer, const std::string& file,
                            const std::function<std::size_t(std::size_t)>& line_of,
                            std::ostream& errors) {
  const auto* rejected = answer.is_object() ? answer.as_object().if_contains("rejected") : nullptr;
  if (!rejected || !rejected->is_array()) return 0;
  for (const auto& r : rejected->as_array()) {
    if (!r.is_object()) continue;
    const auto& o = r.as_object();
    const auto reason = o.contains("reason") && o.at("reason").is_string()
                            ? std::string(o.at("reason").as_string())
                            : std::string();
    if (o.contains("line"))
      errors << file << ":" << number(r, "line") << ": rejected: " << reason << '\n';
    else if (o.contains("index"))
      errors << file << ":" << line_of(static_cast<std::size_t>(number(r, "index")))
             << ": rejected: " << reason << '\n';
    else
      for (const char* key : {"vin", "id"})
        if (o.contains(key) && o.at(key).is_string()) {
          errors << file << ": " << std::string_view(o.at(key).as_string())
                 << ": rejected: " << reason << '\n';
          break;
        }
  }
  return rejected->as_array().size();
}

const std::function<std::size_t(std::size_t)> same_line = [](std::size_t line) { return line; };

// A file of one record per row, sent whole: the registry, permits, enterprises.
int import_rows_through_server(AdminClient& server, const ParsedCommandLine& cl,
                               std::string_view command, const std::string& target,
                               std::string_view what, std::ostream& out, std::ostream& errors) {
  auto text = read_whole(cl, command, errors);
  if (!text) return 1;
  const auto answer = ask_server(server, command, http_verb::post, target, std::move(*text),
                                 "text/csv; charset=utf-8", errors);
  if (!answer) return 1;
  const auto rejected = report_rejected(answer->json, cl.input_file, same_line, errors);
  out << "imported " << number(answer->json, "imported") << " " << what << ", rejected "
      << rejected << " rows (through the running server)\n";
  return rejected == 0 ? 0 : 1;
}

// A JSON Lines file (observations, gate records), sent in slices of `slice` records (the API's
// limit per request), so that a back-fill of millions is never held whole. Lines that are not
// JSON are reported here; the server judges the rest.
struct LinesSent {
  std::int64_t added = 0, known = 0, unmatched = 0, raised = 0;
  std::size_t rejected = 0;
  bool failed = false;
};

LinesSent send_json_lines(AdminClient& server, const ParsedCommandLine& cl, std::string_view command,
                          const std::string& target, std::ostream& errors) {
  LinesSent sent;
  std::ifstream in(cl.input_file);
  if (!in) {
    errors << "lantiand " << command << ": cannot read " << cl.input_file << '\n';
    sent.failed = true;
    return sent;
  }
  constexpr std::size_t slice = 10000;
  std::string line;
  std::size_t line_number = 0;
  while (in) {
    json::array records;
    std::vector<std::size_t> lines;  // records[i] came from lines[i]
    while (records.size() < slice && std::getline(in, line)) {
      ++line_number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      boost::system::error_code ec;
      auto v = json::parse(line, ec);
      if (ec || !v.is_object()) {
        errors << cl.input_file << ":" << line_number << ": rejected: not a JSON object\n";
        ++sent.rejected;
        continue;
      }
      records.push_back(std::move(v));
      lines.push_back(line_number);
    }
    if (records.empty()) continue;
    const auto answer = ask_server(server, command, http_verb::post, target,
                                   json::serialize(records), "application/json", errors);
    if (!answer) {
      sent.failed = true;
      return sent;
    }
    sent.rejected += report_rejected(
        answer->json, cl.input_file,
        [&](std::size_t index) { return index < lines.size() ? lines[index] : 0; }, errors);
    sent.added += number(answer->json, "added");
    sent.known += number(answer->json, "known");
    sent.unmatched += number(answer->json, "unmatched");
    sent.raised += number(answer->json, "violations_raised");
  }
  return sent;
}

int import_registry_into_archive(const ParsedCommandLine& cl, std::ostream& out,
                                 std::ostream& errors) {
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

int import_zones_into_archive(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  return import_layer_version<rules::ZoneImport>(
      cl, "import-zones", rules::import_zones_geojson,
      &evaluation::CatalogueStore::add_zone_version,
      [](const rules::ZoneImport& i) { return std::to_string(i.zones.size()) + " zones as"; }, out,
      errors);
}

int import_areas_into_archive(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
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

int import_permits_into_archive(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
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

int import_enterprises_into_archive(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
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

int import_observations_into_archive(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
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

int import_gate_events_into_archive(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
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

int alert_in_archive(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
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

// A GeoJSON layer (zones, areas) sent whole; the server stores it as its next version.
int import_layer_through_server(AdminClient& server, const ParsedCommandLine& cl,
                                std::string_view command, const std::string& target,
                                const std::function<std::string(const json::value&)>& describe,
                                std::ostream& out, std::ostream& errors) {
  auto text = read_whole(cl, command, errors);
  if (!text) return 1;
  const auto answer = ask_server(server, command, http_verb::post, target, std::move(*text),
                                 "application/geo+json", errors);
  if (!answer) {
    errors << "lantiand " << command << ": nothing imported (a version is all or nothing)\n";
    return 1;
  }
  out << "stored " << describe(answer->json) << " version " << number(answer->json, "version")
      << " (through the running server)\n";
  return 0;
}

int import_lines_through_server(AdminClient& server, const ParsedCommandLine& cl,
                                std::string_view command, const std::string& target,
                                std::string_view what, std::ostream& out, std::ostream& errors) {
 const auto sent = send_json_lines(server, cl, command, target, errors);
  if (sent.failed) {
    // Earlier slices are stored: say how far it got.
    errors << "lantiand " << command << ": stopped; before that the server had imported "
           << sent.added << " " << what << " and raised " << sent.raised << " violations\n";
    return 1;
  }
  out << "imported " << sent.added << " " << what << " (" << sent.known << " already known, "
      << sent.unmatched << " matching no registered vehicle), raised " << sent.raised
      << " violations, rejected " << sent.rejected << " lines (through the running server)\n";
  return sent.rejected == 0 ? 0 : 1;
}

int alert_through_server(AdminClient& server, const ParsedCommandLine& cl, std::ostream& out,
                         std::ostream& errors) {
  const auto& a = cl.alert;
  if (a.action == AlertRequest::Action::end) {
    // An alert id is a city code, a time and a level (4108-202611100000-orange): nothing in it
    // needs escaping in the path, and anything else is no alert.
    if (a.id.empty() || a.id.size() > 64 ||
        a.id.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_") !=
            std::string::npos) {
      errors << "lantiand alert: no alert " << a.id << '\n';
      return 1;
    }
    json::object body;
    if (a.at_unix_s) body["at"] = *a.at_unix_s;
    const auto answer = ask_server(server, "alert", http_verb::post,
                                   "/api/v1/alerts/" + a.id + "/end", json::serialize(body),
                                   "application/json", errors);
    if (!answer) return 1;
    out << "lifted " << a.id << " at " << number(answer->json, "ended_unix_s") << '\n';
    return 0;
  }
  const json::object body{{"city", a.city}, {"level", a.level}, {"from", *a.from_unix_s},
                          {"to", *a.to_unix_s}, {"note", a.note}};
  const auto answer = ask_server(server, "alert", http_verb::post, "/api/v1/alerts",
                                 json::serialize(body), "application/json", errors);
  if (!answer) return 1;
  const auto* id = answer->json.is_object() ? answer->json.as_object().if_contains("id") : nullptr;
  const std::string shown = id && id->is_string() ? std::string(id->as_string()) : "";
  out << (answer->status == 201 ? "declared " : "already declared: ") << shown << '\n';
  return 0;
}

}  // namespace

int run_import_registry(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  return through_server_or_archive(
      cl, errors,
      [&](AdminClient& server) {
        return import_rows_through_server(server, cl, "import-registry", "/api/v1/registry",
                                          "vehicles and machines", out, errors);
      },
      [&] { return import_registry_into_archive(cl, out, errors); });
}

int run_import_zones(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  return through_server_or_archive(
      cl, errors,
      [&](AdminClient& server) {
        return import_layer_through_server(
            server, cl, "import-zones", "/api/v1/zones",
            [](const json::value& a) { return std::to_string(number(a, "zones")) + " zones as"; },
            out, errors);
      },
      [&] { return import_zones_into_archive(cl, out, errors); });
}

int run_import_areas(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  return through_server_or_archive(
      cl, errors,
      [&](AdminClient& server) {
        return import_layer_through_server(
            server, cl, "import-areas", "/api/v1/areas",
            [](const json::value& a) {
              return std::to_string(number(a, "cities")) + " city and " +
                     std::to_string(number(a, "counties")) + " county outlines as area";
            },
            out, errors);
      },
      [&] { return import_areas_into_archive(cl, out, errors); });
}

int run_import_permits(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  return through_server_or_archive(
      cl, errors,
      [&](AdminClient& server) {
        return import_rows_through_server(server, cl, "import-permits", "/api/v1/permits",
                                          "permits", out, errors);
      },
      [&] { return import_permits_into_archive(cl, out, errors); });
}

int run_import_enterprises(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  return through_server_or_archive(
      cl, errors,
      [&](AdminClient& server) {
        return import_rows_through_server(server, cl, "import-enterprises", "/api/v1/enterprises",
                                          "enterprises", out, errors);
      },
      [&] { return import_enterprises_into_archive(cl, out, errors); });
}

int run_import_observations(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  return through_server_or_archive(
      cl, errors,
      [&](AdminClient& server) {
        return import_lines_through_server(server, cl, "import-observations",
                                           "/api/v1/observations", "observations", out, errors);
      },
      [&] { return import_observations_into_archive(cl, out, errors); });
}

int run_import_gate_events(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  return through_server_or_archive(
      cl, errors,
      [&](AdminClient& server) {
        return import_lines_through_server(server, cl, "import-gate-events",
                                           "/api/v1/gate-events", "gate records", out, errors);
      },
      [&] { return import_gate_events_into_archive(cl, out, errors); });
}

int run_alert(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  // Listing only reads: the archive opened read-only serves it, server or not.
  if (cl.alert.action == AlertRequest::Action::list) return alert_in_archive(cl, out, errors);
  return through_server_or_archive(
      cl, errors, [&](AdminClient& server) { return alert_through_server(server, cl, out, errors); },
      [&] { return alert_in_archive(cl, out, errors); });
}

int run_backup(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors) {
  std::error_code ec;
  const auto dir = std::filesystem::absolute(cl.backup_dir, ec);
  // The command makes the directory, owner and group only (the copy holds the whole archive and
  // the development CA's key), so that it is where the operator sees it.
  if (ec || std::filesystem::exists(dir, ec)) {
    errors << "lantiand backup: " << cl.backup_dir
           << " exists already (a backup goes into a new directory)\n";
    return 1;
  }
  if (!std::filesystem::create_directory(dir, ec) || ec) {
    errors << "lantiand backup: cannot make " << dir.string() << ": "
           << (ec ? ec.message() : std::string("it exists")) << '\n';
    return 1;
  }
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all |
                                        std::filesystem::perms::group_read |
                                        std::filesystem::perms::group_exec,
                               ec);
  struct stat made {};
  ::stat(dir.c_str(), &made);
  auto report = [&](bool certs, bool through_server) {
    out << "backed up the archive" << (certs ? " and its development certificates" : "")
        << " into " << dir.string() << (through_server ? " (written by the running server)" : "")
        << '\n';
  };
  const int status = through_server_or_archive(
      cl, errors,
      [&](AdminClient& server) {
        const auto answer = ask_server(
            server, "backup", http_verb::post, "/local/backup",
            json::serialize(json::object{{"dir", dir.string()},
                                         {"device", static_cast<std::uint64_t>(made.st_dev)},
                                         {"inode", static_cast<std::uint64_t>(made.st_ino)}}),
            "application/json", errors);
        if (!answer) return 1;
        const auto* certs =
            answer->json.is_object() ? answer->json.as_object().if_contains("certs") : nullptr;
        report(certs && certs->is_bool() && certs->as_bool(), true);
        return 0;
      },
      [&] {
        auto store = open_for_writing(cl.config, errors);
        if (!store) return 1;
        BackupWritten written;
        std::string error;
        if (!write_backup(*store, cl.config.data_dir, dir, written, error)) {
          errors << "lantiand backup: " << error << '\n';
          return 1;
        }
        report(written.certs, false);
        return 0;
      });
  if (status != 0) std::filesystem::remove_all(dir, ec);  // nothing half-made is left behind
  return status;
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
