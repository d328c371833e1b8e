#include "forwarding/upstream_link.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/backoff.hpp"
#include "common/tls_client.hpp"
#include "protocol/framer.hpp"
#include "protocol/platform_link.hpp"

namespace lantian::forwarding {
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr auto save_every = 200ms;
constexpr auto idle_poll = 20ms;               // the log is looked at this often when caught up
constexpr std::size_t lag_scan_per_tick = 200000;  // records counted per second at most

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
protocol::BeijingTime platform_time() {
  return protocol::BeijingTime::from_unix_seconds(now_unix_ms() / 1000);
}
std::string hex_byte(std::uint8_t b) {
  static const char digits[] = "0123456789abcdef";
  return std::string("0x") + digits[b >> 4] + digits[b & 15];
}
}  // namespace

UpstreamLink::UpstreamLink(asio::io_context& io, UpstreamConfig config, storage::Store& store,
                           ForwardStore& log)
    : io_(io),
      config_(std::move(config)),
      store_(store),
      log_(log),
      wake_(io),
      pause_(io),
      lag_tick_(io),
      jitter_(std::random_device{}()) {}

UpstreamLink::~UpstreamLink() = default;

bool UpstreamLink::prepare(std::string& problem) {
  if (config_.tls) {
    try {
      tls_ = common::make_tls_client_context(config_.ca, config_.client_cert, config_.client_key);
    } catch (const boost::system::system_error& e) {
      problem = "upstream " + config_.name + ": TLS: " + e.what();
      return false;
    }
  }
  if (const auto cursor = log_.cursor(config_.name)) {
    resolved_through_ = *cursor;
  } else {
    // A new upstream starts at the present: what the log holds is other upstreams' backlog.
    const auto stable = store_.stable_sequence();
    resolved_through_ = stable == 0 ? 0 : stable - 1;
    std::string error;
    if (!log_.save(config_.name, resolved_through_, {}, /*synced=*/true, error)) {
      problem = "upstream " + config_.name + ": cannot save its cursor: " + error;
      return false;
    }
  }
  saved_through_ = read_through_ = counted_through_ = resolved_through_;
  counters_.cursor = resolved_through_;
  return true;
}

void UpstreamLink::start() {
  asio::co_spawn(io_, run(), asio::detached);
  asio::co_spawn(io_, measure_lag(), asio::detached);
}

void UpstreamLink::stop() {
  stopping_ = true;
  asio::post(io_, [this] {
    wake_.cancel();
    pause_.cancel();
    lag_tick_.cancel();
    if (close_socket_ && !counters_.connected) close_socket_();  // connecting: give up
  });
}

std::chrono::milliseconds UpstreamLink::next_backoff() {
  return common::backoff_delay(config_.backoff_min, config_.backoff_max, failures_, jitter_);
}

