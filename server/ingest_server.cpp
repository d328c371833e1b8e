#include "server/ingest_server.hpp"

#include <pthread.h>

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <variant>

#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/framer.hpp"
#include "protocol/json.hpp"
#include "server/clock.hpp"
#include "server/tls_context.hpp"
#include "server/terminal_conversation.hpp"
#include "server/tls_socket.hpp"

namespace lantian::server {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {
std::string vin_text(const protocol::Vin& vin) {
  return std::string(protocol::as_text(vin));
}
}  // namespace

// One terminal connection: the transport (TCP or TLS), deadlines, the storage hand-off and the
// replies around its TerminalConversation. Lives on its own strand; `run` is its whole life.
class Session : public std::enable_shared_from_this<Session>, private ConversationHost {
 public:
  Session(IngestServer& server, tcp::socket socket, const ListenerConfig& listener,
          std::shared_ptr<ssl::context> tls, std::uint64_t id, std::string peer)
      : server_(server),
        config_(server.config()),
        metrics_(server.metrics()),
        listener_(listener),
        id_(id),
        peer_(std::move(peer)),
        address_(peer_.substr(0, peer_.rfind(':'))),
        // Decided once: while many connections wait to log in, a new one has less time to do it.
        first_frame_timeout_(server.under_pending_pressure()
                                 ? config_.first_frame_timeout_under_pressure
                                 : config_.first_frame_timeout),
        executor_(socket.get_executor()),
        timer_(executor_),
        tls_context_(std::move(tls)) {
    if (tls_context_)
      stream_.emplace<TlsSocket>(std::move(socket), *tls_context_);
    else
      stream_.emplace<tcp::socket>(std::move(socket));
  }

  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
  [[nodiscard]] const std::string& peer() const noexcept { return peer_; }
  [[nodiscard]] const std::string& address() const noexcept { return address_; }
  // Proved itself: a verified client certificate naming its VIN, or a report verified with the
  // vehicle's key. A proven session is never displaced by a login that is not.
  [[nodiscard]] bool proven() const noexcept { return proven_.load(); }
  // Bytes of its unfinished frame counted in the server's tallies (read when it has ended).
  [[nodiscard]] std::size_t partial_held() const noexcept { return partial_held_; }
  // Counted among its address's logged-in connections (IngestServer's, under its mutex).
  bool counted_against_address = false;
  // The VIN this connection logged in as (empty before login); read when the session has ended.
  [[nodiscard]] const std::string& bound_vin() const noexcept { return bound_vin_; }

  // Asks the session to end after the frames it has read (from any thread). Replies to frames
  // already stored are still sent (within the write deadline).
  void stop(CloseReason reason) {
    asio::post(executor_, [self = shared_from_this(), reason] {
      if (self->stop_reason_ == CloseReason::none) self->stop_reason_ = reason;
      self->interrupt_read();
    });
    // A handshake in progress ends now too (its deadline timer lives on the handshake thread).
    if (tls_context_)
      asio::post(server_.handshake_executor(), [self = shared_from_this()] {
        if (self->handshake_timer_) self->handshake_timer_->cancel();
      });
  }

  awaitable<void> run() {
    auto self = shared_from_this();
    std::optional<std::string> certificate_cn;
    if (auto* tls = std::get_if<TlsSocket>(&stream_)) {
      // The handshake runs on the server's handshake thread, then the session comes back here.
      const auto handshakes = server_.handshake_executor();
      CloseReason failure = CloseReason::handshake_failed;
      if (tls->rebind(handshakes)) {
        failure = co_await asio::co_spawn(handshakes, handshake(*tls), asio::use_awaitable);
        if (!tls->rebind(executor_) && failure == CloseReason::none)
          failure = CloseReason::handshake_failed;
      }
      if (failure != CloseReason::none) {
        metrics_.tls_handshake_failures.inc();
        spdlog::debug("event=tls_handshake_failed conn={} peer={}", id_, peer_);
        finish(failure);
        boost::system::error_code ignored;
        tls->socket().close(ignored);
        server_.session_ended(*this);
        co_return;
      }
      certificate_cn = verified_peer_common_name(tls->native_handle());
    }
    conversation_.emplace(static_cast<ConversationHost&>(*this), config_, metrics_, listener_,
                          ConnectionInfo{id_, peer_, std::move(certificate_cn)});
    // The reason is counted before the socket closes, so a peer that sees the close sees the count.
    if (auto* tls = std::get_if<TlsSocket>(&stream_)) {
      finish(co_await serve(*tls));
      co_await close(*tls);
    } else if (auto* plain = std::get_if<tcp::socket>(&stream_)) {
      boost::system::error_code ignored;
      plain->non_blocking(true, ignored);  // reads and writes are attempted before waiting
      finish(co_await serve(*plain));
      co_await close(*plain);
    }
    // The watchdog's wait holds the session: end it now rather than at the next deadline.
    finished_ = true;
    timer_.cancel();
    server_.session_ended(*this);
  }

