#pragma once
// Where a terminal session's frames go to become durable before they are answered: the local
// archive (storage::Store, the embedded server), or, on a cluster's ingest node, the replicated
// log (cluster::FramePublisher). A session knows only this interface.
//
// Contract: a completion reports each write's fate — stored (durable: on disk, or acknowledged by
// the replicated log), duplicate (already durable before: answered, not kept again) or failed
// (nothing durable; the frame must not be acknowledged).

#include <functional>
#include <string>
#include <vector>

#include "storage/frame_write.hpp"

namespace lantian::storage {

enum class WriteOutcome { stored, duplicate, failed };
struct WriteResult {
  WriteOutcome outcome = WriteOutcome::failed;
  std::string frame_key;  // of a stored frame, where the submitter has keys (empty otherwise)
};
using BatchCompletion = std::function<void(std::vector<WriteResult>& results)>;

enum class Submitted { queued, full, closed };

class FrameSubmitter {
 public:
  virtual ~FrameSubmitter() = default;
  // Queues `writes` (a connection's frames of one read) with one completion, which runs once, on a
  // thread of the submitter's, when the fate of every one of them is known: `results[i]` is
  // writes[i]'s. When the submitter is full, `on_room` is kept instead and called once, on a
  // thread of the submitter's, as soon as there is room (or the submitter closes): the caller
  // waits for that rather than polling. Nothing is taken from `writes` or `done` unless queued.
  [[nodiscard]] virtual Submitted submit_or_notify(std::vector<FrameWrite>& writes,
                                                   BatchCompletion& done,
                                                   std::function<void()> on_room) = 0;
  // False while nothing can be made durable (every submission would fail).
  [[nodiscard]] virtual bool available() const noexcept = 0;
  // Why it is unavailable, empty while available.
  [[nodiscard]] virtual std::string fault() const = 0;
  // Called on a thread of the submitter's whenever available() changes, with its new value;
  // nullptr stops the calls. It must not block.
  virtual void on_availability_change(std::function<void(bool available)> listener) = 0;
};

}  // namespace lantian::storage
