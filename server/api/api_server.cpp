#include "server/api/api_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <deque>

#include "server/api/api_routes.hpp"
#include "server/backup.hpp"
#include "server/clock.hpp"
#include "server/tls_context.hpp"
#include "sharing/violation_sharing.hpp"

namespace lantian::server::api {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;
using asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// One live-feed connection: new violations wait in a bounded queue until the session writes them.
class FeedSubscriber {
 public:
  FeedSubscriber(asio::any_io_executor executor, evaluation::Jurisdiction jurisdiction)
      : signal_(executor, asio::steady_timer::time_point::max()),
        jurisdiction_(std::move(jurisdiction)) {}
  static constexpr std::size_t max_queued = 1000;

  // From any thread. A subscriber that fell max_queued behind is closed rather than buffering
  // without bound; the client reconnects and lists what it missed.
  void push(const json::object& violation) {
    if (!jurisdiction_.allows(violation)) return;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      if (queue_.size() >= max_queued)
        closed_ = true;
      else
        queue_.push_back("id: " + std::string(violation.at("id").as_string()) +
                         "\nevent: violation\ndata: " + json::serialize(violation) + "\n\n");
    }
    asio::post(signal_.get_executor(), [this, self = keep_alive_.lock()] {
      if (self) signal_.cancel();
    });
  }
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    asio::post(signal_.get_executor(), [this, self = keep_alive_.lock()] {
      if (self) signal_.cancel();
    });
  }
  // Waits for events (or `heartbeat`); returns them, or nullopt when closed.
  asio::awaitable<std::optional<std::string>> next(std::chrono::seconds heartbeat) {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (closed_) co_return std::nullopt;
        if (!queue_.empty()) {
          std::string out;
          for (auto& e : queue_) out += e;
          queue_.clear();
          co_return out;
        }
      }
      signal_.expires_after(heartbeat);
      auto [ec] = co_await signal_.async_wait(nothrow);
      if (!ec) co_return std::string(": heartbeat\n\n");  // keeps proxies from closing it
    }
  }
  std::weak_ptr<FeedSubscriber> keep_alive_;

 private:
  asio::steady_timer signal_;
  evaluation::Jurisdiction jurisdiction_;
  std::mutex mutex_;
  std::deque<std::string> queue_;
  bool closed_ = false;
};