 private:
  using Received = TerminalConversation::Received;

  // ConversationHost
  std::optional<protocol::Profile> registered_profile(std::string_view vin) override {
    if (const auto catalogue = server_.catalogue())
      if (const auto* record = catalogue->registry->find(std::string(vin))) return record->profile;
    return std::nullopt;
  }
  std::optional<TerminalKey> terminal_key(std::string_view vin) override {
    return server_.terminal_keys().key_for(vin);
  }
  std::string_view sm2_user_id(const TerminalKey& key) override {
    return server_.terminal_keys().user_id_for(key);
  }
  ActivationVerdict activate(const protocol::ActivationBody& body, const protocol::Vin& header_vin,
                             protocol::ByteView signed_bytes, std::int64_t now_unix_ms) override {
    return server_.terminal_keys().activate(body, header_vin, signed_bytes, now_unix_ms);
  }
  CloseReason logged_in(const protocol::Vin& vin, bool proven) override {
    if (proven) proven_ = true;
    std::shared_ptr<Session> old;
    if (const auto refused = server_.bind_vin(vin, shared_from_this(), old);
        refused != CloseReason::none)
      return refused;
    bound_vin_ = vin_text(vin);
    if (old) {
      metrics_.vin_replaced.inc();
      spdlog::info("event=vin_replaced vin={} old_conn={} new_conn={}", vin_text(vin), old->id(),
                   id_);
      old->stop(CloseReason::replaced_by_new_login);
    }
    return CloseReason::none;
  }
  void identity_proven() override { proven_ = true; }

  // On the handshake thread: the TLS handshake within its deadline. CloseReason::none on success,
  // else the reason the connection closes.
  awaitable<CloseReason> handshake(TlsSocket& tls) {
    if (server_.stopping()) co_return CloseReason::server_stopping;
    asio::steady_timer deadline(co_await asio::this_coro::executor, config_.handshake_timeout);
    handshake_timer_ = &deadline;
    auto r = co_await (tls.handshake() || deadline.async_wait(nothrow));
    handshake_timer_ = nullptr;
    if (r.index() == 1) co_return CloseReason::handshake_timeout;
    co_return std::get<0>(r) ? CloseReason::handshake_failed : CloseReason::none;
  }

  // On a verifier thread (the session waits): the conversation's take_frames.
  awaitable<CloseReason> take_frames(std::vector<Received>& received,
                                     std::vector<storage::FrameWrite>& writes) {
    co_return conversation_->take_frames(received, writes);
  }

  // When the connection is closed for silence: the idle (or first-frame) deadline counts from the
  // last whole frame, so bytes that never make a frame do not keep a connection open; a frame that
  // has begun must also be complete within frame_timeout (a terminal dribbling bytes).
  std::pair<std::chrono::steady_clock::time_point, CloseReason> deadline() const {
    auto& c = *conversation_;
    auto at = c.last_frame_at() + (c.logged_in() ? config_.idle_timeout : first_frame_timeout_);
    auto reason = c.logged_in() ? CloseReason::idle_timeout : CloseReason::first_frame_timeout;
    if (partial_since_ && config_.frame_timeout.count() > 0 &&
        *partial_since_ + config_.frame_timeout < at) {
      at = *partial_since_ + config_.frame_timeout;
      reason = CloseReason::frame_timeout;
    }
    return {at, reason};
  }

