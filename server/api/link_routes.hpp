#pragma once
// The links to other platforms and systems (docs/forwarding.md), for admins: the upstream
// platforms reports are forwarded to, with their state and the reports they refused; and the
// enforcement systems that receive violations — register, list with their delivery status,
// disable. The links themselves are forwarding::Forwarder's and sharing::ViolationSharing's.

#include "server/api/api_types.hpp"

namespace lantian::server::api {

struct ApiContext;

ApiResponse list_upstreams(ApiContext& ctx, const ApiRequest& r);
ApiResponse list_subscribers(ApiContext& ctx, const ApiRequest& r);
ApiResponse create_subscriber(ApiContext& ctx, const ApiRequest& r);
ApiResponse disable_subscriber(ApiContext& ctx, const ApiRequest& r);

}  // namespace lantian::server::api
