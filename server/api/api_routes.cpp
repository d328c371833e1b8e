#include "server/api/api_routes.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "evaluation/frame_evaluation.hpp"
#include "evaluation/gate_store.hpp"
#include "evaluation/replay.hpp"
#include "protocol/beijing_time.hpp"
#include "protocol/decode.hpp"
#include "protocol/json.hpp"
#include "rules/enterprises.hpp"
#include "rules/observations.hpp"
#include "rules/records_json.hpp"
#include "server/api/api_server.hpp"
#include "server/api/enterprise_routes.hpp"
#include "server/api/forwarded.hpp"
#include "server/api/link_routes.hpp"
#include "server/api/route_helpers.hpp"
#include "server/api/web_assets.hpp"
#include "server/clock.hpp"

namespace lantian::server::api {
namespace json = boost::json;
namespace {

constexpr std::int64_t online_window_ms = 15 * 60 * 1000;  // a frame this recent: online

bool is_vin_text(std::string_view vin) {
  return vin.size() == 17 && std::all_of(vin.begin(), vin.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) != 0;
         });
}

// A stored frame as evidence: its key, arrival, raw bytes and decoding.
json::object frame_json(const storage::FrameKey& key, const storage::FrameRecord& record) {
  protocol::DecodeOptions options;
  options.profile = record.received.profile;
  const auto decoded = protocol::decode_frame(record.raw, options);
  return {{"frame_key",
           evaluation::frame_ref(storage::frame_key(key.vin, key.collection_unix_s, key.sequence))},
          {"receive_unix_ms", record.received.receive_unix_ms},
          {"listener", record.received.listener},
          {"peer", record.received.peer},
          {"signature", protocol::to_string(record.received.signature)},
          {"rejected", record.received.rejected},
          {"hex", protocol::to_hex(record.raw)},
          {"decoded", decoded ? json::value(protocol::to_json(*decoded)) : json::value(nullptr)}};
}

// --- vehicles ------------------------------------------------------------------------------------

std::string vehicle_city(const rules::Registry& registry, const std::string& vin) {
  const auto* r = registry.find(vin);
  return r ? rules::registration_city(*r) : std::string();
}

// A restricted token may write a vehicle record only when both the record as it would be and the
// record as stored (if any) are registered in its cities: otherwise a city operator could take
// another city's vehicle by giving it one of its own plates. Empty: allowed; else why not.
std::string vehicle_write_refusal(ApiContext& ctx, const evaluation::Jurisdiction& j,
                                  const rules::VehicleRecord& record) {
  if (j.unrestricted()) return {};
  if (!j.cities.count(rules::registration_city(record)))
    return "the vehicle is not registered in this token's cities";
  if (const auto stored = ctx.catalogue_store.vehicle(record.vin);
      stored && !j.cities.count(rules::registration_city(*stored)))
    return "the vehicle is registered in " + rules::registration_city(*stored) +
           ", outside this token's cities";
  return {};
}

// What writing `after` changes in the stored record, for the audit log: {"vin", "before": {field:
// old value}, "after": {field: new value}} over the fields that differ; "before" is null for a new
// vehicle (and "after" then has every field). Empty when nothing changes.
json::object vehicle_change(const std::optional<rules::VehicleRecord>& before,
                            const rules::VehicleRecord& after) {
  const auto now = rules::to_json(after);
  if (!before) return {{"vin", after.vin}, {"before", nullptr}, {"after", now}};
  const auto was = rules::to_json(*before);
  json::object old_values, new_values;
  for (const auto& [field, value] : now)
    if (const auto* old = was.if_contains(field); !old || *old != value) {
      old_values[field] = old ? *old : json::value(nullptr);
      new_values[field] = value;
    }
  for (const auto& [field, value] : was)
    if (!now.contains(field)) {
      old_values[field] = value;
      new_values[field] = nullptr;
    }
  if (new_values.empty()) return {};
  return {{"vin", after.vin}, {"before", std::move(old_values)}, {"after", std::move(new_values)}};
}

// A restricted token sees a vehicle registered in its cities, or one with a violation it may see.
bool vehicle_visible(ApiContext& ctx, const rules::Registry& registry, const TokenRecord& token,
                     const std::string& vin) {
  const auto& j = token.jurisdiction;
  if (j.unrestricted()) return true;
  if (j.cities.count(vehicle_city(registry, vin))) return true;
  evaluation::ViolationQuery q;
  q.vin = vin;
  q.limit = 1;
  q.include_withdrawn = true;
  return !ctx.violations.list(q, j).items.empty();
}

std::string path_vin(const ApiRequest& r, std::size_t index) {
  const auto& vin = r.segments.at(index);
  if (!is_vin_text(vin)) bad_parameter("vin", "must be 17 letters and digits");
  return vin;
}

ApiResponse search_vehicles(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {"q", "limit"});
  const auto q = text_param(r, "q", 17);
  if (!q || q->size() < 2) bad_parameter("q", "give at least 2 characters of a plate or VIN");
  const auto limit = int_param(r, "limit", 1, 200).value_or(50);
  std::string upper = *q;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto catalogue = ctx.catalogue.snapshot();
  json::array items;
  for (const auto& [vin, v] : catalogue->registry->records()) {
    if (!vin.starts_with(upper) && v.plate.find(*q) == std::string::npos) continue;
    if (!vehicle_visible(ctx, *catalogue->registry, r.token, vin)) continue;
    auto o = rules::to_json(v);
    o["city"] = rules::registration_city(v);
    items.push_back(std::move(o));
    if (static_cast<std::int64_t>(items.size()) >= limit) break;
  }
  const auto n = static_cast<std::int64_t>(items.size());
  return json_response(json::object{{"items", std::move(items)}}, n);
}

ApiResponse vehicle_detail(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {});
  const auto vin = path_vin(r, 3);
  const auto catalogue = ctx.catalogue.snapshot();
  const auto* record = catalogue->registry->find(vin);
  const auto v = protocol::make_vin(vin);
  const auto latest = ctx.store.latest_state(v);
  if ((!record && !latest) || !vehicle_visible(ctx, *catalogue->registry, r.token, vin))
    not_found("vehicle " + vin);
  json::object out{{"vin", vin}};
  if (record) {
    out["registry"] = rules::to_json(*record);
    out["city"] = rules::registration_city(*record);
  } else {
    out["registry"] = nullptr;
    out["city"] = nullptr;
  }
  bool online = false;
  if (latest) {
    auto l = json::parse(*latest);
    const auto* ms = l.as_object().if_contains("receive_unix_ms");
    online =
        ms && ms->is_number() && now_unix_ms() - ms->to_number<std::int64_t>() <= online_window_ms;
    out["latest"] = std::move(l);
  } else {
    out["latest"] = nullptr;
  }
  const auto fix = ctx.store.last_fix(v);
  out["last_fix"] = fix ? json::parse(*fix) : json::value(nullptr);
  out["online"] = online;
  if (r.token.role == Role::police || r.token.role == Role::reviewer) {
    evaluation::ViolationQuery q;
    q.vin = vin;
    q.status = "open";
    q.limit = 100;
    json::array open;
    for (auto& x : ctx.violations.list(q, r.token.jurisdiction).items) open.push_back(std::move(x));
    out["open_violations"] = std::move(open);
  }
  return json_response(out, 1);
}

