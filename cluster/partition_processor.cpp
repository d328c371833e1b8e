#include "cluster/partition_processor.hpp"

#include <nats/nats.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstdio>
#include <sstream>

#include "cluster/partitions.hpp"
#include "common/metric_text.hpp"
#include "protocol/decode.hpp"
#include "storage/keys.hpp"

namespace lantian::cluster {

Ownership::Ownership(unsigned partitions)
    : count_(partitions),
      owned_(new std::atomic<bool>[partitions]),
      current_(new std::atomic<bool>[partitions]) {
  for (unsigned p = 0; p < partitions; ++p) {
    owned_[p] = false;
    current_[p] = false;
  }
}

bool Ownership::owns(const protocol::Vin& vin) const noexcept {
  const unsigned p = partition_of(vin, count_);
  return owned_[p].load() && current_[p].load();
}

bool Ownership::owns(unsigned partition) const noexcept {
  return partition < count_ && owned_[partition].load() && current_[partition].load();
}

bool Ownership::owns_partition(unsigned partition) const noexcept {
  return partition < count_ && owned_[partition].load();
}

void Ownership::set(unsigned partition, bool owned) noexcept {
  if (partition >= count_) return;
  current_[partition] = false;
  owned_[partition] = owned;
}

void Ownership::caught_up(unsigned partition) noexcept {
  if (partition < count_ && owned_[partition].load()) current_[partition] = true;
}

// One owned partition: its consumer and the thread that applies what it delivers.
class PartitionProcessor::Worker {
 public:
  Worker(PartitionProcessor& owner, unsigned partition)
      : owner_(owner), partition_(partition) {
    thread_ = std::thread([this] { run(); });
  }
  // Waits for the thread, which finishes the batch it is applying.
  ~Worker() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Asks the thread to stop after the batch it is applying, without waiting.
  void request_stop() noexcept { stopping_ = true; }
  [[nodiscard]] bool finished() const noexcept { return finished_.load(); }