  // The deadlines without a timer per read: one watchdog wait per session, armed at the earliest
  // deadline. Moving a deadline later costs nothing (the watchdog wakes, sees the later one and
  // waits again); moving it earlier re-arms it. When it passes while the session waits to read, the
  // wait is cancelled and the session closes with the deadline's reason.
  void watch(std::chrono::steady_clock::time_point at) {
    if (watch_armed_ && at >= watch_at_) return;
    watch_armed_ = true;
    watch_at_ = at;
    timer_.expires_at(at);  // a wait already pending ends as cancelled: its generation is stale
    timer_.async_wait([self = shared_from_this(), generation = ++watch_generation_](
                          const boost::system::error_code&) { self->on_watch(generation); });
  }
  void on_watch(std::uint64_t generation) {
    if (generation != watch_generation_) return;
    watch_armed_ = false;
    if (finished_) return;
    if (std::chrono::steady_clock::now() < deadline_at_) {
      watch(deadline_at_);
      return;
    }
    if (expired_ == CloseReason::none) expired_ = deadline_reason_;
    interrupt_read();
  }
  // Cancels the wait for data, if the session is in one (on the strand).
  void interrupt_read() {
    if (!waiting_to_read_) return;
    boost::system::error_code ignored;
    if (auto* tls = std::get_if<TlsSocket>(&stream_)) tls->socket().cancel(ignored);
    if (auto* plain = std::get_if<tcp::socket>(&stream_)) plain->cancel(ignored);
  }
  // Why the session ends now, if it does: a stop, or a passed deadline (else CloseReason::none).
  [[nodiscard]] CloseReason ending() const {
    return stop_reason_ == CloseReason::none ? expired_ : stop_reason_;
  }

  // Waits (cancellably, see interrupt_read) until the socket is readable or writable.
  awaitable<boost::system::error_code> wait_for(tcp::socket& socket, tcp::socket::wait_type what) {
    waiting_to_read_ = true;
    auto [ec] = co_await socket.async_wait(what, nothrow);
    waiting_to_read_ = false;
    co_return ec;
  }

  template <class Stream>
  awaitable<CloseReason> serve(Stream& stream) {
    auto& framer = conversation_->framer();
    for (;;) {
      if (const auto reason = ending(); reason != CloseReason::none) co_return reason;
      std::tie(deadline_at_, deadline_reason_) = deadline();
      watch(deadline_at_);
      if (framer.buffered() == 0) framer.release_memory();  // idle: no read buffer held
      if (!has_pending(stream)) {
        // Wait for data first, then take a buffer.
        if (co_await wait_for(lowest_layer(stream), tcp::socket::wait_read)) {
          if (const auto reason = ending(); reason != CloseReason::none) co_return reason;
          co_return CloseReason::read_error;
        }
      }
      const auto region = framer.prepare();
      const auto attempt = try_read(stream, asio::buffer(region.data(), region.size()));
      if (attempt.want == TlsSocket::Want::write) {
        // TLS needs to send before it can read on (a key update): wait until it can.
        if (co_await wait_for(lowest_layer(stream), tcp::socket::wait_write)) {
          if (const auto reason = ending(); reason != CloseReason::none) co_return reason;
          co_return CloseReason::read_error;
        }
        continue;
      }
      if (attempt.want == TlsSocket::Want::read) continue;  // readiness without data
      if (attempt.error)
        co_return attempt.error == asio::error::eof ||
                        attempt.error == ssl::error::stream_truncated
                    ? CloseReason::closed_by_peer
                    : CloseReason::read_error;
      const std::size_t n = attempt.bytes;
      framer.commit(n);
      metrics_.bytes_received.inc(n);

      std::vector<Received> received;
      std::vector<storage::FrameWrite> writes;
      // Verifying a signature costs ≈ 0.6 ms (docs/performance.md): a session that may verify
      // takes its frames on a verifier thread, so the other sessions on this I/O thread are not
      // kept waiting behind it.
      CloseReason close_reason = CloseReason::none;
      if (config_.verify_threads > 0 && conversation_->may_verify())
        close_reason = co_await asio::co_spawn(server_.verify_executor(),
                                               take_frames(received, writes), asio::use_awaitable);
      else
        close_reason = conversation_->take_frames(received, writes);
      if (!received.empty()) {
        std::vector<std::string> keys;
        if (!writes.empty()) {
          metrics_.batch_frames.observe(static_cast<double>(writes.size()));
          auto stored = co_await store_all(std::move(writes));
          if (!stored) co_return CloseReason::storage_failed;  // nothing of this read is acknowledged
          keys = std::move(*stored);
        }
        const bool replied = co_await send_replies(stream, received);
        if (!keys.empty()) evaluate(keys, received);  // after the reply, off this thread
        if (!replied) co_return CloseReason::write_timeout;
      }
      if (close_reason != CloseReason::none) co_return close_reason;
      // The bytes of an unfinished frame are held until it completes or its deadline passes:
      // counted per address and in all, so that many connections announcing large frames and
      // sending part of them cannot take the server's memory.
      if (const auto held = framer.buffered(); held != partial_held_) {
        if (!server_.hold_partial(address_, partial_held_, held))
          co_return CloseReason::partial_frame_memory;
        partial_held_ = held;
      }
      if (framer.buffered() == 0) {
        partial_since_.reset();
      } else if (!partial_since_ || !received.empty()) {
        partial_since_ = std::chrono::steady_clock::now();  // a new frame began in this read
      }
    }
  }

