#pragma once
// The API's routes (docs/api.md): which role may call what, parameter checking, jurisdiction
// filtering, and the answers. `route` is called with an authenticated request for /api/v1/…, or an
// anonymous one for the console, its assets and /api/openapi.json.

#include "server/api/api_types.hpp"

namespace lantian::server::api {

struct ApiContext;

// Throws ApiError for the request's problems (400, 403, 404, 409, …).
ApiResponse route(ApiContext& context, ApiRequest& request);

// Whether the request (its target parsed) is one of the routes a cluster answers at a vehicle's
// owner (server/api/forwarded.hpp): the only ones an owner takes from another node.
[[nodiscard]] bool answered_at_owner(const ApiRequest& request);

}  // namespace lantian::server::api
