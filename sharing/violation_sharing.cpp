#include "sharing/violation_sharing.hpp"

#include <openssl/hmac.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <random>
#include <sstream>

#include "common/backoff.hpp"
#include "common/metric_text.hpp"
#include "common/tls_client.hpp"
#include "protocol/json.hpp"

namespace lantian::sharing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::ip::tcp;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

std::string delivery_signature(std::string_view secret, std::int64_t unix_s,
                               std::string_view body) {
  const std::string message = std::to_string(unix_s) + "." + std::string(body);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  return "t=" + std::to_string(unix_s) + ",v1=" + protocol::to_hex(protocol::ByteView(digest, length));
}

struct ViolationSharing::Delivery {
  Delivery(asio::io_context& io, Subscriber s) : subscriber(std::move(s)), timer(io) {}
  const Subscriber subscriber;
  std::string host, port, target;  // from the URL
  std::atomic<bool> stop{false};
  asio::steady_timer timer;  // backoff and polling (the delivery's thread only)
  mutable std::mutex mutex;  // guards the status below
  SubscriberStatus status;
};

ViolationSharing::ViolationSharing(storage::Store& store, SharingOptions options, Audit audit)
    : store_(store), subscribers_(store), options_(std::move(options)), audit_(std::move(audit)) {}

ViolationSharing::~ViolationSharing() { stop(); }

bool ViolationSharing::start(std::string& problem) {
  try {
    tls_ = common::make_tls_client_context(options_.ca_file);
  } catch (const boost::system::system_error& e) {
    problem = std::string("violation sharing: TLS: ") + e.what();
    return false;
  }
  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      io_.get_executor());
  asio::post(io_, [this] { reconcile(); });
  prune_timer_ = std::make_unique<asio::steady_timer>(io_);
  asio::co_spawn(io_, prune_changes(), asio::detached);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "lt-share");
    io_.run();
  });
  return true;
}

void ViolationSharing::stop() {
  if (stopping_.exchange(true)) return;
  asio::post(io_, [this] {
    if (prune_timer_) prune_timer_->cancel();
    std::lock_guard lock(mutex_);
    for (auto& [id, d] : deliveries_) {
      d->stop = true;
      d->timer.cancel();
    }
  });
  work_.reset();
  if (thread_.joinable()) thread_.join();
}

bool ViolationSharing::add(const Subscriber& subscriber, std::string& error) {
  {
    std::lock_guard lock(prune_mutex_);
    if (!subscribers_.put(subscriber, store_.last_change_sequence(), error)) return false;
  }
  reload();
  return true;
}

void ViolationSharing::reload() {
  if (!stopping_) asio::post(io_, [this] { reconcile(); });
}

void ViolationSharing::reconcile() {
  if (stopping_) return;
  std::lock_guard lock(mutex_);
  for (auto& s : subscribers_.list()) {
    const auto running = deliveries_.find(s.id);
    if (s.disabled) {
      if (running != deliveries_.end()) {
        running->second->stop = true;
        running->second->timer.cancel();
        deliveries_.erase(running);
      }
      continue;
    }
    if (running != deliveries_.end()) continue;
    auto d = std::make_shared<Delivery>(io_, s);
    const auto url = boost::urls::parse_uri(s.url);
    if (!url || url->scheme() != "https" || url->host_address().empty()) {
      spdlog::error("event=share_bad_url subscriber={} url={}", s.id, s.url);
      continue;
    }
    d->host = url->host_address();
    d->port = url->has_port() ? std::string(url->port()) : "443";
    d->target = url->encoded_target().empty() ? "/" : std::string(url->encoded_target());
    d->status.subscriber = s;
    d->status.subscriber.secret.clear();
    deliveries_.emplace(s.id, d);
    asio::co_spawn(io_, deliver(d), asio::detached);
  }
}

