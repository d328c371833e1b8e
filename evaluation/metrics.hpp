#pragma once
// What evaluation counts, for the server's metrics exposition (/metrics renders these under the
// names lantian_rule_frames_total, lantian_rules_backlog_reports, lantian_violations_total, …),
// and the counter and gauge every metric of the server is made of. Updates are relaxed atomics;
// the per-rule counts take a mutex.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace lantian::evaluation {

// A count that only grows.
class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A level that goes up and down.
class Gauge {
 public:
  Gauge() = default;
  explicit Gauge(std::int64_t initial) : value_(initial) {}
  void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::int64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Counts per rule ("R01" … "R12").
class CountsByRule {
 public:
  void inc(const std::string& rule);
  [[nodiscard]] std::uint64_t value(const std::string& rule) const;
  [[nodiscard]] std::map<std::string, std::uint64_t> values() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> counts_;
};

struct EvaluationMetrics {
  Counter frames_handed_over;      // stored frames handed to the shards (evidence or not)
  Counter frames_from_archive;     // of those evaluated: read back from the archive, not memory
  Counter reevaluations;           // late data or a restart: a vehicle evaluated from a checkpoint
  Gauge backlog_frames;            // handed over and not yet evaluated
  CountsByRule violations_raised;  // new violations stored
  Counter violations_withdrawn;
  Counter violations_rereview;  // reviewed ones late data no longer raises: flagged, kept
};

}  // namespace lantian::evaluation
