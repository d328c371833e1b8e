#include "server/close_reason.hpp"

namespace lantian::server {

std::string_view to_string(CloseReason reason) noexcept {
  switch (reason) {
    case CloseReason::none: return "none";
    case CloseReason::closed_by_peer: return "closed_by_peer";
    case CloseReason::read_error: return "read_error";
    case CloseReason::idle_timeout: return "idle_timeout";
    case CloseReason::first_frame_timeout: return "first_frame_timeout";
    case CloseReason::frame_timeout: return "frame_timeout";
    case CloseReason::handshake_timeout: return "handshake_timeout";
    case CloseReason::handshake_failed: return "handshake_failed";
    case CloseReason::write_timeout: return "write_timeout";
    case CloseReason::oversized_frame: return "oversized_frame";
    case CloseReason::garbage: return "garbage";
    case CloseReason::garbage_flood: return "garbage_flood";
    case CloseReason::undecodable_frame: return "undecodable_frame";
    case CloseReason::no_login: return "no_login";
    case CloseReason::vin_mismatch: return "vin_mismatch";
    case CloseReason::certificate_vin_mismatch: return "certificate_vin_mismatch";
    case CloseReason::activation_repeated: return "activation_repeated";
    case CloseReason::storage_failed: return "storage_failed";
    case CloseReason::storage_unavailable: return "storage_unavailable";
    case CloseReason::replaced_by_new_login: return "replaced_by_new_login";
    case CloseReason::invalid_vin: return "invalid_vin";
    case CloseReason::server_stopping: return "server_stopping";
    case CloseReason::address_limit: return "address_limit";
    case CloseReason::login_rate: return "login_rate";
    case CloseReason::vin_held_by_proven_session: return "vin_held_by_proven_session";
    case CloseReason::partial_frame_memory: return "partial_frame_memory";
    case CloseReason::platform_login_refused: return "platform_login_refused";
    case CloseReason::platform_logout: return "platform_logout";
  }
  return "none";
}

}  // namespace lantian::server