std::pair<std::int64_t, std::int64_t> time_range(const ApiRequest& r, std::int64_t max_span_s) {
  const auto from = time_param(r, "from");
  const auto to = time_param(r, "to");
  if (!from) bad_parameter("from", "required");
  if (!to) bad_parameter("to", "required");
  // A bare date as `to` means through the end of that day.
  const auto end = *to + (r.query.at("to").size() == 10 ? 86399 : 0);
  if (end < *from) bad_parameter("to", "before from");
  if (end - *from > max_span_s)
    bad_parameter("to",
                  "the range may span at most " + std::to_string(max_span_s / 86400) + " days");
  return {*from, end};
}

// Appends a number in its shortest exact form.
void append_number(std::string& out, double x) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, x);
  out.append(buffer, ec == std::errc() ? end : buffer);
}

// The track is written as text directly: a vehicle-day is 86,400 points, and building a JSON tree
// of them first would cost more than reading and decoding the frames (P8).
ApiResponse vehicle_track(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {"from", "to"});
  const auto vin = path_vin(r, 3);
  if (!vehicle_visible(ctx, *ctx.catalogue.snapshot()->registry, r.token, vin))
    not_found("vehicle " + vin);
  const auto [from, to] = time_range(r, 7 * 86400);
  std::string coordinates = "[", times = "[", speeds = "[";
  std::int64_t n = 0;
  auto add = [&](const protocol::Position& p, const protocol::BeijingTime& t,
                 std::optional<double> speed) {
    if (!p.fix_valid()) return;
    const auto lon = p.lon_deg(), lat = p.lat_deg();
    const auto at = t.to_unix_seconds();
    if (!lon || !lat || !at || *at < from || *at > to) return;
    if (n++) coordinates += ',', times += ',', speeds += ',';
    coordinates += '[';
    append_number(coordinates, *lon);
    coordinates += ',';
    append_number(coordinates, *lat);
    coordinates += ']';
    times += std::to_string(*at);
    if (speed)
      append_number(speeds, *speed);
    else
      speeds += "null";
  };
  ctx.store.for_each_frame(
      protocol::make_vin(vin), from - 60, to,
      [&](const storage::FrameKey&, const storage::FrameRecord& record) {
        protocol::DecodeOptions options;
        options.profile = record.received.profile;
        const auto decoded = protocol::decode_frame(record.raw, options);
        if (!decoded) return true;
        const auto* report = std::get_if<protocol::ReportBody>(&decoded->message.body);
        if (!report) return true;
        const bool per_block_time = report->layout == protocol::Profile::hj1239;
        for (const auto& b : report->blocks) {
          const auto& t = per_block_time ? b.time : report->time;
          if (const auto* s = std::get_if<protocol::StreamBlock>(&b.payload))
            add(s->position, t, s->speed_kmh.get());
          else if (const auto* c = std::get_if<protocol::CatalystBlock>(&b.payload))
            add(c->position, t, c->speed_kmh.get());
          else if (const auto* m = std::get_if<protocol::MachineStreamBlock>(&b.payload);
                   m && report->layout == protocol::Profile::nonroad)
            add(report->position, t, m->speed_kmh.get());
        }
        return true;
      });
  ApiResponse response;
  response.content_type = "application/geo+json; charset=utf-8";
  response.body =
      R"({"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"LineString","coordinates":)" +
      coordinates + R"(]},"properties":{"vin":")" + vin + R"(","from":)" + std::to_string(from) +
      R"(,"to":)" + std::to_string(to) + R"(,"points":)" + std::to_string(n) + R"(,"times":)" +
      times + R"(],"speeds_kmh":)" + speeds + "]}}]}";
  response.records = n;
  return response;
}

ApiResponse vehicle_frames(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {"from", "to", "limit", "cursor"});
  const auto vin = path_vin(r, 3);
  if (!vehicle_visible(ctx, *ctx.catalogue.snapshot()->registry, r.token, vin))
    not_found("vehicle " + vin);
  const auto [from, to] = time_range(r, 31 * 86400);
  const auto limit = int_param(r, "limit", 1, 500).value_or(100);
  const auto cursor = text_param(r, "cursor", 80);
  const auto after = cursor ? protocol::from_hex(*cursor).value_or(protocol::Bytes{}) : protocol::Bytes{};
  if (cursor && after.size() != storage::frame_key_size)
    bad_parameter("cursor", "not a cursor of this listing");
  const std::string after_key(after.begin(), after.end());
  json::array items;
  std::string last;
  ctx.store.for_each_frame(protocol::make_vin(vin), from, to,
                           [&](const storage::FrameKey& key, const storage::FrameRecord& record) {
                             auto raw_key =
                                 storage::frame_key(key.vin, key.collection_unix_s, key.sequence);
                             if (!after_key.empty() && raw_key <= after_key) return true;
                             items.push_back(frame_json(key, record));
                             last = std::move(raw_key);
                             return static_cast<std::int64_t>(items.size()) < limit;
                           });
  const auto n = static_cast<std::int64_t>(items.size());
  return json_response(
      json::object{
          {"items", std::move(items)},
          {"next_cursor", n == limit ? json::value(evaluation::frame_ref(last)) : nullptr}},
      n);
}

// Builds a one-row CSV from a JSON record, so that the API's upsert checks exactly what the CSV
// import checks.
ApiResponse upsert_vehicle(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::operator_});
  only_params(r, {});
  const auto vin = path_vin(r, 3);
  const auto body = parse_body(r);
  if (!body.is_object())
    throw ApiError(http::status::bad_request, "bad_json", "expected an object");
  static const char* columns[] = {
      "vin",           "plate",          "plate_color",       "category",
      "fuel",          "emission_stage", "stage_source",      "rated_power_kw",
      "profile",       "owner",          "registration_code", "chip_id",
      "sm2_public_key"};
  only_fields(body.as_object(),
              {"vin", "plate", "plate_color", "category", "fuel", "emission_stage", "stage_source",
               "rated_power_kw", "profile", "owner", "registration_code", "chip_id",
               "sm2_public_key", "city"});  // city: what GET answers, derived, ignored here
  check_short_text("owner", text_of(body.as_object(), "owner"), 200);
  std::string header, row;
  for (const char* c : columns) {
    const auto* v = body.as_object().if_contains(c);
    std::string value = std::string(c) == "vin" ? vin
                        : !v || v->is_null()    ? ""
                        : v->is_string()        ? std::string(v->as_string())
                                                : json::serialize(*v);
    if (std::string(c) == "vin" && v && v->is_string() && v->as_string() != vin)
      bad_parameter("vin", "the body's vin differs from the path's");
    std::string quoted = "\"";
    for (char ch : value) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    header += (header.empty() ? "" : ",") + std::string(c);
    row += (row.empty() ? "" : ",") + quoted + "\"";
  }
  std::istringstream csv(header + "\n" + row + "\n");
  const auto year = std::chrono::year_month_day(
                        std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()))
                        .year();
  auto imported = rules::import_registry_csv(csv, static_cast<int>(year) + 1);
  if (!imported.rejected.empty())
    throw ApiError(http::status::bad_request, "invalid_record", imported.rejected.front().reason);
  const auto& record = imported.records.at(0);
  if (const auto refusal = vehicle_write_refusal(ctx, r.token.jurisdiction, record);
      !refusal.empty())
    throw ApiError(http::status::forbidden, "outside_jurisdiction", refusal);
  auto change = vehicle_change(ctx.catalogue_store.vehicle(record.vin), record);
  std::string error;
  if (!ctx.catalogue_store.put_vehicles({record}, error)) throw std::runtime_error(error);
  ctx.evaluator.reload();
  auto out = rules::to_json(record);
  out["city"] = rules::registration_city(record);
  auto response = json_response(out, 1);
  response.change = std::move(change);
  return response;
}

