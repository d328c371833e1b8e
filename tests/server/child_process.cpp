#include "child_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fstream>
#include <sstream>
#include <thread>

namespace lantian::server::testing {

namespace asio = boost::asio;

std::uint16_t free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

namespace {

// fork + exec of lantiand with stdout and stderr into the given files.
pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& out,
            const std::filesystem::path& err, bool append) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC);
  const int out_fd = ::open(out.c_str(), flags, 0644);
  const int err_fd = out == err ? out_fd : ::open(err.c_str(), flags, 0644);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  std::vector<std::string> copy = args;
  std::vector<char*> argv{const_cast<char*>("lantiand")};
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(LANTIAND_PATH, argv.data());
  _exit(127);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Lantiand::~Lantiand() {
  if (pid_ > 0) kill9();
}

void Lantiand::start() {
  pid_ = spawn(args_, log_, log_, true);
  ASSERT_GE(pid_, 0);
}

void Lantiand::kill9() {
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

bool Lantiand::stop() {
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string Lantiand::log() const { return read_file(log_); }

bool Lantiand::wait_for_log(const std::string& text, std::size_t times,
                            std::chrono::milliseconds deadline) const {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    const auto now = log();
    std::size_t seen = 0;
    for (auto at = now.find(text); at != std::string::npos; at = now.find(text, at + 1)) ++seen;
    if (seen >= times) return true;
    if (pid_ <= 0 || waitpid(pid_, nullptr, WNOHANG) == pid_) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

CommandResult run_lantiand(const std::vector<std::string>& args,
                           std::chrono::milliseconds deadline) {
  char dir_template[] = "/tmp/lantian-command.XXXXXX";
  const std::filesystem::path dir = mkdtemp(dir_template);
  const auto out = dir / "out", err = dir / "err";
  const pid_t pid = spawn(args, out, err, false);
  CommandResult result;
  int status = 0;
  const auto until = std::chrono::steady_clock::now() + deadline;
  bool ended = false;
  while (!(ended = waitpid(pid, &status, WNOHANG) == pid) &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!ended) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  } else if (WIFEXITED(status)) {
    result.status = WEXITSTATUS(status);
  }
  result.out = read_file(out);
  result.err = read_file(err);
  std::filesystem::remove_all(dir);
  return result;
}

}  // namespace lantian::server::testing
