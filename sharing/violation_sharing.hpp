#pragma once
// Delivers violation changes to enforcement systems (docs/forwarding.md): one coroutine per
// active subscriber, on a thread of its own ("lt-share"), reading the violation change log after
// the subscriber's cursor and POSTing each change within its jurisdiction as JSON over HTTPS,
// signed, one at a time and in order; a change is retried with backoff (and jitter) until the
// receiver answers 2xx, and only then does the cursor pass it. The cursor is durable: deliveries
// survive restarts, at least once; receivers are idempotent by (id, version).
//
// The signature: header X-Lantian-Signature "t=UNIX_SECONDS,v1=HEX", HEX the HMAC-SHA256 with the
// subscriber's secret of "UNIX_SECONDS." followed by the body; a receiver refuses a timestamp more
// than 5 minutes from its clock (replay) and a signature that does not match.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sharing/subscriber_store.hpp"

namespace lantian::sharing {

// The signature header's value for `body` sent at `unix_s`.
[[nodiscard]] std::string delivery_signature(std::string_view secret, std::int64_t unix_s,
                                             std::string_view body);

struct SharingOptions {
  std::filesystem::path ca_file;  // receivers' CA (empty: the system's)
  std::chrono::seconds timeout{10};  // per delivery: connect, TLS, request and answer
  std::chrono::milliseconds backoff_min{1000}, backoff_max{60000};
  std::chrono::milliseconds poll{200};  // how often a caught-up subscriber looks for changes
  std::chrono::milliseconds prune_every{60000};  // the change log is cut this often
  // Another reader of the change log (a cluster node publishing it): changes above the sequence
  // it returns are kept whatever the subscribers' cursors. Empty: none.
  std::function<std::uint64_t()> other_reader_through;
};

// One delivery attempt, for the audit log.
struct DeliveryAttempt {
  std::string subscriber, url, event, violation_id;
  std::uint64_t version = 0;
  unsigned status = 0;  // the HTTP status; 0: no answer (error says why)
  std::string error;
  std::int64_t unix_ms = 0, duration_us = 0;
};

struct SubscriberStatus {
  Subscriber subscriber;  // without its secret in API answers
  std::uint64_t cursor = 0;
  std::uint64_t pending = 0;  // changes after the cursor (within the jurisdiction or not), ≤ 10000
  std::uint64_t delivered = 0, attempts_failed = 0, skipped = 0;  // since start
  std::int64_t last_success_unix_ms = 0, last_attempt_unix_ms = 0;
  std::string last_error;
};

class ViolationSharing {
 public:
  using Audit = std::function<void(const DeliveryAttempt&)>;
  ViolationSharing(storage::Store& store, SharingOptions options, Audit audit);
  ~ViolationSharing();  // stops
  ViolationSharing(const ViolationSharing&) = delete;
  ViolationSharing& operator=(const ViolationSharing&) = delete;

  [[nodiscard]] bool start(std::string& problem);
  void stop();
  // Registers a new subscriber (synced) with its cursor after the last change — it receives what
  // happens from now on — and starts delivering to it. False with `error` when it was not stored.
  [[nodiscard]] bool add(const Subscriber& subscriber, std::string& error);
  // The subscribers changed (disabled): start and stop deliveries to match.
  void reload();
  [[nodiscard]] std::vector<SubscriberStatus> status() const;
  [[nodiscard]] std::string render_metrics() const;  // lantian_share_* series

 private:
  struct Delivery;
  void reconcile();  // on the thread
  // Every prune_every: drops the changes every active subscriber is past (all of them when there is
  // none: a new subscriber starts at the present).
  boost::asio::awaitable<void> prune_changes();
  boost::asio::awaitable<void> deliver(std::shared_ptr<Delivery> d);

  storage::Store& store_;
  SubscriberStore subscribers_;
  const SharingOptions options_;
  Audit audit_;
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  mutable std::mutex mutex_;  // guards deliveries_ (the map; each Delivery guards its own fields)
  std::map<std::string, std::shared_ptr<Delivery>> deliveries_;
  std::unique_ptr<boost::asio::steady_timer> prune_timer_;
  // A new subscriber's cursor and its record are written under this, and the log is pruned under
  // it: a prune never takes the changes just after a cursor that is being set.
  std::mutex prune_mutex_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
};

}  // namespace lantian::sharing