  // Hands every write to storage (waiting while its queue is full) and waits until all are durable.
  // Returns each frame's archive key (empty for a duplicate), or nullopt when a write failed.
  awaitable<std::optional<std::vector<std::string>>> store_all(
      std::vector<storage::FrameWrite> writes) {
    // Shared with the completion, which runs on a writer thread and may outlive this coroutine's
    // interest; the wake-up is posted to this strand, so it runs after the wait has begun.
    struct Stored {
      explicit Stored(const asio::any_io_executor& e)
          : done(e, asio::steady_timer::time_point::max()) {}
      asio::steady_timer done;
      std::vector<storage::WriteResult> results;
      std::atomic<bool> complete{false};
    };
    auto state = std::make_shared<Stored>(executor_);
    storage::BatchCompletion completion = [state, executor = executor_](
                                              std::vector<storage::WriteResult>& results) {
      state->results = std::move(results);
      state->complete.store(true, std::memory_order_release);
      asio::post(executor, [state] { state->done.cancel(); });
    };
    for (;;) {
      auto room = server_.frames().submit_or_notify(writes, completion, nullptr);
      if (room == storage::Submitted::full) {
        // The writers are behind: stop reading (TCP pushes back on the terminal) until they say
        // there is room.
        auto wake = std::make_shared<asio::steady_timer>(executor_,
                                                         asio::steady_timer::time_point::max());
        room = server_.frames().submit_or_notify(
            writes, completion,
            [wake, executor = executor_] { asio::post(executor, [wake] { wake->cancel(); }); });
        if (room == storage::Submitted::full) {
          co_await wake->async_wait(nothrow);
          continue;
        }
      }
      if (room == storage::Submitted::closed) co_return std::nullopt;
      break;
    }
    while (!state->complete.load(std::memory_order_acquire))
      co_await state->done.async_wait(nothrow);
    std::vector<std::string> keys;
    keys.reserve(state->results.size());
    bool failed = false;
    for (auto& r : state->results) {
      if (r.outcome == storage::WriteOutcome::failed) failed = true;
      if (r.outcome == storage::WriteOutcome::stored) metrics_.frames_stored.inc();
      if (r.outcome == storage::WriteOutcome::duplicate) metrics_.duplicates.inc();
      keys.push_back(std::move(r.frame_key));
    }
    if (failed) {
      spdlog::error("event=storage_failed conn={} vin={}: frames not acknowledged", id_,
                    conversation_->vin_text());
      co_return std::nullopt;
    }
    co_return keys;
  }

  // Hands the newly stored frames (duplicates have no key) with their decoding to evaluation.
  void evaluate(const std::vector<std::string>& keys, std::vector<Received>& received) {
    evaluation::StoredFrameSink* sink = server_.stored_frame_sink();
    if (!sink) return;
    std::vector<evaluation::StoredFrame> stored;
    std::size_t next_key = 0;  // keys follow the received frames that were written
    for (auto& r : received) {
      if (!r.stored_with_write) continue;
      const auto& key = keys[next_key++];
      if (key.empty()) continue;
      r.stored.key = key;
      stored.push_back(std::move(r.stored));
    }
    if (!conversation_->platform_link()) {
      sink->submit(conversation_->vin(), std::move(stored));
      return;
    }
    // A platform link carries many vehicles: each run of one vehicle's frames goes to it, in order.
    for (std::size_t begin = 0; begin < stored.size();) {
      const auto vin = stored[begin].decoded.message.header.vin;
      std::size_t end = begin + 1;
      while (end < stored.size() && stored[end].decoded.message.header.vin == vin) ++end;
      std::vector<evaluation::StoredFrame> run(std::make_move_iterator(stored.begin() + begin),
                                               std::make_move_iterator(stored.begin() + end));
      sink->submit(vin, std::move(run));
      begin = end;
    }
  }

