#pragma once
// lantiand's terminal side: listeners (plain TCP or TLS, one profile each), one session per
// connection, the hand-off to storage, replies after durability, limits, deadlines, and a graceful
// stop. See docs/server.md.
//
// Threading: every session runs as a coroutine on its own strand of the shared io_context; the
// storage writer completes writes on its own thread and posts back to the session's strand. The
// registries (sessions by VIN, logged-in connections per address) are guarded by one mutex, the
// tallies of unfinished frames by another.

#include <atomic>
#include <condition_variable>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "evaluation/catalogue.hpp"
#include "evaluation/stored_frame_sink.hpp"
#include "server/api/rate_limiter.hpp"
#include "server/close_reason.hpp"
#include "server/config.hpp"
#include "server/metrics.hpp"
#include "server/terminal_keys.hpp"
#include "storage/store.hpp"

namespace lantian::server {

class Session;

class IngestServer {
 public:
  // Frames become durable in `store` (the embedded server).
  IngestServer(boost::asio::io_context& io, Config config, storage::Store& store,
               ServerMetrics& metrics);
  // Frames become durable through `frames` (a cluster's ingest node: the replicated log); `store`
  // keeps this node's own records (terminal keys learned by activation). Both must outlive it.
  IngestServer(boost::asio::io_context& io, Config config, storage::Store& store,
               storage::FrameSubmitter& frames, ServerMetrics& metrics);
  ~IngestServer();

  // Creates the TLS context (if any listener needs it) and binds every listener; on failure returns
  // false with every problem listed. With a TLS listener, SIGPIPE is ignored process-wide (OpenSSL
  // writes to the sockets itself).
  bool start(std::vector<std::string>& problems);
  // The port each listener is bound to, in configuration order (useful with port 0).
  [[nodiscard]] std::vector<std::uint16_t> bound_ports() const;

  // Stops accepting, lets every session finish the frames it has read (stored and answered), closes
  // them, and completes when none is left.
  boost::asio::awaitable<void> shutdown();
  // Builds a new TLS context from the certificate files; new connections use it. Logged.
  void reload_tls();

  // For sessions.
  const Config& config() const noexcept { return config_; }
  // Where TLS handshakes run: a thread of their own, so that a reconnect storm's handshakes share
  // the CPU with the established sessions instead of queueing ahead of their every read.
  [[nodiscard]] boost::asio::any_io_executor handshake_executor() noexcept {
    return handshake_io_.get_executor();
  }
  // Where frames that may need signature verification are taken (Config::verify_threads).
  [[nodiscard]] boost::asio::any_io_executor verify_executor() noexcept {
    return verify_io_.get_executor();
  }
  storage::Store& store() noexcept { return store_; }
  // Where sessions submit their frames (the store, or the replicated log).
  storage::FrameSubmitter& frames() noexcept { return frames_; }
  ServerMetrics& metrics() noexcept { return metrics_; }
  [[nodiscard]] bool stopping() const noexcept { return stopping_.load(); }
  // Records `session` as the live connection of `vin` (the one it replaces in `displaced`), or
  // refuses the login: the VIN's login rate is spent (login_rate); its address already has
  // max_connections_per_address logged-in connections (address_limit); a proven session holds the
  // VIN and `session` is not proven (vin_held_by_proven_session).
  [[nodiscard]] CloseReason bind_vin(const protocol::Vin& vin,
                                     const std::shared_ptr<Session>& session,
                                     std::shared_ptr<Session>& displaced);
  void session_ended(Session& session);
  // More connections than Config::pending_pressure have not logged in: new ones get the shorter
  // first-frame deadline.
  [[nodiscard]] bool under_pending_pressure();
  // A session's unfinished frame now holds `now` bytes instead of `before`; false (the tallies
  // unchanged) when that would take its address or the whole server beyond
  // Config::max_partial_frame_bytes(_per_address).
  [[nodiscard]] bool hold_partial(const std::string& address, std::size_t before, std::size_t now);
  // Frames stored from now on are handed to `sink`, and the registry (profiles and keys of
  // registered vehicles) is read from `catalogue`; both must outlive the server's sessions. Set
  // before start(). Without them frames are only stored and no vehicle is registered.
  void set_evaluation(evaluation::StoredFrameSink* sink,
                      const evaluation::CurrentCatalogue* catalogue) noexcept {
    stored_frame_sink_ = sink;
    catalogue_ = catalogue;
  }
  [[nodiscard]] evaluation::StoredFrameSink* stored_frame_sink() const noexcept {
    return stored_frame_sink_;
  }
  // The catalogue in use (nullptr when there is none).
  [[nodiscard]] evaluation::CatalogueSnapshot catalogue() const {
    return catalogue_ ? catalogue_->snapshot() : nullptr;
  }
  // The keys terminal signatures are verified with (the registry's, or learned by activation).
  TerminalKeys& terminal_keys() noexcept { return terminal_keys_; }

 private:
  struct Listener {
    ListenerConfig config;
    std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor;
  };
  boost::asio::awaitable<void> accept_loop(Listener& listener);
  // Follows the archive's availability (told by the store's writer): when a write fails, every
  // terminal connection is closed (reason storage_unavailable) and new ones are refused until the
  // store has recovered.
  void storage_availability_changed(bool available);
  bool admit(const boost::asio::ip::tcp::socket& socket, std::string& address, std::string& reason);

  boost::asio::io_context& io_;
  Config config_;
  storage::Store& store_;
  storage::FrameSubmitter& frames_;
  ServerMetrics& metrics_;
  std::vector<Listener> listeners_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> next_connection_id_{1};
  evaluation::StoredFrameSink* stored_frame_sink_ = nullptr;
  const evaluation::CurrentCatalogue* catalogue_ = nullptr;
  TerminalKeys terminal_keys_;
  boost::asio::io_context handshake_io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      handshake_work_;
  std::thread handshake_thread_;
  boost::asio::io_context verify_io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      verify_work_;
  std::vector<std::thread> verify_threads_;

  api::RateLimiter login_limiter_;  // per VIN and source address
  std::mutex partial_mutex_;         // guards the two below
  std::map<std::string, std::size_t> partial_by_address_;
  std::size_t partial_total_ = 0;

  std::mutex mutex_;  // guards everything below
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::map<std::string, std::size_t> per_address_;  // logged-in connections
  std::size_t pending_ = 0;                          // connections that have not logged in
  std::map<std::string, std::weak_ptr<Session>> by_vin_;
  std::map<std::uint64_t, std::weak_ptr<Session>> sessions_;
  std::size_t open_ = 0;
  // Shutdown's gate: told when open_ reaches 0 (thread-safe, so session_ended may send from any
  // thread).
  using AllClosed = boost::asio::experimental::concurrent_channel<void(boost::system::error_code)>;
  std::shared_ptr<AllClosed> all_closed_;
  // Accept rate: a one-second window.
  std::chrono::steady_clock::time_point window_start_{};
  std::size_t window_accepts_ = 0;
};

}  // namespace lantian::server
