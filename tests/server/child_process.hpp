#pragma once
// lantiand as a separate process, for tests that must kill it (-9), restart it, or run its
// commands against it as an operator would.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lantian::server::testing {

// A free TCP port on 127.0.0.1 (free when asked; a test binds it soon after).
std::uint16_t free_port();

// One lantiand server process, its output appended to `log`, started again with the same
// arguments after a kill.
class Lantiand {
 public:
  Lantiand(std::filesystem::path log, std::vector<std::string> args)
      : log_(std::move(log)), args_(std::move(args)) {}
  ~Lantiand();
  Lantiand(const Lantiand&) = delete;
  Lantiand& operator=(const Lantiand&) = delete;
  void start();
  void kill9();
  // SIGTERM: a graceful stop; true when it exited with status 0.
  bool stop();
  // Waits until the log holds `text` `times` times (true; the log spans restarts), the process
  // exits or `deadline` passes (false).
  bool wait_for_log(const std::string& text, std::size_t times = 1,
                    std::chrono::milliseconds deadline = std::chrono::seconds(30)) const;
  [[nodiscard]] std::string log() const;

 private:
  std::filesystem::path log_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
};

// A lantiand command run to its end (at most `deadline`; killed after): its exit status (-1 when
// it did not end or was killed), standard output and standard error.
struct CommandResult {
  int status = -1;
  std::string out, err;
};
CommandResult run_lantiand(const std::vector<std::string>& args,
                           std::chrono::milliseconds deadline = std::chrono::seconds(60));

}  // namespace lantian::server::testing
