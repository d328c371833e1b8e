#pragma once
// The wall clock, as Lantian records it (receive times, detection times, reviews, audit entries).

#include <chrono>
#include <cstdint>

namespace lantian::evaluation {

[[nodiscard]] inline std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace lantian::evaluation
