#pragma once
// What every route handler checks the same way: the caller's role, the parameters and body fields
// it knows, short texts, and the JSON body. Each throws ApiError (400, 403, 404) with a message
// that names the problem.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "server/api/api_types.hpp"
#include "server/api/tokens.hpp"

namespace lantian::server::api {

using Roles = std::vector<Role>;
inline const Roles readers = {Role::police, Role::reviewer};

// 403 unless the request's token has one of `roles`.
void require(const ApiRequest& r, const Roles& roles);
// Rejects parameters the route does not know: a misspelt filter must not silently widen a query.
void only_params(const ApiRequest& r, std::initializer_list<std::string_view> known);
// Rejects body fields the route does not know, as only_params does for parameters: a misspelt
// field (a "comments" for "comment", an "expire_days") must not be dropped without a word.
void only_fields(const boost::json::object& body, std::initializer_list<std::string_view> known);
// A short free text (a label, a name): at most `max_bytes` bytes of UTF-8 (JSON's) without control
// characters, which would reach operators' terminals and logs.
void check_short_text(const std::string& field, std::string_view text, std::size_t max_bytes);
[[noreturn]] void not_found(const std::string& what);
// The body as JSON (400 bad_json when it is not).
[[nodiscard]] boost::json::value parse_body(const ApiRequest& r);
// A string field of `o`; empty when absent or not a string.
[[nodiscard]] std::string text_of(const boost::json::object& o, const char* field);

// The answer to a batch of evidence records (observations, gate records): what was added, already
// known, matched no registered vehicle and raised, and the rejected entries (201 when any was
// added). Such records never change once stored, so the audit's change is which ones were sent
// (the first 1,000 of `ids`, under `records_name`).
struct BatchStored {
  std::size_t added = 0, known = 0, unmatched = 0, raised = 0;
};
[[nodiscard]] ApiResponse batch_stored_response(const BatchStored& stored,
                                                boost::json::array rejected,
                                                const char* records_name,
                                                const std::vector<std::string>& ids);

}  // namespace lantian::server::api
