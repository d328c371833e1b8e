#pragma once
// The protocol's 6-byte time (§1.1): year−2000, month, day, hour, minute, second as plain bytes,
// in Beijing time (UTC+8). The six raw bytes are kept as received so that a frame re-encodes to
// exactly its original bytes even when the time is not valid.

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace lantian::protocol {

inline constexpr std::int64_t beijing_utc_offset_seconds = 8 * 3600;
// The Beijing day a time falls on, as days since 1970-01-01 (Beijing).
[[nodiscard]] constexpr std::int64_t beijing_day_number(std::int64_t unix_s) noexcept {
  return (unix_s + beijing_utc_offset_seconds) / 86400;
}

struct BeijingTime {
  std::array<std::uint8_t, 6> raw{};  // year−2000, month, day, hour, minute, second

  // A time is valid when it is a real calendar date and time (2000-01-01 … 2255-12-31); the
  // all-zero time and any out-of-range field mean "no valid time". (Inline: the decoder asks it
  // for every block.)
  [[nodiscard]] constexpr bool valid() const noexcept {
    const unsigned month = raw[1], day = raw[2];
    if (month < 1 || month > 12 || day < 1 || raw[3] > 23 || raw[4] > 59 || raw[5] > 59)
      return false;
    constexpr std::uint8_t days_in_month[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (day <= days_in_month[month - 1]) return true;
    const unsigned year = 2000u + raw[0];
    return month == 2 && day == 29 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  }

  // Seconds since the Unix epoch, or nullopt when not valid.
  [[nodiscard]] std::optional<std::int64_t> to_unix_seconds() const noexcept;

  // ISO 8601 with the +08:00 offset, e.g. "2024-05-20T08:30:10+08:00"; nullopt when not valid.
  [[nodiscard]] std::optional<std::string> iso8601() const;

  // The Beijing wall-clock time of a Unix instant (seconds). Instants outside 2000…2255 clamp to
  // the nearest representable time.
  [[nodiscard]] static BeijingTime from_unix_seconds(std::int64_t unix_seconds) noexcept;
  [[nodiscard]] static BeijingTime from_fields(int year, int month, int day, int hour, int minute,
                                               int second) noexcept;

  bool operator==(const BeijingTime&) const = default;
};

}  // namespace lantian::protocol
