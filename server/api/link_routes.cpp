#include "server/api/link_routes.hpp"

#include <openssl/rand.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "protocol/json.hpp"
#include "forwarding/forwarder.hpp"
#include "server/api/api_server.hpp"
#include "server/api/route_helpers.hpp"
#include "server/clock.hpp"
#include "sharing/violation_sharing.hpp"

namespace lantian::server::api {
namespace json = boost::json;

namespace {

sharing::ViolationSharing& sharing_of(ApiContext& ctx) {
  if (!ctx.sharing)
    throw ApiError(http::status::service_unavailable, "unavailable",
                   "violation sharing does not run in this server");
  return *ctx.sharing;
}

json::object status_json(const sharing::SubscriberStatus& s) {
  auto o = sharing::to_json(s.subscriber, false);
  o["delivery"] = {{"cursor", s.cursor},
                   {"pending", s.pending},
                   {"delivered", s.delivered},
                   {"failed_attempts", s.attempts_failed},
                   {"outside_jurisdiction", s.skipped},
                   {"last_success_unix_ms", s.last_success_unix_ms},
                   {"last_attempt_unix_ms", s.last_attempt_unix_ms},
                   {"last_error", s.last_error}};
  return o;
}

std::string new_id() {
  unsigned char bytes[6];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no random bytes");
  return "sub-" + protocol::to_hex(protocol::ByteView(bytes, sizeof bytes));
}

}  // namespace

ApiResponse list_upstreams(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::admin});
  only_params(r, {});
  json::array items;
  if (ctx.forwarder) {
    forwarding::ForwardStore log(ctx.store);
    for (const auto& link : ctx.forwarder->links()) {
      const auto& u = link->config();
      const auto& c = link->counters();
      json::array set_aside;
      for (const auto& s : log.set_aside(u.name, 100))
        set_aside.push_back({{"sequence", s.sequence},
                             {"vin", s.vin},
                             {"frame_key", s.frame_key},
                             {"reason", s.reason},
                             {"at_unix_ms", s.at_unix_ms}});
      items.push_back({{"name", u.name},
                       {"host", u.host},
                       {"port", u.port},
                       {"tls", u.tls},
                       {"user", u.user},
                       {"platform", u.platform_code},
                       {"connected", c.connected.load()},
                       {"cursor", c.cursor.load()},
                       {"lag_reports", c.lag_reports.load()},
                       {"lag_seconds", static_cast<double>(c.lag_ms.load()) / 1000.0},
                       {"max_lag_seconds", u.max_lag.count()},
                       {"sent", c.sent.load()},
                       {"acknowledged", c.acknowledged.load()},
                       {"duplicates", c.duplicates.load()},
                       {"rejected", c.rejected.load()},
                       {"reconnects", c.reconnects.load()},
                       {"set_aside", std::move(set_aside)}});
    }
  }
  const auto n = static_cast<std::int64_t>(items.size());
  return json_response(json::object{{"items", std::move(items)}}, n);
}

ApiResponse list_subscribers(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::admin});
  only_params(r, {});
  json::array items;
  for (const auto& s : sharing_of(ctx).status()) items.push_back(status_json(s));
  const auto n = static_cast<std::int64_t>(items.size());
  return json_response(json::object{{"items", std::move(items)}}, n);
}

ApiResponse create_subscriber(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::admin});
  only_params(r, {});
  auto& sharing = sharing_of(ctx);
  const auto body = parse_body(r);
  if (!body.is_object()) throw ApiError(http::status::bad_request, "bad_json", "expected an object");
  const auto& o = body.as_object();
  only_fields(o, {"name", "url", "secret", "cities", "rules", "min_severity"});
  sharing::Subscriber s;
  s.name = text_of(o, "name");
  if (s.name.empty()) bad_parameter("name", "required");
  check_short_text("name", s.name, 200);
  s.url = text_of(o, "url");
  const auto url = boost::urls::parse_uri(s.url);
  if (!url || url->scheme() != "https" || url->host_address().empty())
    bad_parameter("url", "an https:// URL");
  check_short_text("url", s.url, 1000);
  s.secret = text_of(o, "secret");
  if (s.secret.size() < 16 || s.secret.size() > 200)
    bad_parameter("secret", "16 to 200 characters (the HMAC key of the signature)");
  const auto names = [&](const char* field, std::set<std::string>& out) {
    if (const auto* list = o.if_contains(field)) {
      if (!list->is_array() || list->as_array().size() > 100)
        bad_parameter(field, "a list of at most 100 names");
      for (const auto& x : list->as_array()) {
        if (!x.is_string() || x.as_string().empty()) bad_parameter(field, "a list of names");
        check_short_text(field, x.as_string(), 64);
        out.emplace(x.as_string());
      }
    }
  };
  names("cities", s.cities);
  names("rules", s.rules);
  if (o.contains("min_severity")) s.min_severity = text_of(o, "min_severity");
  if (!sharing::severity_rank(s.min_severity))
    bad_parameter("min_severity", "low, medium or high");
  s.id = new_id();
  s.created_unix_ms = now_unix_ms();
  // It receives what happens from now on: its cursor starts after the last change.
  std::string error;
  if (!sharing.add(s, error)) throw std::runtime_error(error);
  auto response = json_response(sharing::to_json(s, false), 1, http::status::created);
  response.change = {{"subscriber", sharing::to_json(s, false)}};  // never the secret
  return response;
}

ApiResponse disable_subscriber(ApiContext& ctx, const ApiRequest& r) {
  require(r, {Role::admin});
  only_params(r, {});
  auto& sharing = sharing_of(ctx);
  sharing::SubscriberStore subscribers(ctx.store);
  auto s = subscribers.get(r.segments.at(3));
  if (!s) not_found("subscriber " + r.segments.at(3));
  const bool was_disabled = s->disabled;
  s->disabled = true;
  std::string error;
  if (!subscribers.put(*s, std::nullopt, error)) throw std::runtime_error(error);
  sharing.reload();
  ApiResponse response;
  response.status = http::status::no_content;
  response.content_type = "application/json";
  response.records = 1;
  response.change = {{"subscriber_id", s->id},
                     {"before", {{"disabled", was_disabled}}},
                     {"after", {{"disabled", true}}}};
  return response;
}

}  // namespace lantian::server::api
