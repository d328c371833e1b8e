#include "server/api/route_helpers.hpp"

#include <algorithm>
#include <boost/json.hpp>

namespace lantian::server::api {
namespace json = boost::json;

void require(const ApiRequest& r, const Roles& roles) {
  if (r.token.local) return;
  if (std::find(roles.begin(), roles.end(), r.token.role) == roles.end())
    throw ApiError(http::status::forbidden, "forbidden",
                   "the role '" + std::string(to_string(r.token.role)) + "' may not do this");
}

void only_params(const ApiRequest& r, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : r.query)
    if (std::find(known.begin(), known.end(), name) == known.end())
      bad_parameter(name, "unknown parameter");
}

void only_fields(const json::object& body, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : body)
    if (std::find(known.begin(), known.end(), std::string_view(name)) == known.end())
      bad_parameter(std::string(name), "unknown field");
}

void check_short_text(const std::string& field, std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes)
    bad_parameter(field, "longer than " + std::to_string(max_bytes) + " bytes");
  if (protocol::has_control_character(text)) bad_parameter(field, "holds a control character");
}

void not_found(const std::string& what) {
  throw ApiError(http::status::not_found, "not_found", what + " not found");
}

json::value parse_body(const ApiRequest& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  if (ec)
    throw ApiError(http::status::bad_request, "bad_json",
                   "the body is not valid JSON: " + ec.message());
  return v;
}

std::string text_of(const json::object& o, const char* field) {
  const auto* v = o.if_contains(field);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

ApiResponse batch_stored_response(const BatchStored& stored, json::array rejected,
                                  const char* records_name, const std::vector<std::string>& ids) {
  const auto status = stored.added ? http::status::created : http::status::ok;
  auto response = json_response(json::object{{"added", stored.added},
                                             {"known", stored.known},
                                             {"unmatched", stored.unmatched},
                                             {"violations_raised", stored.raised},
                                             {"rejected", std::move(rejected)}},
                                static_cast<std::int64_t>(stored.added), status);
  json::array sent;
  for (std::size_t i = 0; i < ids.size() && i < 1000; ++i) sent.emplace_back(ids[i]);
  response.change = {{records_name, std::move(sent)},
                      {"added", stored.added},
                      {"violations_raised", stored.raised}};
  return response;
}

}  // namespace lantian::server::api
