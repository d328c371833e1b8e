#pragma once
// The routes of key freight enterprises (docs/enterprises.md): the enterprise list, the gate
// records their gate systems send, and heavy-pollution alerts. Called by the routing table in
// api_routes.cpp once the role has been checked; each checks its parameters and the token's reach
// (a city jurisdiction, or a gate token's enterprises) itself.

#include "server/api/api_types.hpp"

namespace lantian::server::api {

struct ApiContext;

ApiResponse list_enterprises(ApiContext& ctx, const ApiRequest& r);
ApiResponse enterprise_detail(ApiContext& ctx, const ApiRequest& r);
ApiResponse import_enterprises(ApiContext& ctx, const ApiRequest& r);
// POST /gate-events: a batch (JSON array, at most 10,000) or one record.
ApiResponse post_gate_events(ApiContext& ctx, const ApiRequest& r);
ApiResponse list_alerts(ApiContext& ctx, const ApiRequest& r);
ApiResponse declare_alert(ApiContext& ctx, const ApiRequest& r);
ApiResponse end_alert(ApiContext& ctx, const ApiRequest& r);
ApiResponse alert_policy(ApiContext& ctx, const ApiRequest& r);
// GET /stats/enterprises?month=YYYY-MM: the clean-transport share and alert compliance per
// enterprise, city and in total (rules/gate_statistics.hpp).
ApiResponse enterprise_statistics(ApiContext& ctx, const ApiRequest& r);
// GET /stats/enterprises/{id}?from=YYYY-MM&to=YYYY-MM: one enterprise month by month (≤ 24).
ApiResponse enterprise_monthly(ApiContext& ctx, const ApiRequest& r);

}  // namespace lantian::server::api
