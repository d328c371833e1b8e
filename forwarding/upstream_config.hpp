#pragma once
// One receiving platform above this one (docs/forwarding.md): where it is, how to log in to it,
// and which reports go to it. Given as a URL, repeatable (`--upstream`, or `upstream = …` lines in
// the config file):
//
//   tls://nation.example.cn:19006?name=nation&user=HA0001&password-file=/etc/lantian/nation.pw
//        &platform=LANTIANHENAN00001&ca=/etc/lantian/nation-ca.crt&profiles=gb17691,hj1239
//
// Header-only type (the session fuzzer links Config without this module); parse_upstream lives in
// upstream_config.cpp.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "protocol/platform_link.hpp"
#include "protocol/types.hpp"

namespace lantian::forwarding {

struct UpstreamConfig {
  std::string name;  // the metrics label and the cursor's key: [a-z0-9_-]{1,32}
  std::string url;   // as given, for the log (a password in it is never logged)
  bool tls = false;
  std::string host;
  std::uint16_t port = 0;
  // TLS: the CA that signed the upstream's certificate (empty: the system's), the name its
  // certificate must carry (default: host), and this platform's client certificate, if asked.
  std::filesystem::path ca, client_cert, client_key;
  std::string server_name;
  // Platform login (protocol/platform_link.hpp): user (≤ 12), password (≤ 20), this platform's
  // 17-character code in the VIN slot, and the link's command codes.
  std::string user, password;
  std::string platform_code = "LANTIAN0000000000";
  protocol::PlatformLinkCodes codes;
  // Which reports go up: those of these profiles (empty: all) and of these VINs (empty: all).
  std::vector<protocol::Profile> profiles;
  std::set<std::string> vins;
  // Reports sent and not yet answered at most; the oldest must be answered within reply_timeout,
  // else the connection is dropped and everything unanswered is sent again.
  std::size_t window = 256;
  std::chrono::seconds reply_timeout{30};
  std::chrono::milliseconds backoff_min{500}, backoff_max{30000};
  // /healthz fails while the oldest report not yet acknowledged is older than this.
  std::chrono::seconds max_lag{300};
};

// Parses an upstream URL (scheme tcp or tls; the parameters above, by their URL names: name,
// user, password or password-file, platform, ca, cert, key, server-name, profiles, vins (a file,
// one VIN per line), window, reply-timeout-s, backoff-min-ms, backoff-max-ms, max-lag-s,
// login-command, logout-command). On failure returns nullopt and says why in `problem`.
[[nodiscard]] std::optional<UpstreamConfig> parse_upstream(const std::string& url,
                                                           std::string& problem);

}  // namespace lantian::forwarding
