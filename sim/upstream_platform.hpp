#pragma once
// lantian-sim as the receiving platform above a lantiand (`lantian-sim upstream`,
// docs/simulator.md): it accepts platform links (docs/protocol.md §8), answers the platform login
// (an account, or any), and answers each forwarded report 0x01 — or, to rehearse what a real
// upstream does on a bad day, 0x02 for every Nth report, or nothing for a while after N reports
// (a stall). It counts what it received: reports, distinct reports (by VIN and data unit),
// repeats, refusals, logins.
//
// Threading: one io_context on the calling thread; every link is a coroutine on it.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace lantian::sim {

struct UpstreamOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (printed as "listening port=N")
  bool tls = false;
  std::filesystem::path tls_cert, tls_key;
  std::optional<std::string> user, password;  // nullopt: any account is accepted
  std::uint64_t refuse_every = 0;             // answer every Nth report 0x02 (0: never)
  std::uint64_t stall_after = 0;              // stop answering after N reports … (0: never)
  std::chrono::seconds stall_for{0};          // … for this long, then go on
  std::chrono::duration<double> duration{0};  // then stop (0: until SIGINT/SIGTERM)
  std::filesystem::path json_out;             // the counts, at the end
};

struct UpstreamCounts {
  std::uint64_t logins = 0, logins_refused = 0, reports = 0, distinct = 0, repeated = 0,
                refused = 0;
  double cpu_seconds = 0;
};

// Runs until the duration passes or a signal; returns the counts (also written to json_out).
UpstreamCounts run_upstream_platform(const UpstreamOptions& options);

}  // namespace lantian::sim
