#pragma once
// One simulated terminal: a coroutine that connects (TCP or TLS, with session resumption), logs in,
// synchronises its clock, sends its vehicle's reports — paced in real time, at a share of a target
// frame rate, or as fast as a window of unanswered frames allows — keeps what it collects during
// coverage gaps and resends it (0x03) afterwards, re-sends as 0x03 whatever was unanswered when a
// connection broke, reconnects with backoff, joins a reconnect storm when told to, and logs out at
// the end. Replies are matched to requests in order (the server answers each frame in order; a
// corrupted frame is never answered and is not waited for).
//
// Threading: every terminal of a process runs on that process's single-threaded io_context; the
// shared LoadCounters are atomics.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocol/bytes.hpp"
#include "sim/expectations.hpp"
#include "sim/fleet.hpp"
#include "sim/load_stats.hpp"

namespace lantian::sim {

struct LoadOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7701;
  // Further servers taking the same terminals (a cluster's ingest nodes, HOST:PORT each): a
  // terminal starts on server index % n (the first being host:port) and moves to the next after a
  // failed connection, as terminals behind a load balancer do.
  std::vector<std::pair<std::string, std::uint16_t>> more_servers;
  bool tls = false;
  bool tls_resume = true;                     // offer the last session's ticket on reconnect
  std::vector<std::string> source_addresses;  // bind each terminal to one (round robin)
  // Pacing: `rate` frames/s for the whole run (shared equally), else `window` unanswered frames
  // per terminal as fast as replies come, else real time (10 s of samples every 10 s).
  double rate = 0;
  std::size_t window = 0;
  std::size_t terminals_total = 1;  // of the whole run (all processes)
  bool gb17691_replies = false;     // the server answers gb17691/non-road reports (--reply-gb17691)
  std::int64_t start_unix_s = 0;    // collection time of every terminal's first sample
  std::int64_t run_start_us = 0;    // steady_us() when the run began
  std::chrono::duration<double> duration{10};
  std::chrono::seconds reply_timeout{30};
  std::chrono::seconds connect_timeout{10};
  // Reconnect storm at run_start + storm_at (negative: none): every terminal whose index is not
  // below `storm_steady` drops its connection and reconnects at once.
  double storm_at_s = -1;
  std::size_t storm_steady = 0;
  double gap_probability = 0, malformed_probability = 0;
};

// Where acknowledged reports are recorded (one line per report: VIN, a space, the first 16 hex
// digits of the SHA-256 of its data unit), for crash tests. Buffered; flush() writes whole lines
// with one write(2) on an O_APPEND descriptor, so processes may share the file.
class AckLog {
 public:
  explicit AckLog(int fd) : fd_(fd) {}
  void record(const std::string& vin, const std::string& digest);
  void flush();
  [[nodiscard]] bool enabled() const noexcept { return fd_ >= 0; }

 private:
  int fd_;
  std::string buffer_;
};

// The identity written to the ack log for a report frame (see AckLog).
[[nodiscard]] std::string report_digest(protocol::ByteView frame);

// Runs one terminal until the run's end (or counters.stop), then logs out. `zones` feed the
// terminal's expectations (may be null).
boost::asio::awaitable<void> run_terminal(const VehicleSpec& spec, const LoadOptions& options,
                                          boost::asio::ssl::context* tls, LoadCounters& counters,
                                          AckLog& acks, Expectations& expectations);

}  // namespace lantian::sim
