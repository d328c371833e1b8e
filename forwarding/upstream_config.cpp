#include "forwarding/upstream_config.hpp"

#include <boost/url/parse.hpp>
#include <algorithm>
#include <fstream>

#include "common/number_text.hpp"

namespace lantian::forwarding {
namespace {

// 17 upper-case letters and digits: a VIN, or a platform's code in the VIN slot.
bool is_vin_text(std::string_view text) {
  return text.size() == 17 && protocol::is_vin_alphabet(protocol::make_vin(text));
}

// An upstream's name: 1 to 32 of a-z, 0-9, _ and -.
bool is_upstream_name(std::string_view text) {
  return !text.empty() && text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_' || c == '-';
         });
}

std::optional<std::string> first_line_of(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

bool read_vins(const std::filesystem::path& file, std::set<std::string>& vins,
               std::string& problem) {
  std::ifstream in(file);
  if (!in) {
    problem = "vins: cannot read " + file.string();
    return false;
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (!is_vin_text(line)) {
      problem = "vins: " + file.string() + ":" + std::to_string(number) + ": not a VIN";
      return false;
    }
    vins.insert(line);
  }
  return true;
}

template <class T>
bool number(std::string_view key, std::string_view value, T min, T max, T& out,
            std::string& problem) {
  if (common::parse_number(value, out) && out >= min && out <= max) return true;
  problem = std::string(key) + " must be a whole number from " + std::to_string(min) + " to " +
            std::to_string(max);
  return false;
}

}  // namespace

std::optional<UpstreamConfig> parse_upstream(const std::string& url, std::string& problem) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    problem = "not a URL (" + parsed.error().message() + ")";
    return std::nullopt;
  }
  UpstreamConfig u;
  u.url = url;
  if (parsed->scheme() == "tls")
    u.tls = true;
  else if (parsed->scheme() != "tcp") {
    problem = "scheme must be tcp or tls";
    return std::nullopt;
  }
  u.host = parsed->host_address();
  if (u.host.empty()) {
    problem = "missing host";
    return std::nullopt;
  }
  if (!parsed->has_port() || !common::parse_number(std::string(parsed->port()), u.port) ||
      u.port == 0) {
    problem = "missing or invalid port";
    return std::nullopt;
  }
  std::optional<std::filesystem::path> password_file;
  for (const auto& param : parsed->params()) {
    const std::string key = param.key, value = param.value;
    std::int64_t n = 0;
    if (key == "name") {
      if (!is_upstream_name(value)) {
        problem = "name must be 1-32 of a-z, 0-9, _ and -";
        return std::nullopt;
      }
      u.name = value;
    } else if (key == "user") {
      u.user = value;
    } else if (key == "password") {
      u.password = value;
    } else if (key == "password-file") {
      password_file = value;
    } else if (key == "platform") {
      u.platform_code = value;
    } else if (key == "ca") {
      u.ca = value;
    } else if (key == "cert") {
      u.client_cert = value;
    } else if (key == "key") {
      u.client_key = value;
    } else if (key == "server-name") {
      u.server_name = value;
    } else if (key == "profiles") {
      std::size_t at = 0;
      while (at <= value.size()) {
        const auto comma = std::min(value.find(',', at), value.size());
        const auto profile = protocol::parse_profile(value.substr(at, comma - at));
        if (!profile) {
          problem = "profiles must be a comma-separated list of gb17691, hj1239, nonroad";
          return std::nullopt;
        }
        u.profiles.push_back(*profile);
        at = comma + 1;
      }
    } else if (key == "vins") {
      if (!read_vins(value, u.vins, problem)) return std::nullopt;
      if (u.vins.empty()) {
        problem = "vins: " + value + " lists no VIN";
        return std::nullopt;
      }
    } else if (key == "window") {
      if (!number<std::int64_t>(key, value, 1, 100000, n, problem)) return std::nullopt;
      u.window = static_cast<std::size_t>(n);
    } else if (key == "reply-timeout-s") {
      if (!number<std::int64_t>(key, value, 1, 3600, n, problem)) return std::nullopt;
      u.reply_timeout = std::chrono::seconds(n);
    } else if (key == "backoff-min-ms") {
      if (!number<std::int64_t>(key, value, 1, 600000, n, problem)) return std::nullopt;
      u.backoff_min = std::chrono::milliseconds(n);
    } else if (key == "backoff-max-ms") {
      if (!number<std::int64_t>(key, value, 1, 3600000, n, problem)) return std::nullopt;
      u.backoff_max = std::chrono::milliseconds(n);
    } else if (key == "max-lag-s") {
      if (!number<std::int64_t>(key, value, 1, 30 * 86400, n, problem)) return std::nullopt;
      u.max_lag = std::chrono::seconds(n);
    } else if (key == "login-command" || key == "logout-command") {
      if (!number<std::int64_t>(key, value, 1, 255, n, problem)) return std::nullopt;
      (key == "login-command" ? u.codes.login : u.codes.logout) = static_cast<std::uint8_t>(n);
    } else {
      problem = "unknown parameter '" + key + "'";
      return std::nullopt;
    }
  }
  if (password_file) {
    const auto password = first_line_of(*password_file);
    if (!password) {
      problem = "password-file: cannot read " + password_file->string();
      return std::nullopt;
    }
    u.password = *password;
  }
  if (u.name.empty()) {
    problem = "name is required (it keys the upstream's cursor)";
    return std::nullopt;
  }
  if (u.user.empty() || u.user.size() > protocol::platform_user_length) {
    problem = "user is required, at most 12 characters";
    return std::nullopt;
  }
  if (u.password.size() > protocol::platform_password_length) {
    problem = "password: at most 20 characters";
    return std::nullopt;
  }
  if (!is_vin_text(u.platform_code)) {
    problem = "platform must be 17 upper-case letters and digits";
    return std::nullopt;
  }
  if (u.client_cert.empty() != u.client_key.empty()) {
    problem = "cert and key go together";
    return std::nullopt;
  }
  if (!u.tls && (!u.ca.empty() || !u.client_cert.empty())) {
    problem = "ca, cert and key need tls://";
    return std::nullopt;
  }
  if (u.backoff_min > u.backoff_max) {
    problem = "backoff-min-ms must not exceed backoff-max-ms";
    return std::nullopt;
  }
  if (u.codes.login == u.codes.logout) {
    problem = "login-command and logout-command must differ";
    return std::nullopt;
  }
  if (u.server_name.empty()) u.server_name = u.host;
  return u;
}

}  // namespace lantian::forwarding
