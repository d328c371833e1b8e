#pragma once
// In a cluster, a request about one vehicle — its frames, track and state, a violation's evidence,
// a review — is answered by the processor owning the vehicle's partition, where its archive is
// (docs/deploy-cluster.md "One API for the cluster", cluster/owner_requests.hpp moves the bytes).
// The node the caller asked authenticates, authorises, rate-limits and audits the request; the
// owner receives the request with the caller's token record (role, jurisdiction) and answers it
// with the same handler, applying the same jurisdiction to its own data.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "server/api/api_types.hpp"

namespace lantian::server::api {

// The owner's answer to a forwarded request.
struct OwnerAnswer {
  bool here = true;   // this node owns the vehicle's partition: answer it here
  std::string bytes;  // the owner's encoded response (encode_forwarded_response)
  std::string error;  // non-empty: no answer (no owner now, a timeout)
};
// Sends an encoded request about `vin` to its owner and waits for the answer.
using AskOwner = std::function<OwnerAnswer(std::string_view vin, const std::string& request)>;

// The request as sent: method, target, body, content type, peer and the token's record (with
// its `local` mark: a command on the admin socket asks as a local administrator everywhere).
[[nodiscard]] std::string encode_forwarded_request(const ApiRequest& request);
// Fills method, target, body, content_type, peer and token (not the parsed target: segments and
// query); false when `bytes` is not an encoded request.
[[nodiscard]] bool decode_forwarded_request(std::string_view bytes, ApiRequest& request);

// The response as sent back: status, content type, headers, records, change, body.
[[nodiscard]] std::string encode_forwarded_response(const ApiResponse& response);
[[nodiscard]] std::optional<ApiResponse> decode_forwarded_response(std::string_view bytes);

}  // namespace lantian::server::api