namespace {

std::string bearer(const beast::http::request<beast::http::string_body>& req) {
  // Two Authorization headers: which one a proxy or the parser would use is ambiguous — neither.
  if (req.count(beast::http::field::authorization) != 1) return {};
  const auto header = req[beast::http::field::authorization];
  constexpr std::string_view scheme = "Bearer ";
  if (header.size() <= scheme.size() ||
      !std::equal(scheme.begin(), scheme.end(), header.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
    return {};
  return std::string(header.substr(scheme.size()));
}

// Splits the target into decoded path segments and query parameters; false when it is not a
// well-formed origin-form target, or when a decoded segment or parameter is not UTF-8: handlers
// treat them as text and error messages quote them, so an encoded byte such as %ff would otherwise
// make the JSON answer unparseable.
bool parse_target(std::string_view target, ApiRequest& r) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return false;
  for (auto segment : parsed->segments()) {
    r.segments.emplace_back(segment);
    if (!is_utf8(r.segments.back())) return false;
  }
  for (auto param : parsed->params()) {
    std::string key(param.key), value(param.value);
    if (!is_utf8(key) || !is_utf8(value)) return false;
    r.query[std::move(key)] = std::move(value);
  }
  return true;
}

}  // namespace

// The origins the console's map may load tile images from (Config::Api::MapTiles): each host of
// the templates, with {s} replaced by each subdomain (a wildcard label when none are given).
std::string tile_image_sources(const Config::Api::MapTiles& tiles) {
  std::set<std::string> origins;
  for (const auto* url : {&tiles.url, &tiles.overlay_url}) {
    if (url->empty()) continue;
    const auto scheme_end = url->find("://");
    if (scheme_end == std::string::npos) continue;
    const auto host_end = url->find_first_of("/?#", scheme_end + 3);
    const auto origin = url->substr(0, host_end);
    const auto s = origin.find("{s}");
    if (s == std::string::npos) {
      origins.insert(origin);
    } else if (tiles.subdomains.empty()) {
      // "t{s}.example.com" → "*.example.com": CSP wildcards stand for whole labels.
      const auto label_start = origin.rfind('.', s) == std::string::npos ||
                                       origin.rfind('.', s) < scheme_end
                                   ? scheme_end + 3
                                   : origin.rfind('.', s) + 1;
      const auto label_end = origin.find('.', s);
      origins.insert(origin.substr(0, label_start) + "*" +
                     (label_end == std::string::npos ? "" : origin.substr(label_end)));
    } else {
      for (char c : tiles.subdomains)
        origins.insert(origin.substr(0, s) + c + origin.substr(s + 3));
    }
  }
  std::string out;
  for (const auto& o : origins) out += " " + o;
  return out;
}


ApiServer::ApiServer(asio::io_context& io, const Config& config, storage::Store& store,
                     evaluation::ShardedEvaluator& evaluator, ServerMetrics& metrics)
    : io_(io),
      config_(config),
      context_{store,
               evaluator,
               evaluator.catalogue(),
               evaluation::CatalogueStore(store),
               evaluation::ObservationStore(store),
               evaluator.violations(),
               config,
               TokenStore(store),
               AuditLog(store),
               [this](const json::object& v) { publish(v); }},
      metrics_(metrics),
      limiter_(config.api.rate_per_second, config.api.burst),
      anonymous_limiter_(config.api.anonymous_rate_per_second, config.api.anonymous_burst),
      anonymous_audit_(config.api.audit_anonymous_per_minute),
      // The console and the API are served over HTTPS only; nothing may frame them (clickjacking
      // a reviewer's decision), load script from elsewhere, or learn their URLs from a Referer.
      // Images come from here, and from the map's tile servers when one is configured.
      content_security_policy_("default-src 'self'; img-src 'self' data:" +
                               tile_image_sources(config.api.map_tiles) +
                               "; style-src 'self' 'unsafe-inline'; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'") {}

ApiServer::~ApiServer() {
  stop();
}

bool ApiServer::start(std::string& problem) {
  Config tls_config = config_;
  tls_config.client_auth = ClientAuth::none;  // people log in with tokens, not certificates
  if (!ensure_development_certificates(tls_config, problem)) return false;
  tls_ = make_tls_context(tls_config, problem);
  if (!tls_) return false;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(config_.api.host, ec);
  if (ec) {
    problem = "--api: not an IP address: " + config_.api.host;
    return false;
  }
  acceptor_ = std::make_unique<tcp::acceptor>(io_);
  const tcp::endpoint endpoint(address, config_.api.port);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(256, ec);
  if (ec) {
    problem = "--api " + config_.api.host + ":" + std::to_string(config_.api.port) +
              ": cannot listen: " + ec.message();
    return false;
  }
  spdlog::info("event=api_listening port={} console=https://{}:{}/", port(), config_.api.host,
               port());
  asio::co_spawn(io_, accept_loop(), asio::detached);
  upkeep_timer_ = std::make_unique<asio::steady_timer>(io_);
  asio::co_spawn(upkeep_timer_->get_executor(), audit_upkeep(), asio::detached);
  return true;
}

std::uint16_t ApiServer::port() const {
  return acceptor_ ? acceptor_->local_endpoint().port() : 0;
}

void ApiServer::stop() {
  boost::system::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  std::set<std::shared_ptr<FeedSubscriber>> feeds;
  bool first = false;
  {
    std::lock_guard lock(feeds_mutex_);
    first = !stopping_;
    stopping_ = true;
    feeds.swap(feeds_);
  }
  for (const auto& f : feeds) f->close();
  if (!first) return;
  if (upkeep_timer_)
    asio::post(upkeep_timer_->get_executor(), [timer = upkeep_timer_.get()] { timer->cancel(); });
  write_audit_summaries();  // what was only counted is in the log before the store closes
}

void ApiServer::audit(const AuditEntry& entry) {
  std::string error;
  if (context_.audit.append(entry, error)) return;
  if (entry.token_id.empty() && entry.unlogged == 0)
    metrics_.api_audit_unlogged.inc();  // (a summary's requests were counted when they came)
  spdlog::error("event=audit_not_stored peer={} status={} error=\"{}\"", entry.peer, entry.status,
                error);
}

void ApiServer::audit_delivery(const sharing::DeliveryAttempt& attempt) {
  // A delivery is the platform's own request: the subscriber stands where a token would.
  AuditEntry entry;
  entry.unix_ms = attempt.unix_ms;
  entry.token_id = "subscriber:" + attempt.subscriber;
  entry.role = "delivery";
  entry.peer = attempt.url;
  entry.method = "POST";
  entry.target = attempt.url;
  entry.status = attempt.status;
  entry.records = 1;
  entry.duration_us = attempt.duration_us;
  entry.change = {{"event", attempt.event},
                  {"violation_id", attempt.violation_id},
                  {"version", attempt.version},
                  {"delivered", attempt.error.empty()}};
  if (!attempt.error.empty()) entry.change["error"] = attempt.error;
  audit(entry);
}

void ApiServer::write_audit_summaries() {
  for (const auto& [peer, count] : anonymous_audit_.take_unlogged()) {
    AuditEntry summary;
    summary.unix_ms = now_unix_ms();
    summary.peer = peer;
    summary.method = "*";
    summary.target = "*";
    summary.unlogged = count;
    audit(summary);
  }
}

asio::awaitable<void> ApiServer::audit_upkeep() {
  for (auto minute = 0;; ++minute) {
    if (config_.api.audit_retention && minute % 60 == 0) {
      const auto cutoff =
          now_unix_ms() -
          std::chrono::duration_cast<std::chrono::milliseconds>(*config_.api.audit_retention)
              .count();
      std::string error;
      if (!context_.audit.trim(cutoff, error))
        spdlog::error("event=audit_retention_failed error=\"{}\"", error);
    }
    upkeep_timer_->expires_after(std::chrono::minutes(1));
    auto [ec] = co_await upkeep_timer_->async_wait(nothrow);
    if (ec) co_return;  // stopped
    write_audit_summaries();
  }
}

void ApiServer::publish(const json::object& violation) {
  std::lock_guard lock(feeds_mutex_);
  for (const auto& f : feeds_) f->push(violation);
}

void ApiServer::unsubscribe(FeedSubscriber* subscriber) {
  std::lock_guard lock(feeds_mutex_);
  for (auto it = feeds_.begin(); it != feeds_.end(); ++it)
    if (it->get() == subscriber) {
      feeds_.erase(it);
      return;
    }
}

asio::awaitable<void> ApiServer::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_->async_accept(nothrow);
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) co_return;
    if (ec) continue;
    const auto remote = socket.remote_endpoint(ec);
    const std::string address = ec ? "?" : remote.address().to_string();
    const char* refused = nullptr;
    {
      std::lock_guard lock(connections_->mutex);
      if (connections_->open >= config_.api.max_connections)
        refused = "max_connections";
      else if (connections_->per_address[address] >= config_.api.max_connections_per_address)
        refused = "max_connections_per_address";
      else {
        ++connections_->open;
        ++connections_->per_address[address];
      }
      if (refused && connections_->per_address[address] == 0)
        connections_->per_address.erase(address);
    }
    if (refused) {
      metrics_.api_refused.with(refused).inc();
      boost::system::error_code ignored;
      socket.close(ignored);  // at the limit: refuse rather than queue
      continue;
    }
    asio::co_spawn(asio::make_strand(io_), session(std::move(socket), address), asio::detached);
  }
}

