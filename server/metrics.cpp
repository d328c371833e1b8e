#include "server/metrics.hpp"

#include <cmath>
#include <sstream>

namespace lantian::server {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) noexcept {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(std::llround(std::max(v, 0.0) * 1e6)),
                        std::memory_order_relaxed);
}

std::string Histogram::render(const std::string& name, const std::string& labels) const {
  std::ostringstream out;
  std::uint64_t cumulative = 0;
  const std::string sep = labels.empty() ? "" : labels + ",";
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out << name << "_bucket{" << sep << "le=\"" << bounds_[i] << "\"} " << cumulative << "\n";
  }
  cumulative += buckets_[bounds_.size()].load(std::memory_order_relaxed);
  out << name << "_bucket{" << sep << "le=\"+Inf\"} " << cumulative << "\n";
  out << name << "_sum" << (labels.empty() ? "" : "{" + labels + "}") << " "
      << static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6 << "\n";
  out << name << "_count" << (labels.empty() ? "" : "{" + labels + "}") << " "
      << count_.load(std::memory_order_relaxed) << "\n";
  return out.str();
}

Counter& CounterFamily::with(const std::string& value) {
  std::lock_guard lock(mutex_);
  auto& c = series_[value];
  if (!c) c = std::make_unique<Counter>();
  return *c;
}

std::uint64_t CounterFamily::value(const std::string& label_value) const {
  std::lock_guard lock(mutex_);
  const auto it = series_.find(label_value);
  return it == series_.end() ? 0 : it->second->value();
}

namespace {
// A counter family in the exposition format: HELP, TYPE, one line per label value.
std::string labelled_counters(const std::string& name, const std::string& help,
                              const std::string& label,
                              const std::map<std::string, std::uint64_t>& series) {
  std::ostringstream out;
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n";
  for (const auto& [value, count] : series)
    out << name << "{" << label << "=\"" << value << "\"} " << count << "\n";
  return out.str();
}
}  // namespace

std::string CounterFamily::render() const {
  std::map<std::string, std::uint64_t> values;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [value, counter] : series_) values.emplace(value, counter->value());
  }
  return labelled_counters(name_, help_, label_, values);
}

namespace {
void scalar(std::ostringstream& out, const char* name, const char* type, const char* help,
            std::int64_t v) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
      << name << " " << v << "\n";
}
void histogram(std::ostringstream& out, const char* name, const char* help, const Histogram& h) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n"
      << h.render(name, "");
}
}  // namespace

std::string ServerMetrics::render() const {
  std::ostringstream out;
  scalar(out, "lantian_connections_open", "gauge", "Open terminal connections",
         connections_open.value());
  scalar(out, "lantian_connections_accepted_total", "counter", "Connections accepted",
         static_cast<std::int64_t>(connections_accepted.value()));
  out << connections_rejected.render() << connections_closed.render();
  scalar(out, "lantian_tls_handshake_failures_total", "counter",
         "TLS handshakes that failed or timed out",
         static_cast<std::int64_t>(tls_handshake_failures.value()));
  out << frames.render() << decode_errors.render() << decode_variants.render()
      << signatures.render()
      << frames_rejected.render() << activations.render();
  scalar(out, "lantian_frames_stored_total", "counter", "Frames made durable",
         static_cast<std::int64_t>(frames_stored.value()));
  scalar(out, "lantian_duplicates_total", "counter",
         "Frames whose blocks were all stored already (acknowledged, not stored)",
         static_cast<std::int64_t>(duplicates.value()));
  scalar(out, "lantian_bytes_received_total", "counter", "Bytes read from terminals",
         static_cast<std::int64_t>(bytes_received.value()));
  scalar(out, "lantian_bytes_sent_total", "counter", "Bytes written to terminals",
         static_cast<std::int64_t>(bytes_sent.value()));
  scalar(out, "lantian_replies_total", "counter", "Reply frames sent",
         static_cast<std::int64_t>(replies_sent.value()));
  scalar(out, "lantian_vin_replaced_total", "counter",
         "Connections closed because the same VIN logged in again",
         static_cast<std::int64_t>(vin_replaced.value()));
  scalar(out, "lantian_partial_frame_bytes", "gauge",
         "Bytes of unfinished frames held for terminal connections",
         partial_frame_bytes.value());
  out << api_refused.render();
  scalar(out, "lantian_api_audit_unlogged_total", "counter",
         "API requests without a valid token counted in a summary audit entry, not one of their own",
         static_cast<std::int64_t>(api_audit_unlogged.value()));
  out << labelled_counters("lantian_violations_total", "Violations raised, by rule", "rule",
                           evaluation.violations_raised.values());
  scalar(out, "lantian_rule_frames_total", "counter", "Stored frames handed to the rule worker",
         static_cast<std::int64_t>(evaluation.frames_handed_over.value()));
  scalar(out, "lantian_violations_withdrawn_total", "counter",
         "Violations that re-evaluation with late data no longer raises",
         static_cast<std::int64_t>(evaluation.violations_withdrawn.value()));
  scalar(out, "lantian_violations_rereview_total", "counter",
         "Reviewed violations that late data no longer raises: kept and flagged for re-review",
         static_cast<std::int64_t>(evaluation.violations_rereview.value()));
  scalar(out, "lantian_rule_reevaluations_total", "counter",
         "Vehicles evaluated again from a checkpoint (late data, restart)",
         static_cast<std::int64_t>(evaluation.reevaluations.value()));
  scalar(out, "lantian_rules_backlog_reports", "gauge",
         "Stored frames handed to the rule workers and not yet evaluated",
         evaluation.backlog_frames.value());
  scalar(out, "lantian_rule_frames_from_archive_total", "counter",
         "Frames the rule workers read back from the archive (late data, restart, memory bound)",
         static_cast<std::int64_t>(evaluation.frames_from_archive.value()));
  scalar(out, "lantian_ingest_queue_depth", "gauge", "Frames waiting for the storage writer",
         ingest_queue_depth.value());
  scalar(out, "lantian_storage_available", "gauge",
         "1 while the archive takes writes; 0 while terminals are refused after a write failure",
         storage_available.value());
  scalar(out, "lantian_storage_faults_total", "counter",
         "Times the archive stopped taking writes (disk full, I/O error)",
         static_cast<std::int64_t>(storage_faults.value()));
  scalar(out, "lantian_wal_damaged", "gauge",
         "1 when the archive opened a WAL damaged before its end (event=wal_corruption)",
         wal_damaged.value());
  scalar(out, "lantian_wal_batches_salvaged", "gauge",
         "Intact WAL batches after the damage applied again at start", wal_batches_salvaged.value());
  scalar(out, "lantian_wal_writes_lost", "gauge",
         "Writes in the damaged WAL bytes, lost (0: none known)", wal_writes_lost.value());
  histogram(out, "lantian_batch_frames", "Frames per group commit", batch_frames);
  histogram(out, "lantian_fsync_seconds", "WAL sync latency", fsync_seconds);
  histogram(out, "lantian_reply_seconds", "From a frame's arrival to its reply being written",
            reply_seconds);
  return out.str();
}

}  // namespace lantian::server
