#include "sim/terminal.hpp"

#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <iterator>
#include <random>

#include "protocol/framer.hpp"
#include "protocol/json.hpp"
#include "protocol/types.hpp"
#include "sim/terminal_frames.hpp"
#include "sim/vehicle_model.hpp"

namespace lantian::sim {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using protocol::Bytes;
using namespace asio::experimental::awaitable_operators;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

void AckLog::record(const std::string& vin, const std::string& digest) {
  if (fd_ < 0) return;
  buffer_ += vin;
  buffer_ += ' ';
  buffer_ += digest;
  buffer_ += '\n';
  if (buffer_.size() >= 64 * 1024) flush();
}

void AckLog::flush() {
  std::size_t done = 0;
  while (fd_ >= 0 && done < buffer_.size()) {
    const auto n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  buffer_.clear();
}

std::string report_digest(protocol::ByteView frame) {
  const auto unit = data_unit(frame);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(unit.data(), unit.size(), md, &size, EVP_sha256(), nullptr);
  return protocol::to_hex(protocol::ByteView(md, 8));
}

namespace {

constexpr std::size_t samples_per_batch = 10;
constexpr std::uint64_t obd_every_batches = 6;  // an OBD block about once a minute

// A frame written and not answered yet.
struct InFlight {
  std::int64_t sent_us = 0;
  std::uint8_t command = 0;
  Bytes frame;  // reports only: re-sent as 0x03 if the connection breaks first
};

bool is_report(std::uint8_t command) {
  return command == protocol::command::realtime || command == protocol::command::resend;
}

void fetch_max(std::atomic<std::uint64_t>& a, std::uint64_t v) {
  auto seen = a.load();
  while (v > seen && !a.compare_exchange_weak(seen, v)) {
  }
}

class Terminal {
 public:
  Terminal(const VehicleSpec& spec, const LoadOptions& options, asio::ssl::context* tls,
           LoadCounters& counters, AckLog& acks, Expectations& expectations,
           asio::any_io_executor executor)
      : spec_(spec),
        options_(options),
        tls_(tls),
        counters_(counters),
        acks_(acks),
        expectations_(expectations),
        executor_(executor),
        wake_(executor),
        watchdog_(executor),
        model_(spec, options.start_unix_s),
        frames_(spec),
        rng_(spec.seed ^ 0xA5A5A5A5ULL) {
    replies_ = spec.profile == protocol::Profile::hj1239 || options.gb17691_replies;
    const double frames_per_batch = spec.profile == protocol::Profile::hj1239 ? 1 : 10;
    if (options.rate > 0)
      interval_us_ = static_cast<std::int64_t>(
          1e6 * static_cast<double>(options.terminals_total) * frames_per_batch / options.rate);
    else if (options.window == 0 || !replies_)
      interval_us_ = 10'000'000;  // real time (a terminal nobody answers cannot use a window)
    else
      refill_at_ = options.window / 2;
    // Spread the first sends over one interval so terminals do not move in step.
    next_due_us_ = options.run_start_us +
                   (interval_us_ > 0 ? static_cast<std::int64_t>(rng_() % interval_us_) : 0);
    end_us_ = options.run_start_us + static_cast<std::int64_t>(options.duration.count() * 1e6);
    storm_us_ = options.storm_at_s >= 0 && spec.index >= options.storm_steady
                    ? options.run_start_us + static_cast<std::int64_t>(options.storm_at_s * 1e6)
                    : -1;
  }
  ~Terminal() {
    if (session_) SSL_SESSION_free(session_);
  }

  asio::awaitable<void> run() {
    std::int64_t backoff_ms = 500;
    while (!finished()) {
      const bool ok = options_.tls ? co_await connect_tls() : co_await connect_tcp();
      if (finished()) break;
      if (ok) {
        backoff_ms = 500;
        continue;  // the storm: straight back
      }
      counters_.connection_errors.fetch_add(1, std::memory_order_relaxed);
      ++server_choice_;  // the next server, if there are several
      if (was_established_) backoff_ms = 500;  // it worked until now: start the backoff again
      // Back off (randomised, doubling to 30 s) — but not past the end of the run.
      const auto wait = std::uniform_int_distribution<std::int64_t>(backoff_ms / 2, backoff_ms)(rng_);
      backoff_ms = std::min<std::int64_t>(backoff_ms * 2, 30'000);
      if (steady_us() + wait * 1000 >= end_us_ + 5'000'000 || counters_.stop.load()) break;
      co_await sleep_until(steady_us() + wait * 1000);
    }
    counters_.frames_unanswered.fetch_add(unanswered_.size(), std::memory_order_relaxed);
    counters_.frames_unsent.fetch_add(backlog_.size(), std::memory_order_relaxed);
    counters_.terminals_done.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  [[nodiscard]] bool finished() const {
    return counters_.stop.load(std::memory_order_relaxed) || steady_us() >= end_us_;
  }

  asio::awaitable<void> sleep_until(std::int64_t us) {
    wake_.expires_after(std::chrono::microseconds(std::max<std::int64_t>(0, us - steady_us())));
    error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  // Opens the TCP connection (bound to this terminal's source address), closing it on timeout.
  asio::awaitable<bool> open(tcp::socket& socket) {
    error_code ec;
    socket.open(tcp::v4(), ec);
    if (ec) co_return false;
    if (!options_.source_addresses.empty()) {
      // Let connect() pick the port per destination, so one source address serves more than the
      // ephemeral range's worth of terminals.
      const int one = 1;
      ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      const auto& address =
          options_.source_addresses[spec_.index % options_.source_addresses.size()];
      socket.bind({asio::ip::make_address(address, ec), 0}, ec);
      if (ec) co_return false;
    }
    const auto servers = 1 + options_.more_servers.size();
    const auto choice = (spec_.index + server_choice_) % servers;
    const auto& host = choice == 0 ? options_.host : options_.more_servers[choice - 1].first;
    const auto port = choice == 0 ? options_.port : options_.more_servers[choice - 1].second;
    const tcp::endpoint server(asio::ip::make_address(host, ec), port);
    if (ec) co_return false;
    asio::steady_timer deadline(executor_, options_.connect_timeout);
    const auto r = co_await (socket.async_connect(server, nothrow) || deadline.async_wait(nothrow));
    if (r.index() == 1 || std::get<0>(std::get<0>(r))) co_return false;
    socket.set_option(tcp::no_delay(true), ec);
    co_return true;
  }

  asio::awaitable<bool> connect_tcp() {
    tcp::socket socket(executor_);
    if (!co_await open(socket)) co_return false;
    co_return co_await session(socket, socket);
  }

  asio::awaitable<bool> connect_tls() {
    asio::ssl::stream<tcp::socket> stream(executor_, *tls_);
    if (!co_await open(stream.next_layer())) co_return false;
    SSL* ssl = stream.native_handle();
    if (session_ && options_.tls_resume) SSL_set_session(ssl, session_);
    asio::steady_timer deadline(executor_, options_.connect_timeout);
    const auto r = co_await (stream.async_handshake(asio::ssl::stream_base::client, nothrow) ||
                             deadline.async_wait(nothrow));
    if (r.index() == 1 || std::get<0>(std::get<0>(r))) co_return false;
    if (SSL_session_reused(ssl)) counters_.handshakes_resumed.fetch_add(1);
    const bool ok = co_await session(stream, stream.next_layer());
    // Keep the newest session (its ticket arrived after the handshake) for the next connection —
    // a copy: OpenSSL marks the connection's own session not resumable when the connection is
    // freed without a close_notify, which is how terminals (and a storm) drop connections.
    if (const SSL_SESSION* s = SSL_get_session(ssl); s && SSL_SESSION_is_resumable(s)) {
      if (session_) SSL_SESSION_free(session_);
      session_ = SSL_SESSION_dup(s);
    }
    co_return ok;
  }

  // Reads replies until the connection ends, matching each to the oldest unanswered request.
  template <class Stream>
  asio::awaitable<void> read_replies(Stream& stream) {
    protocol::Framer framer;
    error_code ec;
    for (;;) {
      auto event = framer.next();
      while (event.kind != protocol::FramerEvent::Kind::need_more) {
        if (event.kind == protocol::FramerEvent::Kind::frame) on_reply(event.frame);
        event = framer.next();
      }
      const auto region = framer.prepare();
      const std::size_t n = co_await stream.async_read_some(
          asio::buffer(region.data(), region.size()), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      framer.commit(n);
    }
    reading_ = false;
    wake_.cancel();
  }

  void on_reply(protocol::ByteView reply) {
    if (reply.size() < 3) return;
    const std::uint8_t command = reply[2];
    // Without replies to reports only time syncs (and nothing else) are waited for (when answered).
    auto it = inflight_.begin();
    if (!replies_)
      while (it != inflight_.end() && it->command != command) ++it;
    if (it == inflight_.end()) return;
    const auto now = steady_us();
    const bool report = is_report(it->command);
    if (report) {
      const auto latency = std::chrono::microseconds(now - it->sent_us);
      counters_.latency.record(latency);
      const auto storm = counters_.storm_started_us.load(std::memory_order_relaxed);
      if (storm != 0 && now >= storm && spec_.index < options_.storm_steady &&
          counters_.storm_back.load() < counters_.storm_dropped.load())
        counters_.storm_latency.record(latency);
      counters_.frames_acked.fetch_add(1, std::memory_order_relaxed);
      if (acks_.enabled()) acks_.record(spec_.vin, report_digest(it->frame));
    } else if (it->command == protocol::command::login) {
      logged_in_ = true;
    }
    inflight_.erase(it);
    if (report) --reports_in_flight_;
    // Wake the sender only when it has something to do: a refill (window mode), the last answer
    // (the end of the run), or an answer to login, time sync or logout.
    if (!report || reports_in_flight_ <= refill_at_) wake_.cancel();
  }

  [[nodiscard]] std::size_t reports_in_flight() const { return reports_in_flight_; }

  void forget_in_flight() {
    inflight_.clear();
    reports_in_flight_ = 0;
  }

  // Writes `frames` in one write; reports (and, with replies, every request) are then waited for.
  template <class Stream>
  asio::awaitable<bool> send(Stream& stream, std::vector<Bytes> frames) {
    Bytes out;
    const auto now = steady_us();
    for (auto& f : frames) {
      if (options_.malformed_probability > 0 &&
          std::bernoulli_distribution(options_.malformed_probability)(rng_)) {
        const Bytes bad = TerminalFrames::corrupted(f);
        out.insert(out.end(), bad.begin(), bad.end());
        counters_.malformed_sent.fetch_add(1, std::memory_order_relaxed);
      }
      out.insert(out.end(), f.begin(), f.end());
      const std::uint8_t command = f[2];
      if (is_report(command)) {
        counters_.frames_sent.fetch_add(1, std::memory_order_relaxed);
        if (command == protocol::command::resend)
          counters_.resends_sent.fetch_add(1, std::memory_order_relaxed);
      }
      if (replies_ || command == protocol::command::time_sync) {
        reports_in_flight_ += is_report(command);
        inflight_.push_back({now, command, is_report(command) ? std::move(f) : Bytes{}});
      }
    }
    // The write watchdog closes the connection if this write outlasts the reply timeout.
    write_started_us_ = now;
    const auto [ec, written] = co_await asio::async_write(stream, asio::buffer(out), nothrow);
    write_started_us_ = -1;
    if (ec) co_return false;
    counters_.bytes_sent.fetch_add(written, std::memory_order_relaxed);
    co_return true;
  }

  // Closes `socket` when a write has waited longer than the reply timeout (a server that stops
  // reading must not hold the terminal past the end of the run). One timer per connection, ticking
  // once a second, instead of a deadline raced against every write.
  asio::awaitable<void> watch_writes(tcp::socket& socket) {
    const auto limit_us = options_.reply_timeout.count() * 1'000'000;
    while (watching_) {
      watchdog_.expires_after(std::chrono::seconds(1));
      error_code ec;
      co_await watchdog_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!watching_) break;
      if (write_started_us_ >= 0 && steady_us() - write_started_us_ > limit_us) socket.close(ec);
    }
    watchdog_running_ = false;
    wake_.cancel();
  }

  // Waits until `done()` or the oldest request is older than the reply timeout or the connection
  // broke or `until_us` passed. False when the connection is not usable any more.
  template <class Done>
  asio::awaitable<bool> wait_for(Done done, std::int64_t until_us) {
    while (!done() && reading_ && steady_us() < until_us) {
      if (!inflight_.empty() &&
          steady_us() - inflight_.front().sent_us > options_.reply_timeout.count() * 1'000'000)
        co_return false;
      std::int64_t wake = until_us;
      if (!inflight_.empty())
        wake = std::min(wake, inflight_.front().sent_us + options_.reply_timeout.count() * 1'000'000);
      co_await sleep_until(wake);
    }
    co_return reading_;
  }

  // The next 10 s of samples, as report frames; during a coverage gap they are kept instead.
  std::vector<Bytes> next_batch() {
    std::vector<SimSample> samples;
    samples.reserve(samples_per_batch);
    for (std::size_t i = 0; i < samples_per_batch; ++i) {
      samples.push_back(model_.next());
      expectations_.observe(samples.back());
      if (samples.back().smoke_k_m1) ++smoke_samples_;
    }
    counters_.samples_sent.fetch_add(samples_per_batch, std::memory_order_relaxed);
    std::vector<Bytes> frames;
    frames_.reports(samples, protocol::command::realtime, batch_++ % obd_every_batches == 0, frames);
    if (gap_left_ == 0 && !is_machine(spec_.role) && options_.gap_probability > 0 &&
        std::bernoulli_distribution(options_.gap_probability)(rng_))
      gap_left_ = std::uniform_int_distribution<int>(6, 30)(rng_);  // 1–5 minutes
    if (gap_left_ > 0) {
      --gap_left_;
      for (auto& f : frames) backlog_.push_back(std::move(f));
      return {};
    }
    // Back in coverage: what was kept goes first, as resends.
    std::vector<Bytes> out;
    for (auto& f : backlog_) out.push_back(TerminalFrames::as_resend(std::move(f)));
    backlog_.clear();
    for (auto& f : frames) out.push_back(std::move(f));
    return out;
  }

  // One connection: login, time sync, reports until the end, a storm or an error; logout at the
  // end. True when it ended for a reason other than a failure to connect or log in.
  template <class Stream>
  asio::awaitable<bool> session(Stream& stream, tcp::socket& socket) {
    reading_ = true;
    logged_in_ = false;
    forget_in_flight();
    asio::co_spawn(executor_, read_replies(stream), asio::detached);
    watching_ = watchdog_running_ = true;
    asio::co_spawn(executor_, watch_writes(socket), asio::detached);
    const bool storm_return = storm_pending_;
    std::vector<Bytes> hello;  // (built apart: GCC 12 miscompiles a braced list in co_await)
    hello.push_back(frames_.login(model_clock()));
    if (spec_.profile != protocol::Profile::nonroad)  // non-road has no time sync (0x05 is an alarm)
      hello.push_back(frames_.time_sync_request());
    bool ok = co_await send(stream, std::move(hello));
    const auto login_deadline = steady_us() + options_.reply_timeout.count() * 1'000'000;
    if (ok && replies_)
      ok = co_await wait_for([&] { return logged_in_; }, login_deadline) && logged_in_;
    bool established = ok;
    if (ok) {
      counters_.connects.fetch_add(1, std::memory_order_relaxed);
      counters_.terminals_online.fetch_add(1, std::memory_order_relaxed);
      if (connected_before_) counters_.reconnects.fetch_add(1, std::memory_order_relaxed);
      connected_before_ = true;
      if (storm_return) {
        storm_pending_ = false;
        counters_.storm_back.fetch_add(1);
        fetch_max(counters_.storm_last_back_us,
                  static_cast<std::uint64_t>(steady_us() - counters_.storm_started_us.load()));
      }
      // Unanswered reports of the last connection go first, as resends.
      counters_.frames_retried.fetch_add(unanswered_.size(), std::memory_order_relaxed);
      backlog_.insert(backlog_.begin(), std::make_move_iterator(unanswered_.begin()),
                      std::make_move_iterator(unanswered_.end()));
      unanswered_.clear();
      ok = co_await report_loop(stream);
      counters_.terminals_online.fetch_sub(1, std::memory_order_relaxed);
    }
    if (ok && finished()) {
      // The end of the run: what is still kept, then wait for the answers, then log out.
      std::vector<Bytes> rest;
      for (auto& f : backlog_) rest.push_back(TerminalFrames::as_resend(std::move(f)));
      backlog_.clear();
      if (!rest.empty()) ok = co_await send(stream, std::move(rest));
      const auto deadline = steady_us() + options_.reply_timeout.count() * 1'000'000;
      if (ok) ok = co_await wait_for([&] { return reports_in_flight() == 0; }, deadline);
      std::vector<Bytes> bye;
      bye.push_back(frames_.logout(model_clock()));
      if (ok) ok = co_await send(stream, std::move(bye));
      if (ok) co_await wait_for([&] { return inflight_.empty(); }, deadline);
    }
    for (auto& f : inflight_)
      if (is_report(f.command)) unanswered_.push_back(std::move(f.frame));
    forget_in_flight();
    error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    watching_ = false;
    watchdog_.cancel();
    // Both helpers refer to the socket: it outlives them.
    while (reading_ || watchdog_running_) co_await sleep_until(steady_us() + 1000);
    was_established_ = established;
    co_return established && ok;
  }

  template <class Stream>
  asio::awaitable<bool> report_loop(Stream& stream) {
    for (;;) {
      if (finished()) co_return true;
      if (storm_us_ >= 0 && !storm_pending_ && !stormed_ && steady_us() >= storm_us_) {
        // The storm: drop the connection and come straight back.
        stormed_ = true;
        storm_pending_ = true;
        std::int64_t expected = 0;
        counters_.storm_started_us.compare_exchange_strong(expected, storm_us_);
        counters_.storm_dropped.fetch_add(1);
        co_return true;
      }
      // Pacing.
      std::int64_t until = end_us_;
      if (storm_us_ >= 0 && !stormed_) until = std::min(until, storm_us_);
      if (interval_us_ > 0) {
        if (!co_await wait_for([&] { return steady_us() >= next_due_us_; },
                               std::min(until, next_due_us_)))
          co_return false;
        if (steady_us() < next_due_us_) continue;
        next_due_us_ += interval_us_;
      } else {
        // Refill once half the window is answered, with one write: a write per answer would cost
        // the load generator (and the server) a system call per report.
        if (!co_await wait_for([&] { return reports_in_flight() <= refill_at_; }, until))
          co_return false;
        if (reports_in_flight() > refill_at_) continue;
      }
      auto frames = next_batch();
      if (interval_us_ == 0)
        for (std::size_t i = 1; i < options_.window && reports_in_flight() + frames.size() <
                                                           options_.window; ++i) {
          auto more = next_batch();
          frames.insert(frames.end(), std::make_move_iterator(more.begin()),
                        std::make_move_iterator(more.end()));
        }
      if (frames.empty()) continue;
      if (!co_await send(stream, std::move(frames))) co_return false;
    }
  }

  // The terminal's clock: the collection time of its next sample.
  [[nodiscard]] std::int64_t model_clock() const {
    return options_.start_unix_s + static_cast<std::int64_t>(batch_ * samples_per_batch);
  }

  const VehicleSpec& spec_;
  const LoadOptions& options_;
  asio::ssl::context* tls_;
  LoadCounters& counters_;
  AckLog& acks_;
  Expectations& expectations_;
  asio::any_io_executor executor_;
  asio::steady_timer wake_;
  asio::steady_timer watchdog_;
  VehicleModel model_;
  TerminalFrames frames_;
  std::mt19937_64 rng_;
  SSL_SESSION* session_ = nullptr;

  std::int64_t interval_us_ = 0, next_due_us_ = 0, end_us_ = 0, storm_us_ = -1;
  std::uint64_t batch_ = 0, smoke_samples_ = 0;
  int gap_left_ = 0;
  bool replies_ = true;           // the server answers this terminal's reports
  bool was_established_ = false;  // the last connection got as far as its login's answer
  std::size_t server_choice_ = 0;  // added to the terminal's index to pick its server
  bool reading_ = false, logged_in_ = false, connected_before_ = false;
  bool stormed_ = false, storm_pending_ = false;
  std::deque<InFlight> inflight_;
  std::size_t reports_in_flight_ = 0;  // the reports among inflight_
  // Window mode: refill when no more than this many reports are unanswered.
  std::size_t refill_at_ = 0;
  std::int64_t write_started_us_ = -1;  // steady_us() when the pending write began; -1: none
  bool watching_ = false, watchdog_running_ = false;
  std::vector<Bytes> backlog_;     // kept during a coverage gap (real-time frames)
  std::vector<Bytes> unanswered_;  // written but not answered when the connection broke
};

}  // namespace

asio::awaitable<void> run_terminal(const VehicleSpec& spec, const LoadOptions& options,
                                   asio::ssl::context* tls, LoadCounters& counters, AckLog& acks,
                                   Expectations& expectations) {
  Terminal terminal(spec, options, tls, counters, acks, expectations,
                    co_await asio::this_coro::executor);
  co_await terminal.run();
}

}  // namespace lantian::sim
