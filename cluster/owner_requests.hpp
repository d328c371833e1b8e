#pragma once
// Requests about one vehicle, answered by the processor that owns its partition
// (docs/deploy-cluster.md "One API for the cluster", ADR 0024). A vehicle's frames are archived
// only on the node owning its partition, and its violations are written only there, so an API
// node sends what it cannot answer from its own archive — a vehicle's frames, track and state, a
// violation's evidence, a review decision — to `<api_subject_prefix>.<partition>` on the brokers
// (core NATS request/reply; the caller was authenticated, authorised and audited where it asked).
// The owner subscribes to the subjects of the partitions it owns once it has caught up with them,
// and answers on its own threads (never the library's delivery threads: an answer may read a
// week of frames).
//
// A request leads with the time its asker gives up (8 bytes, Unix ms): one that waited longer in
// the owner's queue is dropped, never carried out late. The owners subscribe in one queue group,
// so while ownership moves and two nodes subscribe, only one gets each request.
//
// Answers may be larger than a broker message (a week's track): they go back in chunks of at
// most 512 KiB, each prefixed by the answering node's random id, its index and the count (three
// 4-byte big-endian numbers).
//
// Thread-safety: ask() from any thread; start/stop from one.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cluster/nats_link.hpp"
#include "cluster/partition_processor.hpp"

struct __natsSubscription;

namespace lantian::cluster {

class OwnerRequests {
 public:
  // Answers a request sent to this node (bytes in, bytes out).
  using Handler = std::function<std::string(const std::string& request)>;

  // `ownership`: the partitions this node owns (nullptr: none, a node without processing).
  // `handler` answers the requests for them on `threads` threads. References must outlive this.
  OwnerRequests(NatsLink& link, const Ownership* ownership, Handler handler, int threads = 2);
  ~OwnerRequests();
  OwnerRequests(const OwnerRequests&) = delete;
  OwnerRequests& operator=(const OwnerRequests&) = delete;

  void start();
  // Stops answering (unsubscribes), finishes the requests being answered, drops queued ones.
  void stop();

  struct Answer {
    bool here = false;   // this node owns the partition and has caught up: answer locally
    std::string bytes;   // the owner's answer
    std::string error;   // non-empty: no answer (no owner now, a timeout, a broken answer)
  };
  // Sends `request` about `vin` to its partition's owner and waits for the answer (api_timeout).
  [[nodiscard]] Answer ask(std::string_view vin, const std::string& request);

  // Chunks of an answer, as sent (exposed for tests): each at most `max_chunk` payload bytes.
  static constexpr std::size_t max_chunk = 512 * 1024;
  // Requests dropped because they waited here past their asker's deadline.
  [[nodiscard]] std::uint64_t expired() const noexcept { return expired_.load(); }
  [[nodiscard]] static std::vector<std::string> chunks(std::uint32_t responder,
                                                       const std::string& answer);
  // Collects chunks into an answer: false with `error` on a chunk that is not one of ours.
  struct Assembly {
    std::uint32_t responder = 0;
    std::uint32_t count = 0;
    std::map<std::uint32_t, std::string> parts;
    [[nodiscard]] bool complete() const { return count > 0 && parts.size() == count; }
    [[nodiscard]] std::string joined() const;
  };
  [[nodiscard]] static bool add_chunk(Assembly& assembly, std::string_view chunk,
                                      std::string& error);

 private:
  void subscriptions_loop();
  void serve_loop();
  static void on_request(struct __natsConnection*, __natsSubscription*, struct __natsMsg* msg,
                         void* self);

  NatsLink& link_;
  const Ownership* ownership_;
  Handler handler_;
  const int threads_;
  const std::uint32_t responder_id_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> expired_{0};
  std::mutex mutex_;
  std::condition_variable wake_;  // the subscriptions thread: stop
  std::condition_variable work_;  // the answering threads: a request queued, or stop
  std::deque<struct __natsMsg*> queue_;  // requests waiting for a thread (guarded by mutex_)
  std::map<unsigned, __natsSubscription*> subscribed_;  // subscriptions thread only
  std::thread subscriptions_;
  std::vector<std::thread> servers_;
};

}  // namespace lantian::cluster