ApiResponse import_registry(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::operator_});
  only_params(r, {});
  // A CSV in another encoding (a GBK export from a spreadsheet) passes the row checks, but its
  // records are stored as JSON that no reader accepts: the vehicles would vanish from the registry,
  // a re-imported one replaced by an unreadable record. Refuse it whole.
  if (!is_utf8(r.body)) bad_parameter("body", "not UTF-8 text: save the CSV as UTF-8");
  std::istringstream csv(r.body);
  const auto year = std::chrono::year_month_day(
                        std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()))
                        .year();
  auto imported = rules::import_registry_csv(csv, static_cast<int>(year) + 1);
  json::array rejected;
  for (const auto& x : imported.rejected)
    rejected.push_back(json::object{{"line", x.line}, {"reason", x.reason}});
  std::int64_t stored = 0;
  const auto& j = r.token.jurisdiction;
  std::vector<rules::VehicleRecord> accepted;
  // The audit entry names what changed for the first 1,000 vehicles and counts the rest.
  constexpr std::size_t audited_vehicles = 1000;
  json::array changes;
  std::int64_t unchanged = 0, not_itemised = 0;
  for (auto& record : imported.records) {
    if (const auto refusal = vehicle_write_refusal(ctx, j, record); !refusal.empty()) {
      rejected.push_back(json::object{{"vin", record.vin}, {"reason", refusal}});
      continue;
    }
    if (auto change = vehicle_change(ctx.catalogue_store.vehicle(record.vin), record);
        change.empty())
      ++unchanged;
    else if (changes.size() < audited_vehicles)
      changes.push_back(std::move(change));
    else
      ++not_itemised;
    accepted.push_back(std::move(record));
    ++stored;
  }
  std::string error;
  if (!ctx.catalogue_store.put_vehicles(accepted, error)) throw std::runtime_error(error);
  if (stored) ctx.evaluator.reload();
  auto response = json_response(
      json::object{{"imported", stored}, {"rejected", std::move(rejected)}}, stored);
  response.change = {{"vehicles", std::move(changes)},
                     {"unchanged", unchanged},
                     {"changed_not_itemised", not_itemised}};
  return response;
}

// --- zones ---------------------------------------------------------------------------------------

// A catalogue layer version (zones, areas) refused whole: 400 `code`, naming the first problem,
// with every problem listed in error.problems.
ApiResponse layer_refused(const char* code, const std::vector<std::string>& problems) {
  auto response = error_response(http::status::bad_request, code,
                                 "nothing stored: " + problems.front());
  auto body = json::parse(response.body).as_object();
  body["error"].as_object()["problems"] = json::array(problems.begin(), problems.end());
  response.body = json::serialize(body);
  return response;
}

int latest_zone_version(ApiContext& ctx) {
  return ctx.catalogue_store.latest_zone_version();
}

json::array ring_json(const rules::GeoPolygon::ring_type& ring) {
  json::array out;
  for (const auto& p : ring) out.push_back(json::array{p.x(), p.y()});
  return out;
}

// A zone version as stored, with every outline in WGS-84 (a GCJ-02 upload converted as on import;
// `source_crs` says what it was uploaded in), so that all geometry the API returns is comparable.
json::object zone_collection(ApiContext& ctx, int version) {
  const auto text = ctx.catalogue_store.zone_version_text(version);
  if (!text) not_found("zone version " + std::to_string(version));
  auto v = json::parse(*text);
  if (!v.is_object()) throw std::runtime_error("stored zone version is not an object");
  const auto index = ctx.catalogue_store.load_zones(version);
  for (auto& f : v.as_object()["features"].as_array()) {
    if (!f.is_object() || !f.as_object()["properties"].is_object()) continue;
    auto& props = f.as_object()["properties"].as_object();
    const auto* zone = index ? index->find(text_of(props, "id")) : nullptr;
    if (!zone) continue;
    json::array polygons;
    for (const auto& polygon : zone->area) {
      json::array rings{ring_json(polygon.outer())};
      for (const auto& inner : polygon.inners()) rings.push_back(ring_json(inner));
      polygons.push_back(std::move(rings));
    }
    f.as_object()["geometry"] = {{"type", "MultiPolygon"}, {"coordinates", std::move(polygons)}};
    props["source_crs"] = text_of(props, "crs").empty() ? "wgs84" : text_of(props, "crs");
    props["crs"] = "wgs84";
  }
  return std::move(v.as_object());
}

bool zone_visible(const TokenRecord& token, const json::value& feature) {
  const auto& j = token.jurisdiction;
  if (j.unrestricted()) return true;
  const auto* props = feature.as_object().if_contains("properties");
  if (!props || !props->is_object()) return false;
  return j.cities.count(text_of(props->as_object(), "city")) ||
         j.zones.count(text_of(props->as_object(), "id"));
}

int version_param(ApiContext& ctx, const ApiRequest& r) {
  const auto latest = latest_zone_version(ctx);
  if (latest == 0) not_found("zone set (none uploaded yet)");
  return static_cast<int>(int_param(r, "version", 1, latest).value_or(latest));
}

ApiResponse list_zones(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {"version"});
  const int version = version_param(ctx, r);
  auto collection = zone_collection(ctx, version);
  json::array features;
  for (auto& f : collection["features"].as_array())
    if (f.is_object() && zone_visible(r.token, f)) features.push_back(std::move(f));
  const auto n = static_cast<std::int64_t>(features.size());
  auto response = json_response(
      json::object{
          {"type", "FeatureCollection"}, {"version", version}, {"features", std::move(features)}},
      n);
  response.content_type = "application/geo+json; charset=utf-8";
  return response;
}

json::object zone_feature(ApiContext& ctx, const TokenRecord& token, const std::string& id,
                          int version) {
  auto collection = zone_collection(ctx, version);
  for (auto& f : collection["features"].as_array()) {
    if (!f.is_object()) continue;
    const auto* props = f.as_object().if_contains("properties");
    if (props && props->is_object() && text_of(props->as_object(), "id") == id &&
        zone_visible(token, f)) {
      f.as_object()["version"] = version;
      return std::move(f.as_object());
    }
  }
  not_found("zone " + id + " in version " + std::to_string(version));
}

ApiResponse zone_detail(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {"version"});
  auto response =
      json_response(zone_feature(ctx, r.token, r.segments.at(3), version_param(ctx, r)), 1);
  response.content_type = "application/geo+json; charset=utf-8";
  return response;
}

ApiResponse zone_versions(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {});
  json::array items;
  ctx.catalogue_store.for_each_zone_version([&](int version, const std::string& value) {
    boost::system::error_code ec;
    const auto v = json::parse(value, ec);
    const auto count = !ec && v.is_object() && v.as_object().contains("features")
                           ? v.at("features").as_array().size()
                           : 0;
    items.push_back(
        json::object{{"version", static_cast<std::uint64_t>(version)}, {"zones", count}});
  });
  const auto n = static_cast<std::int64_t>(items.size());
  return json_response(json::object{{"items", std::move(items)}}, n);
}