awaitable<void> UpstreamLink::run() {
  bool first = true;
  while (!stopping_) {
    if (!first) ++counters_.reconnects;
    first = false;
    const auto acknowledged_before = counters_.acknowledged + counters_.duplicates +
                                     counters_.rejected;
    std::string ended;
    tcp::socket socket(io_);
    close_socket_ = [&socket] {
      boost::system::error_code ec;
      socket.close(ec);
    };
    tcp::resolver resolver(io_);
    auto [resolve_error, endpoints] =
        co_await resolver.async_resolve(config_.host, std::to_string(config_.port), nothrow);
    if (stopping_) {
      ended = "stopped";
    } else if (resolve_error) {
      ended = "resolve: " + resolve_error.message();
    } else {
      asio::steady_timer deadline(io_, config_.reply_timeout);
      auto connected = co_await (asio::async_connect(socket, endpoints, nothrow) ||
                                 deadline.async_wait(nothrow));
      if (connected.index() == 1) {
        ended = "connect timed out";
      } else if (const auto ec = std::get<0>(std::get<0>(connected)); ec) {
        ended = "connect: " + ec.message();
      } else {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        if (tls_) {
          ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
          close_socket_ = [&stream] {
            boost::system::error_code closed;
            stream.lowest_layer().close(closed);
          };
          SSL_set_tlsext_host_name(stream.native_handle(), config_.server_name.c_str());
          stream.set_verify_callback(ssl::host_name_verification(config_.server_name));
          deadline.expires_after(config_.reply_timeout);
          auto shaken = co_await (stream.async_handshake(ssl::stream_base::client, nothrow) ||
                                  deadline.async_wait(nothrow));
          if (shaken.index() == 1)
            ended = "TLS handshake timed out";
          else if (const auto failed = std::get<0>(std::get<0>(shaken)); failed)
            ended = "TLS handshake: " + failed.message();
          else
            ended = co_await converse(stream);
          close_socket_();
          close_socket_ = nullptr;  // it refers to the stream, which ends here
        } else {
          ended = co_await converse(socket);
        }
      }
    }
    if (close_socket_) close_socket_();
    close_socket_ = nullptr;
    counters_.connected = false;
    reset_in_flight();
    save_cursor(true);
    if (stopping_) break;
    const bool progressed = counters_.acknowledged + counters_.duplicates + counters_.rejected >
                            acknowledged_before;
    failures_ = progressed ? 0 : failures_ + 1;
    const auto delay = next_backoff();
    spdlog::warn("event=upstream_disconnected upstream={} reason=\"{}\" retry_in_ms={}",
                 config_.name, ended, delay.count());
    pause_.expires_after(delay);
    co_await pause_.async_wait(nothrow);
  }
  spdlog::info("event=upstream_stopped upstream={} cursor={}", config_.name, saved_through_);
}

template <class Stream>
awaitable<std::string> UpstreamLink::converse(Stream& stream) {
  login_serial_ = static_cast<std::uint16_t>(login_serial_ % 65531 + 1);
  const auto login = protocol::make_platform_login(
      protocol::make_vin(config_.platform_code),
      {platform_time(), login_serial_, config_.user, config_.password, 0x01}, config_.codes.login);
  asio::steady_timer deadline(io_, config_.reply_timeout);
  auto wrote = co_await (asio::async_write(stream, asio::buffer(login), nothrow) ||
                         deadline.async_wait(nothrow));
  if (wrote.index() == 1 || std::get<0>(std::get<0>(wrote))) co_return "login could not be sent";
  protocol::Framer framer;
  for (;;) {
    const auto event = framer.next();
    if (event.kind == protocol::FramerEvent::Kind::frame) {
      const auto reply = event.frame;
      if (reply[2] != config_.codes.login) co_return "answer to the login is not a login answer";
      if (reply[3] != protocol::ack_flag::success) {
        ++counters_.logins_refused;
        failures_ = std::max(failures_, 8u);  // wrong credentials do not fix themselves quickly
        spdlog::error("event=upstream_login_refused upstream={} user={} ack={}", config_.name,
                      config_.user, hex_byte(reply[3]));
        co_return "login refused (" + hex_byte(reply[3]) + ")";
      }
      break;
    }
    if (event.kind != protocol::FramerEvent::Kind::need_more) co_return "not a frame";
    auto buffer = framer.prepare();
    auto got = co_await (stream.async_read_some(asio::buffer(buffer.data(), buffer.size()), nothrow) ||
                         deadline.async_wait(nothrow));
    if (got.index() == 1) co_return "no answer to the login";
    const auto [ec, n] = std::get<0>(got);
    if (ec) co_return "login: " + ec.message();
    framer.commit(n);
  }
  counters_.connected = true;
  spdlog::info("event=upstream_connected upstream={} host={} port={} tls={} cursor={}",
               config_.name, config_.host, config_.port, tls_ != nullptr, resolved_through_);
  auto ended = co_await (send_reports(stream) || read_answers(stream, framer));
  co_return ended.index() == 0 ? std::get<0>(ended) : std::get<1>(ended);
}

