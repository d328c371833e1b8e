#pragma once
// Points in time as operators write them on command lines.

#include <cstdint>
#include <optional>
#include <string>

namespace lantian::common {

// "2024-05-20T08:30:00+08:00", "2024-05-20 08:30:00" (Beijing time), "2024-05-20" (Beijing
// midnight) or Unix seconds.
[[nodiscard]] std::optional<std::int64_t> parse_time(const std::string& text);

}  // namespace lantian::common
