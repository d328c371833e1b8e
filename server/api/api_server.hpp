#pragma once
// The HTTPS API and web console for police, reviewers, operators and admins (docs/api.md).
//
// One TLS listener (Boost.Beast over Asio, the server certificate of the terminal listeners, no
// client certificates); one coroutine per connection with keep-alive, a deadline on every read and
// write, a bounded request size (413 beyond it) and a bounded number of connections. Every request
// under /api/v1 needs a bearer token (401), of a role the route allows (403), within its rate
// (429); every request, answered or refused, is written to the audit log. Routes are in
// api_routes.cpp.
//
// The live feed (/api/v1/violations/feed) is Server-Sent Events: the rule worker publishes each new
// violation; each subscriber has a bounded queue and is disconnected when it cannot keep up.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "evaluation/catalogue_store.hpp"
#include "evaluation/observation_store.hpp"
#include "evaluation/sharded_evaluator.hpp"
#include "evaluation/violation_store.hpp"
#include "server/api/api_types.hpp"
#include "server/api/audit_log.hpp"
#include "server/api/rate_limiter.hpp"
#include "server/api/tokens.hpp"
#include "server/config.hpp"
#include "server/metrics.hpp"
#include "storage/store.hpp"

namespace lantian::server::api {

class FeedSubscriber;

// Everything the handlers use.
struct ApiContext {
  storage::Store& store;
  evaluation::ShardedEvaluator& evaluator;        // told to reload after a catalogue upload
  const evaluation::CurrentCatalogue& catalogue;  // one snapshot per request
  evaluation::CatalogueStore catalogue_store;
  evaluation::ObservationStore observations;
  evaluation::ViolationStore& violations;
  const Config& config;
  TokenStore tokens;
  AuditLog audit;
  std::function<void(const boost::json::object&)> publish;  // to the live feeds
};

class ApiServer {
 public:
  ApiServer(boost::asio::io_context& io, const Config& config, storage::Store& store,
            evaluation::ShardedEvaluator& evaluator);
  ~ApiServer();
  // Binds the configured address; false with `problem` set on failure.
  bool start(std::string& problem);
  [[nodiscard]] std::uint16_t port() const;
  // Stops accepting and ends the live feeds; requests in progress finish.
  void stop();
  // Sends a new violation to the live feeds (from any thread).
  void publish(const boost::json::object& violation);

  // Routes a request (after TLS and HTTP parsing); exposed for tests of the routing table.
  ApiResponse handle(ApiRequest& request);

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);
  void unsubscribe(FeedSubscriber* subscriber);

  boost::asio::io_context& io_;
  const Config& config_;
  ApiContext context_;
  RateLimiter limiter_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  // Shared with the sessions: a session's frame may outlive the server when its io_context is
  // destroyed after it (handlers are destroyed then, not run).
  std::shared_ptr<std::atomic<std::size_t>> connections_ =
      std::make_shared<std::atomic<std::size_t>>(0);
  std::mutex feeds_mutex_;
  std::set<std::shared_ptr<FeedSubscriber>> feeds_;
  bool stopping_ = false;  // guarded by feeds_mutex_
};

}  // namespace lantian::server::api