 private:
  void run() {
    pthread_setname_np(pthread_self(), "lt-partition");
    const auto& options = owner_.link_.options();
    const auto subject = partition_subject(options.subject_prefix, partition_);
    applied_ = load_position();
    natsSubscription* sub = nullptr;
    while (!stopping_ && !subscribe(subject, sub))
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::vector<natsMsg*> batch;
    while (!stopping_) {
      // A batch: what has arrived, up to fetch_batch messages, waiting at most 500 ms for the first.
      natsMsg* msg = nullptr;
      if (const natsStatus s = natsSubscription_NextMsg(&msg, sub, 500); s != NATS_OK) {
        if (s != NATS_TIMEOUT) {
          // Not a quiet log but a failing subscription (a slow consumer, a connection being
          // closed): pause rather than spin; the ordered consumer is remade by the library.
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        // Nothing came for 500 ms. A consumer just made may simply not have started delivering:
        // the partition has caught up only when the log's last message for it is applied here.
        if (!owner_.ownership_.owns(partition_) && log_applied(subject))
          owner_.ownership_.caught_up(partition_);
        continue;
      }
      batch.push_back(msg);
      int queued = 0;
      natsSubscription_GetPending(sub, &queued, nullptr);
      for (int i = 0; i < queued && batch.size() < static_cast<std::size_t>(options.fetch_batch);
           ++i) {
        if (natsSubscription_NextMsg(&msg, sub, 1) != NATS_OK) break;
        batch.push_back(msg);
      }
      apply(batch);
      for (auto* m : batch) natsMsg_Destroy(m);
      batch.clear();
      if (reset_) {  // a batch was not applied: read again from the position
        natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(sub);
        sub = nullptr;
        while (!stopping_ && !subscribe(subject, sub))
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
        reset_ = false;
      }
    }
    if (sub) {
      natsSubscription_Unsubscribe(sub);  // the ordered consumer is ephemeral: let it go now
      natsSubscription_Destroy(sub);
    }
    finished_ = true;
  }

  // Whether the log's last message on `subject` is at or below the position (an empty partition
  // is applied); false when the log cannot be asked now.
  bool log_applied(const std::string& subject) const {
    natsMsg* last = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s = js_GetLastMsg(&last, owner_.link_.jetstream(),
                                       owner_.link_.options().stream.c_str(), subject.c_str(),
                                       nullptr, &code);
    if (s == NATS_NOT_FOUND || code == JSNoMessageFoundErr) return true;
    if (s != NATS_OK) return false;
    const bool applied = natsMsg_GetSequence(last) <= applied_;
    natsMsg_Destroy(last);
    return applied;
  }

  // The last log sequence this node applied for the partition (0: none), from its archive.
  std::uint64_t load_position() const {
    const auto value = owner_.store_.get(storage::Family::cluster, position_key());
    if (!value || value->size() != 8) return 0;
    return storage::read_u64(*value);
  }
  bool save_position(std::uint64_t sequence) {
    std::string value;
    storage::append_u64(value, sequence);
    std::string error;
    if (owner_.store_.apply({{storage::Family::cluster, position_key(), value}},
                            storage::Durability::synced, error))
      return true;
    spdlog::error("event=cluster_position_not_saved partition={} error=\"{}\"", partition_, error);
    return false;
  }
  std::string position_key() const { return "p|" + std::to_string(partition_); }

  // The partition's ordered consumer from the message after the last one applied
  // (NatsLink::subscribe_ordered); the position that survives this node is the one in its
  // archive (load_position). Up to 64 batches may wait in the client.
  bool subscribe(const std::string& subject, natsSubscription*& sub) {
    const auto& options = owner_.link_.options();
    std::string error;
    sub = owner_.link_.subscribe_ordered(options.stream, subject, applied_,
                                         64 * options.fetch_batch, error);
    if (!sub) {
      spdlog::warn("event=cluster_subscribe_failed partition={} error=\"{}\"", partition_, error);
      return false;
    }
    spdlog::info("event=partition_reading partition={} from_sequence={}", partition_,
                 applied_ + 1);
    return true;
  }

  // Writes the frames of `list` into the archive and evaluates them; once they are durable, saves
  // the batch's last log sequence as the partition's position.
  void apply(const std::vector<natsMsg*>& list) {
    std::vector<storage::FrameWrite> writes;
    std::vector<evaluation::StoredFrame> frames;
    std::uint64_t pending = 0;  // what the consumer still holds after the last message read
    std::uint64_t last = 0;      // the batch's last log sequence
    writes.reserve(list.size());
    frames.reserve(list.size());
    for (natsMsg* msg : list) {
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
        ++owner_.counters_.unreadable;
        continue;
      }
      const std::uint64_t sequence = meta->Sequence.Stream;
      pending = meta->NumPending;
      if (sequence <= applied_) continue;  // applied before this consumer was made
      last = std::max(last, sequence);
      jsMsgMetaData_Destroy(meta);
      const auto* data = reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(msg));
      const auto record =
          storage::decode_record(protocol::ByteView(data, static_cast<std::size_t>(
                                                              natsMsg_GetDataLength(msg))));
      std::optional<protocol::DecodedFrame> decoded;
      if (record) {
        protocol::DecodeOptions options;
        options.profile = record->received.profile;
        if (auto d = protocol::decode_frame(record->raw, options)) decoded = std::move(*d);
      }
      if (!decoded) {
        // Only lantiand publishes here, and only frames it decoded: this is not ours. It is
        // acknowledged with the rest, so that it cannot stop the partition.
        ++owner_.counters_.unreadable;
        spdlog::error("event=cluster_message_unreadable partition={} sequence={}", partition_,
                      sequence);
        continue;
      }
      auto write = storage::make_frame_write(*decoded, record->raw, record->received);
      write.log_sequence = sequence;
      writes.push_back(std::move(write));
      frames.push_back(evaluation::StoredFrame{{}, std::move(*decoded), record->received.signature,
                                               record->received.rejected,
                                               record->received.receive_unix_ms});
    }
    // Frames at or below the position were applied before (a consumer made again from an older
    // point): they would land on the same keys, so they are skipped rather than written again.
    if (!writes.empty()) {
      const auto results = store(writes);
      if (!results) {
        // Not applied: the consumer is made again from the position, which did not move.
        reset_ = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        return;
      }
      evaluate(*results, frames);
    }
    owner_.lag_[partition_] = static_cast<std::int64_t>(pending);
    if (last > applied_ && save_position(last)) applied_ = last;
    if (pending == 0) owner_.ownership_.caught_up(partition_);
  }

