#pragma once
// The HTTPS API and web console for police, reviewers, operators and admins (docs/api.md).
//
// One TLS listener (Boost.Beast over Asio, the server certificate of the terminal listeners, no
// client certificates); one coroutine per connection with keep-alive, a deadline on every read and
// write, a bounded request size (413 beyond it) and a bounded number of connections, in all and per
// client address; a new connection has a short deadline for its handshake and first request head.
// Every request under /api/v1 needs a bearer token (401), of a role the route allows (403), within
// its rate (429). Requests without a valid token are limited per address before the token is
// checked (429). Every request, answered or refused, is audited; those without a valid token are
// sampled per address, the rest summarised (AnonymousAuditSampler). Audit entries older than the
// retention are deleted hourly. Routes are in api_routes.cpp.
//
// The live feed (/api/v1/violations/feed) is Server-Sent Events: the rule worker publishes each new
// violation; each subscriber has a bounded queue and is disconnected when it cannot keep up.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <map>
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
#include "server/api/forwarded.hpp"
#include "server/api/rate_limiter.hpp"
#include "server/api/tokens.hpp"
#include "server/config.hpp"
#include "server/metrics.hpp"
#include "storage/store.hpp"

namespace lantian::forwarding {
class Forwarder;
}  // namespace lantian::forwarding
namespace lantian::sharing {
class ViolationSharing;
struct DeliveryAttempt;
}  // namespace lantian::sharing

namespace lantian::server::api {

class FeedSubscriber;

// Who sent a request over the local administration socket (LocalAdminSocket).
struct LocalCaller {
  std::string id;    // "local:uid=N": where the audit log names a token
  std::string peer;  // "unix:pid=P"
};

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
  sharing::ViolationSharing* sharing = nullptr;  // the subscribers' deliveries, when running
  const forwarding::Forwarder* forwarder = nullptr;  // the upstream links, when any
  // In a cluster: asks the node owning a vehicle's partition (empty: not a cluster).
  AskOwner ask_owner;
};

// The origins, space-separated and each after a space, the console's map may load tile images
// from (the Content-Security-Policy's img-src): each host of the tile templates, with {s} replaced
// by each subdomain, or by a wildcard label when none are given. Empty without tiles.
[[nodiscard]] std::string tile_image_sources(const Config::Api::MapTiles& tiles);

class ApiServer {
 public:
  ApiServer(boost::asio::io_context& io, const Config& config, storage::Store& store,
            evaluation::ShardedEvaluator& evaluator, ServerMetrics& metrics);
  ~ApiServer();
  // Binds the configured address; false with `problem` set on failure.
  bool start(std::string& problem);
  [[nodiscard]] std::uint16_t port() const;
  // Stops accepting, ends the live feeds and writes the pending audit summaries; requests in
  // progress finish.
  void stop();
  // Sends a new violation to the live feeds (from any thread).
  void publish(const boost::json::object& violation);
  // The subscriber routes manage these deliveries (set before start; may stay null).
  void set_sharing(sharing::ViolationSharing* sharing) { context_.sharing = sharing; }
  void set_forwarder(const forwarding::Forwarder* forwarder) { context_.forwarder = forwarder; }
  // In a cluster: requests about a vehicle another node owns are sent there (set before start).
  void set_ask_owner(AskOwner ask) { context_.ask_owner = std::move(ask); }
  // Answers a request another node of the cluster forwarded (server/api/forwarded.hpp): routed
  // with the caller's token record, not audited here (the node asked audits it). From any thread.
  std::string answer_forwarded(const std::string& request);
  // Records a delivery attempt to a subscriber in the audit log (from any thread).
  void audit_delivery(const sharing::DeliveryAttempt& attempt);

  // Routes a request (after TLS and HTTP parsing); exposed for tests of the routing table.
  ApiResponse handle(ApiRequest& request);
  // Routes a request of the local administration socket as a local administrator's (every role,
  // no jurisdiction limit, no rate limit), and audits it. Besides /api/v1 it answers
  // POST /local/backup {"dir": ABSOLUTE_PATH} (server/backup.hpp). From any thread.
  ApiResponse handle_local(http::verb method, std::string_view target, std::string body,
                           const LocalCaller& caller);
  [[nodiscard]] std::chrono::seconds request_timeout() const { return config_.api.request_timeout; }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket, std::string peer);
  void unsubscribe(FeedSubscriber* subscriber);
  // Every minute: the audit summaries of unlogged requests; every hour (and at start): retention.
  boost::asio::awaitable<void> audit_upkeep();
  void write_audit_summaries();
  void audit(const AuditEntry& entry);  // appends; a failure is logged and counted, not thrown
  ApiResponse local_backup(const ApiRequest& request);

  boost::asio::io_context& io_;
  const Config& config_;
  ApiContext context_;
  ServerMetrics& metrics_;
  RateLimiter limiter_;            // per token
  RateLimiter anonymous_limiter_;  // per address, requests without a valid token
  AnonymousAuditSampler anonymous_audit_;
  const std::string content_security_policy_;
  std::unique_ptr<boost::asio::steady_timer> upkeep_timer_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  // Shared with the sessions: a session's frame may outlive the server when its io_context is
  // destroyed after it (handlers are destroyed then, not run).
  struct Connections {
    std::mutex mutex;
    std::size_t open = 0;
    std::map<std::string, std::size_t> per_address;
  };
  std::shared_ptr<Connections> connections_ = std::make_shared<Connections>();
  std::mutex feeds_mutex_;
  std::set<std::shared_ptr<FeedSubscriber>> feeds_;
  bool stopping_ = false;  // guarded by feeds_mutex_
};

}  // namespace lantian::server::api
