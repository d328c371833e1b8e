#pragma once
// The URL of a terminal listener — "tcp://HOST:PORT?profile=P" or "tls://HOST:PORT?profile=P" —
// which lantiand listens on and lantian-sim connects to.

#include <cstdint>
#include <optional>
#include <string>

#include "protocol/types.hpp"

namespace lantian::common {

struct ListenerConfig {
  std::string url;  // as given, e.g. "tls://0.0.0.0:7701?profile=hj1239"
  bool tls = false;
  std::string host;
  std::uint16_t port = 0;                    // 0: any free port (the bound port is logged)
  std::optional<protocol::Profile> profile;  // nullopt: auto
};

// Parses "tcp://HOST:PORT?profile=P" or "tls://HOST:PORT?profile=P" (profile defaults to auto).
// On failure returns nullopt and says why in `problem`.
[[nodiscard]] std::optional<ListenerConfig> parse_listener(const std::string& url,
                                                           std::string& problem);

}  // namespace lantian::common