ApiResponse ApiServer::handle(ApiRequest& request) {
  try {
    return route(context_, request);
  } catch (const ApiError& e) {
    return error_response(e.status(), e.code(), e.what(), e.parameter());
  } catch (const std::exception& e) {
    spdlog::error("event=api_handler_failed target=\"{}\" error=\"{}\"", request.target, e.what());
    return error_response(beast::http::status::internal_server_error, "internal",
                          "the request could not be completed; it is logged");
  }
}

ApiResponse ApiServer::handle_local(http::verb method, std::string_view target, std::string body,
                                    const LocalCaller& caller) {
  const auto started = std::chrono::steady_clock::now();
  ApiRequest request;
  request.method = method;
  request.target = std::string(target);
  request.body = std::move(body);
  request.peer = caller.peer;
  request.token.id = caller.id;
  request.token.role = Role::admin;
  request.token.label = "local administration";
  request.token.local = true;
  ApiResponse response;
  if (!parse_target(target, request)) {
    response = error_response(http::status::bad_request, "bad_target",
                              "the request target is not a valid path and query");
  } else if (request.segments == std::vector<std::string>{"local", "backup"}) {
    response = local_backup(request);
  } else if (request.segments.size() < 2 || request.segments[0] != "api" ||
             request.segments[1] != "v1") {
    response = error_response(http::status::not_found, "not_found",
                              "the admin socket answers /api/v1/… and /local/backup");
  } else {
    response = handle(request);
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
  const auto status = static_cast<unsigned>(response.status);
  audit({now_unix_ms(), caller.id, "admin", caller.peer,
         std::string(http::to_string(method)), request.target.substr(0, 2000), status,
         response.records, elapsed, 0,
         status < 400 ? std::move(response.change) : json::object{}});
  return response;
}

std::string ApiServer::answer_forwarded(const std::string& bytes) {
  const auto started = std::chrono::steady_clock::now();
  ApiRequest request;
  ApiResponse response;
  if (!decode_forwarded_request(bytes, request) || !parse_target(request.target, request)) {
    response = error_response(http::status::bad_request, "bad_forwarded_request",
                              "a node of the cluster sent a request that could not be read");
  } else if (!answered_at_owner(request)) {
    // Only what a node cannot answer itself comes here: never a token, an import or a setting.
    response = error_response(http::status::forbidden, "not_forwardable",
                              "this request is not one a vehicle's owner answers for another node");
  } else {
    response = handle(request);
  }
  // Audited here too (the node asked audits it as its own request): what this archive answered,
  // and for whom.
  const auto status = static_cast<unsigned>(response.status);
  audit({now_unix_ms(), request.token.id,
         request.token.local ? std::string("admin") : std::string(to_string(request.token.role)),
         "forwarded:" + request.peer, std::string(http::to_string(request.method)),
         request.target.substr(0, 2000), status, response.records,
         std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               started)
             .count(),
         0, status < 400 ? response.change : json::object{}});
  return encode_forwarded_response(response);
}

