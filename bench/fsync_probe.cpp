// fsync_probe: the disk's own sync latency, the reference of performance target P2 — appends 4 KiB
// and calls fdatasync, N times, in a file of the given directory (the data directory's disk), and
// prints the latency percentiles as JSON.
//
//   fsync_probe DIR [N]

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fsync_probe DIR [N]\n");
    return 2;
  }
  const std::string path = std::string(argv[1]) + "/fsync_probe.tmp";
  const int n = argc > 2 ? std::max(10, std::atoi(argv[2])) : 1000;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  if (fd < 0) {
    std::perror(path.c_str());
    return 1;
  }
  std::vector<char> block(4096, 'x');
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()) ||
        ::fdatasync(fd) != 0) {
      std::perror("write/fdatasync");
      return 1;
    }
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  ::close(fd);
  ::unlink(path.c_str());
  std::sort(us.begin(), us.end());
  auto q = [&](double p) { return us[std::min(us.size() - 1, static_cast<std::size_t>(p * static_cast<double>(us.size())))] / 1000; };
  std::printf("{\"syncs\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f}\n", n,
              q(0.5), q(0.99), q(0.999), us.back() / 1000);
  return 0;
}
