#pragma once
// Enforcement systems that receive violations (docs/forwarding.md): admins register them, list
// them with their delivery status, and disable them. The deliveries themselves are
// sharing::ViolationSharing's.

#include "server/api/api_types.hpp"

namespace lantian::server::api {

struct ApiContext;

ApiResponse list_subscribers(ApiContext& ctx, const ApiRequest& r);
ApiResponse create_subscriber(ApiContext& ctx, const ApiRequest& r);
ApiResponse disable_subscriber(ApiContext& ctx, const ApiRequest& r);

}  // namespace lantian::server::api