ApiResponse ApiServer::local_backup(const ApiRequest& request) {
  if (request.method != http::verb::post)
    return error_response(http::status::method_not_allowed, "method_not_allowed", "use POST");
  boost::system::error_code ec;
  const auto body = json::parse(request.body, ec);
  const auto* object = !ec && body.is_object() ? &body.as_object() : nullptr;
  const auto* dir = object ? object->if_contains("dir") : nullptr;
  const auto* device = object ? object->if_contains("device") : nullptr;
  const auto* inode = object ? object->if_contains("inode") : nullptr;
  if (!dir || !dir->is_string() || dir->as_string().empty() ||
      !std::filesystem::path(std::string(dir->as_string())).is_absolute() || !device ||
      !device->is_number() || !inode || !inode->is_number())
    return error_response(http::status::bad_request, "bad_parameter",
                          "{dir: the absolute path of the new directory the command made, device, "
                          "inode}",
                          "dir");
  const std::filesystem::path target(std::string(dir->as_string()));
  // The command made the directory: the server must see that very one. Under a service manager
  // the server may have a /tmp of its own, or see a path elsewhere; a backup written there would
  // be lost to the operator.
  struct stat seen {};
  if (::stat(target.c_str(), &seen) != 0 ||
      seen.st_dev != device->to_number<std::uint64_t>() ||
      seen.st_ino != inode->to_number<std::uint64_t>())
    return error_response(
        http::status::conflict, "not_shared",
        "the server does not see the directory " + target.string() +
            " the command made (a private /tmp, or another mount namespace): back up into a "
            "directory the server shares, such as /var/backups/lantian/NAME under the packaged "
            "service");
  BackupWritten written;
  std::string error;
  if (!write_backup(context_.store, config_.data_dir, target, written, error))
    return error_response(http::status::internal_server_error, "backup_failed", error);
  spdlog::info("event=backup dir={} certs={}", written.dir.string(), written.certs);
  auto response = json_response(json::object{{"dir", written.dir.string()}, {"certs", written.certs}},
                                1, http::status::created);
  response.change = {{"backup", written.dir.string()}};
  return response;
}

