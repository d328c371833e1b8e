#include "cluster/violation_replicator.hpp"

#include <nats/nats.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <sstream>
#include <vector>

#include "cluster/partitions.hpp"
#include "common/metric_text.hpp"
#include "storage/keys.hpp"

namespace lantian::cluster {
namespace json = boost::json;
namespace {

constexpr const char* published_key = "v|published";  // the last change-log sequence published
constexpr const char* applied_key = "v|applied";      // the last violation-stream sequence applied
constexpr std::size_t batch = 500;

}  // namespace

ViolationReplicator::ViolationReplicator(NatsLink& link, storage::Store& store,
                                         evaluation::ViolationStore& violations,
                                         const Ownership* ownership,
                                         std::function<void(const json::object&)> on_raised)
    : link_(link),
      store_(store),
      violations_(violations),
      ownership_(ownership),
      publish_(ownership != nullptr),
      on_raised_(std::move(on_raised)) {
  published_through_ = publish_ ? load(published_key) : ~std::uint64_t{0};
  applied_through_ = load(applied_key);
}

ViolationReplicator::~ViolationReplicator() { stop(); }

void ViolationReplicator::start() {
  if (publish_) publisher_ = std::thread([this] { publish_loop(); });
  applier_ = std::thread([this] { apply_loop(); });
}

void ViolationReplicator::stop() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (publisher_.joinable()) publisher_.join();
  if (applier_.joinable()) applier_.join();
}

std::uint64_t ViolationReplicator::published_through() const noexcept {
  return published_through_.load();
}

void ViolationReplicator::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(wake_mutex_);
  wake_.wait_for(lock, d, [this] { return stopping_.load(); });
}

std::uint64_t ViolationReplicator::load(const std::string& key) const {
  const auto value = store_.get(storage::Family::cluster, key);
  return value && value->size() == 8 ? storage::read_u64(*value) : 0;
}

bool ViolationReplicator::save(const std::string& key, std::uint64_t value) {
  std::string bytes, error;
  storage::append_u64(bytes, value);
  if (store_.apply({{storage::Family::cluster, key, bytes}}, storage::Durability::synced, error))
    return true;
  spdlog::error("event=cluster_violation_cursor_not_saved key={} error=\"{}\"", key, error);
  return false;
}

// --- publishing this node's changes --------------------------------------------------------------

void ViolationReplicator::publish_loop() {
  pthread_setname_np(pthread_self(), "lt-viol-out");
  while (!stopping_) {
    bool more = false;
    if (!publish_some(more)) {
      ++counters_.publish_failures;
      pause(std::chrono::seconds(1));  // the log is unavailable: the cursor did not move
    } else if (!more) {
      pause(std::chrono::milliseconds(200));  // caught up: look again shortly
    }
  }
  // Stopping after the rule shards: what they wrote last goes out now rather than at the next
  // start (a few batches at most; a broker that does not answer ends it at the first failure).
  bool more = true;
  for (int i = 0; more && i < 10; ++i)
    if (!publish_some(more)) break;
}

bool ViolationReplicator::publish_some(bool& more) {
  more = false;
  std::vector<std::pair<std::uint64_t, std::string>> changes;
  std::string start;
  storage::append_u64(start, published_through_ + 1);
  store_.for_each(
      storage::Family::violation_changes, std::string(),
      [&](const std::string& key, const std::string& value) {
        if (key.size() != 8) return true;
        changes.emplace_back(storage::read_u64(key), value);
        return changes.size() < batch;
      },
      start);
  more = changes.size() == batch;
  const auto& options = link_.options();
  // The cursor is saved once per batch, and before giving up on a failure: a change published
  // again after a crash has the same message id, and the stream keeps one (within its
  // de-duplication window; beyond it, applying twice is harmless).
  std::uint64_t sent = published_through_;
  const auto keep = [&] {
    if (sent == published_through_) return true;
    if (!save(published_key, sent)) return false;
    published_through_ = sent;
    return true;
  };
  for (const auto& [sequence, change] : changes) {
    // The change as logged, with the node that made it: {"origin": NODE, "change": {…}}. Node
    // names are [A-Za-z0-9_-], nothing to escape.
    const std::string message = R"({"origin":")" + options.node + R"(","change":)" + change + "}";
    const std::string id = options.node + ":" + std::to_string(sequence);
    jsPubOptions opts;
    jsPubOptions_Init(&opts);
    opts.MsgId = id.c_str();
    opts.MaxWait = options.publish_timeout.count();
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s =
        js_Publish(&ack, link_.jetstream(), options.violation_subject.c_str(), message.data(),
                   static_cast<int>(message.size()), &opts, &code);
    if (s != NATS_OK) {
      spdlog::warn("event=cluster_violation_not_published sequence={} error=\"{}\"", sequence,
                   NatsLink::last_error(s));
      keep();
      return false;
    }
    jsPubAck_Destroy(ack);
    ++counters_.published;
    sent = sequence;
  }
  return keep();
}

// --- applying the other nodes' changes -----------------------------------------------------------

