#include "protocol/beijing_time.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace lantian::protocol {
namespace {
using namespace std::chrono;

std::optional<year_month_day> calendar_date(const std::array<std::uint8_t, 6>& r) noexcept {
  const year_month_day ymd{year{2000 + r[0]}, month{r[1]}, day{r[2]}};
  if (!ymd.ok()) return std::nullopt;
  return ymd;
}
}  // namespace

std::optional<std::int64_t> BeijingTime::to_unix_seconds() const noexcept {
  if (!valid()) return std::nullopt;
  const auto days = sys_days{*calendar_date(raw)}.time_since_epoch().count();
  return std::int64_t{days} * 86400 + raw[3] * 3600 + raw[4] * 60 + raw[5] -
         beijing_utc_offset_seconds;
}

std::optional<std::string> BeijingTime::iso8601() const {
  if (!valid()) return std::nullopt;
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", 2000 + raw[0], raw[1],
                raw[2], raw[3], raw[4], raw[5]);
  return std::string(text);
}

BeijingTime BeijingTime::from_unix_seconds(std::int64_t unix_seconds) noexcept {
  constexpr std::int64_t first = 946684800 - beijing_utc_offset_seconds;  // 2000-01-01 00:00 +08
  constexpr std::int64_t last = 9025257599 - beijing_utc_offset_seconds;  // 2255-12-31 23:59:59 +08
  const std::int64_t local = std::clamp(unix_seconds, first, last) + beijing_utc_offset_seconds;
  const auto days = sys_days{std::chrono::days{local / 86400}};
  const std::int64_t secs = local % 86400;
  const year_month_day ymd{days};
  return from_fields(int(ymd.year()), int(unsigned(ymd.month())), int(unsigned(ymd.day())),
                     int(secs / 3600), int(secs / 60 % 60), int(secs % 60));
}

BeijingTime BeijingTime::from_fields(int year, int month, int day, int hour, int minute,
                                     int second) noexcept {
  BeijingTime t;
  t.raw = {static_cast<std::uint8_t>(year - 2000), static_cast<std::uint8_t>(month),
           static_cast<std::uint8_t>(day),         static_cast<std::uint8_t>(hour),
           static_cast<std::uint8_t>(minute),      static_cast<std::uint8_t>(second)};
  return t;
}

}  // namespace lantian::protocol
