#pragma once
// The retry delay of the links to other systems (upstream platforms, enforcement systems): from
// `min`, doubling with each failure in a row, at most `max`, and each delay drawn between half and
// all of that — so that many clients cut off together do not all return at the same instant.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace lantian::common {

template <class Random>
[[nodiscard]] std::chrono::milliseconds backoff_delay(std::chrono::milliseconds min,
                                                      std::chrono::milliseconds max,
                                                      unsigned failures, Random& random) {
  auto delay = min * (std::int64_t{1} << std::min(failures, 16u));
  delay = std::min(delay, max);
  std::uniform_real_distribution<double> share(0.5, 1.0);
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(delay.count()) * share(random)));
}

}  // namespace lantian::common