ApiResponse upload_zones(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::operator_});
  only_params(r, {});
  if (!r.token.jurisdiction.unrestricted())
    throw ApiError(
        http::status::forbidden, "outside_jurisdiction",
        "a zone version replaces the whole province's set: it needs an unrestricted token");
  const auto imported = rules::import_zones_geojson(r.body);
  if (!imported.problems.empty()) return layer_refused("invalid_zones", imported.problems);
  const auto previous = latest_zone_version(ctx);
  std::string error;
  const auto version = ctx.catalogue_store.add_zone_version(r.body, error);
  if (!version) throw std::runtime_error(error);
  ctx.evaluator.reload();
  json::array ids;
  for (const auto& z : imported.zones) ids.emplace_back(z.id);
  auto response = json_response(
      json::object{{"version", *version}, {"zones", imported.zones.size()}}, 1,
      http::status::created);
  response.change = {{"zone_version", {{"before", previous > 0 ? json::value(previous) : nullptr},
                                       {"after", *version}}},
                     {"zones", std::move(ids)}};
  return response;
}

// --- administrative areas and the map -----------------------------------------------------------

// The newest area version, every outline in WGS-84, for the console's map. Outlines of cities and
// counties are public geography: every reader sees all of them.
ApiResponse list_areas(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {});
  const auto catalogue = ctx.catalogue.snapshot();
  const auto& index = *catalogue->areas;
  json::array features;
  for (const auto& area : index.areas()) {
    json::array polygons;
    for (const auto& polygon : area.area) {
      json::array rings{ring_json(polygon.outer())};
      for (const auto& inner : polygon.inners()) rings.push_back(ring_json(inner));
      polygons.push_back(std::move(rings));
    }
    features.push_back(json::object{
        {"type", "Feature"},
        {"properties",
         {{"adcode", area.adcode},
          {"name", area.name},
          {"level", area.level == rules::AreaLevel::city ? "city" : "county"},
          {"city", area.jurisdiction}}},
        {"geometry", {{"type", "MultiPolygon"}, {"coordinates", std::move(polygons)}}}});
  }
  const auto n = static_cast<std::int64_t>(features.size());
  auto response = json_response(
      json::object{{"type", "FeatureCollection"},
                   {"version", index.version() > 0 ? json::value(index.version()) : nullptr},
                   {"features", std::move(features)}},
      n);
  response.content_type = "application/geo+json; charset=utf-8";
  return response;
}

ApiResponse upload_areas(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::operator_});
  only_params(r, {});
  if (!r.token.jurisdiction.unrestricted())
    throw ApiError(
        http::status::forbidden, "outside_jurisdiction",
        "an area version replaces the whole province's set: it needs an unrestricted token");
  const auto imported = rules::import_areas_geojson(r.body);
  if (!imported.problems.empty()) return layer_refused("invalid_areas", imported.problems);
  const auto previous = ctx.catalogue_store.latest_area_version();
  std::string error;
  const auto version = ctx.catalogue_store.add_area_version(r.body, error);
  if (!version) throw std::runtime_error(error);
  ctx.evaluator.reload();
  std::int64_t cities = 0;
  for (const auto& a : imported.areas) cities += a.level == rules::AreaLevel::city;
  const auto counties = static_cast<std::int64_t>(imported.areas.size()) - cities;
  auto response = json_response(
      json::object{{"version", *version}, {"cities", cities}, {"counties", counties}}, 1,
      http::status::created);
  response.change = {{"area_version", {{"before", previous > 0 ? json::value(previous) : nullptr},
                                       {"after", *version}}}};
  return response;
}

// Permits (通行证) from a CSV, as `lantiand import-permits` reads it; a token limited to cities
// writes permits only for vehicles registered there.
ApiResponse import_permits(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::operator_});
  only_params(r, {});
  if (!is_utf8(r.body)) bad_parameter("body", "not UTF-8 text: save the CSV as UTF-8");
  std::istringstream csv(r.body);
  auto imported = rules::import_permits_csv(csv);
  json::array rejected;
  for (const auto& x : imported.rejected)
    rejected.push_back(json::object{{"line", x.line}, {"reason", x.reason}});
  const auto& j = r.token.jurisdiction;
  json::array changes;
  std::int64_t stored = 0;
  for (const auto& row : imported.permits) {
    if (!j.unrestricted()) {
      const auto vehicle = ctx.catalogue_store.vehicle(row.vin);
      if (!vehicle || !j.cities.count(rules::registration_city(*vehicle))) {
        rejected.push_back(json::object{
            {"vin", row.vin}, {"reason", "not a vehicle registered in this token's cities"}});
        continue;
      }
    }
    std::string error;
    if (!ctx.catalogue_store.put_permit(row, error)) throw std::runtime_error(error);
    ++stored;
    if (changes.size() < 1000)
      changes.push_back(json::object{{"vin", row.vin},
                                     {"zone", row.permit.zone_id},
                                     {"permit_no", row.permit.permit_no}});
  }
  if (stored) ctx.evaluator.reload();
  auto response = json_response(
      json::object{{"imported", stored}, {"rejected", std::move(rejected)}}, stored);
  response.change = {{"permits", std::move(changes)}};
  return response;
}

// The console map's background (Config::Api::MapTiles): null when the map is offline.
ApiResponse map_settings(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {});
  const auto& t = ctx.config.api.map_tiles;
  if (t.url.empty()) return json_response(json::object{{"tiles", nullptr}}, 1);
  return json_response(
      json::object{{"tiles",
                    {{"url", t.url},
                     {"overlay_url", t.overlay_url.empty() ? json::value(nullptr)
                                                           : json::value(t.overlay_url)},
                     {"subdomains", t.subdomains},
                     {"attribution", t.attribution},
                     {"crs", t.crs},
                     {"max_zoom", t.max_zoom}}}},
      1);
}

// --- enterprises ---------------------------------------------------------------------------------

// --- violations ----------------------------------------------------------------------------------

