#pragma once
// Requests per token: a token bucket per key (token id, or the peer address for requests without a
// valid token), refilled at `rate_per_second` up to `burst`. Thread-safe. Idle buckets are dropped
// once the map grows past `max_keys`, so memory stays bounded whatever the callers send.

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace lantian::server::api {

class RateLimiter {
 public:
  RateLimiter(double rate_per_second, double burst, std::size_t max_keys = 100000)
      : rate_(rate_per_second), burst_(burst), max_keys_(max_keys) {}
  // Takes one request from `key`'s bucket; false (and how long until one is free) when empty.
  bool allow(const std::string& key, std::chrono::steady_clock::time_point now,
             std::chrono::milliseconds& retry_after);
  // True when `key`'s bucket is empty now (and how long until it holds one); takes nothing. For
  // checking an address before its request's token is looked at.
  bool exhausted(const std::string& key, std::chrono::steady_clock::time_point now,
                 std::chrono::milliseconds& retry_after);

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point updated;
  };
  // The bucket's tokens at `now`: what it held, refilled since its last update, at most burst_.
  [[nodiscard]] double refilled(const Bucket& b, std::chrono::steady_clock::time_point now) const;
  double rate_, burst_;
  std::size_t max_keys_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace lantian::server::api
