#include "server/api/enterprise_routes.hpp"

#include <boost/json.hpp>
#include <sstream>

#include "evaluation/gate_store.hpp"
#include "rules/enterprises.hpp"
#include "rules/gate_events.hpp"
#include "rules/gate_statistics.hpp"
#include "protocol/beijing_time.hpp"
#include "rules/pollution_alerts.hpp"
#include "rules/records_json.hpp"
#include "server/api/api_server.hpp"
#include "server/api/route_helpers.hpp"
#include "server/clock.hpp"

namespace lantian::server::api {
namespace json = boost::json;
namespace {

// A restricted token sees and writes the enterprises of its cities.
bool enterprise_visible(const TokenRecord& token, const rules::Enterprise& e) {
  return token.jurisdiction.unrestricted() || token.jurisdiction.cities.count(e.city) > 0;
}

}  // namespace

ApiResponse list_enterprises(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {"city", "industry", "grade"});
  const auto city = text_param(r, "city", 64);
  const auto industry = text_param(r, "industry", 64);
  const auto grade = text_param(r, "grade", 64);
  json::array items;
  for (const auto& e : ctx.catalogue_store.enterprises()) {
    if (!enterprise_visible(r.token, e) || (city && e.city != *city) ||
        (industry && e.industry != *industry) || (grade && e.grade != *grade))
      continue;
    items.push_back(rules::to_json(e));
  }
  const auto n = static_cast<std::int64_t>(items.size());
  return json_response(json::object{{"items", std::move(items)}}, n);
}

ApiResponse enterprise_detail(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {});
  const auto& id = r.segments.at(3);
  const auto e = ctx.catalogue_store.enterprise(id);
  if (!e || !enterprise_visible(r.token, *e)) not_found("enterprise " + id);
  return json_response(rules::to_json(*e), 1);
}

// The enterprise CSV of `lantiand import-enterprises`; a restricted operator writes only
// enterprises of its cities, as they are and as they would be.
ApiResponse import_enterprises(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {});
  if (!is_utf8(r.body)) bad_parameter("body", "not UTF-8 text: save the CSV as UTF-8");
  std::istringstream csv(r.body);
  auto imported = rules::import_enterprises_csv(csv);
  json::array rejected;
  for (const auto& x : imported.rejected)
    rejected.push_back(json::object{{"line", x.line}, {"reason", x.reason}});
  std::vector<rules::Enterprise> accepted;
  json::array changes;
  for (auto& e : imported.enterprises) {
    const auto stored = ctx.catalogue_store.enterprise(e.id);
    if (!enterprise_visible(r.token, e) || (stored && !enterprise_visible(r.token, *stored))) {
      rejected.push_back(json::object{{"id", e.id}, {"reason", "not an enterprise of this token's cities"}});
      continue;
    }
    if (changes.size() < 1000)
      changes.push_back(json::object{
          {"id", e.id},
          {"before", stored ? json::value(rules::to_json(*stored)) : json::value(nullptr)},
          {"after", rules::to_json(e)}});
    accepted.push_back(std::move(e));
  }
  std::string error;
  if (!ctx.catalogue_store.put_enterprises(accepted, error)) throw std::runtime_error(error);
  const auto stored = static_cast<std::int64_t>(accepted.size());
  auto response = json_response(
      json::object{{"imported", stored}, {"rejected", std::move(rejected)}}, stored);
  response.change = {{"enterprises", std::move(changes)}};
  return response;
}

// --- gate records --------------------------------------------------------------------------------

namespace {
constexpr std::size_t max_gate_records_per_request = 10000;
}  // namespace

ApiResponse post_gate_events(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::gate, Role::operator_});
  only_params(r, {});
  const auto body = parse_body(r);
  std::vector<const json::value*> given;
  if (body.is_array()) {
    if (body.as_array().size() > max_gate_records_per_request)
      bad_parameter("body", "at most 10000 gate records per request");
    for (const auto& x : body.as_array()) given.push_back(&x);
  } else {
    given.push_back(&body);
  }
  const auto enterprises = evaluation::enterprises_by_id(ctx.store);
  json::array rejected;
  std::vector<rules::GateEvent> accepted;
  for (std::size_t i = 0; i < given.size(); ++i) {
    auto reject = [&](const std::string& reason) {
      rejected.push_back(json::object{{"index", i}, {"reason", reason}});
    };
    if (!given[i]->is_object()) {
      reject("not a JSON object");
      continue;
    }
    std::vector<std::string> reasons;
    auto e = rules::gate_event_from_json(given[i]->as_object(), reasons, false,
                                         now_unix_ms() / 1000 + 3600);
    if (!e) {
      std::string joined;
      for (const auto& x : reasons) joined += (joined.empty() ? "" : "; ") + x;
      reject(joined);
      continue;
    }
    // A gate token writes for its own enterprises; an operator for those of its cities.
    const auto enterprise = enterprises.find(e->enterprise_id);
    if (r.token.role == Role::gate) {
      if (!r.token.enterprises.count(e->enterprise_id)) {
        reject("enterprise " + e->enterprise_id + " is not one of this token's");
        continue;
      }
    } else if (!r.token.jurisdiction.unrestricted() &&
               (enterprise == enterprises.end() ||
                !r.token.jurisdiction.cities.count(enterprise->second.city))) {
      reject("enterprise " + e->enterprise_id + " is not in this token's cities");
      continue;
    }
    if (enterprise == enterprises.end()) {
      reject("no enterprise " + e->enterprise_id + " in the enterprise list");
      continue;
    }
    accepted.push_back(std::move(*e));
  }
  const auto catalogue = ctx.catalogue.snapshot();
  const rules::Engine engine(ctx.config.rules);
  const auto stored = evaluation::store_gate_events(ctx.store, {&engine, &ctx.config.alert_policy},
                                                    *catalogue, accepted);
  if (!stored.error.empty()) throw std::runtime_error(stored.error);
  for (const auto& v : stored.violations) ctx.publish(v);
  std::vector<std::string> ids;
  for (const auto& e : accepted) ids.push_back(e.enterprise_id + "/" + e.id);
  return batch_stored_response({stored.added, stored.known, stored.unmatched, stored.raised},
                               std::move(rejected), "gate_records", ids);
}

