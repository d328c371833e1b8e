#include "forwarding/forwarder.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sstream>

#include "common/metric_text.hpp"

namespace lantian::forwarding {
namespace asio = boost::asio;
using namespace std::chrono_literals;

Forwarder::Forwarder(std::vector<UpstreamConfig> upstreams, storage::Store& store)
    : store_(store), log_(store) {
  for (auto& u : upstreams)
    links_.push_back(std::make_unique<UpstreamLink>(io_, std::move(u), store, log_));
}

Forwarder::~Forwarder() { stop(); }

bool Forwarder::start(std::vector<std::string>& problems) {
  bool ok = true;
  for (auto& link : links_) {
    std::string problem;
    if (!link->prepare(problem)) {
      problems.push_back(problem);
      ok = false;
    }
  }
  if (!ok || links_.empty()) return ok;
  for (auto& link : links_) link->start();
  asio::co_spawn(io_, prune_log(), asio::detached);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "lt-forward");
    io_.run();
  });
  return true;
}

void Forwarder::stop() {
  if (stopping_.exchange(true)) return;
  for (auto& link : links_) link->stop();
  asio::post(io_, [this] { prune_tick_.cancel(); });
  if (thread_.joinable()) thread_.join();
}

asio::awaitable<void> Forwarder::prune_log() {
  while (!stopping_) {
    prune_tick_.expires_after(10s);
    co_await prune_tick_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) break;
    // Every upstream is past the slowest cursor (saved: a restart resumes after it).
    std::uint64_t through = std::numeric_limits<std::uint64_t>::max();
    for (const auto& link : links_) through = std::min<std::uint64_t>(through, link->counters().cursor);
    std::string error;
    if (!log_.prune(through, error))
      spdlog::warn("event=forward_log_not_pruned error=\"{}\"", error);
  }
}

std::string Forwarder::render_metrics() const {
  std::ostringstream out;
  const auto family = [&](const char* name, const char* type, const char* help, auto value) {
    common::write_metric_head(out, name, type, help);
    for (const auto& link : links_)
      out << name << "{upstream=\"" << link->config().name << "\"} " << value(link->counters())
          << '\n';
  };
  family("lantian_upstream_sent_total", "counter",
         "Reports written to the upstream (sent again after a broken connection too)",
         [](const LinkCounters& c) { return c.sent.load(); });
  family("lantian_upstream_acknowledged_total", "counter", "Reports the upstream answered 0x01",
         [](const LinkCounters& c) { return c.acknowledged.load(); });
  family("lantian_upstream_duplicates_total", "counter",
         "Reports the upstream answered 0x03 (VIN duplicate): it already had them",
         [](const LinkCounters& c) { return c.duplicates.load(); });
  family("lantian_upstream_rejected_total", "counter",
         "Reports the upstream answered 0x02 (error): set aside, never sent again",
         [](const LinkCounters& c) { return c.rejected.load(); });
  family("lantian_upstream_skipped_total", "counter",
         "Reports not for this upstream (its profile or VIN filter)",
         [](const LinkCounters& c) { return c.skipped.load(); });
  family("lantian_upstream_reconnects_total", "counter", "Connections after the first",
         [](const LinkCounters& c) { return c.reconnects.load(); });
  family("lantian_upstream_logins_refused_total", "counter",
         "Platform logins the upstream refused",
         [](const LinkCounters& c) { return c.logins_refused.load(); });
  family("lantian_upstream_connected", "gauge", "1 while logged in to the upstream",
         [](const LinkCounters& c) { return c.connected.load() ? 1 : 0; });
  family("lantian_upstream_cursor", "gauge",
         "Arrival sequence through which every report is answered (saved)",
         [](const LinkCounters& c) { return c.cursor.load(); });
  family("lantian_upstream_lag_reports", "gauge", "Accepted reports the upstream has not answered",
         [](const LinkCounters& c) { return c.lag_reports.load(); });
  family("lantian_upstream_lag_seconds", "gauge",
         "Age of the oldest report the upstream has not answered (0: caught up)",
         [](const LinkCounters& c) { return static_cast<double>(c.lag_ms.load()) / 1000.0; });
  return out.str();
}

std::string Forwarder::lagging() const {
  std::string problems;
  for (const auto& link : links_) {
    const auto lag = std::chrono::milliseconds(link->counters().lag_ms.load());
    if (lag <= link->config().max_lag) continue;
    if (!problems.empty()) problems += "; ";
    problems += "upstream " + link->config().name + " lags " +
                std::to_string(lag.count() / 1000) + " s (limit " +
                std::to_string(link->config().max_lag.count()) + " s)";
  }
  return problems;
}

}  // namespace lantian::forwarding