template <class Stream>
awaitable<std::string> UpstreamLink::send_reports(Stream& stream) {
  for (;;) {
    if (stopping_) {
      save_cursor(true);
      const auto logout = protocol::make_platform_logout(
          protocol::make_vin(config_.platform_code), platform_time(), login_serial_,
          config_.codes.logout);
      asio::steady_timer deadline(io_, 2s);
      co_await (asio::async_write(stream, asio::buffer(logout), nothrow) ||
                deadline.async_wait(nothrow));
      co_return "stopped (logged out)";
    }
    protocol::Bytes out;
    std::size_t taken = 0;
    if (in_flight_.size() < config_.window && store_.available()) taken = fill(out);
    if (out.empty() && taken > 0) {
      // All filtered out: read on without the idle pause, yielding to the answers in between.
      co_await asio::post(io_, asio::use_awaitable);
      continue;
    }
    if (!out.empty()) {
      asio::steady_timer deadline(io_, config_.reply_timeout);
      auto wrote = co_await (asio::async_write(stream, asio::buffer(out), nothrow) ||
                             deadline.async_wait(nothrow));
      if (wrote.index() == 1) co_return "write timed out";
      if (const auto ec = std::get<0>(std::get<0>(wrote)); ec) co_return "write: " + ec.message();
      continue;
    }
    save_cursor(false);
    wake_.expires_after(idle_poll);
    co_await wake_.async_wait(nothrow);
  }
}

template <class Stream>
awaitable<std::string> UpstreamLink::read_answers(Stream& stream, protocol::Framer& framer) {
  for (;;) {
    for (;;) {
      const auto event = framer.next();
      if (event.kind == protocol::FramerEvent::Kind::need_more) break;
      if (event.kind != protocol::FramerEvent::Kind::frame) co_return "bytes that are not frames";
      if (auto problem = take_answer(event.frame); !problem.empty()) co_return problem;
    }
    wake_.cancel();  // room in the window
    save_cursor(false);
    auto buffer = framer.prepare();
    asio::steady_timer tick(io_, 1s);
    auto got = co_await (stream.async_read_some(asio::buffer(buffer.data(), buffer.size()), nothrow) ||
                         tick.async_wait(nothrow));
    if (got.index() == 1) {
      if (!in_flight_.empty() &&
          std::chrono::steady_clock::now() - in_flight_.front().sent_at > config_.reply_timeout)
        co_return "no answer within " + std::to_string(config_.reply_timeout.count()) + " s";
      continue;
    }
    const auto [ec, n] = std::get<0>(got);
    if (ec)
      co_return ec == asio::error::eof || ec == ssl::error::stream_truncated
          ? std::string("closed by the upstream")
          : "read: " + ec.message();
    framer.commit(n);
  }
}

std::string UpstreamLink::take_answer(protocol::ByteView reply) {
  if (in_flight_.empty()) return "an answer to nothing in flight";
  const InFlight& oldest = in_flight_.front();
  // Platform variant: the VIN follows the ack flag.
  const bool same_report = reply[2] == oldest.command &&
                           std::equal(oldest.vin.begin(), oldest.vin.end(), reply.begin() + 4);
  if (!same_report) return "an answer out of order (not to the oldest report in flight)";
  switch (reply[3]) {
    case protocol::ack_flag::success:
      ++counters_.acknowledged;
      break;
    case protocol::ack_flag::vin_duplicate:
      ++counters_.duplicates;
      break;
    case protocol::ack_flag::error: {
      ++counters_.rejected;
      const std::string vin(protocol::as_text(oldest.vin));
      spdlog::warn("event=upstream_rejected upstream={} vin={} sequence={} action=set_aside",
                   config_.name, vin, oldest.sequence);
      set_aside_.push_back({oldest.sequence, oldest.frame_key, vin,
                            "upstream answered error (0x02)", now_unix_ms()});
      break;
    }
    default:
      return "an answer with ack flag " + hex_byte(reply[3]);
  }
  resolved_through_ = oldest.resolves_through;
  read_unresolved_ -= oldest.resolves;
  in_flight_.pop_front();
  return {};
}

