// Kill -9 and power cuts under load: a terminal records which hj1239 frames were acknowledged;
// lantiand is killed with SIGKILL mid-stream (a child process), or loses power (in process, on a
// file system that keeps only what was synced); every acknowledged frame must be in the archive
// when it is opened again.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "protocol/framer.hpp"
#include "server_fixture.hpp"
#include "tests/storage/power_cut_file_system.hpp"
#include "test_support.hpp"

namespace lantian::server {
namespace {
using namespace testing;
using namespace std::chrono_literals;
using protocol::Bytes;

// The i-th real-time frame: e3 with its send time and OBD block time moved by i seconds.
Bytes numbered_frame(int i) {
  Bytes f = protocol::testing::corpus_frame("e3-hj1239-realtime-signed").bytes;
  for (std::size_t at : {std::size_t{24}, std::size_t{24 + 9}}) {
    f[at + 3] = static_cast<std::uint8_t>(10 + i / 3600);
    f[at + 4] = static_cast<std::uint8_t>(i / 60 % 60);
    f[at + 5] = static_cast<std::uint8_t>(i % 60);
  }
  f.back() = protocol::xor_checksum(protocol::ByteView(f).subspan(2, f.size() - 3));
  return f;
}

std::string key(const Bytes& b) { return std::string(b.begin(), b.end()); }

// The bytes of every frame in the archive at `db_dir`, opened for writing as a restarted server
// opens it (recovering its write-ahead log); empty, with a test failure, when it does not open.
std::set<std::string> reopened_raw_frames(const std::filesystem::path& db_dir) {
  std::string error;
  auto store = storage::Store::open({.dir = db_dir}, error);
  EXPECT_TRUE(store) << error;
  std::set<std::string> stored;
  if (!store) return stored;
  store->for_each_frame(std::nullopt, INT64_MIN / 4, INT64_MAX / 4,
                        [&](const storage::FrameKey&, const storage::FrameRecord& r) {
                          stored.insert(key(r.raw));
                          return true;
                        });
  return stored;
}

// The port of the first listener, from lantiand's "event=listening … port=N" log line.
std::uint16_t wait_for_port(const std::filesystem::path& log) {
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("event=listening") == std::string::npos) continue;
      const auto at = line.find(" port=");
      if (at != std::string::npos)
        return static_cast<std::uint16_t>(std::stoi(line.substr(at + 6)));
    }
    std::this_thread::sleep_for(50ms);
  }
  return 0;
}

TEST(Crash, EveryAcknowledgedFrameSurvivesKillNine) {
  TempDir dir;
  const auto log = dir.path() / "lantiand.log";
  const std::string data = (dir.path() / "data").string();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(LANTIAND_PATH, "lantiand", "--data-dir", data.c_str(), "--listen",
          "tcp://127.0.0.1:0?profile=hj1239", "--admin", "127.0.0.1:0", "--api", "127.0.0.1:0",
          "--sync", "always",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto port = wait_for_port(log);
  ASSERT_NE(port, 0) << "lantiand did not start";

  std::vector<Bytes> sent;
  std::size_t acked = 0;
  {
    TestTerminal t(port);
    t.send(protocol::testing::corpus_frame("e1-login").bytes);
    ASSERT_EQ(t.read_frames(1).size(), 1u);
    for (int i = 0; acked < 150 && i < 3000; i += 10) {
      Bytes burst;
      for (int k = i; k < i + 10; ++k) {
        sent.push_back(numbered_frame(k));
        burst.insert(burst.end(), sent.back().begin(), sent.back().end());
      }
      t.send(burst);
      acked += t.read_frames(1, 200ms).size();  // replies come in frame order
    }
    ASSERT_GE(acked, 150u);
    kill(pid, SIGKILL);  // frames are still in flight
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
  }

  // Opening the archive again recovers it from its write-ahead log.
  const auto stored = reopened_raw_frames(std::filesystem::path(data) / "db");
  for (std::size_t i = 0; i < acked; ++i)
    EXPECT_TRUE(stored.count(key(sent[i]))) << "acknowledged frame " << i << " lost";
  EXPECT_TRUE(stored.count(key(protocol::testing::corpus_frame("e1-login").bytes)));
  // Nothing was stored that was not sent.
  std::set<std::string> all;
  for (const auto& f : sent) all.insert(key(f));
  all.insert(key(protocol::testing::corpus_frame("e1-login").bytes));
  for (const auto& s : stored) EXPECT_TRUE(all.count(s));
}

// kill -9 leaves the page cache, so it cannot tell an acknowledgement sent after the WAL sync from
// one sent before it; a power cut can. The server runs with --sync always on a file system that
// drops everything not synced when the power goes, while the terminal keeps frames in flight.
TEST(Crash, EveryAcknowledgedFrameSurvivesAPowerCutUnderLoad) {
  TempDir dir;
  auto [disk, env] = lantian::testing::PowerCutFileSystem::make();
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.store.sync = storage::SyncPolicy::always;
  config.store.env = env;
  config.store.recovery_interval = 50ms;
  const auto data_dir = config.store.dir;
  std::vector<Bytes> sent;
  std::size_t acked = 0;
  {
    RunningServer server(config);
    TestTerminal t(server.port());
    t.send(protocol::testing::corpus_frame("e1-login").bytes);
    ASSERT_EQ(t.read_frames(1).size(), 1u);
    const auto send_burst = [&] {
      Bytes burst;
      for (int k = 0; k < 10; ++k) {
        sent.push_back(numbered_frame(static_cast<int>(sent.size())));
        burst.insert(burst.end(), sent.back().begin(), sent.back().end());
      }
      t.send(burst);
    };
    while (acked < 150 && sent.size() < 3000) {
      send_burst();
      acked += t.read_frames(1, 200ms).size();  // replies come in frame order
    }
    ASSERT_GE(acked, 150u);
    send_burst();  // in flight when the power goes
    disk->cut();
    // Whatever is still answered was answered before the cut reached it; then the store fails
    // and the server closes the connection.
    acked += t.read_frames(sent.size(), 3s).size();
    ASSERT_TRUE(eventually([&] { return !server.store().available(); }));
    server.stop();
  }
  disk->drop_unsynced();  // the disk as it is after the restart: only what was synced

  const auto stored = reopened_raw_frames(data_dir);
  ASSERT_LE(acked, sent.size());
  for (std::size_t i = 0; i < acked; ++i)
    EXPECT_TRUE(stored.count(key(sent[i]))) << "acknowledged frame " << i << " lost";
  EXPECT_TRUE(stored.count(key(protocol::testing::corpus_frame("e1-login").bytes)));
}

}  // namespace
}  // namespace lantian::server