  // Submits the writes and waits until all are durable; nullopt when one failed or the store
  // closed.
  std::optional<std::vector<storage::WriteResult>> store(std::vector<storage::FrameWrite>& writes) {
    struct Wait {
      std::mutex mutex;
      std::condition_variable cv;
      bool done = false, room = false;
      std::vector<storage::WriteResult> results;
    };
    auto wait = std::make_shared<Wait>();
    storage::BatchCompletion completion = [wait](std::vector<storage::WriteResult>& results) {
      std::lock_guard lock(wait->mutex);
      wait->results = std::move(results);
      wait->done = true;
      wait->cv.notify_all();
    };
    for (;;) {
      {
        std::lock_guard lock(wait->mutex);
        wait->room = false;
      }
      const auto submitted = owner_.store_.submit_or_notify(writes, completion, [wait] {
        std::lock_guard lock(wait->mutex);
        wait->room = true;
        wait->cv.notify_all();
      });
      if (submitted == storage::Submitted::closed) return std::nullopt;
      if (submitted == storage::Submitted::queued) break;
      std::unique_lock lock(wait->mutex);
      wait->cv.wait(lock, [&] { return wait->room; });
    }
    std::unique_lock lock(wait->mutex);
    wait->cv.wait(lock, [&] { return wait->done; });
    for (const auto& r : wait->results)
      if (r.outcome == storage::WriteOutcome::failed) return std::nullopt;
    return std::move(wait->results);
  }

  // Hands the newly stored frames to the rule shards, each vehicle's run in order.
  void evaluate(const std::vector<storage::WriteResult>& results,
                std::vector<evaluation::StoredFrame>& frames) {
    std::map<std::string, std::vector<evaluation::StoredFrame>> by_vin;
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (results[i].outcome == storage::WriteOutcome::duplicate) {
        ++owner_.counters_.duplicates;
        continue;
      }
      ++owner_.counters_.applied;
      frames[i].key = results[i].frame_key;
      by_vin[std::string(protocol::as_text(frames[i].decoded.message.header.vin))].push_back(
          std::move(frames[i]));
    }
    if (!owner_.sink_) return;
    for (auto& [vin, run] : by_vin) owner_.sink_->submit(protocol::make_vin(vin), std::move(run));
  }

  PartitionProcessor& owner_;
  const unsigned partition_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> finished_{false};
  std::uint64_t applied_ = 0;  // the last log sequence applied (and saved), this thread only
  bool reset_ = false;         // the last batch was not applied: subscribe again from applied_
  std::thread thread_;
};

PartitionProcessor::PartitionProcessor(NatsLink& link, storage::Store& store,
                                       evaluation::StoredFrameSink* sink, Ownership& ownership)
    : link_(link),
      store_(store),
      sink_(sink),
      ownership_(ownership),
      lag_(new std::atomic<std::int64_t>[ownership.partitions()]) {
  for (unsigned p = 0; p < ownership.partitions(); ++p) lag_[p] = 0;
}

PartitionProcessor::~PartitionProcessor() { stop(); }

bool PartitionProcessor::start(std::string& error) {
  // A bucket just made elects its replicas' leader first: its first writes may fail for a moment.
  std::vector<std::string> members;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!heartbeat(members)) {
    if (std::chrono::steady_clock::now() > deadline) {
      error = "cluster: cannot join the membership bucket " + std::string(members_bucket);
      return false;
    }
    members.clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  membership_ = std::thread([this] { membership_loop(); });
  return true;
}

void PartitionProcessor::stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard lock(wake_mutex_);
    wake_.notify_all();
  }
  if (membership_.joinable()) membership_.join();
  if (watcher_) {
    kvWatcher_Destroy(watcher_);
    watcher_ = nullptr;
  }
  // Leaving at once lets the others take the partitions over now rather than after the lease.
  if (link_.members()) kvStore_Delete(link_.members(), link_.options().node.c_str());
  for (auto& [partition, worker] : workers_) {
    ownership_.set(partition, false);
    worker->request_stop();  // all at once, then wait for each
  }
  workers_.clear();  // each finishes the batch it is applying
  retiring_.clear();
  counters_.owned = 0;
}

void PartitionProcessor::membership_loop() {
  pthread_setname_np(pthread_self(), "lt-membership");
  const auto interval = link_.options().heartbeat;
  while (!stopping_) {
    std::vector<std::string> members;
    if (heartbeat(members)) rebalance(members);
    std::unique_lock lock(wake_mutex_);
    wake_.wait_for(lock, interval, [this] { return stopping_.load(); });
  }
}

