#include "server/api/enterprise_routes.hpp"

#include <boost/json.hpp>
#include <sstream>

#include "evaluation/gate_store.hpp"
#include "rules/enterprises.hpp"
#include "rules/gate_events.hpp"
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
    auto e = rules::gate_event_from_json(given[i]->as_object(), reasons);
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
  const auto to = time_param(r, "to");
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

ApiResponse alert_policy(ApiContext& ctx, const ApiRequest& r) {
  only_params(r, {});
  return json_response(json::object{{"policy", ctx.config.alert_policy.to_json()}}, 1);
}

}  // namespace lantian::server::api
