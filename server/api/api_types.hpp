#pragma once
// What the API's handlers see and return. A handler gets the parsed request (path segments, query
// parameters, body, the authenticated token) and returns a response value; request problems are
// reported by throwing ApiError, which the server turns into a JSON error response — confined to
// this layer, where every request is independent and the throw replaces a status check after every
// parameter read. Nothing on the terminal data path throws.

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "server/api/tokens.hpp"

namespace lantian::server::api {

namespace http = boost::beast::http;

struct ApiRequest {
  http::verb method = http::verb::get;
  std::string target;                        // as sent, for the audit log
  std::vector<std::string> segments;         // the path, split at '/' and percent-decoded
  std::map<std::string, std::string> query;  // decoded; a repeated name keeps the last value
  std::string body;
  std::string content_type;
  std::string peer;
  TokenRecord token;  // the caller (routes that need no token see a default record)
  std::string last_event_id;
  // Sent by another node of the cluster, which authenticated and audited it
  // (server/api/forwarded.hpp): answered here, never sent on again.
  bool forwarded = false;
};

struct ApiResponse {
  http::status status = http::status::ok;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::vector<std::pair<http::field, std::string>> headers;
  std::int64_t records = 0;   // for the audit log
  // What a write changed, for the audit log (who, what, before → after); empty for reads and
  // refusals. Never a secret: a new token's record, not its value.
  boost::json::object change;
  bool event_stream = false;  // the live feed: the session streams events instead of `body`
};

class ApiError : public std::runtime_error {
 public:
  ApiError(http::status status, std::string code, const std::string& message,
           std::string parameter = {})
      : std::runtime_error(message),
        status_(status),
        code_(std::move(code)),
        parameter_(std::move(parameter)) {}
  [[nodiscard]] http::status status() const { return status_; }
  [[nodiscard]] const std::string& code() const { return code_; }
  [[nodiscard]] const std::string& parameter() const { return parameter_; }

 private:
  http::status status_;
  std::string code_, parameter_;
};

// A 400 naming the offending parameter.
[[noreturn]] inline void bad_parameter(const std::string& name, const std::string& why) {
  throw ApiError(http::status::bad_request, "bad_parameter", name + ": " + why, name);
}

// JSON response helpers.
ApiResponse json_response(const boost::json::value& body, std::int64_t records,
                          http::status status = http::status::ok);
ApiResponse error_response(http::status status, const std::string& code, const std::string& message,
                           const std::string& parameter = {});

// Query parameters, validated (each throws bad_parameter with the reason).
std::optional<std::string> text_param(const ApiRequest& r, const std::string& name,
                                      std::size_t max_size = 200);
std::optional<std::int64_t> int_param(const ApiRequest& r, const std::string& name,
                                      std::int64_t min, std::int64_t max);
// ISO 8601 (+08:00 or Z), "YYYY-MM-DD[ HH:MM:SS]" in Beijing time, or Unix seconds.
std::optional<std::int64_t> time_param(const ApiRequest& r, const std::string& name);
std::optional<bool> bool_param(const ApiRequest& r, const std::string& name);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates, or code points past
// U+10FFFF): what a JSON answer or a stored JSON record may carry.
[[nodiscard]] bool is_utf8(std::string_view text) noexcept;

// One CSV cell (RFC 4180 quoting). A value a spreadsheet would read as a formula (starting with
// =, +, -, @, a tab or a carriage return: a plate "=HYPERLINK(…)") is exported as text, prefixed
// with an apostrophe, as OWASP advises against CSV injection.
[[nodiscard]] std::string csv_cell(std::string_view value);

}  // namespace lantian::server::api