bool PartitionProcessor::heartbeat(std::vector<std::string>& members) {
  kvStore* kv = link_.members();
  const auto& options = link_.options();
  const std::string value = "{\"node\":\"" + options.node + "\"}";
  if (kvStore_PutString(nullptr, kv, options.node.c_str(), value.c_str()) != NATS_OK) return false;
  // One watcher for the node's life (listing the keys each time would make the brokers create a
  // consumer per heartbeat). A member is alive while its puts keep coming: its last one was seen
  // within the lease, by this node's clock; a delete (a node leaving) removes it at once. The
  // bucket's TTL only clears what is left behind.
  if (!watcher_ && kvStore_WatchAll(&watcher_, kv, nullptr) != NATS_OK) {
    watcher_ = nullptr;
    return false;
  }
  const auto now = std::chrono::steady_clock::now();
  // Until the watcher has delivered every member already there, this node waits for it (up to
  // 2 s): deciding on a partial view would take partitions only to give them back.
  const auto initial_deadline = now + std::chrono::seconds(2);
  for (;;) {
    kvEntry* entry = nullptr;
    const int64_t wait_ms =
        !initial_values_read_ && std::chrono::steady_clock::now() < initial_deadline ? 200 : 1;
    if (kvWatcher_Next(&entry, watcher_, wait_ms) != NATS_OK) {
      if (wait_ms == 1) break;  // nothing more for now
      continue;
    }
    if (!entry) {  // the end of the initial values
      initial_values_read_ = true;
      continue;
    }
    const std::string key = kvEntry_Key(entry);
    if (kvEntry_Operation(entry) == kvOp_Put)
      last_seen_[key] = now;
    else
      last_seen_.erase(key);
    kvEntry_Destroy(entry);
  }
  last_seen_[options.node] = now;  // its own put just succeeded
  for (auto it = last_seen_.begin(); it != last_seen_.end();) {
    if (now - it->second > options.lease) {
      it = last_seen_.erase(it);
    } else {
      members.push_back(it->first);
      ++it;
    }
  }
  return true;
}

void PartitionProcessor::rebalance(const std::vector<std::string>& members) {
  const auto& options = link_.options();
  counters_.members = static_cast<std::int64_t>(members.size());
  const auto owners = assign_partitions(members, options.partitions);
  std::vector<unsigned> gained, released;
  for (const auto& [partition, owner] : owners) {
    const bool mine = owner == options.node;
    const bool running = workers_.count(partition) > 0;
    if (mine && !running) {
      workers_.emplace(partition, std::make_unique<Worker>(*this, partition));
      ownership_.set(partition, true);
      gained.push_back(partition);
    } else if (!mine && running) {
      // The worker is asked to stop and left to finish its batch on its own: waiting here would
      // hold up this node's heartbeat, and a late heartbeat loses every partition.
      ownership_.set(partition, false);
      auto it = workers_.find(partition);
      it->second->request_stop();
      retiring_.push_back(std::move(it->second));
      workers_.erase(it);
      released.push_back(partition);
    }
  }
  std::erase_if(retiring_, [](const std::unique_ptr<Worker>& w) { return w->finished(); });
  counters_.gained += gained.size();
  counters_.released += released.size();
  counters_.owned = static_cast<std::int64_t>(workers_.size());
  if (gained.empty() && released.empty()) return;
  auto list = [](const std::vector<unsigned>& ps) {
    std::string out;
    for (auto p : ps) out += (out.empty() ? "" : ",") + std::to_string(p);
    return out;
  };
  spdlog::info("event=partitions_rebalanced node={} members={} owned={} gained=[{}] released=[{}]",
               options.node, members.size(), workers_.size(), list(gained), list(released));
}

std::string PartitionProcessor::render_metrics() const {
  std::ostringstream out;
  const auto family = [&](const char* name, const char* type, const char* help, auto value) {
    common::write_metric(out, name, type, help, value);
  };
  family("lantian_cluster_processor_applied_total", "counter",
         "Frames from the log written into this node's archive", counters_.applied.load());
  family("lantian_cluster_processor_duplicates_total", "counter",
         "Reports from the log this node's archive held already", counters_.duplicates.load());
  family("lantian_cluster_processor_unreadable_total", "counter",
         "Messages of the frame stream that are not a frame record", counters_.unreadable.load());
  family("lantian_cluster_partitions_gained_total", "counter", "Partitions this node took over",
         counters_.gained.load());
  family("lantian_cluster_partitions_released_total", "counter", "Partitions this node gave up",
         counters_.released.load());
  family("lantian_cluster_partitions_owned", "gauge", "Partitions this node owns now",
         counters_.owned.load());
  family("lantian_cluster_processors", "gauge", "Processor nodes this node sees alive",
         counters_.members.load());
  family("lantian_cluster_partitions", "gauge", "Partitions of the frame stream (configured)",
         ownership_.partitions());
  common::write_metric_head(out, "lantian_cluster_partition_lag", "gauge",
                            "Frames of an owned partition not yet read by this node (its "
                            "consumer's pending count at the last fetch)");
  for (unsigned p = 0; p < ownership_.partitions(); ++p)
    if (ownership_.owns_partition(p))
      out << "lantian_cluster_partition_lag{partition=\"" << p << "\"} " << lag_[p].load() << '\n';
  return out.str();
}

}  // namespace lantian::cluster
