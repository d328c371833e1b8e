#include "common/listen_url.hpp"

#include <boost/url/parse.hpp>

#include "common/number_text.hpp"

namespace lantian::common {

std::optional<ListenerConfig> parse_listener(const std::string& url, std::string& problem) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    problem = "not a URL (" + parsed.error().message() + ")";
    return std::nullopt;
  }
  ListenerConfig l;
  l.url = url;
  const auto scheme = parsed->scheme();
  if (scheme == "tls")
    l.tls = true;
  else if (scheme != "tcp") {
    problem = "scheme must be tcp or tls";
    return std::nullopt;
  }
  l.host = parsed->host_address();
  if (l.host.empty()) {
    problem = "missing host";
    return std::nullopt;
  }
  if (!parsed->has_port() || !parse_number(std::string(parsed->port()), l.port)) {
    problem = "missing or invalid port";
    return std::nullopt;
  }
  for (const auto& param : parsed->params()) {
    if (param.key != "profile") {
      problem = "unknown parameter '" + std::string(param.key) + "'";
      return std::nullopt;
    }
    if (param.value == "auto") continue;
    l.profile = protocol::parse_profile(param.value);
    if (!l.profile) {
      problem = "profile must be auto, gb17691, hj1239 or nonroad";
      return std::nullopt;
    }
  }
  return l;
}

}  // namespace lantian::common