evaluation::ViolationQuery violation_query(ApiContext& ctx, const ApiRequest& r,
                                           std::size_t max_limit) {
  only_params(r, {"rule", "status", "severity", "suspect", "from", "to", "city", "county", "zone",
                  "vin", "plate", "plate_color", "enterprise", "bbox", "cursor", "limit",
                  "include_withdrawn"});
  evaluation::ViolationQuery q;
  if (auto rule = text_param(r, "rule", 3)) {
    if (rule->size() != 3 || (*rule)[0] != 'R' || !std::isdigit((*rule)[1]) ||
        !std::isdigit((*rule)[2]))
      bad_parameter("rule", "R01 … R16");
    q.rule = *rule;
  }
  if (auto s = text_param(r, "status", 20)) {
    if (*s != "open" && *s != "confirmed" && *s != "dismissed")
      bad_parameter("status", "open, confirmed or dismissed");
    q.status = *s;
  }
  if (auto s = text_param(r, "severity", 20)) {
    if (*s != "low" && *s != "medium" && *s != "high")
      bad_parameter("severity", "low, medium or high");
    q.severity = *s;
  }
  q.suspect = bool_param(r, "suspect");
  q.include_withdrawn = bool_param(r, "include_withdrawn").value_or(false);
  if (auto t = time_param(r, "from")) q.from_unix_s = *t;
  if (auto t = time_param(r, "to")) q.to_unix_s = *t + (r.query.at("to").size() == 10 ? 86399 : 0);
  if (q.to_unix_s < q.from_unix_s) bad_parameter("to", "before from");
  q.city = text_param(r, "city", 40).value_or("");
  q.county = text_param(r, "county", 40).value_or("");
  q.zone = text_param(r, "zone", 100).value_or("");
  q.enterprise = text_param(r, "enterprise", 32).value_or("");
  if (auto vin = text_param(r, "vin", 17)) {
    if (!is_vin_text(*vin)) bad_parameter("vin", "must be 17 letters and digits");
    q.vin = *vin;
  }
  if (auto plate = text_param(r, "plate", 20)) {
    const auto catalogue = ctx.catalogue.snapshot();  // held while `v` points into it
    std::string color;
    if (auto given = text_param(r, "plate_color", 20)) {
      const auto code = rules::plate_color_code(*given);
      if (!code) bad_parameter("plate_color", "must be blue, yellow, green, yellow_green, white or black");
      color = *code;
    }
    const auto number = rules::normalise_plate(*plate);
    if (!number.problem.empty()) bad_parameter("plate", number.problem);
    const auto match = catalogue->registry->find_by_plate(number.plate, color);
    if (match.vehicle) {
      const auto* v = match.vehicle;
      if (!q.vin.empty() && q.vin != v->vin)
        bad_parameter("plate", "belongs to another VIN than vin");
      q.vin = v->vin;
    } else if (color.empty() && match.unmatched_reason.starts_with("no registered vehicle")) {
      // Not registered: a truck seen only at gates is filed under its plate (number only).
      q.plate = number.plate;
    } else {
      bad_parameter("plate", match.unmatched_reason);  // ambiguous without a colour
    }
  }
  if (auto bbox = text_param(r, "bbox", 100)) {
    std::array<double, 4> b{};
    std::istringstream in(*bbox);
    char comma = 0;
    if (!(in >> b[0] >> comma >> b[1] >> comma >> b[2] >> comma >> b[3]) || b[0] > b[2] ||
        b[1] > b[3] || b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90)
      bad_parameter("bbox", "min_lon,min_lat,max_lon,max_lat in degrees");
    q.bbox = b;
  }
  if (auto cursor = text_param(r, "cursor", 400)) {
    if (!evaluation::ViolationStore::valid_cursor(*cursor))
      bad_parameter("cursor", "not a cursor of this listing");
    q.cursor = *cursor;
  }
  q.limit = static_cast<std::size_t>(
      int_param(r, "limit", 1, static_cast<std::int64_t>(max_limit)).value_or(100));
  return q;
}

ApiResponse list_violations(ApiContext& ctx, const ApiRequest& r) {
  require(r, readers);
  const auto q = violation_query(ctx, r, 1000);
  auto page = ctx.violations.list(q, r.token.jurisdiction);
  json::array items;
  for (auto& v : page.items) items.push_back(std::move(v));
  const auto n = static_cast<std::int64_t>(items.size());
  return json_response(
      json::object{{"items", std::move(items)},
                   {"next_cursor", page.next_cursor.empty() ? json::value(nullptr)
                                                            : json::value(page.next_cursor)},
                   {"scan_limited", page.scan_limited}},
      n);
}


ApiResponse export_violations(ApiContext& ctx, const ApiRequest& r) {
  require(r, readers);
  for (const char* paging : {"limit", "cursor"})
    if (r.query.count(paging))
      bad_parameter(paging, "the export has every matching row (up to 100,000)");
  auto q = violation_query(ctx, r, 1000);
  constexpr std::size_t max_rows = 100000;
  // UTF-8 with a byte-order mark, so that spreadsheet programs read the Chinese correctly.
  std::string out =
      "\xEF\xBB\xBF"
      "id,rule,severity,status,suspect,time,vin,plate,city,county,zone_id,zone_version,stage,"
      "stage_source,lon,lat,withdrawn\r\n";
  std::size_t rows = 0;
  q.limit = 1000;
  for (;;) {
    auto page = ctx.violations.list(q, r.token.jurisdiction);
    for (const auto& v : page.items) {
      auto field = [&](const char* name) {
        const auto* x = v.if_contains(name);
        if (!x || x->is_null()) return std::string();
        return x->is_string() ? std::string(x->as_string()) : json::serialize(*x);
      };
      out += csv_cell(field("id")) + "," + field("rule") + "," + field("severity") + "," +
             field("status") + "," + field("suspect") + "," + field("time") + "," + field("vin") +
             "," + csv_cell(field("plate")) + "," + csv_cell(field("city")) + "," +
             csv_cell(field("county")) + "," + csv_cell(field("zone_id")) + "," + field("zone_version") + "," + field("stage") +
             "," + field("stage_source") + "," + field("lon") + "," + field("lat") + "," +
             (v.contains("withdrawn") ? "true" : "false") + "\r\n";
      ++rows;
    }
    if (page.next_cursor.empty() || rows >= max_rows) break;
    q.cursor = page.next_cursor;
  }
  ApiResponse response;
  response.content_type = "text/csv; charset=utf-8";
  response.headers.emplace_back(http::field::content_disposition,
                                "attachment; filename=\"violations.csv\"");
  response.body = std::move(out);
  response.records = static_cast<std::int64_t>(rows);
  return response;
}

ApiResponse violation_detail(ApiContext& ctx, const ApiRequest& r) {
  require(r, readers);
  only_params(r, {});
  const auto& id = r.segments.at(3);
  auto v = ctx.violations.get(id);
  if (!v || !r.token.jurisdiction.allows(*v)) not_found("violation " + id);
  json::array frames, observations, gate_records;
  std::set<std::string> seen;
  for (const auto& e : v->at("evidence").as_array()) {
    const auto ref = text_of(e.as_object(), "frame_key");
    if (!seen.insert(ref).second) continue;
    if (ref.starts_with("observation:")) {
      if (auto ob = ctx.observations.get(ref.substr(12))) observations.push_back(json::parse(*ob));
      continue;
    }
    if (ref.starts_with("gate:")) {  // gate:ENTERPRISE/ID
      const auto slash = ref.find('/');
      if (slash != std::string::npos)
        if (auto g = evaluation::GateEventStore(ctx.store).get(ref.substr(5, slash - 5),
                                                               ref.substr(slash + 1)))
          gate_records.push_back(rules::to_json(*g));
      continue;
    }
    const auto bytes = protocol::from_hex(ref).value_or(protocol::Bytes{});
    const std::string key(bytes.begin(), bytes.end());
    const auto parsed = storage::parse_frame_key(key);
    const auto record = ctx.store.frame(key);
    if (parsed && record) frames.push_back(frame_json(*parsed, *record));
  }
  json::object out{
      {"violation", *v},
      {"frames", std::move(frames)},
      {"observations", std::move(observations)},
      {"gate_records", std::move(gate_records)}};
  const auto zone_id = text_of(*v, "zone_id");
  out["zone"] = nullptr;
  out["vehicle"] = nullptr;
  if (const auto* version = v->if_contains("zone_version");
      !zone_id.empty() && version && version->is_number()) {
    try {
      out["zone"] = zone_feature(ctx, TokenRecord{}, zone_id, version->to_number<int>());
    } catch (const ApiError&) {
      out["zone"] = nullptr;  // the version is gone (should not happen: versions are kept)
    }
  }
  const auto catalogue = ctx.catalogue.snapshot();
  if (const auto* vehicle = catalogue->registry->find(text_of(*v, "vin")))
    out["vehicle"] = rules::to_json(*vehicle);
  return json_response(out, 1);
}

