#pragma once
// Why a terminal connection ends: the label of lantian_connections_closed_total and of the
// session_closed log line (docs/server.md). One enum, so that the set of labels is closed and a
// misspelt reason cannot create a new metric series.

#include <cstdint>
#include <string_view>

namespace lantian::server {

enum class CloseReason : std::uint8_t {
  none,  // the connection goes on
  closed_by_peer,
  read_error,
  idle_timeout,
  first_frame_timeout,
  frame_timeout,
  handshake_timeout,
  handshake_failed,
  write_timeout,
  oversized_frame,
  garbage,
  garbage_flood,
  undecodable_frame,
  no_login,
  invalid_vin,  // a login whose VIN is not 17 upper-case letters and digits
  vin_mismatch,
  certificate_vin_mismatch,
  activation_repeated,
  storage_failed,
  storage_unavailable,
  replaced_by_new_login,
  server_stopping,
  address_limit,          // a login beyond --max-connections-per-address
  login_rate,             // a login beyond the VIN's --login-rate
  vin_held_by_proven_session,  // a login without proof while a proven session holds the VIN
  partial_frame_memory,   // its unfinished frame went beyond --max-partial-frame-bytes(-per-address)
  platform_login_refused,  // a platform login with an unknown account (--platform-account)
  platform_logout,         // a lower platform logged out of its link
};

// The metric label ("closed_by_peer", …); "none" for CloseReason::none.
[[nodiscard]] std::string_view to_string(CloseReason reason) noexcept;

}  // namespace lantian::server
