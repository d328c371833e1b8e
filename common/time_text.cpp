#include "common/time_text.hpp"

#include <cstdio>

#include "common/number_text.hpp"
#include "protocol/beijing_time.hpp"

namespace lantian::common {

std::optional<std::int64_t> parse_time(const std::string& text) {
  std::int64_t unix_s = 0;
  if (parse_number(text, unix_s)) return unix_s;
  int y, mo, d, h = 0, mi = 0, s = 0, n = 0;
  char sep = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return std::nullopt;
  std::string rest = text.substr(static_cast<std::size_t>(n));
  if (!rest.empty()) {
    int m = 0;
    if (std::sscanf(rest.c_str(), "%c%2d:%2d:%2d%n", &sep, &h, &mi, &s, &m) != 4 ||
        (sep != 'T' && sep != ' '))
      return std::nullopt;
    rest = rest.substr(static_cast<std::size_t>(m));
    if (!rest.empty() && rest != "+08:00" && rest != "+0800")
      return std::nullopt;  // Beijing time only
  }
  if (y < 2000 || y > 2255) return std::nullopt;
  return protocol::BeijingTime::from_fields(y, mo, d, h, mi, s).to_unix_seconds();
}

}  // namespace lantian::common
