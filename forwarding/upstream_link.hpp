#pragma once
// One upstream link (docs/forwarding.md): a coroutine on the forwarder's I/O thread that keeps a
// connection to one receiving platform, logs in, and sends it every report of the forward log
// after the upstream's cursor, in arrival order (so in order per vehicle), rewritten in the
// platform header variant. At most `window` reports are unanswered; the upstream answers each in
// order (ack flag 0x01 success, 0x03 VIN duplicate: both acknowledge it; 0x02 error: the report is
// set aside with the reason and never sent again). The cursor moves over every answered report
// and is saved at least every 200 ms; after a broken connection, a restart or a crash, sending
// resumes after the saved cursor — at least once, the upstream deduplicates. Reconnects back off
// exponentially with jitter.
//
// Threading: everything runs on the io_context given (one thread); the counters are atomics that
// other threads read (metrics, /healthz).

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "forwarding/forward_store.hpp"
#include "forwarding/upstream_config.hpp"
#include "protocol/bytes.hpp"
#include "protocol/framer.hpp"
#include "storage/store.hpp"

namespace lantian::forwarding {

// What an upstream link reports (read from any thread).
struct LinkCounters {
  std::atomic<std::uint64_t> sent{0};          // reports written to the upstream (resends too)
  std::atomic<std::uint64_t> acknowledged{0};  // answered 0x01
  std::atomic<std::uint64_t> duplicates{0};    // answered 0x03 (VIN duplicate): acknowledged
  std::atomic<std::uint64_t> rejected{0};      // answered 0x02: set aside
  std::atomic<std::uint64_t> skipped{0};       // not for this upstream (profile, VIN filter)
  std::atomic<std::uint64_t> reconnects{0};    // connections after the first
  std::atomic<std::uint64_t> logins_refused{0};
  std::atomic<bool> connected{false};
  std::atomic<std::uint64_t> cursor{0};
  std::atomic<std::uint64_t> lag_reports{0};  // accepted reports not yet answered
  std::atomic<std::int64_t> lag_ms{0};        // age of the oldest of them (receive time)
};

class UpstreamLink {
 public:
  UpstreamLink(boost::asio::io_context& io, UpstreamConfig config, storage::Store& store,
               ForwardStore& log);
  ~UpstreamLink();
  UpstreamLink(const UpstreamLink&) = delete;
  UpstreamLink& operator=(const UpstreamLink&) = delete;

  // Builds the TLS context and finds (or, for a new upstream, creates at the present) the
  // cursor. False with the reason when the link cannot run.
  [[nodiscard]] bool prepare(std::string& problem);
  void start();  // on the io_context's thread or before it runs
  void stop();   // from any thread: logs out and ends the link

  [[nodiscard]] const UpstreamConfig& config() const noexcept { return config_; }
  [[nodiscard]] const LinkCounters& counters() const noexcept { return counters_; }

 private:
  // One report sent and not yet answered.
  struct InFlight {
    std::uint64_t sequence = 0;
    std::uint64_t resolves_through = 0;  // its sequence, or that of skipped records after it
    std::size_t resolves = 1;            // log records its answer resolves (itself and those)
    std::string frame_key;
    protocol::Vin vin{};
    std::uint8_t command = 0;
    std::int64_t receive_unix_ms = 0;
    std::chrono::steady_clock::time_point sent_at;
  };
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> measure_lag();
  template <class Stream>
  boost::asio::awaitable<std::string> converse(Stream& stream);
  template <class Stream>
  boost::asio::awaitable<std::string> send_reports(Stream& stream);
  template <class Stream>
  boost::asio::awaitable<std::string> read_answers(Stream& stream, protocol::Framer& framer);
  // Takes the answer to the oldest report in flight; an empty string, or why the link must drop.
  std::string take_answer(protocol::ByteView reply);
  // Reads log records into `out` (platform-variant frames) and in_flight_; returns how many it
  // took (reports not for this upstream included). Stops before a frame it could not read.
  std::size_t fill(protocol::Bytes& out);
  void resolve_skipped(std::uint64_t sequence);
  void save_cursor(bool force);
  void reset_in_flight();  // the connection ended: everything unanswered goes again
  std::chrono::milliseconds next_backoff();

  boost::asio::io_context& io_;
  const UpstreamConfig config_;
  storage::Store& store_;
  ForwardStore& log_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  LinkCounters counters_;
  std::atomic<bool> stopping_{false};
  boost::asio::steady_timer wake_;   // the sender's wait: new records, room in the window, stop
  boost::asio::steady_timer pause_;  // backoff between connections
  boost::asio::steady_timer lag_tick_;
  std::function<void()> close_socket_;  // cancels the connection in use (io thread)

  // The io thread's state.
  std::uint64_t resolved_through_ = 0;  // every record at or below it is answered or skipped
  std::uint64_t saved_through_ = 0;
  std::uint64_t read_through_ = 0;       // the last record read from the log
  std::deque<InFlight> in_flight_;
  std::vector<SetAside> set_aside_;      // not saved yet
  std::chrono::steady_clock::time_point last_save_;
  std::uint64_t read_unresolved_ = 0;    // records read and not resolved
  std::uint64_t counted_through_ = 0;    // lag: records after read_through_ counted up to here
  std::uint64_t ahead_ = 0;              // ... how many
  std::uint16_t login_serial_ = 0;
  unsigned failures_ = 0;  // connections in a row that acknowledged nothing
  std::minstd_rand jitter_;
};

}  // namespace lantian::forwarding
