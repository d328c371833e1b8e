#include "sim/load_stats.hpp"

#include <sys/mman.h>

#include <bit>
#include <new>

namespace lantian::sim {

int LatencyHistogram::bucket_of(std::uint64_t us) noexcept {
  constexpr std::uint64_t sub = 1u << sub_bits;
  if (us < sub) return static_cast<int>(us);
  const int magnitude = static_cast<int>(std::bit_width(us)) - 1 - sub_bits;  // ≥ 0
  return static_cast<int>(((magnitude + 1) << sub_bits) + ((us >> magnitude) - sub));
}

std::uint64_t LatencyHistogram::upper_edge(int bucket) noexcept {
  constexpr int sub = 1 << sub_bits;
  if (bucket < sub) return static_cast<std::uint64_t>(bucket);
  const int magnitude = (bucket >> sub_bits) - 1;
  const std::uint64_t first = static_cast<std::uint64_t>((bucket & (sub - 1)) + sub) << magnitude;
  return first + ((std::uint64_t{1} << magnitude) - 1);
}

void LatencyHistogram::record(std::chrono::microseconds latency) noexcept {
  const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(0, latency.count()));
  counts_[bucket_of(us)].fetch_add(1, std::memory_order_relaxed);
  auto seen = max_.load(std::memory_order_relaxed);
  while (us > seen && !max_.compare_exchange_weak(seen, us, std::memory_order_relaxed)) {
  }
}

std::uint64_t LatencyHistogram::count() const noexcept {
  std::uint64_t n = 0;
  for (const auto& c : counts_) n += c.load(std::memory_order_relaxed);
  return n;
}

std::uint64_t LatencyHistogram::quantile_us(double q) const noexcept {
  const std::uint64_t n = count();
  if (n == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::max(1.0, q * static_cast<double>(n) + 0.5 - 1e-9));
  std::uint64_t seen = 0;
  for (int b = 0; b < buckets; ++b) {
    seen += counts_[b].load(std::memory_order_relaxed);
    if (seen >= rank) return std::min(upper_edge(b), max_us());
  }
  return max_us();
}

LoadCounters* create_shared_counters() {
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
  void* memory = ::mmap(nullptr, sizeof(LoadCounters), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  return new (memory) LoadCounters();
}

std::int64_t steady_us() noexcept {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

boost::json::object report_json(const LoadCounters& c, const RateWindow& window,
                               std::chrono::duration<double> elapsed) {
  const double s = std::max(window.length.count(), 1e-9);
  auto ms = [](std::uint64_t us) { return static_cast<double>(us) / 1000.0; };
  auto latency = [&](const LatencyHistogram& h) {
    return boost::json::object{{"count", h.count()},
                               {"p50_ms", ms(h.quantile_us(0.50))},
                               {"p99_ms", ms(h.quantile_us(0.99))},
                               {"p999_ms", ms(h.quantile_us(0.999))},
                               {"max_ms", ms(h.max_us())}};
  };
  const auto sent = c.frames_sent.load(), acked = c.frames_acked.load();
  boost::json::object out{
      {"elapsed_s", elapsed.count()},
      {"frames_sent", sent},
      {"frames_acked", acked},
      {"frames_retried", c.frames_retried.load()},
      {"frames_unanswered", c.frames_unanswered.load()},
      {"frames_unsent", c.frames_unsent.load()},
      {"window_s", window.length.count()},
      {"frames_sent_per_s", static_cast<double>(window.sent) / s},
      {"frames_acked_per_s", static_cast<double>(window.acked) / s},
      {"samples_sent", c.samples_sent.load()},
      {"bytes_sent", c.bytes_sent.load()},
      {"resends_sent", c.resends_sent.load()},
      {"malformed_sent", c.malformed_sent.load()},
      {"connects", c.connects.load()},
      {"connection_errors", c.connection_errors.load()},
      {"reconnects", c.reconnects.load()},
      {"tls_resumed", c.handshakes_resumed.load()},
      {"latency", latency(c.latency)}};
  if (c.storm_started_us.load() != 0) {
    out["storm"] = boost::json::object{
        {"dropped", c.storm_dropped.load()},
        {"back", c.storm_back.load()},
        {"all_back_s", static_cast<double>(c.storm_last_back_us.load()) / 1e6},
        {"steady_latency", latency(c.storm_latency)}};
  }
  return out;
}

}  // namespace lantian::sim