std::size_t UpstreamLink::fill(protocol::Bytes& out) {
  const auto entries =
      log_.read(read_through_, store_.stable_sequence(), config_.window - in_flight_.size());
  const auto now = std::chrono::steady_clock::now();
  std::size_t taken = 0;
  for (const auto& entry : entries) {
    const bool wanted_vin =
        config_.vins.empty() || config_.vins.count(entry.frame_key.substr(0, storage::vin_size)) > 0;
    bool read_failed = false;
    const auto record =
        wanted_vin ? store_.frame(entry.frame_key, read_failed) : std::optional<storage::FrameRecord>{};
    if (read_failed) {
      // Not this report's fault: it stays next, and is read again on the next round.
      spdlog::error("event=upstream_frame_unreadable upstream={} sequence={}", config_.name,
                    entry.sequence);
      break;
    }
    ++taken;
    read_through_ = entry.sequence;
    ++read_unresolved_;
    if (entry.sequence <= counted_through_ && ahead_ > 0) --ahead_;
    const bool wanted =
        record && (config_.profiles.empty() ||
                   (record->received.profile &&
                    std::find(config_.profiles.begin(), config_.profiles.end(),
                              *record->received.profile) != config_.profiles.end()));
    auto frame = wanted ? protocol::to_platform_variant(record->raw) : protocol::Bytes{};
    if (frame.empty()) {
      ++counters_.skipped;
      resolve_skipped(entry.sequence);
      continue;
    }
    InFlight f;
    f.sequence = f.resolves_through = entry.sequence;
    f.frame_key = entry.frame_key;
    std::copy_n(frame.begin() + 4, f.vin.size(), f.vin.begin());
    f.command = frame[2];
    f.receive_unix_ms = record->received.receive_unix_ms;
    f.sent_at = now;
    out.insert(out.end(), frame.begin(), frame.end());
    in_flight_.push_back(std::move(f));
    ++counters_.sent;
  }
  if (read_through_ > counted_through_) {
    counted_through_ = read_through_;
    ahead_ = 0;
  }
  return taken;
}

void UpstreamLink::resolve_skipped(std::uint64_t sequence) {
  if (in_flight_.empty()) {
    resolved_through_ = sequence;
    --read_unresolved_;
  } else {
    // Resolved when the report before it is answered: the cursor never passes an unanswered one.
    in_flight_.back().resolves_through = sequence;
    ++in_flight_.back().resolves;
  }
}

void UpstreamLink::reset_in_flight() {
  ahead_ += read_unresolved_;
  read_unresolved_ = 0;
  in_flight_.clear();
  read_through_ = resolved_through_;
}

void UpstreamLink::save_cursor(bool force) {
  if (resolved_through_ == saved_through_ && set_aside_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_save_ < save_every) return;
  last_save_ = now;
  std::string error;
  if (!log_.save(config_.name, resolved_through_, set_aside_, /*synced=*/false, error)) {
    spdlog::error("event=upstream_cursor_not_saved upstream={} error=\"{}\"", config_.name, error);
    return;  // tried again with the next answers; the cursor on disk only lags
  }
  saved_through_ = resolved_through_;
  set_aside_.clear();
  counters_.cursor = saved_through_;
}

awaitable<void> UpstreamLink::measure_lag() {
  auto& tick = lag_tick_;
  while (!stopping_) {
    const auto stable = store_.stable_sequence();
    // Count the records appended since the last look (bounded per tick: a long backlog is
    // counted over several seconds).
    std::size_t counted = 0;
    while (counted < lag_scan_per_tick) {
      const auto entries = log_.read(counted_through_, stable, 10000);
      if (entries.empty()) break;
      counted += entries.size();
      ahead_ += entries.size();
      counted_through_ = entries.back().sequence;
    }
    counters_.lag_reports = read_unresolved_ + ahead_;
    std::int64_t oldest_ms = 0;
    if (!in_flight_.empty()) {
      oldest_ms = in_flight_.front().receive_unix_ms;
    } else if (ahead_ > 0) {
      if (const auto first = log_.read(resolved_through_, stable, 1); !first.empty())
        if (const auto record = store_.frame(first.front().frame_key))
          oldest_ms = record->received.receive_unix_ms;
    }
    counters_.lag_ms = oldest_ms == 0 ? 0 : std::max<std::int64_t>(0, now_unix_ms() - oldest_ms);
    tick.expires_after(1s);
    co_await tick.async_wait(nothrow);
  }
}

}  // namespace lantian::forwarding
