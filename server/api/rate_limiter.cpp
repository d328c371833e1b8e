#include "server/api/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace lantian::server::api {

bool RateLimiter::allow(const std::string& key, std::chrono::steady_clock::time_point now,
                        std::chrono::milliseconds& retry_after) {
  std::lock_guard lock(mutex_);
  if (buckets_.size() >= max_keys_ && !buckets_.count(key)) {
    // Drop the buckets that have refilled completely: forgetting them changes nothing.
    std::erase_if(buckets_, [&](const auto& entry) {
      const double elapsed = std::chrono::duration<double>(now - entry.second.updated).count();
      return entry.second.tokens + elapsed * rate_ >= burst_;
    });
  }
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!fresh) {
    b.tokens = refilled(b, now);
    b.updated = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  retry_after = std::chrono::milliseconds(
      static_cast<std::int64_t>(std::ceil((1 - b.tokens) / rate_ * 1000)));
  return false;
}

double RateLimiter::refilled(const Bucket& b, std::chrono::steady_clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - b.updated).count();
  return std::min(burst_, b.tokens + elapsed * rate_);
}

bool RateLimiter::exhausted(const std::string& key, std::chrono::steady_clock::time_point now,
                            std::chrono::milliseconds& retry_after) {
  std::lock_guard lock(mutex_);
  const auto it = buckets_.find(key);
  if (it == buckets_.end()) return false;
  const double tokens = refilled(it->second, now);
  if (tokens >= 1) return false;
  retry_after =
      std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil((1 - tokens) / rate_ * 1000)));
  return true;
}

}  // namespace lantian::server::api
