#pragma once
// A cluster ingest node's way to durability: each frame a session read is published to the frame
// stream on its vehicle's partition subject and counts as stored once JetStream acknowledged it on
// the replicated stream (docs/deploy-cluster.md). Sessions see a storage::FrameSubmitter, as with
// the local archive: a frame is answered only after that acknowledgement.
//
// A report carries its idempotency key as the message id (Nats-Msg-Id: VIN, report time and the
// blocks it holds): the same report published again within the stream's de-duplication window is
// acknowledged as a duplicate and not stored twice; later copies are caught by the processors'
// archives, as on a single node. Other frames carry no id.
//
// Thread-safety: submit_or_notify from any thread; completions and `on_room` run on the client
// library's threads.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/nats_link.hpp"
#include "storage/frame_submitter.hpp"

namespace lantian::cluster {

// The message id of a write: its report identity ("VIN:report time:type@time,…"), or empty when it
// has none (not a report, or a report whose signature failed).
[[nodiscard]] std::string message_id(const storage::FrameWrite& write);

struct PublisherCounters {
  std::atomic<std::uint64_t> published{0};   // acknowledged by JetStream, stored
  std::atomic<std::uint64_t> duplicates{0};  // acknowledged as already stored (same message id)
  std::atomic<std::uint64_t> failed{0};      // refused, timed out, or not sent: not answered
  std::atomic<std::int64_t> pending{0};      // published, not yet answered
};

class FramePublisher final : public storage::FrameSubmitter {
 public:
  // `link` must be started with this publisher's answer handler (answer_handler()) and outlive it.
  explicit FramePublisher(NatsLink& link);
  ~FramePublisher() override;

  // What NatsLink::start must be given.
  [[nodiscard]] std::function<void(__natsMsg*, const PublishAnswer&)> answer_handler();

  [[nodiscard]] storage::Submitted submit_or_notify(std::vector<storage::FrameWrite>& writes,
                                                    storage::BatchCompletion& done,
                                                    std::function<void()> on_room) override;
  [[nodiscard]] bool available() const noexcept override;
  [[nodiscard]] std::string fault() const override;
  void on_availability_change(std::function<void(bool available)> listener) override;

  // Refuses new submissions (closed); those in flight still get their answers.
  void close();

  [[nodiscard]] const PublisherCounters& counters() const noexcept { return counters_; }
  // Prometheus text of the counters (lantian_cluster_publish_*).
  [[nodiscard]] std::string render_metrics() const;

 private:
  struct Batch {
    std::vector<storage::WriteResult> results;
    std::size_t remaining = 0;
    storage::BatchCompletion done;
  };
  struct InFlight {
    std::shared_ptr<Batch> batch;
    std::size_t index = 0;
  };
  void answered(__natsMsg* msg, const PublishAnswer& answer);
  // Records the fate of one write of `batch`; runs the batch's completion when it was the last.
  void settle(const std::shared_ptr<Batch>& batch, std::size_t index, storage::WriteOutcome outcome);

  NatsLink& link_;
  PublisherCounters counters_;
  std::mutex mutex_;  // guards the three below
  std::unordered_map<__natsMsg*, InFlight> in_flight_;
  std::vector<std::function<void()>> waiting_for_room_;
  bool closed_ = false;
};

}  // namespace lantian::cluster