ApiResponse review_violation(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::reviewer});
  only_params(r, {});
  const auto& id = r.segments.at(3);
  const auto existing = ctx.violations.get(id);
  if (!existing || !r.token.jurisdiction.allows(*existing)) not_found("violation " + id);
  const auto body = parse_body(r);
  if (!body.is_object())
    throw ApiError(http::status::bad_request, "bad_json", "expected an object");
  only_fields(body.as_object(), {"decision", "comment"});
  auto decision = text_of(body.as_object(), "decision");
  if (decision == "confirm") decision = "confirmed";
  if (decision == "dismiss") decision = "dismissed";
  if (decision != "confirmed" && decision != "dismissed")
    bad_parameter("decision", "confirmed or dismissed");
  const auto comment = text_of(body.as_object(), "comment");
  if (comment.empty()) bad_parameter("comment", "a review needs a comment");
  if (comment.size() > 4000) bad_parameter("comment", "longer than 4000 bytes");
  json::object updated;
  switch (ctx.violations.review(id, decision, comment, r.token.id, &updated)) {
    case evaluation::ViolationStore::ReviewResult::reviewed: {
      const auto* before = existing->if_contains("review");
      auto response = json_response(updated, 1);
      response.change = {
          {"violation", id},
          {"before", {{"status", existing->if_contains("status") ? existing->at("status")
                                                                  : json::value(nullptr)},
                      {"review", before ? *before : json::value(nullptr)}}},
          {"after", {{"status", updated.if_contains("status") ? updated.at("status")
                                                               : json::value(nullptr)},
                     {"review", updated.if_contains("review") ? updated.at("review")
                                                              : json::value(nullptr)}}}};
      return response;
    }
    case evaluation::ViolationStore::ReviewResult::withdrawn:
      throw ApiError(http::status::conflict, "withdrawn",
                     "the violation was withdrawn by re-evaluation and cannot be reviewed");
    case evaluation::ViolationStore::ReviewResult::not_found:
      not_found("violation " + id);
    case evaluation::ViolationStore::ReviewResult::failed:
      break;
  }
  throw std::runtime_error("the review could not be stored");
}

// --- observations, statistics, tokens, audit -----------------------------------------------------

ApiResponse post_observations(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::operator_});
  only_params(r, {});
  const auto body = parse_body(r);
  std::string lines;
  if (body.is_array()) {
    if (body.as_array().size() > 10000)
      bad_parameter("body", "at most 10000 observations per request");
    for (const auto& o : body.as_array()) lines += json::serialize(o) + "\n";
  } else {
    lines = json::serialize(body) + "\n";
  }
  std::istringstream in(lines);
  auto imported = rules::import_observations_jsonl(in);
  const auto catalogue = ctx.catalogue.snapshot();
  const auto& registry = catalogue->registry;
  const auto& j = r.token.jurisdiction;
  json::array rejected;
  for (const auto& x : imported.rejected)
    rejected.push_back(json::object{{"index", x.line - 1}, {"reason", x.reason}});
  std::vector<rules::Observation> accepted;
  for (auto& ob : imported.observations) {
    const auto* vehicle = rules::find_vehicle(*registry, ob).vehicle;
    if (!j.unrestricted() && (!vehicle || !j.cities.count(rules::registration_city(*vehicle)))) {
      rejected.push_back(
          json::object{{"id", ob.id}, {"reason", "not a vehicle of this token's cities"}});
      continue;
    }
    accepted.push_back(std::move(ob));
  }
  const rules::Engine engine(ctx.config.rules);
  const auto stored = evaluation::store_observations(ctx.store, engine, *catalogue, accepted);
  if (!stored.error.empty()) throw std::runtime_error(stored.error);
  for (const auto& v : stored.violations) ctx.publish(v);
  std::vector<std::string> ids;
  for (const auto& ob : accepted) ids.push_back(ob.id);
  return batch_stored_response({stored.added, stored.known, stored.unmatched, stored.raised},
                               std::move(rejected), "observations", ids);
}

std::int64_t beijing_day(std::int64_t unix_s) {
  return (unix_s + protocol::beijing_utc_offset_seconds) / 86400;
}

ApiResponse online_rate(ApiContext& ctx, const ApiRequest& r) {
  require(r, readers);
  only_params(r, {"from", "to", "city"});
  const auto [from, to] = time_range(r, 366 * 86400);
  const auto city = text_param(r, "city", 40);
  const auto first = beijing_day(from), last = beijing_day(to);
  const auto days = last - first + 1;
  const auto catalogue = ctx.catalogue.snapshot();
  const auto& registry = catalogue->registry;
  const auto& j = r.token.jurisdiction;
  json::array vehicles;
  std::map<std::string, std::pair<std::int64_t, double>> cities;  // city → (vehicles, sum of rates)
  for (const auto& [vin, record] : registry->records()) {
    const auto c = rules::registration_city(record);
    if ((city && c != *city) || (!j.unrestricted() && !j.cities.count(c))) continue;
    const auto online = ctx.store.online_days(protocol::make_vin(vin), first, last);
    const double rate = static_cast<double>(online) / static_cast<double>(days);
    vehicles.push_back(json::object{{"vin", vin},
                                    {"plate", record.plate},
                                    {"city", c},
                                    {"days_online", online},
                                    {"rate", rate}});
    auto& agg = cities[c];
    ++agg.first;
    agg.second += rate;
  }
  json::array per_city;
  for (const auto& [c, agg] : cities)
    per_city.push_back(json::object{{"city", c},
                                    {"vehicles", agg.first},
                                    {"mean_rate", agg.second / static_cast<double>(agg.first)}});
  const auto n = static_cast<std::int64_t>(vehicles.size());
  return json_response(
      json::object{
          {"from_day",
           protocol::BeijingTime::from_unix_seconds(from).iso8601().value_or("").substr(0, 10)},
          {"to_day",
           protocol::BeijingTime::from_unix_seconds(to).iso8601().value_or("").substr(0, 10)},
          {"days", days},
          {"vehicles", std::move(vehicles)},
          {"cities", std::move(per_city)}},
      n);
}

ApiResponse violation_counts(ApiContext& ctx, const ApiRequest& r) {
  require(r, readers);
  only_params(r, {"from", "to"});
  const auto [from, to] = time_range(r, 366 * 86400);
  json::array items;
  for (const auto& c : ctx.violations.daily_counts(from, to, r.token.jurisdiction))
    items.push_back(
        json::object{{"day", c.day}, {"rule", c.rule}, {"city", c.city}, {"count", c.count}});
  const auto n = static_cast<std::int64_t>(items.size());
  return json_response(json::object{{"items", std::move(items)}}, n);
}