namespace {

// One POST of `body`; the attempt with its answer's status (0 and why when there was none).
awaitable<DeliveryAttempt> post_once(asio::io_context& io, ssl::context& tls,
                                     const std::string& host, const std::string& port,
                                     const std::string& target, const Subscriber& s,
                                     const Change& change, std::chrono::seconds timeout) {
  DeliveryAttempt a;
  a.subscriber = s.id;
  a.url = s.url;
  a.event = change.event;
  a.violation_id = change.id;
  a.version = change.sequence;
  a.unix_ms = now_unix_ms();
  const auto started = std::chrono::steady_clock::now();
  const auto finish = [&](std::string error) {
    a.error = std::move(error);
    a.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    return a;
  };
  beast::ssl_stream<beast::tcp_stream> stream(io, tls);
  SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  stream.set_verify_callback(ssl::host_name_verification(host));
  tcp::resolver resolver(io);
  auto [resolve_error, endpoints] = co_await resolver.async_resolve(host, port, nothrow);
  if (resolve_error) co_return finish("resolve: " + resolve_error.message());
  auto& socket = beast::get_lowest_layer(stream);
  socket.expires_after(timeout);  // for everything below
  if (auto [ec, e] = co_await socket.async_connect(endpoints, nothrow); ec)
    co_return finish("connect: " + ec.message());
  if (auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, nothrow); ec)
    co_return finish("TLS: " + ec.message());
  http::request<http::string_body> request{http::verb::post, target, 11};
  request.set(http::field::host, host);
  request.set(http::field::user_agent, "lantiand");
  request.set(http::field::content_type, "application/json; charset=utf-8");
  request.set("X-Lantian-Event", change.event);
  request.set("X-Lantian-Delivery", change.id + "@" + std::to_string(change.sequence));
  request.set("X-Lantian-Signature", delivery_signature(s.secret, a.unix_ms / 1000, change.body));
  request.body() = change.body;
  request.prepare_payload();
  if (auto [ec, n] = co_await http::async_write(stream, request, nothrow); ec)
    co_return finish("send: " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);  // an answer is a status; its body is not read further
  if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, nothrow); ec) {
    // A long body does not matter: the status is the answer.
    if (ec != http::error::body_limit || !parser.is_header_done())
      co_return finish("answer: " + ec.message());
  }
  a.status = parser.get().result_int();
  co_await stream.async_shutdown(nothrow);  // best effort
  co_return finish(a.status / 100 == 2 ? "" : "answered " + std::to_string(a.status));
}

}  // namespace

awaitable<void> ViolationSharing::deliver(std::shared_ptr<Delivery> d) {
  const auto& s = d->subscriber;
  std::uint64_t cursor = subscribers_.cursor(s.id).value_or(0);
  std::uint64_t saved = cursor;
  {
    std::lock_guard lock(d->mutex);
    d->status.cursor = cursor;
  }
  unsigned failures = 0;
  std::minstd_rand jitter(std::random_device{}());
  const auto save = [&] {
    if (cursor == saved) return;
    std::string error;
    if (subscribers_.save_cursor(s.id, cursor, error))
      saved = cursor;
    else
      spdlog::error("event=share_cursor_not_saved subscriber={} error=\"{}\"", s.id, error);
    std::lock_guard lock(d->mutex);
    d->status.cursor = cursor;
  };
  spdlog::info("event=share_started subscriber={} url={} cursor={}", s.id, s.url, cursor);
  while (!d->stop) {
    const auto changes = subscribers_.changes_after(cursor, 100);
    {
      std::lock_guard lock(d->mutex);
      d->status.pending = changes.size() < 100 ? changes.size() : 100;
    }
    if (changes.empty()) {
      d->timer.expires_after(options_.poll);
      co_await d->timer.async_wait(nothrow);
      continue;
    }
    for (const auto& change : changes) {
      if (d->stop) break;
      if (!in_jurisdiction(s, change.violation)) {
        cursor = change.sequence;  // never sent outside the jurisdiction
        std::lock_guard lock(d->mutex);
        ++d->status.skipped;
        continue;
      }
      bool delivered = false;
      while (!d->stop && !delivered) {
        const auto attempt = co_await post_once(io_, *tls_, d->host, d->port, d->target, s, change,
                                                options_.timeout);
        if (audit_) audit_(attempt);
        delivered = attempt.error.empty();
        {
          std::lock_guard lock(d->mutex);
          d->status.last_attempt_unix_ms = attempt.unix_ms;
          if (delivered) {
            ++d->status.delivered;
            d->status.last_success_unix_ms = attempt.unix_ms;
          } else {
            ++d->status.attempts_failed;
            d->status.last_error = attempt.error;
          }
        }
        if (delivered) {
          failures = 0;
          break;
        }
        if (d->stop) break;  // stopping: no backoff wait armed after the stop's cancel
        // Until acknowledged: back off, doubling, with jitter, and try the same change again
        // (the ones after it wait: order per subscriber).
        spdlog::warn("event=share_failed subscriber={} id=\"{}\" version={} error=\"{}\"", s.id,
                     change.id, change.sequence, attempt.error);
        d->timer.expires_after(
            common::backoff_delay(options_.backoff_min, options_.backoff_max, failures++, jitter));
        co_await d->timer.async_wait(nothrow);
      }
      if (!delivered) break;
      cursor = change.sequence;
      save();
    }
    save();
    // A long run of changes outside the jurisdiction is never suspended above: let the other
    // subscribers (and a stop) have the thread between batches.
    co_await asio::post(io_, asio::use_awaitable);
  }
  save();
  spdlog::info("event=share_stopped subscriber={} cursor={}", s.id, cursor);
}

