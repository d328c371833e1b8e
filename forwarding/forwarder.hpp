#pragma once
// The upstream forwarders of a lantiand (docs/forwarding.md): one UpstreamLink per configured
// upstream, on a thread of their own ("lt-forward"), and the pruning of the forward log below the
// slowest upstream's cursor. The archive must be opened with StoreOptions::forward_log set.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "forwarding/forward_store.hpp"
#include "forwarding/upstream_link.hpp"

namespace lantian::forwarding {

class Forwarder {
 public:
  Forwarder(std::vector<UpstreamConfig> upstreams, storage::Store& store);
  ~Forwarder();  // stops
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Prepares every link (TLS contexts, cursors) and starts the thread; false with the problems.
  [[nodiscard]] bool start(std::vector<std::string>& problems);
  // Logs out of every upstream, saves the cursors and joins the thread.
  void stop();

  // lantian_upstream_* series in the Prometheus text format.
  [[nodiscard]] std::string render_metrics() const;
  // Why /healthz should fail: an upstream whose oldest unanswered report is older than its
  // max_lag (empty: none).
  [[nodiscard]] std::string lagging() const;
  [[nodiscard]] const std::vector<std::unique_ptr<UpstreamLink>>& links() const noexcept {
    return links_;
  }

 private:
  boost::asio::awaitable<void> prune_log();

  boost::asio::io_context io_;
  storage::Store& store_;
  ForwardStore log_;
  std::vector<std::unique_ptr<UpstreamLink>> links_;
  boost::asio::steady_timer prune_tick_{io_};
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

}  // namespace lantian::forwarding