ApiResponse list_tokens(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::admin});
  only_params(r, {});
  json::array items;
  for (const auto& t : ctx.tokens.list()) items.push_back(to_json(t));
  const auto n = static_cast<std::int64_t>(items.size());
  return json_response(json::object{{"items", std::move(items)}}, n);
}

ApiResponse create_token(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::admin});
  only_params(r, {});
  const auto body = parse_body(r);
  if (!body.is_object())
    throw ApiError(http::status::bad_request, "bad_json", "expected an object");
  const auto& o = body.as_object();
  only_fields(o, {"role", "cities", "zones", "enterprises", "label", "expires_days"});
  TokenRecord record;
  const auto role = parse_role(text_of(o, "role"));
  if (!role) bad_parameter("role", "police, reviewer, operator, admin or gate");
  record.role = *role;
  auto names = [&](const char* field, std::set<std::string>& out) {
    if (const auto* list = o.if_contains(field)) {
      if (!list->is_array()) bad_parameter(field, "a list of names");
      if (list->as_array().size() > 100) bad_parameter(field, "at most 100 names");
      for (const auto& x : list->as_array()) {
        if (!x.is_string() || x.as_string().empty()) bad_parameter(field, "a list of names");
        check_short_text(field, x.as_string(), 64);
        out.emplace(x.as_string());
      }
    }
  };
  names("cities", record.jurisdiction.cities);
  names("zones", record.jurisdiction.zones);
  names("enterprises", record.enterprises);
  // A gate token writes for its enterprises and nothing else; no other role has any.
  if (record.role == Role::gate &&
      (record.enterprises.empty() || !record.jurisdiction.unrestricted()))
    bad_parameter("enterprises", "a gate token needs enterprises (and takes no cities or zones)");
  if (record.role != Role::gate && !record.enterprises.empty())
    bad_parameter("enterprises", "for gate tokens only");
  record.label = text_of(o, "label");
  check_short_text("label", record.label, 200);
  record.created_unix_ms = now_unix_ms();
  if (const auto* days = o.if_contains("expires_days"); days && !days->is_null()) {
    if (!days->is_int64() || days->as_int64() < 1 || days->as_int64() > 3650)
      bad_parameter("expires_days", "1..3650");
    record.expires_unix_ms = record.created_unix_ms + days->as_int64() * 86400000;
  }
  std::string error;
  const auto secret = ctx.tokens.create(record, error);
  if (!secret) throw std::runtime_error(error);
  TokenRecord check;
  if (ctx.tokens.authenticate(*secret, now_unix_ms(), check) != TokenStore::Check::ok)
    throw std::runtime_error("a token just created does not authenticate");
  auto response = json_response(json::object{{"token", *secret}, {"record", to_json(check)}}, 1,
                                http::status::created);
  response.change = {{"token", to_json(check)}};  // its record: id, role, reach — not the secret
  return response;
}

ApiResponse revoke_token(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::admin});
  only_params(r, {});
  std::string error;
  bool was_revoked = false;
  if (!ctx.tokens.revoke(r.segments.at(3), error, &was_revoked)) {
    if (!error.empty()) throw std::runtime_error(error);
    not_found("token " + r.segments.at(3));
  }
  ApiResponse response;
  response.status = http::status::no_content;
  response.content_type = "application/json";
  response.records = 1;
  response.change = {{"token_id", r.segments.at(3)},
                     {"before", {{"revoked", was_revoked}}},
                     {"after", {{"revoked", true}}}};
  return response;
}

ApiResponse read_audit(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::admin});
  only_params(r, {"from", "to", "token", "cursor", "limit"});
  AuditLog::Query q;
  if (auto t = time_param(r, "from")) q.from_unix_ms = *t * 1000;
  if (auto t = time_param(r, "to")) q.to_unix_ms = *t * 1000 + 999;
  q.token_id = text_param(r, "token", 64).value_or("");
  if (auto c = text_param(r, "cursor", 32)) {
    // 32 hex digits, as AuditLog::read writes them: it converts the two halves as numbers, and
    // anything else made that conversion throw (a 500 for a mistyped cursor).
    if (c->size() != 32 || !std::all_of(c->begin(), c->end(), [](char ch) {
          return std::isxdigit(static_cast<unsigned char>(ch)) != 0;
        }))
      bad_parameter("cursor", "not a cursor of this listing");
    q.cursor = *c;
  }
  q.limit = static_cast<std::size_t>(int_param(r, "limit", 1, 1000).value_or(100));
  std::string next;
  json::array items;
  for (auto& e : ctx.audit.read(q, next)) items.push_back(std::move(e));
  const auto n = static_cast<std::int64_t>(items.size());
  return json_response(
      json::object{{"items", std::move(items)},
                   {"next_cursor", next.empty() ? json::value(nullptr) : json::value(next)}},
      n);
}

ApiResponse me(ApiContext&, const ApiRequest& r) {
  only_params(r, {});
  return json_response(to_json(r.token), 1);
}

// --- the table ----------------------------------------------------------------------------------

// What a route reads that, in a cluster, only the owner of a vehicle's partition holds: its
// frames (and state), named by the path's VIN or by the violation the path names.
enum class AtOwner { no, vehicle, violation };

struct Route {
  http::verb method;
  std::vector<std::string_view> pattern;  // "{}" matches one segment
  Roles roles;
  ApiResponse (*handler)(ApiContext&, const ApiRequest&);
  AtOwner at_owner = AtOwner::no;
};

// In a cluster, the request is answered by the node owning the vehicle's partition
// (server/api/forwarded.hpp); nullopt: it is answered here (no cluster, owned here, a request
// forwarded already, or no vehicle to ask about — the handler then gives its own answer).
std::optional<ApiResponse> answered_by_owner(ApiContext& ctx, const ApiRequest& r, AtOwner at) {
  if (at == AtOwner::no || r.forwarded || !ctx.ask_owner) return std::nullopt;
  std::string vin;
  if (at == AtOwner::vehicle) {
    vin = r.segments.at(3);
  } else if (const auto v = ctx.violations.get(r.segments.at(3))) {
    vin = text_of(*v, "vin");
  } else {
    return std::nullopt;  // not known here: 404 (every violation reaches every node)
  }
  if (!is_vin_text(vin)) return std::nullopt;
  const auto answer = ctx.ask_owner(vin, encode_forwarded_request(r));
  if (answer.here) return std::nullopt;
  if (!answer.error.empty())
    throw ApiError(http::status::service_unavailable, "owner_unavailable",
                   "the vehicle's data is on another node of the cluster, which did not answer: " +
                       answer.error);
  auto response = decode_forwarded_response(answer.bytes);
  if (!response)
    throw ApiError(http::status::bad_gateway, "owner_answer_unreadable",
                   "the node holding the vehicle's data sent an answer that could not be read");
  return response;
}

const Roles any_role = {Role::police, Role::reviewer, Role::operator_, Role::admin};
const Roles vehicle_readers = {Role::police, Role::reviewer, Role::operator_};