  template <class Stream>
  awaitable<bool> send_replies(Stream& stream, const std::vector<Received>& received) {
    protocol::Bytes out;
    std::size_t count = 0;
    for (const auto& r : received) {
      out.insert(out.end(), r.reply.begin(), r.reply.end());
      count += r.reply.empty() ? 0 : 1;
    }
    if (out.empty()) co_return true;
    // Replies are small: the socket almost always takes them at once. Otherwise the rest goes out
    // within the write deadline, on a timer of its own (a stop must not cut the answers to stored
    // frames short).
    const auto attempt = try_write(stream, asio::buffer(out));
    if (attempt.error) co_return false;
    if (attempt.bytes < out.size()) {
      asio::steady_timer write_deadline(executor_, config_.write_timeout);
      auto r = co_await (write_all(stream, asio::buffer(out) + attempt.bytes) ||
                         write_deadline.async_wait(nothrow));
      if (r.index() == 1 || std::get<0>(std::get<0>(r))) co_return false;
    }
    metrics_.bytes_sent.inc(out.size());
    metrics_.replies_sent.inc(count);
    const auto now = std::chrono::steady_clock::now();
    for (const auto& rec : received)
      if (!rec.reply.empty())
        metrics_.reply_seconds.observe(std::chrono::duration<double>(now - rec.arrived).count());
    co_return true;
  }

  awaitable<void> close(tcp::socket& socket) {
    boost::system::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    co_return;
  }
  awaitable<void> close(TlsSocket& stream) {
    co_await stream.shutdown();
    co_await close(stream.socket());
  }

  // The transport operations, the same for both kinds of connection.
  static tcp::socket& lowest_layer(tcp::socket& socket) { return socket; }
  static tcp::socket& lowest_layer(TlsSocket& tls) { return tls.socket(); }
  // Data already read from the socket and decrypted, waiting to be taken.
  static bool has_pending(tcp::socket&) { return false; }
  static bool has_pending(TlsSocket& tls) { return SSL_has_pending(tls.native_handle()) == 1; }
  // One read or write without waiting (the plain socket is non-blocking): Want::read / write when
  // the socket cannot take it now. A plain write may be partial (`bytes`); a TLS one is all or
  // nothing.
  static TlsSocket::Attempt try_read(tcp::socket& socket, asio::mutable_buffer buffer) {
    boost::system::error_code ec;
    const auto n = socket.read_some(buffer, ec);
    if (ec == asio::error::would_block) return {{}, 0, TlsSocket::Want::read};
    return {ec, n};
  }
  static TlsSocket::Attempt try_read(TlsSocket& tls, asio::mutable_buffer buffer) {
    return tls.try_read(buffer);
  }
  static TlsSocket::Attempt try_write(tcp::socket& socket, asio::const_buffer buffer) {
    boost::system::error_code ec;
    std::size_t written = 0;
    while (written < buffer.size()) {
      written += socket.write_some(buffer + written, ec);
      if (ec == asio::error::would_block) return {{}, written, TlsSocket::Want::write};
      if (ec) return {ec, written};
    }
    return {{}, written};
  }
  static TlsSocket::Attempt try_write(TlsSocket& tls, asio::const_buffer buffer) {
    auto attempt = tls.try_write(buffer);
    if (attempt.want != TlsSocket::Want::nothing) attempt.bytes = 0;  // write_all sends it all again
    return attempt;
  }
  static awaitable<std::tuple<boost::system::error_code, std::size_t>> write_all(
      tcp::socket& socket, asio::const_buffer buffer) {
    co_return co_await asio::async_write(socket, buffer, nothrow);
  }
  static awaitable<std::tuple<boost::system::error_code, std::size_t>> write_all(
      TlsSocket& tls, asio::const_buffer buffer) {
    co_return std::tuple{co_await tls.write_all(buffer), buffer.size()};
  }

  void finish(CloseReason reason) {
    metrics_.connections_closed.with(std::string(to_string(reason))).inc();
    spdlog::info("event=session_closed conn={} peer={} vin={} reason={}", id_, peer_,
                 conversation_ ? conversation_->vin_text() : "-", to_string(reason));
  }

