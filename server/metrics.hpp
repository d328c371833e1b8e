#pragma once
// Prometheus metrics: counters, gauges and histograms with fixed labels, rendered in the text
// exposition format for /metrics. Updates are lock-free atomics; families are registered at
// start-up (and labelled series on first use, under a mutex).

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "evaluation/metrics.hpp"

namespace lantian::server {

// The counters and gauges are evaluation's (whose own counts are rendered here too).
using evaluation::Counter;
using evaluation::Gauge;

// Cumulative buckets in seconds (or any unit), as Prometheus expects.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v) noexcept;
  [[nodiscard]] std::string render(const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1 (+Inf)
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};  // sum × 1e6, so that it stays an integer atomic
};

// A family of counters distinguished by one label (reason, command, kind, …).
class CounterFamily {
 public:
  CounterFamily(std::string name, std::string help, std::string label)
      : name_(std::move(name)), help_(std::move(help)), label_(std::move(label)) {}
  Counter& with(const std::string& value);
  [[nodiscard]] std::string render() const;
  [[nodiscard]] std::uint64_t value(const std::string& label_value) const;

 private:
  std::string name_, help_, label_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Counter>> series_;
};

// Everything lantiand reports.
struct ServerMetrics {
  Gauge connections_open;
  Counter connections_accepted;
  CounterFamily connections_rejected{"lantian_connections_rejected_total",
                                     "Connections refused or closed early, by reason", "reason"};
  CounterFamily connections_closed{"lantian_connections_closed_total",
                                   "Connections closed, by reason", "reason"};
  Counter tls_handshake_failures;
  CounterFamily frames{"lantian_frames_total", "Frames received, by command name and profile",
                       "kind"};
  CounterFamily decode_errors{"lantian_decode_errors_total", "Frame and decode problems, by kind",
                              "kind"};
  CounterFamily decode_variants{"lantian_decode_variants_total",
                                "Frames showing a protocol variant (not an error), by variant",
                                "variant"};
  Counter frames_stored;
  Counter duplicates;
  Counter bytes_received;
  Counter bytes_sent;
  Counter replies_sent;
  Counter vin_replaced;
  CounterFamily signatures{"lantian_signatures_total",
                           "Report signatures, by verdict (valid, invalid, missing, unverified, "
                           "not_signed)",
                           "result"};
  CounterFamily frames_rejected{"lantian_frames_rejected_total",
                                "Reports kept as evidence but not acknowledged, by signature verdict",
                                "reason"};
  CounterFamily activations{"lantian_activations_total", "Activation frames, by result", "result"};
  Gauge ingest_queue_depth;
  Gauge partial_frame_bytes;  // bytes of unfinished frames held for terminals (all addresses)
  Gauge storage_available{1};  // 0 while the archive cannot write (connections refused)
  Counter storage_faults;
  // What opening the archive found in a damaged WAL (storage::WalRecovery): set once at start.
  Gauge wal_damaged, wal_batches_salvaged, wal_writes_lost;
  // The HTTPS API: connections and requests refused before any token was checked, by reason
  // (max_connections, max_connections_per_address, anonymous_rate), and audit entries not written
  // one by one (requests without a valid token beyond the per-address sample, or no disk room).
  CounterFamily api_refused{"lantian_api_refused_total",
                            "API connections and requests refused before authentication, by reason",
                            "reason"};
  Counter api_audit_unlogged;
  // The rule shards' counts (lantian_rule_*, lantian_rules_backlog_reports, lantian_violations_*).
  evaluation::EvaluationMetrics evaluation;
  Histogram batch_frames{{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000}};
  Histogram fsync_seconds{
      {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}};
  Histogram reply_seconds{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 3}};

  [[nodiscard]] std::string render() const;
};

}  // namespace lantian::server
