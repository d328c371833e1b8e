#include "server/api/api_types.hpp"

#include <boost/json.hpp>
#include <charconv>

#include "server/config.hpp"

namespace lantian::server::api {
namespace json = boost::json;

ApiResponse json_response(const json::value& body, std::int64_t records, http::status status) {
  ApiResponse r;
  r.status = status;
  r.body = json::serialize(body);
  r.records = records;
  return r;
}

ApiResponse error_response(http::status status, const std::string& code, const std::string& message,
                           const std::string& parameter) {
  json::object error{{"code", code}, {"message", message}};
  if (!parameter.empty()) error["parameter"] = parameter;
  return json_response(json::object{{"error", std::move(error)}}, 0, status);
}

std::optional<std::string> text_param(const ApiRequest& r, const std::string& name,
                                      std::size_t max_size) {
  const auto it = r.query.find(name);
  if (it == r.query.end()) return std::nullopt;
  if (it->second.empty()) bad_parameter(name, "empty");
  if (it->second.size() > max_size)
    bad_parameter(name, "longer than " + std::to_string(max_size) + " characters");
  return it->second;
}

std::optional<std::int64_t> int_param(const ApiRequest& r, const std::string& name,
                                      std::int64_t min, std::int64_t max) {
  const auto text = text_param(r, name, 20);
  if (!text) return std::nullopt;
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || end != text->data() + text->size())
    bad_parameter(name, "not an integer: '" + *text + "'");
  if (v < min || v > max)
    bad_parameter(name, "must be " + std::to_string(min) + ".." + std::to_string(max));
  return v;
}

std::optional<std::int64_t> time_param(const ApiRequest& r, const std::string& name) {
  const auto text = text_param(r, name, 40);
  if (!text) return std::nullopt;
  const auto t = parse_time(*text);
  if (!t)
    bad_parameter(name, "not a time: '" + *text +
                            "' (ISO 8601 with offset, YYYY-MM-DD[ HH:MM:SS] Beijing, or Unix "
                            "seconds)");
  return *t;
}

std::optional<bool> bool_param(const ApiRequest& r, const std::string& name) {
  const auto text = text_param(r, name, 5);
  if (!text) return std::nullopt;
  if (*text == "true" || *text == "1") return true;
  if (*text == "false" || *text == "0") return false;
  bad_parameter(name, "must be true or false");
}

bool is_utf8(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p++;
    if (c < 0x80) continue;
    // The lead byte gives the length and the range of the second byte (RFC 3629, table 3-7 of
    // the Unicode standard); the other continuation bytes are 0x80..0xBF.
    std::size_t more = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      more = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2;
      if (c == 0xE0) low = 0xA0;   // overlong
      if (c == 0xED) high = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3;
      if (c == 0xF0) low = 0x90;   // overlong
      if (c == 0xF4) high = 0x8F;  // past U+10FFFF
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) < more || *p < low || *p > high) return false;
    for (std::size_t i = 1; i < more; ++i)
      if (p[i] < 0x80 || p[i] > 0xBF) return false;
    p += more;
  }
  return true;
}

std::string csv_cell(std::string_view value) {
  const bool formula = !value.empty() && std::string_view("=+-@\t\r").find(value[0]) !=
                                             std::string_view::npos;
  const bool quote = formula || value.find_first_of(",\"\r\n") != std::string_view::npos;
  std::string out = quote ? "\"" : "";
  if (formula) out += '\'';
  for (char c : value) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + (quote ? "\"" : "");
}

}  // namespace lantian::server::api