asio::awaitable<void> ApiServer::session(tcp::socket socket, std::string peer) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // answers go out at once, not after a delayed ACK
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls_);
  // After the stream, so that the slot is given back before the socket closes: a client that saw
  // the connection end can count on its address's slot being free.
  struct Leave {
    std::shared_ptr<Connections> connections;
    std::string address;
    ~Leave() {
      std::lock_guard lock(connections->mutex);
      --connections->open;
      if (auto it = connections->per_address.find(address);
          it != connections->per_address.end() && --it->second == 0)
        connections->per_address.erase(it);
    }
  } leave{connections_, peer};
  auto& lowest = beast::get_lowest_layer(stream);
  const auto timeout = config_.api.request_timeout;
  // One short deadline for the handshake and the first request head together: a connection that
  // says nothing holds its slot for seconds, not for the request timeout.
  lowest.expires_after(config_.api.handshake_timeout);
  if (auto [hs] = co_await stream.async_handshake(asio::ssl::stream_base::server, nothrow); hs)
    co_return;
  beast::flat_buffer buffer;
  for (bool first = true;; first = false) {
    beast::http::request_parser<beast::http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(config_.api.max_body_bytes);
    if (!first) lowest.expires_after(timeout);
    // The head first: a body announced as too large is refused before any of it is read.
    auto [read_error, n] = co_await beast::http::async_read_header(stream, buffer, parser, nothrow);
    lowest.expires_after(timeout);
    const auto started = std::chrono::steady_clock::now();
    ApiResponse response;
    ApiRequest request;
    request.peer = peer;
    if (read_error == beast::http::error::end_of_stream || read_error == asio::error::eof ||
        read_error == beast::error::timeout)
      break;
    if (!read_error) {
      if (const auto length = parser.content_length();
          length && *length > config_.api.max_body_bytes)
        read_error = beast::http::error::body_limit;
      else
        std::tie(read_error, n) = co_await beast::http::async_read(stream, buffer, parser, nothrow);
    }
    bool close_after = false, drain = false;
    if (read_error == beast::http::error::body_limit) {
      response = error_response(beast::http::status::payload_too_large, "too_large",
                                "the request body is larger than " +
                                    std::to_string(config_.api.max_body_bytes) + " bytes");
      close_after = drain = true;  // the rest of the body is still on the wire
    } else if (read_error) {
      if (!parser.is_header_done()) break;  // not HTTP: nothing to answer
      response = error_response(beast::http::status::bad_request, "bad_request",
                                "malformed request: " + read_error.message());
      close_after = true;
    }
    const auto& req = parser.get();
    request.method = req.method();
    request.target = std::string(req.target());
    if (!read_error) {
      request.body = req.body();
      request.content_type = std::string(req[beast::http::field::content_type]);
      request.last_event_id = std::string(req["Last-Event-ID"]);
      std::chrono::milliseconds retry{0};
      if (anonymous_limiter_.exhausted(peer, started, retry)) {
        // Before the token is looked at: an address that keeps failing cannot go on guessing, and
        // what it sends costs a lookup and an audit entry no more.
        metrics_.api_refused.with("anonymous_rate").inc();
        response = error_response(beast::http::status::too_many_requests, "rate_limited",
                                  "too many requests without a valid token from this address; "
                                  "retry later");
        response.headers.emplace_back(beast::http::field::retry_after,
                                      std::to_string((retry.count() + 999) / 1000));
      } else if (!parse_target(req.target(), request)) {
        response = error_response(beast::http::status::bad_request, "bad_target",
                                  "the request target is not a valid path and query");
      } else if (request.segments.size() >= 2 && request.segments[0] == "api" &&
                 request.segments[1] == "v1") {
        // Who is asking, and may they ask now?
        const auto secret = bearer(req);
        TokenRecord token;
        const auto check = secret.empty()
                               ? TokenStore::Check::unknown
                               : context_.tokens.authenticate(secret, now_unix_ms(), token);
        if (check != TokenStore::Check::ok) {
          const char* why = secret.empty()                        ? "a bearer token is required"
                            : check == TokenStore::Check::revoked ? "the token was revoked"
                            : check == TokenStore::Check::expired ? "the token has expired"
                                                                  : "unknown token";
          response = error_response(beast::http::status::unauthorized, "unauthorized", why);
          response.headers.emplace_back(beast::http::field::www_authenticate,
                                        "Bearer realm=\"lantian\"");
        } else if (!limiter_.allow(token.id, std::chrono::steady_clock::now(), retry)) {
          request.token = token;
          response = error_response(beast::http::status::too_many_requests, "rate_limited",
                                    "too many requests for this token; retry later");
          response.headers.emplace_back(beast::http::field::retry_after,
                                        std::to_string((retry.count() + 999) / 1000));
        } else {
          request.token = token;
          response = handle(request);
        }
      } else {
        response = handle(request);  // the console, its assets and the OpenAPI document
      }
    }
    // Whatever came without a valid token — a refusal, a malformed request, a console asset —
    // spends its address's budget.
    const bool anonymous = request.token.id.empty();
    if (anonymous) {
      std::chrono::milliseconds ignored{0};
      (void)anonymous_limiter_.allow(peer, started, ignored);
    }

    if (response.event_stream) {
      // The live feed: headers now, then events until the client leaves or the server stops.
      auto subscriber = std::make_shared<FeedSubscriber>(co_await asio::this_coro::executor,
                                                         request.token.jurisdiction);
      subscriber->keep_alive_ = subscriber;
      {
        std::lock_guard lock(feeds_mutex_);
        if (stopping_) break;
        feeds_.insert(subscriber);
      }
      audit({now_unix_ms(), request.token.id, std::string(to_string(request.token.role)), peer,
             std::string(beast::http::to_string(request.method)), request.target, 200, 0, 0});
      beast::http::response<beast::http::empty_body> head{beast::http::status::ok, req.version()};
      head.set(beast::http::field::content_type, "text/event-stream; charset=utf-8");
      head.set(beast::http::field::cache_control, "no-store");
      head.chunked(true);
      beast::http::response_serializer<beast::http::empty_body> serializer(head);
      lowest.expires_after(timeout);
      auto [head_error, written] =
          co_await beast::http::async_write_header(stream, serializer, nothrow);
      // The token is checked again at every wake-up (an event, or the heartbeat every 5 s): a
      // revoked or expired token, or one whose role or jurisdiction changed, ends the stream.
      const auto feed_secret = bearer(req);
      while (!head_error) {
        auto events = co_await subscriber->next(std::chrono::seconds(5));
        if (!events) break;
        TokenRecord now;
        if (context_.tokens.authenticate(feed_secret, now_unix_ms(), now) !=
                TokenStore::Check::ok ||
            now.role != request.token.role ||
            now.jurisdiction.cities != request.token.jurisdiction.cities ||
            now.jurisdiction.zones != request.token.jurisdiction.zones) {
          spdlog::info("event=feed_closed token={} reason=token_no_longer_valid",
                       request.token.id);
          break;
        }
        lowest.expires_after(timeout);
        auto [write_error, count] = co_await asio::async_write(
            stream, beast::http::make_chunk(asio::buffer(*events)), nothrow);
        if (write_error) break;
      }
      unsubscribe(subscriber.get());
      subscriber->keep_alive_.reset();
      break;
    }

    beast::http::response<beast::http::string_body> res{response.status, req.version()};
    res.set(beast::http::field::server, "lantiand");
    res.set(beast::http::field::content_type, response.content_type);
    res.set(beast::http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Strict-Transport-Security", "max-age=31536000");
    res.set("Content-Security-Policy", content_security_policy_);
    res.set("Referrer-Policy", "no-referrer");
    res.set("X-Frame-Options", "DENY");
    for (const auto& [field, value] : response.headers) res.set(field, value);
    res.body() = std::move(response.body);
    res.keep_alive(!close_after && req.keep_alive());
    res.prepare_payload();

    const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - started)
                             .count();
    // Requests without a valid token are audited up to a sample per address and minute, their
    // targets shortened; the rest are counted into a summary entry (audit_upkeep).
    if (!anonymous || anonymous_audit_.admit(peer, started))
      audit({now_unix_ms(), request.token.id,
             anonymous ? std::string() : std::string(to_string(request.token.role)), peer,
             std::string(beast::http::to_string(request.method)),
             request.target.substr(0, anonymous ? 256 : 2000),
             static_cast<unsigned>(res.result_int()), response.records, elapsed, 0,
             res.result_int() < 400 ? std::move(response.change) : json::object{}});
    else
      metrics_.api_audit_unlogged.inc();
    lowest.expires_after(timeout);
    auto [write_error, written] = co_await beast::http::async_write(stream, res, nothrow);
    if (drain && !write_error) {
      // Read (and drop) what the client is still sending, briefly and boundedly, so that closing
      // does not reset the connection before the client has read the refusal.
      std::array<char, 16384> scratch;
      std::size_t dropped = 0;
      lowest.expires_after(std::chrono::seconds(2));
      while (dropped < (4u << 20)) {
        auto [e, got] = co_await stream.async_read_some(asio::buffer(scratch), nothrow);
        if (e) break;
        dropped += got;
      }
    }
    if (write_error || !res.keep_alive()) break;
  }
  lowest.expires_after(std::chrono::seconds(5));
  co_await stream.async_shutdown(nothrow);
}

}  // namespace lantian::server::api