// --- heavy-pollution alerts ----------------------------------------------------------------------

namespace {

bool city_visible(const TokenRecord& token, const std::string& city) {
  return token.jurisdiction.unrestricted() || token.jurisdiction.cities.count(city) > 0;
}

}  // namespace

ApiResponse list_alerts(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {"city", "from", "to"});
  const auto city = text_param(r, "city", 64);
  const auto from = time_param(r, "from");
  auto to = time_param(r, "to");
  if (to && r.query.at("to").size() == 10) *to += 86399;  // a date as `to`: through that day
  const auto calendar = evaluation::AlertStore(ctx.store).calendar();
  json::array items;
  for (const auto& a : calendar.alerts()) {
    if (!city_visible(r.token, a.city) || (city && a.city != *city) ||
        (from && a.end_unix_s() <= *from) || (to && a.from_unix_s > *to))
      continue;
    items.push_back(rules::to_json(a));
  }
  const auto n = static_cast<std::int64_t>(items.size());
  return json_response(json::object{{"items", std::move(items)}}, n);
}

ApiResponse declare_alert(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {});
  const auto body = parse_body(r);
  if (!body.is_object()) throw ApiError(http::status::bad_request, "bad_json", "expected an object");
  std::vector<std::string> reasons;
  auto alert = rules::alert_from_request(body.as_object(), reasons);
  if (!alert) {
    std::string joined;
    for (const auto& x : reasons) joined += (joined.empty() ? "" : "; ") + x;
    bad_parameter("body", joined);
  }
  if (!city_visible(r.token, alert->city))
    throw ApiError(http::status::forbidden, "forbidden", alert->city + " is not in this token's cities");
  alert->declared_by = r.token.id;
  alert->declared_unix_ms = now_unix_ms();
  std::string error;
  rules::PollutionAlert existing;
  if (!evaluation::AlertStore(ctx.store).add(*alert, error, &existing)) {
    if (!error.empty()) throw std::runtime_error(error);
    return json_response(rules::to_json(existing), 1);  // declared before: the alert as it is
  }
  auto response = json_response(rules::to_json(*alert), 1, http::status::created);
  response.change = {{"alert", rules::to_json(*alert)}};
  return response;
}

ApiResponse end_alert(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {});
  const auto& id = r.segments.at(3);
  evaluation::AlertStore alerts(ctx.store);
  const auto before = alerts.get(id);
  if (!before || !city_visible(r.token, before->city)) not_found("alert " + id);
  std::int64_t at = now_unix_ms() / 1000;
  if (!r.body.empty()) {
    const auto body = parse_body(r);
    if (!body.is_object()) throw ApiError(http::status::bad_request, "bad_json", "expected an object");
    only_fields(body.as_object(), {"at"});
    if (const auto* when = body.as_object().if_contains("at")) {
      const auto t = rules::unix_seconds_from_json(*when);
      if (!t) bad_parameter("at", "ISO 8601 in Beijing time (+08:00) or Unix seconds");
      at = *t;
    }
  }
  std::string error;
  rules::PollutionAlert after;
  switch (alerts.end(id, at, error, &after)) {
    case evaluation::AlertStore::Ended::ended: {
      auto response = json_response(rules::to_json(after), 1);
      response.change = {{"alert_id", id},
                         {"before", rules::to_json(*before)},
                         {"after", rules::to_json(after)}};
      return response;
    }
    case evaluation::AlertStore::Ended::not_found:
      not_found("alert " + id);
    case evaluation::AlertStore::Ended::already_over:
      throw ApiError(http::status::conflict, "conflict",
                     "alert " + id + " is no longer in force at that time");
    case evaluation::AlertStore::Ended::failed:
      break;
  }
  throw std::runtime_error(error);
}

// --- statistics ----------------------------------------------------------------------------------