  IngestServer& server_;
  const Config& config_;
  ServerMetrics& metrics_;
  const ListenerConfig& listener_;
  const std::uint64_t id_;
  const std::string peer_;
  const std::string address_;  // the peer without its port
  const std::chrono::seconds first_frame_timeout_;
  std::atomic<bool> proven_{false};
  std::size_t partial_held_ = 0;
  asio::any_io_executor executor_;
  asio::steady_timer timer_;
  std::shared_ptr<ssl::context> tls_context_;  // outlives the stream that uses it
  std::variant<std::monostate, tcp::socket, TlsSocket> stream_;
  std::optional<TerminalConversation> conversation_;  // from the end of the handshake on
  std::optional<std::chrono::steady_clock::time_point> partial_since_;  // a frame has begun
  std::string bound_vin_;
  // The watchdog (see watch()): the current deadline and its reason, the armed wait, and what
  // ended the session when a deadline passed.
  std::chrono::steady_clock::time_point deadline_at_{}, watch_at_{};
  CloseReason deadline_reason_ = CloseReason::idle_timeout;
  bool watch_armed_ = false;
  std::uint64_t watch_generation_ = 0;
  bool waiting_to_read_ = false;
  bool finished_ = false;
  CloseReason expired_ = CloseReason::none;
  CloseReason stop_reason_ = CloseReason::none;
  asio::steady_timer* handshake_timer_ = nullptr;  // only touched on the handshake thread
};

IngestServer::IngestServer(asio::io_context& io, Config config, storage::Store& store,
                           ServerMetrics& metrics)
    : IngestServer(io, std::move(config), store, store, metrics) {}

IngestServer::IngestServer(asio::io_context& io, Config config, storage::Store& store,
                           storage::FrameSubmitter& frames, ServerMetrics& metrics)
    : io_(io),
      config_(std::move(config)),
      store_(store),
      frames_(frames),
      metrics_(metrics),
      terminal_keys_(
          store,
          [this]() -> std::shared_ptr<const rules::Registry> {
            const auto current = catalogue();
            return current ? current->registry : nullptr;
          },
          config_.sm2_user_id),
      verify_io_(std::max(config_.verify_threads, 1)),
      login_limiter_(config_.login_rate_per_second, config_.login_burst,
                     4 * config_.max_connections) {}

IngestServer::~IngestServer() {
  frames_.on_availability_change(nullptr);
  stopping_ = true;
  handshake_work_.reset();
  handshake_io_.stop();
  if (handshake_thread_.joinable()) handshake_thread_.join();
  verify_work_.reset();
  verify_io_.stop();
  for (auto& t : verify_threads_) t.join();
}

bool IngestServer::start(std::vector<std::string>& problems) {
  const bool needs_tls = std::any_of(config_.listeners.begin(), config_.listeners.end(),
                                     [](const ListenerConfig& l) { return l.tls; });
  if (needs_tls) {
    // OpenSSL writes to terminal sockets itself (server/tls_socket), with write(2): a terminal that
    // has gone must make that write fail, not raise SIGPIPE and end the process.
    ::signal(SIGPIPE, SIG_IGN);
    std::string error;
    if (!ensure_development_certificates(config_, error))
      problems.push_back(error);
    else if (!(tls_ = make_tls_context(config_, error)))
      problems.push_back(error);
    if (!handshake_thread_.joinable()) {
      handshake_work_.emplace(handshake_io_.get_executor());
      handshake_thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "lt-handshake");
        // Established terminals come first: during a reconnect storm the handshakes take the CPU
        // the sessions leave, not a share equal to theirs (Linux nice is per thread).
        if (config_.handshake_nice != 0 &&
            ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), config_.handshake_nice) != 0)
          spdlog::warn("event=handshake_priority_not_set nice={}", config_.handshake_nice);
        handshake_io_.run();
      });
    }
  }
  if (verify_threads_.empty() && config_.verify_threads > 0) {
    verify_work_.emplace(verify_io_.get_executor());
    for (int i = 0; i < config_.verify_threads; ++i)
      verify_threads_.emplace_back([this] {
        pthread_setname_np(pthread_self(), "lt-verify");
        verify_io_.run();
      });
  }
  for (const auto& l : config_.listeners) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(l.host, ec);
    if (ec) {
      problems.push_back(l.url + ": not an IP address: " + l.host);
      continue;
    }
    auto acceptor = std::make_unique<tcp::acceptor>(io_);
    const tcp::endpoint endpoint(address, l.port);
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      problems.push_back(l.url + ": cannot listen: " + ec.message());
      continue;
    }
    listeners_.push_back({l, std::move(acceptor)});
  }
  if (!problems.empty()) return false;
  // The writer says when the archive stops or starts taking writes; the reaction runs on io_.
  frames_.on_availability_change([this](bool available) {
    asio::post(io_, [this, available] { storage_availability_changed(available); });
  });
  for (auto& l : listeners_) {
    spdlog::info("event=listening url={} port={} tls={} profile={}", l.config.url,
                 l.acceptor->local_endpoint().port(), l.config.tls,
                 l.config.profile ? to_string(*l.config.profile) : "auto");
    asio::co_spawn(io_, accept_loop(l), asio::detached);
  }
  return true;
}

