#include "protocol/types.hpp"

#include <algorithm>

namespace lantian::protocol {

std::string_view to_string(Profile profile) noexcept {
  switch (profile) {
    case Profile::gb17691:
      return "gb17691";
    case Profile::hj1239:
      return "hj1239";
    case Profile::nonroad:
      return "nonroad";
  }
  return "unknown";
}

std::optional<Profile> parse_profile(std::string_view text) noexcept {
  if (text == "gb17691") return Profile::gb17691;
  if (text == "hj1239") return Profile::hj1239;
  if (text == "nonroad") return Profile::nonroad;
  return std::nullopt;
}

CommandKind classify_command(std::uint8_t code, Profile profile) noexcept {
  if (code >= command::first_user_defined && code != 0xFF) return CommandKind::user_defined;
  switch (code) {
    case command::login:
      return CommandKind::login;
    case command::realtime:
      return CommandKind::realtime;
    case command::resend:
      return CommandKind::resend;
    case command::logout:
      return CommandKind::logout;
    case 0x05:
      return profile == Profile::nonroad ? CommandKind::removal_alarm : CommandKind::time_sync;
    case 0x06:
      return profile == Profile::hj1239 ? CommandKind::removal_alarm : CommandKind::reserved;
    case command::activation:
      return profile == Profile::gb17691 ? CommandKind::reserved : CommandKind::activation;
    case command::activation_reply:
      return profile == Profile::gb17691 ? CommandKind::reserved : CommandKind::activation_reply;
    default:
      return CommandKind::reserved;
  }
}

std::string_view to_string(CommandKind kind) noexcept {
  switch (kind) {
    case CommandKind::login:
      return "login";
    case CommandKind::realtime:
      return "realtime";
    case CommandKind::resend:
      return "resend";
    case CommandKind::logout:
      return "logout";
    case CommandKind::time_sync:
      return "time_sync";
    case CommandKind::removal_alarm:
      return "removal_alarm";
    case CommandKind::activation:
      return "activation";
    case CommandKind::activation_reply:
      return "activation_reply";
    case CommandKind::user_defined:
      return "user_defined";
    case CommandKind::reserved:
      return "reserved";
  }
  return "reserved";
}

std::uint8_t start_byte(StartMarker marker) noexcept {
  return marker == StartMarker::tildes ? 0x7E : 0x23;
}

Vin make_vin(std::string_view text) noexcept {
  Vin vin{};
  const auto n = std::min(text.size(), vin.size());
  std::copy_n(text.begin(), n, vin.begin());
  return vin;
}

std::optional<double> Position::lon_deg() const noexcept {
  if (!longitude.ok()) return std::nullopt;
  return west() ? -longitude.value() : longitude.value();
}

std::optional<double> Position::lat_deg() const noexcept {
  if (!latitude.ok()) return std::nullopt;
  return south() ? -latitude.value() : latitude.value();
}

}  // namespace lantian::protocol