namespace {

constexpr int max_statistics_months = 24;

// One enterprise's tally over [from, to).
rules::GateTally enterprise_tally(ApiContext& ctx, const rules::Enterprise& enterprise,
                                  const evaluation::Catalogue& catalogue,
                                  const rules::AlertCalendar& alerts, std::int64_t from,
                                  std::int64_t to) {
  std::vector<rules::GateEvent> records;
  evaluation::GateEventStore(ctx.store).for_each(enterprise.id, from, to, [&](const auto& e) {
    records.push_back(e);
    return true;
  });
  const rules::GateJudgement with{nullptr, &enterprise, &alerts, &ctx.config.alert_policy,
                                  catalogue.zones.get()};
  const auto& registry = *catalogue.registry;
  return rules::tally_gate_records(
      records, with,
      [&](const rules::GateEvent& e) {
        return e.matched_vin.empty() ? nullptr : registry.find(e.matched_vin);
      },
      from, to);
}

std::pair<std::int64_t, std::int64_t> month_param(const ApiRequest& r, const char* name) {
  const auto text = text_param(r, name, 7);
  if (!text) bad_parameter(name, "required: a month YYYY-MM (Beijing)");
  const auto range = rules::beijing_month(*text);
  if (!range) bad_parameter(name, "a month YYYY-MM (Beijing)");
  return *range;
}

json::object enterprise_summary(const rules::Enterprise& e) {
  return {{"id", e.id},         {"name", e.name},   {"city", e.city},
          {"industry", e.industry}, {"grade", e.grade}, {"bulk", e.bulk}};
}

}  // namespace

ApiResponse enterprise_statistics(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {"month", "city", "industry", "grade"});
  const auto [from, to] = month_param(r, "month");
  const auto city = text_param(r, "city", 64);
  const auto industry = text_param(r, "industry", 64);
  const auto grade = text_param(r, "grade", 64);
  const auto catalogue = ctx.catalogue.snapshot();
  const auto alerts = evaluation::AlertStore(ctx.store).calendar();
  json::array enterprises;
  std::map<std::string, std::pair<std::int64_t, rules::GateTally>> cities;
  rules::GateTally province;
  for (const auto& e : ctx.catalogue_store.enterprises()) {
    if (!enterprise_visible(r.token, e) || (city && e.city != *city) ||
        (industry && e.industry != *industry) || (grade && e.grade != *grade))
      continue;
    const auto tally = enterprise_tally(ctx, e, *catalogue, alerts, from, to);
    auto row = enterprise_summary(e);
    for (auto& [k, v] : tally.to_json()) row[k] = v;
    enterprises.push_back(std::move(row));
    auto& c = cities[e.city];
    ++c.first;
    c.second.add(tally);
    province.add(tally);
  }
  json::array per_city;
  for (const auto& [name, c] : cities) {
    json::object row{{"city", name}, {"enterprises", c.first}};
    for (auto& [k, v] : c.second.to_json()) row[k] = v;
    per_city.push_back(std::move(row));
  }
  auto total = province.to_json();
  total.erase("alert_days");  // days of different cities' alerts: not one calendar
  const auto n = static_cast<std::int64_t>(enterprises.size());
  return json_response(json::object{{"month", r.query.at("month")},
                                    {"target", rules::clean_transport_target},
                                    {"enterprises", std::move(enterprises)},
                                    {"cities", std::move(per_city)},
                                    {"total", std::move(total)}},
                       n);
}

ApiResponse enterprise_monthly(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {"from", "to"});
  const auto& id = r.segments.at(4);
  const auto e = ctx.catalogue_store.enterprise(id);
  if (!e || !enterprise_visible(r.token, *e)) not_found("enterprise " + id);
  auto first = month_param(r, "from").first;
  const auto end = month_param(r, "to").second;
  if (end <= first) bad_parameter("to", "before from");
  // Refused before any work (both are checked YYYY-MM by now).
  auto month_index = [&](const char* name) {
    const auto& text = r.query.at(name);
    return std::stoi(text.substr(0, 4)) * 12 + std::stoi(text.substr(5, 2));
  };
  if (month_index("to") - month_index("from") + 1 > max_statistics_months)
    bad_parameter("to", "at most 24 months");
  const auto catalogue = ctx.catalogue.snapshot();
  const auto alerts = evaluation::AlertStore(ctx.store).calendar();
  json::array months;
  while (first < end) {
    if (months.size() == max_statistics_months) bad_parameter("to", "at most 24 months");
    const auto month =
        protocol::BeijingTime::from_unix_seconds(first).iso8601().value_or("").substr(0, 7);
    const auto range = rules::beijing_month(month).value();
    auto row = enterprise_tally(ctx, *e, *catalogue, alerts, range.first, range.second).to_json();
    row["month"] = month;
    months.push_back(std::move(row));
    first = range.second;
  }
  const auto n = static_cast<std::int64_t>(months.size());
  return json_response(json::object{{"enterprise", enterprise_summary(*e)},
                                    {"target", rules::clean_transport_target},
                                    {"months", std::move(months)}},
                       n);
}

ApiResponse alert_policy(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {});
  return json_response(json::object{{"policy", ctx.config.alert_policy.to_json()}}, 1);
}

}  // namespace lantian::server::api