awaitable<void> ViolationSharing::prune_changes() {
  while (!stopping_) {
    prune_timer_->expires_after(options_.prune_every);
    co_await prune_timer_->async_wait(nothrow);
    if (stopping_) break;
    // The lowest saved cursor of the active subscribers: what is at or below it was delivered to
    // every one of them (or is outside their jurisdiction).
    std::lock_guard lock(prune_mutex_);
    // The newest record always stays: the numbering continues from it when the store reopens.
    const auto newest = store_.last_key(storage::Family::violation_changes);
    if (!newest || newest->size() != 8) continue;
    std::uint64_t through = storage::read_u64(*newest) - 1;
    for (const auto& s : subscribers_.list())
      if (!s.disabled) through = std::min(through, subscribers_.cursor(s.id).value_or(0));
    if (options_.other_reader_through) through = std::min(through, options_.other_reader_through());
    if (through == 0) continue;
    std::string error, from, to;
    storage::append_u64(from, 0);
    storage::append_u64(to, through + 1);
    if (!store_.delete_range(storage::Family::violation_changes, from, to, error))
      spdlog::warn("event=share_log_not_pruned error=\"{}\"", error);
  }
}

std::vector<SubscriberStatus> ViolationSharing::status() const {
  std::vector<SubscriberStatus> out;
  std::map<std::string, SubscriberStatus> running;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, d] : deliveries_) {
      std::lock_guard dl(d->mutex);
      running.emplace(id, d->status);
    }
  }
  for (auto& s : subscribers_.list()) {
    SubscriberStatus status;
    if (const auto it = running.find(s.id); it != running.end()) status = it->second;
    status.subscriber = s;
    status.subscriber.secret.clear();
    if (!running.count(s.id)) status.cursor = subscribers_.cursor(s.id).value_or(0);
    status.pending = subscribers_.count_after(status.cursor, 10000);
    out.push_back(std::move(status));
  }
  return out;
}

std::string ViolationSharing::render_metrics() const {
  std::ostringstream out;
  std::vector<std::pair<std::string, SubscriberStatus>> all;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, d] : deliveries_) {
      std::lock_guard dl(d->mutex);
      all.emplace_back(id, d->status);
    }
  }
  const auto family = [&](const char* name, const char* type, const char* help, auto value) {
    common::write_metric_head(out, name, type, help);
    for (const auto& [id, s] : all) out << name << "{subscriber=\"" << id << "\"} " << value(s) << '\n';
  };
  family("lantian_share_delivered_total", "counter", "Violation changes a subscriber acknowledged",
         [](const SubscriberStatus& s) { return s.delivered; });
  family("lantian_share_failed_attempts_total", "counter",
         "Deliveries that got no 2xx answer (each is tried again)",
         [](const SubscriberStatus& s) { return s.attempts_failed; });
  family("lantian_share_pending", "gauge",
         "Violation changes after the subscriber's cursor (at most 100 counted)",
         [](const SubscriberStatus& s) { return s.pending; });
  return out.str();
}

}  // namespace lantian::sharing