const std::vector<Route>& routes() {
  using V = http::verb;
  static const std::vector<Route> table{
      {V::get, {"me"}, {Role::police, Role::reviewer, Role::operator_, Role::admin, Role::gate}, me},
      {V::get, {"violations"}, readers, list_violations},
      {V::get, {"violations.csv"}, readers, export_violations},
      {V::get, {"violations", "{}"}, readers, violation_detail, AtOwner::violation},
      {V::post, {"violations", "{}", "review"}, {Role::reviewer}, review_violation,
       AtOwner::violation},
      {V::get, {"vehicles"}, vehicle_readers, search_vehicles},
      {V::get, {"vehicles", "{}"}, vehicle_readers, vehicle_detail, AtOwner::vehicle},
      {V::put, {"vehicles", "{}"}, {Role::operator_}, upsert_vehicle},
      {V::get, {"vehicles", "{}", "track"}, readers, vehicle_track, AtOwner::vehicle},
      {V::get, {"vehicles", "{}", "frames"}, readers, vehicle_frames, AtOwner::vehicle},
      {V::post, {"registry"}, {Role::operator_}, import_registry},
      {V::get, {"enterprises"}, vehicle_readers, list_enterprises},
      {V::get, {"enterprises", "{}"}, vehicle_readers, enterprise_detail},
      {V::post, {"enterprises"}, {Role::operator_}, import_enterprises},
      {V::post, {"gate-events"}, {Role::gate, Role::operator_}, post_gate_events},
      {V::get, {"alerts"}, vehicle_readers, list_alerts},
      {V::get, {"alerts", "policy"}, vehicle_readers, alert_policy},
      {V::post, {"alerts"}, {Role::operator_}, declare_alert},
      {V::post, {"alerts", "{}", "end"}, {Role::operator_}, end_alert},
      {V::get, {"zones"}, vehicle_readers, list_zones},
      {V::get, {"zones", "versions"}, vehicle_readers, zone_versions},
      {V::get, {"zones", "{}"}, vehicle_readers, zone_detail},
      {V::post, {"zones"}, {Role::operator_}, upload_zones},
      {V::get, {"areas"}, vehicle_readers, list_areas},
      {V::post, {"areas"}, {Role::operator_}, upload_areas},
      {V::post, {"permits"}, {Role::operator_}, import_permits},
      {V::get, {"map"}, vehicle_readers, map_settings},
      {V::post, {"observations"}, {Role::operator_}, post_observations},
      {V::get, {"stats", "online"}, readers, online_rate},
      {V::get, {"stats", "violations"}, readers, violation_counts},
      {V::get, {"stats", "enterprises"}, vehicle_readers, enterprise_statistics},
      {V::get, {"stats", "enterprises", "{}"}, vehicle_readers, enterprise_monthly},
      {V::get, {"tokens"}, {Role::admin}, list_tokens},
      {V::post, {"tokens"}, {Role::admin}, create_token},
      {V::delete_, {"tokens", "{}"}, {Role::admin}, revoke_token},
      {V::get, {"upstreams"}, {Role::admin}, list_upstreams},
      {V::get, {"subscribers"}, {Role::admin}, list_subscribers},
      {V::post, {"subscribers"}, {Role::admin}, create_subscriber},
      {V::delete_, {"subscribers", "{}"}, {Role::admin}, disable_subscriber},
      {V::get, {"audit"}, {Role::admin}, read_audit},
  };
  return table;
}

// A file of --api-web-root: only regular files below the root, after resolving `..` and links.
std::optional<std::string> file_below(const std::filesystem::path& root, const std::string& path) {
  std::error_code ec;
  const auto base = std::filesystem::canonical(root, ec);
  if (ec) return std::nullopt;
  const auto file = std::filesystem::weakly_canonical(base / path.substr(1), ec);
  if (ec || !std::filesystem::is_regular_file(file, ec)) return std::nullopt;
  const auto [end, rest] = std::mismatch(base.begin(), base.end(), file.begin(), file.end());
  if (end != base.end()) return std::nullopt;  // outside the root
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

ApiResponse static_file(ApiContext& ctx, const ApiRequest& r) {
  if (r.method != http::verb::get && r.method != http::verb::head)
    throw ApiError(http::status::method_not_allowed, "method_not_allowed", "only GET here");
  std::string path;
  for (const auto& s : r.segments) {
    if (s == ".." || s.find('\0') != std::string::npos) not_found("/" + s);
    path += "/" + s;
  }
  if (path.empty() || path == "/") path = "/index.html";
  if (!ctx.config.api.web_root.empty()) {
    const auto body = file_below(ctx.config.api.web_root, path);
    if (!body) not_found(path);
    ApiResponse response;
    const auto* embedded = find_web_asset(path);
    response.content_type = embedded                  ? std::string(embedded->content_type)
                            : path.ends_with(".js")   ? "text/javascript; charset=utf-8"
                            : path.ends_with(".css")  ? "text/css; charset=utf-8"
                            : path.ends_with(".html") ? "text/html; charset=utf-8"
                                                      : "application/octet-stream";
    response.body = *body;
    response.records = 1;
    return response;
  }
  // Only the embedded files exist: a path such as /../../etc/passwd simply matches none.
  const auto* asset = find_web_asset(path);
  if (!asset) not_found(path);
  ApiResponse response;
  response.content_type = std::string(asset->content_type);
  response.body = std::string(asset->data);
  response.records = 1;
  return response;
}

}  // namespace

bool answered_at_owner(const ApiRequest& request) {
  const auto& s = request.segments;
  if (s.size() < 3 || s[0] != "api" || s[1] != "v1") return false;
  const std::vector<std::string> rest(s.begin() + 2, s.end());
  for (const auto& route : routes()) {
    if (route.at_owner == AtOwner::no || route.method != request.method ||
        route.pattern.size() != rest.size())
      continue;
    bool match = true;
    for (std::size_t i = 0; i < rest.size() && match; ++i)
      match = route.pattern[i] == "{}" || route.pattern[i] == rest[i];
    if (match) return true;
  }
  return false;
}

ApiResponse route(ApiContext& ctx, ApiRequest& request) {
  const auto& s = request.segments;
  if (s.size() < 2 || s[0] != "api" || s[1] != "v1") {
    if (s.size() == 2 && s[0] == "api" && s[1] == "openapi.json") {
      const auto* asset = find_web_asset("/openapi.json");
      if (!asset) not_found("/api/openapi.json");
      ApiResponse response;
      response.content_type = "application/json; charset=utf-8";
      response.body = std::string(asset->data);
      return response;
    }
    return static_file(ctx, request);
  }
  if (s.size() == 4 && s[2] == "violations" && s[3] == "feed") {
    require(request, readers);
    only_params(request, {});
    if (request.method != http::verb::get)
      throw ApiError(http::status::method_not_allowed, "method_not_allowed", "use GET");
    ApiResponse response;
    response.event_stream = true;
    return response;
  }
  const std::vector<std::string> rest(s.begin() + 2, s.end());
  bool path_known = false;
  for (const auto& route : routes()) {
    if (route.pattern.size() != rest.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < rest.size() && match; ++i)
      match = route.pattern[i] == "{}" || route.pattern[i] == rest[i];
    if (!match) continue;
    path_known = true;
    if (route.method != request.method) continue;
    require(request, route.roles);
    if (auto answered = answered_by_owner(ctx, request, route.at_owner)) return std::move(*answered);
    return route.handler(ctx, request);
  }
  if (path_known)
    throw ApiError(http::status::method_not_allowed, "method_not_allowed",
                   "this path does not take " + std::string(http::to_string(request.method)));
  throw ApiError(http::status::not_found, "not_found", "no such API path: " + request.target);
}

}  // namespace lantian::server::api
