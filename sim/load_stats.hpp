#pragma once
// The simulator's measurements: counters and reply-latency histograms, kept in one block of
// memory that every simulator process of a run updates (a shared anonymous mapping made before
// the worker processes are forked; every member is a lock-free atomic, so processes and threads
// update it without locks). The parent process prints progress and the final report from it.
//
// Latency histogram: log-linear buckets over microseconds (64 linear sub-buckets per power of
// two, as HdrHistogram does), so any percentile is within 1.6 % of the true value from 1 µs to
// over an hour, in fixed memory.

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>

namespace lantian::sim {

class LatencyHistogram {
 public:
  static constexpr int sub_bits = 6;  // 64 sub-buckets per power of two
  static constexpr int buckets = (64 - sub_bits + 1) << sub_bits;

  void record(std::chrono::microseconds latency) noexcept;
  [[nodiscard]] std::uint64_t count() const noexcept;
  // The smallest value v such that at least `q` (0..1) of the recorded values are ≤ v (the upper
  // edge of its bucket), in microseconds; 0 when empty.
  [[nodiscard]] std::uint64_t quantile_us(double q) const noexcept;
  [[nodiscard]] std::uint64_t max_us() const noexcept { return max_.load(); }

  // Bucket of a value and the largest value a bucket holds (exposed for tests).
  [[nodiscard]] static int bucket_of(std::uint64_t us) noexcept;
  [[nodiscard]] static std::uint64_t upper_edge(int bucket) noexcept;

 private:
  std::atomic<std::uint64_t> counts_[buckets]{};
  std::atomic<std::uint64_t> max_{0};
};

// Counters of the whole run.
struct LoadCounters {
  std::atomic<std::uint64_t> frames_sent{0};     // reports written (not logins/time syncs)
  std::atomic<std::uint64_t> frames_acked{0};    // reports answered by the server
  // Reports written on a connection that broke before their answer: written again (as 0x03) on
  // the next connection, so frames_sent = frames_acked + frames_retried + frames_unanswered when
  // the server answers every report.
  std::atomic<std::uint64_t> frames_retried{0};
  std::atomic<std::uint64_t> frames_unanswered{0};  // still unanswered when the run ended
  std::atomic<std::uint64_t> frames_unsent{0};  // kept (coverage gap, broken link) and never written
  std::atomic<std::uint64_t> samples_sent{0};
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::uint64_t> resends_sent{0};    // 0x03 frames: after coverage gaps and broken links
  std::atomic<std::uint64_t> malformed_sent{0};  // corrupted frames sent on purpose
  std::atomic<std::uint64_t> connects{0};        // sessions established (login answered)
  std::atomic<std::uint64_t> connection_errors{0};
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<std::uint64_t> terminals_online{0};
  std::atomic<std::uint64_t> terminals_done{0};
  std::atomic<std::uint64_t> handshakes_resumed{0};  // TLS sessions resumed from a ticket
  // Reconnect storm: terminals that dropped their connection for it, those back online, and the
  // time (µs after the storm began) the last one came back.
  std::atomic<std::uint64_t> storm_dropped{0};
  std::atomic<std::uint64_t> storm_back{0};
  std::atomic<std::uint64_t> storm_last_back_us{0};
  std::atomic<std::int64_t> storm_started_us{0};  // steady clock µs; 0: no storm yet
  std::atomic<bool> stop{false};                  // set by the parent: finish and log out

  LatencyHistogram latency;        // every report's reply latency
  LatencyHistogram storm_latency;  // replies to terminals that stayed connected, during the storm
};

// Creates the counters in memory shared with processes forked afterwards (nullptr on failure).
[[nodiscard]] LoadCounters* create_shared_counters();

// Microseconds on the steady clock (comparable across the processes of one machine).
[[nodiscard]] std::int64_t steady_us() noexcept;

// Frames sent and acknowledged in the run's sending window (before the final drain and logout):
// the basis of the reported rates.
struct RateWindow {
  std::uint64_t sent = 0, acked = 0;
  std::chrono::duration<double> length{0};
};

// The report as JSON: counts, rates over `window`, latency percentiles (milliseconds).
[[nodiscard]] boost::json::object report_json(const LoadCounters& c, const RateWindow& window,
                                              std::chrono::duration<double> elapsed);

}  // namespace lantian::sim