void ViolationReplicator::take(const char* data, std::size_t size, std::uint64_t sequence,
                               Batch& batch) {
  boost::system::error_code ec;
  auto message = json::parse(std::string_view(data, size), ec);
  auto* m = !ec && message.is_object() ? &message.as_object() : nullptr;
  const auto* origin = m ? m->if_contains("origin") : nullptr;
  auto* change = m ? m->if_contains("change") : nullptr;
  auto* violation = change && change->is_object() ? change->as_object().if_contains("violation")
                                                  : nullptr;
  if (!origin || !origin->is_string() || !violation || !violation->is_object() ||
      !evaluation::ViolationStore::is_record(violation->as_object())) {
    ++counters_.unreadable;
    spdlog::error("event=cluster_violation_unreadable sequence={}", sequence);
    return;  // not ours: skipped, so that it cannot stop the stream
  }
  if (origin->as_string() == link_.options().node) return;  // made here: applied already
  const auto* event = change->as_object().if_contains("event");
  const bool review = event && event->is_string() && event->as_string() == "violation.reviewed";
  if (const auto* vin = violation->as_object().if_contains("vin");
      !review && ownership_ && vin && vin->is_string() &&
      ownership_->owns_partition(partition_of(std::string_view(vin->as_string()),
                                              ownership_->partitions()))) {
    ++counters_.superseded;
    return;
  }
  if (event && event->is_string() && event->as_string() == "violation.raised")
    batch.raised.push_back(batch.records.size());
  batch.records.push_back(std::move(violation->as_object()));
}

bool ViolationReplicator::apply(Batch& batch) {
  std::string position, error;
  storage::append_u64(position, batch.last_sequence);
  if (!violations_.apply_replicated(batch.records,
                                    {{storage::Family::cluster, applied_key, position}}, error)) {
    spdlog::error("event=cluster_violations_not_applied through_sequence={} error=\"{}\"",
                  batch.last_sequence, error);
    return false;
  }
  applied_through_ = batch.last_sequence;
  counters_.applied += batch.records.size();
  if (on_raised_)
    for (const auto i : batch.raised) on_raised_(batch.records[i]);
  batch = Batch{};
  return true;
}

void ViolationReplicator::apply_loop() {
  pthread_setname_np(pthread_self(), "lt-viol-in");
  const auto& options = link_.options();
  while (!stopping_) {
    // An ordered consumer from the message after the position (as for the frame partitions,
    // ADR 0023); made again here after a failed write.
    std::string error;
    natsSubscription* sub = link_.subscribe_ordered(options.violation_stream,
                                                    options.violation_subject, applied_through_,
                                                    64 * static_cast<int>(batch), error);
    if (!sub) {
      spdlog::warn("event=cluster_subscribe_failed stream={} error=\"{}\"",
                   options.violation_stream, error);
      pause(std::chrono::milliseconds(500));
      continue;
    }
    bool failed = false;
    while (!stopping_ && !failed) {
      // A batch: what has arrived, up to `batch` changes, waiting at most 500 ms for the first;
      // applied in one synced write with the position.
      Batch changes;
      for (;;) {
        natsMsg* msg = nullptr;
        const natsStatus s =
            natsSubscription_NextMsg(&msg, sub, changes.last_sequence == 0 ? 500 : 1);
        if (s != NATS_OK) {
          if (s != NATS_TIMEOUT) pause(std::chrono::milliseconds(100));
          break;
        }
        jsMsgMetaData* meta = nullptr;
        std::uint64_t sequence = 0;
        if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
          sequence = meta->Sequence.Stream;
          jsMsgMetaData_Destroy(meta);
        }
        if (sequence > std::max(applied_through_.load(), changes.last_sequence)) {
          take(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)),
               sequence, changes);
          changes.last_sequence = sequence;
        }
        natsMsg_Destroy(msg);
        if (changes.last_sequence - applied_through_ >= batch) break;
      }
      if (changes.last_sequence > applied_through_ && !apply(changes))
        failed = true;  // read again from the position
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    if (failed) pause(std::chrono::milliseconds(500));
  }
}

std::string ViolationReplicator::render_metrics() const {
  std::ostringstream out;
  const auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    common::write_metric(out, name, "counter", help, value);
  };
  counter("lantian_cluster_violations_published_total",
          "Violation changes this node made and published to the cluster", counters_.published);
  counter("lantian_cluster_violations_applied_total",
          "Violation changes of other nodes applied to this node's archive", counters_.applied);
  counter("lantian_cluster_violations_publish_failures_total",
          "Attempts to publish a violation change that failed (tried again)",
          counters_.publish_failures);
  counter("lantian_cluster_violations_superseded_total",
          "Rule changes another node made to violations of vehicles owned here (not applied)",
          counters_.superseded);
  counter("lantian_cluster_violations_unreadable_total",
          "Messages on the violation stream that are no violation change (skipped)",
          counters_.unreadable);
  common::write_metric(out, "lantian_cluster_violations_applied_position", "gauge",
                       "Last violation-stream sequence applied here", applied_through_.load());
  return out.str();
}

}  // namespace lantian::cluster