std::vector<std::uint16_t> IngestServer::bound_ports() const {
  std::vector<std::uint16_t> ports;
  for (const auto& l : listeners_) ports.push_back(l.acceptor->local_endpoint().port());
  return ports;
}

void IngestServer::storage_availability_changed(bool available) {
  metrics_.storage_available.set(available ? 1 : 0);
  if (available) {
    spdlog::warn("event=storage_recovered: accepting terminals again");
    return;
  }
  metrics_.storage_faults.inc();
  spdlog::error(
      "event=storage_unavailable error=\"{}\": frames cannot be stored; closing terminal "
      "connections and refusing new ones until the archive takes writes again",
      frames_.fault());
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, weak] : sessions_)
      if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live) s->stop(CloseReason::storage_unavailable);
}

bool IngestServer::admit(const tcp::socket& socket, std::string& address, std::string& reason) {
  if (!frames_.available()) {
    // Nothing could be stored, so nothing could be acknowledged: the terminal keeps its data.
    reason = "storage_unavailable";
    return false;
  }
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) {
    reason = "no_peer_address";
    return false;
  }
  address = remote.address().to_string();
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= 1s) {
    window_start_ = now;
    window_accepts_ = 0;
  }
  if (window_accepts_ >= config_.max_accepts_per_second)
    reason = "accept_rate";
  else if (open_ >= config_.max_connections)
    reason = "max_connections";
  if (!reason.empty()) return false;
  // Not counted against its address until it logs in: connections that never log in cannot
  // lock out the terminals behind that address (a carrier's NAT).
  ++window_accepts_;
  ++open_;
  ++pending_;
  return true;
}

awaitable<void> IngestServer::accept_loop(Listener& listener) {
  for (;;) {
    auto [ec, accepted] = co_await listener.acceptor->async_accept(asio::make_strand(io_), nothrow);
    if (stopping_) co_return;
    tcp::socket socket(std::move(accepted));  // keeps its strand as its executor
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      spdlog::warn("event=accept_failed url={} error={}", listener.config.url, ec.message());
      asio::steady_timer pause(io_, 50ms);  // e.g. out of file descriptors: do not spin
      co_await pause.async_wait(nothrow);
      continue;
    }
    std::string address, reason;
    if (!admit(socket, address, reason)) {
      metrics_.connections_rejected.with(reason).inc();
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (config_.socket_buffer_bytes > 0) {
      const auto bytes =
          static_cast<int>(std::min<std::size_t>(config_.socket_buffer_bytes, 1 << 24));
      socket.set_option(asio::socket_base::send_buffer_size(bytes), ec);
      socket.set_option(asio::socket_base::receive_buffer_size(bytes), ec);
    }
    metrics_.connections_accepted.inc();
    metrics_.connections_open.add(1);
    const auto id = next_connection_id_++;
    const std::string peer = address + ":" + std::to_string(socket.remote_endpoint(ec).port());
    std::shared_ptr<ssl::context> tls;
    {
      std::lock_guard lock(mutex_);
      if (listener.config.tls) tls = tls_;
    }
    const auto executor = socket.get_executor();
    auto session = std::make_shared<Session>(*this, std::move(socket), listener.config,
                                             std::move(tls), id, peer);
    {
      std::lock_guard lock(mutex_);
      sessions_[id] = session;
    }
    spdlog::debug("event=session_open conn={} peer={} listener={}", id, peer, listener.config.url);
    asio::co_spawn(
        executor, [session]() -> awaitable<void> { co_await session->run(); }, asio::detached);
  }
}

