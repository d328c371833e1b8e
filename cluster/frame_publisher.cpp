#include "cluster/frame_publisher.hpp"

#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "cluster/partitions.hpp"
#include "common/metric_text.hpp"
#include "storage/frame_record.hpp"

namespace lantian::cluster {

std::string message_id(const storage::FrameWrite& write) {
  if (!write.identity) return {};
  std::string id(protocol::as_text(write.vin));
  id += ':';
  id += std::to_string(write.identity->report_unix_s);
  char sep = ':';
  for (const auto& b : write.identity->blocks) {
    id += sep;
    id += std::to_string(b.type);
    id += '@';
    id += std::to_string(b.collection_unix_s);
    sep = ',';
  }
  return id;
}

FramePublisher::FramePublisher(NatsLink& link) : link_(link) {}

FramePublisher::~FramePublisher() { close(); }

std::function<void(__natsMsg*, const PublishAnswer&)> FramePublisher::answer_handler() {
  return [this](__natsMsg* msg, const PublishAnswer& answer) { answered(msg, answer); };
}

storage::Submitted FramePublisher::submit_or_notify(std::vector<storage::FrameWrite>& writes,
                                                    storage::BatchCompletion& done,
                                                    std::function<void()> on_room) {
  const auto& options = link_.options();
  auto batch = std::make_shared<Batch>();
  std::vector<natsMsg*> messages;
  std::vector<std::string> ids;
  messages.reserve(writes.size());
  ids.reserve(writes.size());
  {
    std::lock_guard lock(mutex_);
    if (closed_) return storage::Submitted::closed;
    // A batch larger than the whole allowance is taken when nothing is in flight.
    if (!in_flight_.empty() && in_flight_.size() + writes.size() > options.max_pending) {
      if (on_room) waiting_for_room_.push_back(std::move(on_room));
      return storage::Submitted::full;
    }
    batch->results.resize(writes.size());
    batch->remaining = writes.size();
    batch->done = std::move(done);
    for (std::size_t i = 0; i < writes.size(); ++i) {
      const auto& w = writes[i];
      const auto subject = partition_subject(options.subject_prefix,
                                             partition_of(w.vin, options.partitions));
      const auto value = storage::encode_record(w.record);
      natsMsg* msg = nullptr;
      if (natsMsg_Create(&msg, subject.c_str(), nullptr,
                         reinterpret_cast<const char*>(value.data()),
                         static_cast<int>(value.size())) != NATS_OK)
        msg = nullptr;
      messages.push_back(msg);
      ids.push_back(message_id(w));
      if (msg) in_flight_.emplace(msg, InFlight{batch, i});
    }
    counters_.pending = static_cast<std::int64_t>(in_flight_.size());
  }
  writes.clear();
  if (batch->results.empty()) {
    batch->done(batch->results);
    return storage::Submitted::queued;
  }
  // Published outside the lock: the answers (on the library's thread) take it.
  std::size_t index = 0;
  for (auto* msg : messages) {
    const std::size_t i = index++;
    if (!msg) {
      settle(batch, i, storage::WriteOutcome::failed);
      continue;
    }
    jsPubOptions opts;
    jsPubOptions_Init(&opts);
    opts.MaxWait = options.publish_timeout.count();
    opts.ExpectStream = options.stream.c_str();
    // The id must outlive the call only (the library copies it into a header).
    if (!ids[i].empty()) opts.MsgId = ids[i].c_str();
    natsMsg* owned = msg;
    const natsStatus s = js_PublishMsgAsync(link_.jetstream(), &owned, &opts);
    if (s != NATS_OK) {
      bool mine = false;
      {
        std::lock_guard lock(mutex_);
        mine = in_flight_.erase(msg) > 0;
      }
      if (owned) natsMsg_Destroy(owned);
      if (mine) {
        spdlog::warn("event=cluster_publish_failed error=\"{}\"", NatsLink::last_error(s));
        settle(batch, i, storage::WriteOutcome::failed);
      }
    }
  }
  return storage::Submitted::queued;
}

void FramePublisher::answered(__natsMsg* msg, const PublishAnswer& answer) {
  InFlight entry;
  std::vector<std::function<void()>> room;
  {
    std::lock_guard lock(mutex_);
    auto it = in_flight_.find(msg);
    if (it == in_flight_.end()) return;  // refused synchronously, already settled
    entry = std::move(it->second);
    in_flight_.erase(it);
    counters_.pending = static_cast<std::int64_t>(in_flight_.size());
    if (in_flight_.size() <= link_.options().max_pending / 2) room.swap(waiting_for_room_);
  }
  storage::WriteOutcome outcome = storage::WriteOutcome::failed;
  if (answer.acknowledged) {
    outcome = answer.duplicate ? storage::WriteOutcome::duplicate : storage::WriteOutcome::stored;
  } else {
    spdlog::warn("event=cluster_publish_failed error=\"{}\": frame not answered", answer.error);
  }
  settle(entry.batch, entry.index, outcome);
  for (auto& f : room) f();
}

void FramePublisher::settle(const std::shared_ptr<Batch>& batch, std::size_t index,
                            storage::WriteOutcome outcome) {
  switch (outcome) {
    case storage::WriteOutcome::stored: ++counters_.published; break;
    case storage::WriteOutcome::duplicate: ++counters_.duplicates; break;
    case storage::WriteOutcome::failed: ++counters_.failed; break;
  }
  bool last = false;
  {
    std::lock_guard lock(mutex_);
    batch->results[index].outcome = outcome;
    last = --batch->remaining == 0;
  }
  if (last) batch->done(batch->results);
}

bool FramePublisher::available() const noexcept { return link_.connected(); }

std::string FramePublisher::fault() const {
  return link_.connected() ? std::string() : "no NATS broker connected";
}

void FramePublisher::on_availability_change(std::function<void(bool)> listener) {
  link_.on_connection_change(std::move(listener));
}

void FramePublisher::close() {
  std::vector<std::function<void()>> room;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    room.swap(waiting_for_room_);
  }
  for (auto& f : room) f();
}

std::string FramePublisher::render_metrics() const {
  std::ostringstream out;
  common::write_metric(out, "lantian_cluster_published_total", "counter",
                       "Frames the replicated log acknowledged", counters_.published.load());
  common::write_metric(out, "lantian_cluster_publish_duplicates_total", "counter",
                       "Reports the log already held (same idempotency key)",
                       counters_.duplicates.load());
  common::write_metric(out, "lantian_cluster_publish_failures_total", "counter",
                       "Frames the log did not acknowledge (not answered)",
                       counters_.failed.load());
  common::write_metric(out, "lantian_cluster_publish_pending", "gauge",
                       "Frames published and not yet acknowledged", counters_.pending.load());
  common::write_metric(out, "lantian_cluster_connected", "gauge",
                       "1 while connected to a NATS broker", link_.connected() ? 1 : 0);
  return out.str();
}

}  // namespace lantian::cluster
