#include "server/api/forwarded.hpp"

#include <boost/json.hpp>

#include "server/api/tokens.hpp"

namespace lantian::server::api {
namespace json = boost::json;

// Both forms are a JSON head on one line, then the body as it is (it may be large and need not be
// JSON: a GeoJSON track, a CSV).

std::string encode_forwarded_request(const ApiRequest& r) {
  const json::object head{{"method", std::string(http::to_string(r.method))},
                          {"target", r.target},
                          {"content_type", r.content_type},
                          {"peer", r.peer},
                          {"token", to_json(r.token)},
                          {"local", r.token.local}};
  return json::serialize(head) + "\n" + r.body;
}

namespace {

// The head line of `bytes` as an object, and where the body starts.
std::optional<json::object> head_of(std::string_view bytes, std::size_t& body_at) {
  const auto newline = bytes.find('\n');
  if (newline == std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  auto head = json::parse(bytes.substr(0, newline), ec);
  if (ec || !head.is_object()) return std::nullopt;
  body_at = newline + 1;
  return std::move(head.as_object());
}

std::string text(const json::object& o, const char* field) {
  const auto* v = o.if_contains(field);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

bool decode_forwarded_request(std::string_view bytes, ApiRequest& r) {
  std::size_t body_at = 0;
  const auto head = head_of(bytes, body_at);
  if (!head) return false;
  const auto method = http::string_to_verb(text(*head, "method"));
  const auto* token = head->if_contains("token");
  if (method == http::verb::unknown || !token || !token->is_object()) return false;
  auto record = token_from_json(token->as_object());
  if (!record) return false;
  r.method = method;
  r.target = text(*head, "target");
  r.content_type = text(*head, "content_type");
  r.peer = text(*head, "peer");
  r.token = std::move(*record);
  const auto* local = head->if_contains("local");
  r.token.local = local && local->is_bool() && local->as_bool();
  r.body = std::string(bytes.substr(body_at));
  r.forwarded = true;
  return !r.target.empty();
}

std::string encode_forwarded_response(const ApiResponse& response) {
  json::array headers;
  for (const auto& [field, value] : response.headers)
    headers.push_back(json::array{std::string(http::to_string(field)), value});
  const json::object head{{"status", static_cast<unsigned>(response.status)},
                          {"content_type", response.content_type},
                          {"headers", std::move(headers)},
                          {"records", response.records},
                          {"change", response.change}};
  return json::serialize(head) + "\n" + response.body;
}

std::optional<ApiResponse> decode_forwarded_response(std::string_view bytes) try {
  std::size_t body_at = 0;
  const auto head = head_of(bytes, body_at);
  if (!head) return std::nullopt;
  ApiResponse response;
  const auto status = head->at("status").to_number<unsigned>();
  if (status < 100 || status > 599) return std::nullopt;
  response.status = static_cast<http::status>(status);
  response.content_type = text(*head, "content_type");
  for (const auto& h : head->at("headers").as_array()) {
    const auto& pair = h.as_array();
    const auto field = http::string_to_field(pair.at(0).as_string());
    if (field != http::field::unknown)
      response.headers.emplace_back(field, std::string(pair.at(1).as_string()));
  }
  response.records = head->at("records").to_number<std::int64_t>();
  response.change = head->at("change").as_object();
  response.body = std::string(bytes.substr(body_at));
  return response;
} catch (const std::exception&) {
  return std::nullopt;  // not an answer this version wrote
}

}  // namespace lantian::server::api