CloseReason IngestServer::bind_vin(const protocol::Vin& vin,
                                   const std::shared_ptr<Session>& session,
                                   std::shared_ptr<Session>& displaced) {
  const auto text = vin_text(vin);
  std::lock_guard lock(mutex_);
  std::chrono::milliseconds retry{0};
  // Every login is a synced write: a VIN logging in without end (50 connections fighting over
  // one VIN stored 99,446 logins in 35 s) is refused unstored beyond its rate. The bucket is the
  // VIN's from this address: logins from elsewhere do not spend the real terminal's.
  if (!login_limiter_.allow(text + "|" + session->address(), std::chrono::steady_clock::now(),
                            retry))
    return CloseReason::login_rate;
  const auto it = by_vin_.find(text);
  auto old = it != by_vin_.end() ? it->second.lock() : nullptr;
  if (old.get() == session.get()) old.reset();
  if (old && old->proven() && !session->proven()) return CloseReason::vin_held_by_proven_session;
  if (!session->counted_against_address) {
    const auto count = per_address_.find(session->address());
    if (count != per_address_.end() && count->second >= config_.max_connections_per_address)
      return CloseReason::address_limit;
    ++per_address_[session->address()];
    session->counted_against_address = true;
    --pending_;
  }
  by_vin_[text] = session;
  displaced = std::move(old);
  return CloseReason::none;
}

bool IngestServer::under_pending_pressure() {
  std::lock_guard lock(mutex_);
  return pending_ > config_.pending_pressure;
}

bool IngestServer::hold_partial(const std::string& address, std::size_t before, std::size_t now) {
  std::lock_guard lock(partial_mutex_);
  auto& mine = partial_by_address_[address];
  if (now > before && (mine - before + now > config_.max_partial_frame_bytes_per_address ||
                       partial_total_ - before + now > config_.max_partial_frame_bytes)) {
    if (mine == 0) partial_by_address_.erase(address);
    return false;
  }
  mine = mine - before + now;
  partial_total_ = partial_total_ - before + now;
  metrics_.partial_frame_bytes.set(static_cast<std::int64_t>(partial_total_));
  if (mine == 0) partial_by_address_.erase(address);
  return true;
}

void IngestServer::session_ended(Session& session) {
  std::lock_guard lock(mutex_);
  sessions_.erase(session.id());
  if (!session.counted_against_address)
    --pending_;
  else if (auto it = per_address_.find(session.address());
           it != per_address_.end() && --it->second == 0)
    per_address_.erase(it);
  if (session.partial_held() > 0) (void)hold_partial(session.address(), session.partial_held(), 0);
  // Only its own VIN's slot, and only while it still holds it (a new login may have taken it).
  if (!session.bound_vin().empty())
    if (auto it = by_vin_.find(session.bound_vin()); it != by_vin_.end()) {
      const auto holder = it->second.lock();
      if (!holder || holder.get() == &session) by_vin_.erase(it);
    }
  if (--open_ == 0 && all_closed_) all_closed_->try_send(boost::system::error_code{});
  metrics_.connections_open.add(-1);
}

awaitable<void> IngestServer::shutdown() {
  stopping_ = true;
  for (auto& l : listeners_) {
    boost::system::error_code ec;
    l.acceptor->close(ec);
  }
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, weak] : sessions_)
      if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  spdlog::info("event=stopping sessions={}", live.size());
  for (auto& s : live) s->stop(CloseReason::server_stopping);
  live.clear();
  // The gate: wait until every session has stored and answered what it read, and closed (the
  // last one to end sends on the channel; its one-message buffer keeps a send that comes first).
  auto gate = std::make_shared<AllClosed>(io_, 1);
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (open_ == 0) break;
      all_closed_ = gate;
    }
    co_await gate->async_receive(nothrow);
  }
  std::lock_guard lock(mutex_);
  all_closed_.reset();
}

void IngestServer::reload_tls() {
  std::string error;
  auto ctx = make_tls_context(config_, error);
  if (!ctx) {
    spdlog::error("event=tls_reload_failed error=\"{}\" (keeping the current certificate)", error);
    return;
  }
  std::lock_guard lock(mutex_);
  tls_ = std::move(ctx);
  spdlog::info("event=tls_reloaded cert={}", config_.tls_cert.string());
}

}  // namespace lantian::server
