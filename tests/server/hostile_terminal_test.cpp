// Hostile terminals and a failing disk, each against a server that keeps serving a well-behaved
// terminal: its reply latency is measured throughout and must stay bounded (docs/security.md).

#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <thread>

#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/types.hpp"
#include "rule_frames.hpp"
#include "server_fixture.hpp"
#include "test_support.hpp"

namespace lantian::server {
namespace {
using namespace testing;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using protocol::Bytes;

Bytes frame(const std::string& name) {
  return protocol::testing::corpus_frame(name).bytes;
}

// A well-behaved hj1239 terminal that logs in, then sends a report every 100 ms on its own
// thread and records the slowest reply, until stopped.
class WellBehavedTerminal {
 public:
  explicit WellBehavedTerminal(std::uint16_t port) : terminal_(port) {
    terminal_.send(frame("e1-login"));
    EXPECT_EQ(terminal_.read_frames(1).size(), 1u);
    thread_ = std::thread([this] {
      while (!stop_) {
        const auto start = std::chrono::steady_clock::now();
        terminal_.send(frame("e3-hj1239-realtime-signed"));
        if (terminal_.read_frames(1, 5s).size() != 1) {
          ++unanswered_;
        } else {
          ++answered_;
          slowest_ = std::max(slowest_.load(), std::chrono::steady_clock::now() - start);
        }
        std::this_thread::sleep_for(100ms);
      }
    });
  }
  ~WellBehavedTerminal() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int answered() const { return answered_; }
  int unanswered() const { return unanswered_; }
  std::chrono::milliseconds slowest() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(slowest_.load());
  }

 private:
  TestTerminal terminal_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0}, unanswered_{0};
  std::atomic<std::chrono::steady_clock::duration> slowest_{};
};

// The bound a well-behaved terminal's replies must stay within while others attack (the machine
// is shared with the attackers and, in CI, with sanitizers: generous, but far below the 3 s after
// which terminals give up).
constexpr auto latency_bound = 1000ms;

TEST(HostileTerminals, SlowlorisGarbageAndOversizedLengthsAreCutOff) {
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.frame_timeout = 1s;
  config.first_frame_timeout = 5s;
  config.max_garbage_bytes = 64 * 1024;
  RunningServer server(config);
  WellBehavedTerminal good(server.port());

  // Slowloris: a login, one byte every 200 ms — every byte would reset a per-read deadline.
  TestTerminal slow(server.port());
  const Bytes login = frame("e1-login");
  std::thread dribble([&] {
    try {
      for (std::size_t i = 0; i < 15; ++i) {
        slow.send(protocol::ByteView(login).subspan(i, 1));
        std::this_thread::sleep_for(200ms);
      }
    } catch (...) {  // closed by the server: the test checks that below
    }
  });
  // Endless garbage: bytes that never start a frame, as fast as the socket takes them.
  TestTerminal noisy(server.port());
  std::atomic<bool> noisy_closed{false};
  std::thread flood([&] {
    const Bytes junk(16 * 1024, 0x55);
    try {
      for (int i = 0; i < 64 && !noisy_closed; ++i) noisy.send(junk);
    } catch (...) {
      noisy_closed = true;  // the server closed it: writes fail
    }
  });
  // A header announcing the largest data unit, then nothing more.
  TestTerminal liar(server.port());
  const Bytes login_bytes = frame("e1-login");
  Bytes header(login_bytes.begin(), login_bytes.begin() + protocol::header_size);
  header[22] = 0xFF;
  header[23] = 0xFB;  // 65531 bytes announced
  liar.send(header);

  // A socket is used by one thread at a time: the dribbling one ends first (its writes fail once
  // the server has closed the connection, or it has sent its 15 bytes).
  dribble.join();
  EXPECT_TRUE(slow.closed_by_server(4s));
  flood.join();
  EXPECT_TRUE(noisy.closed_by_server(4s));
  EXPECT_TRUE(liar.closed_by_server(4s));
  good.finish();
  EXPECT_EQ(server.metrics().connections_closed.value("frame_timeout"), 2u);  // slow, liar
  EXPECT_EQ(server.metrics().connections_closed.value("garbage_flood"), 1u);
  EXPECT_EQ(good.unanswered(), 0);
  EXPECT_GE(good.answered(), 10);
  EXPECT_LT(good.slowest(), latency_bound);
}

TEST(HostileTerminals, OneVinOnManyConnectionsKeepsOnlyTheNewest) {
  TempDir dir;
  RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"}));
  std::vector<std::unique_ptr<TestTerminal>> clones;
  for (int i = 0; i < 20; ++i) {
    clones.push_back(std::make_unique<TestTerminal>(server.port()));
    clones.back()->send(frame("e1-login"));
    EXPECT_EQ(clones.back()->read_frames(1).size(), 1u);
  }
  for (int i = 0; i < 19; ++i) EXPECT_TRUE(clones[i]->closed_by_server()) << i;
  EXPECT_EQ(server.metrics().vin_replaced.value(), 19u);
  EXPECT_EQ(server.metrics().connections_closed.value("replaced_by_new_login"), 19u);
  clones.back()->send(frame("e3-hj1239-realtime-signed"));
  EXPECT_EQ(clones.back()->read_frames(1).size(), 1u);
}

// A login whose VIN holds a newline or an escape sequence would forge log lines and reach
// operators' terminals: it is refused, nothing of it is stored, and it is logged as hex.
TEST(HostileTerminals, ALoginWithAVinOutsideTheVinAlphabetIsRefused) {
  TempDir dir;
  RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"}));
  const std::string vins[] = {"LFWADRJF01100234\n", "\x1b[31mLFWADRJF0110", "lfwadrjf011002346"};
  for (const auto& vin : vins) {
    ASSERT_EQ(vin.size(), 17u);
    TestTerminal t(server.port());
    t.send(frames::login(vin, protocol::BeijingTime::from_fields(2026, 3, 1, 8, 0, 0)));
    EXPECT_TRUE(t.closed_by_server());  // without an answer: nothing is stored below
  }
  EXPECT_EQ(server.metrics().connections_rejected.value("invalid_vin"), 3u);
  EXPECT_EQ(server.metrics().connections_closed.value("invalid_vin"), 3u);
  EXPECT_EQ(server.metrics().frames_stored.value(), 0u);
  // A VIN of the alphabet still logs in.
  TestTerminal good(server.port());
  good.send(frame("e1-login"));
  EXPECT_EQ(good.read_frames(1).size(), 1u);
}

TEST(HostileTerminals, HandshakeAndConnectionFloodsLeaveOthersServed) {
  TempDir dir;
  auto config = test_config(dir.path(),
                            {"tls://127.0.0.1:0?profile=hj1239", "tcp://127.0.0.1:0?profile=hj1239"});
  config.handshake_timeout = 1s;
  config.max_connections = 150;
  RunningServer server(config);
  WellBehavedTerminal good(server.port(1));
  // 200 connections to the TLS listener that never handshake: the first 149 (the good terminal
  // holds one slot) wait for their deadline, the rest are refused at once.
  std::vector<std::unique_ptr<TestTerminal>> flood;
  for (int i = 0; i < 200; ++i) flood.push_back(std::make_unique<TestTerminal>(server.port(0)));
  ASSERT_TRUE(eventually([&] {
    return server.metrics().connections_closed.value("handshake_timeout") == 149u;
  }, 6s)) << server.metrics().render();
  EXPECT_EQ(server.metrics().connections_rejected.value("max_connections"), 51u);
  good.finish();
  EXPECT_EQ(good.unanswered(), 0);
  EXPECT_LT(good.slowest(), latency_bound);
}

// A well-formed hj1239 report whose every value is at the edge of, or outside, what a truck can
// do: the largest encodable speed and rpm, abnormal and invalid markers, the poles of the
// coordinate ranges, an odometer near 2³², a collection time in 2099 and one with month 13.
Bytes absurd_report(const std::string& vin) {
  using protocol::FieldKind;
  using protocol::Reading;
  auto decoded = protocol::decode_frame(
      frames::truck_sample(vin, protocol::Profile::hj1239, frames::bj(2099, 12, 31, 23, 59, 59),
                           180.0, 90.0),
      {.profile = protocol::Profile::hj1239});
  EXPECT_TRUE(decoded);
  auto& report = std::get<protocol::ReportBody>(decoded->message.body);
  for (auto& block : report.blocks) {
    block.time.raw = {26, 13, 40, 25, 61, 61};  // no such time
    if (auto* s = std::get_if<protocol::StreamBlock>(&block.payload)) {
      s->speed_kmh = Reading::from_raw(FieldKind::speed_kmh, 64255);
      s->engine_rpm = Reading::from_raw(FieldKind::rpm_eighth, 64255);
      s->coolant_temp_c = Reading::from_raw(FieldKind::temperature_byte, 0xFE);       // abnormal
      s->nox_downstream_ppm = Reading::from_raw(FieldKind::nox_ppm, 0xFFFF);           // invalid
      s->net_torque_pct = Reading::from_raw(FieldKind::torque_pct, 0);                 // −125 %
      s->odometer_km = Reading::from_raw(FieldKind::odometer_km, 0xFFFFFFFD);
    }
  }
  return protocol::encode(decoded->message).value();
}

TEST(HostileTerminals, AbsurdValuesAreStoredAsSentAndAnswered) {
  TempDir dir;
  RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"}));
  WellBehavedTerminal good(server.port());
  const std::string vin = "LZZ5CLSB5PA123456";
  const Bytes report = absurd_report(vin);
  TestTerminal t(server.port());
  t.send(frames::login(vin, frames::bj(2026, 3, 1, 10, 0, 0)));
  t.send(report);
  EXPECT_EQ(t.read_frames(2).size(), 2u);
  good.finish();
  // Evidence is kept exactly as sent; judging it is the rules' job (R12), not the ingest's.
  std::vector<Bytes> stored;
  server.store().for_each_frame(protocol::make_vin(vin), INT64_MIN / 2, INT64_MAX / 2,
                                [&](const storage::FrameKey&, const storage::FrameRecord& r) {
                                  stored.push_back(r.raw);
                                  return true;
                                });
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1], report);  // the report's collection time (2099) sorts after the login
  EXPECT_EQ(good.unanswered(), 0);
  EXPECT_LT(good.slowest(), latency_bound);
}

TEST(StorageFaults, AFullDiskClosesTerminalsRefusesNewOnesAndResumes) {
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  auto free = std::make_shared<std::atomic<std::uint64_t>>(1ull << 30);
  config.store.min_free_bytes = 100ull << 20;
  config.store.free_bytes = [free] { return free->load(); };
  config.store.recovery_interval = 50ms;
  RunningServer server(config);
  TestTerminal before(server.port());
  before.send(frame("e1-login"));
  EXPECT_EQ(before.read_frames(1).size(), 1u);

  *free = 10ull << 20;
  before.send(frame("e3-hj1239-realtime-signed"));
  EXPECT_TRUE(before.closed_by_server());
  EXPECT_EQ(server.metrics().replies_sent.value(), 1u);  // the report was not stored: no answer
  EXPECT_EQ(server.metrics().connections_closed.value("storage_failed"), 1u);
  ASSERT_TRUE(eventually([&] { return server.metrics().storage_available.value() == 0; }));
  TestTerminal during(server.port());
  EXPECT_TRUE(during.closed_by_server());
  EXPECT_GE(server.metrics().connections_rejected.value("storage_unavailable"), 1u);
  EXPECT_EQ(server.metrics().storage_faults.value(), 1u);

  *free = 1ull << 30;
  ASSERT_TRUE(eventually([&] { return server.metrics().storage_available.value() == 1; }));
  TestTerminal after(server.port());
  after.send(frame("e1-login"));
  after.send(frame("e3-hj1239-realtime-signed"));
  EXPECT_EQ(after.read_frames(2).size(), 2u);
  // Stored: the first login, then the second connection's login and report.
  EXPECT_EQ(server.metrics().frames_stored.value(), 3u);
}

// Before: 50 connections logging in as one VIN stored 99,446 logins in 35 s.
TEST(HostileTerminals, RepeatedLoginsOfOneVinAreRefusedUnstoredBeyondItsRate) {
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.login_burst = 5;
  config.login_rate_per_second = 0.001;  // no refill within the test
  RunningServer server(config);
  std::vector<std::unique_ptr<TestTerminal>> clones;
  for (int i = 0; i < 20; ++i) {
    clones.push_back(std::make_unique<TestTerminal>(server.port()));
    clones.back()->send(frame("e1-login"));
    if (i < 5)
      EXPECT_EQ(clones.back()->read_frames(1).size(), 1u) << i;
    else
      EXPECT_TRUE(clones.back()->closed_by_server()) << i;
  }
  EXPECT_EQ(server.metrics().connections_closed.value("login_rate"), 15u);
  EXPECT_EQ(server.metrics().vin_replaced.value(), 4u);
  // The bucket is the VIN's from that address: the terminal connecting from elsewhere still logs
  // in (and answers come back).
  asio::io_context io;
  asio::ip::tcp::socket elsewhere(io);
  elsewhere.open(asio::ip::tcp::v4());
  elsewhere.bind({asio::ip::make_address("127.0.0.2"), 0});
  elsewhere.connect({asio::ip::make_address("127.0.0.1"), server.port()});
  const auto login_bytes = frame("e1-login");
  asio::write(elsewhere, asio::buffer(login_bytes));
  std::array<std::uint8_t, 2> start{};
  boost::system::error_code ec;
  asio::read(elsewhere, asio::buffer(start), ec);  // the reply's start pair (or the close)
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(start[0], '#');
  ASSERT_TRUE(eventually([&] { return server.metrics().frames_stored.value() == 6; }));
  server.stop();
  EXPECT_EQ(stored_frames(dir.path()).size(), 6u);
}

// Before: 1,000 connections that never logged in exhausted the per-address limit for 30 s.
TEST(HostileTerminals, ConnectionsThatNeverLogInLockNoOneOutAndGetLittleTimeUnderPressure) {
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.max_connections_per_address = 2;
  config.pending_pressure = 10;
  config.first_frame_timeout = 30s;
  config.first_frame_timeout_under_pressure = 1s;
  RunningServer server(config);
  std::vector<std::unique_ptr<TestTerminal>> silent;
  for (int i = 0; i < 50; ++i) silent.push_back(std::make_unique<TestTerminal>(server.port()));
  // The address's terminals still log in, up to the limit of logged-in connections.
  TestTerminal a(server.port()), b(server.port()), c(server.port());
  a.send(frames::login("LFWADRJF011002346", frames::bj(2026, 3, 1, 8, 0, 0)));
  EXPECT_EQ(a.read_frames(1).size(), 1u);
  b.send(frames::login("LZZJ5ACA5AF110265", frames::bj(2026, 3, 1, 8, 0, 0)));
  EXPECT_EQ(b.read_frames(1).size(), 1u);
  c.send(frames::login("LRDS3D9J9GG887446", frames::bj(2026, 3, 1, 8, 0, 0)));
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(server.metrics().connections_closed.value("address_limit"), 1u);
  // The first 10 silent connections have the usual 30 s; the 40 after them (and c, refused
  // anyway) were accepted under pressure and have 1 s.
  ASSERT_TRUE(eventually(
      [&] { return server.metrics().connections_closed.value("first_frame_timeout") == 40; }));
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(silent[i]->closed_by_server(0ms)) << i;
  ASSERT_TRUE(eventually([&] { return server.metrics().frames_stored.value() == 2; }));
}

// An hj1239 header announcing `length` bytes, followed by `sent` of them (zeros).
Bytes unfinished_frame(std::uint16_t length, std::size_t sent) {
  const Bytes login_bytes = frame("e1-login");
  Bytes out(protocol::header_size + sent, 0);
  std::copy_n(login_bytes.begin(), protocol::header_size, out.begin());
  out[22] = static_cast<std::uint8_t>(length >> 8);
  out[23] = static_cast<std::uint8_t>(length & 0xFF);
  return out;
}

// Before: 500 connections announcing 65,000 bytes and sending 60,000 held ≈ 72 KB each until
// the frame timeout (+36 MB).
TEST(HostileTerminals, UnfinishedFramesAreBoundedPerAddressAndInAll) {
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.max_partial_frame_bytes_per_address = 100'000;
  config.max_partial_frame_bytes = 130'000;
  config.frame_timeout = 60s;
  config.first_frame_timeout = 60s;
  RunningServer server(config);
  const auto part = unfinished_frame(60'000, 30'000 - protocol::header_size);
  std::vector<std::unique_ptr<TestTerminal>> holders;
  for (int i = 0; i < 3; ++i) {
    holders.push_back(std::make_unique<TestTerminal>(server.port()));
    holders.back()->send(part);
    ASSERT_TRUE(eventually(
        [&] { return server.metrics().partial_frame_bytes.value() == 30'000 * (i + 1); }));
  }
  // A fourth from the same address would take it past 100,000 bytes.
  TestTerminal fourth(server.port());
  fourth.send(part);
  EXPECT_TRUE(fourth.closed_by_server());
  EXPECT_EQ(server.metrics().connections_closed.value("partial_frame_memory"), 1u);
  // What it held before going past the limit is given back when it has closed.
  EXPECT_TRUE(eventually([&] { return server.metrics().partial_frame_bytes.value() == 90'000; }));
  for (auto& h : holders) EXPECT_FALSE(h->closed_by_server(0ms));

  // Another address gets its own 100,000 bytes, within the 130,000 of the whole server.
  asio::io_context io;
  const auto from_other_address = [&] {
    auto s = std::make_unique<asio::ip::tcp::socket>(io);
    s->open(asio::ip::tcp::v4());
    s->bind({asio::ip::make_address("127.0.0.2"), 0});
    s->connect({asio::ip::make_address("127.0.0.1"), server.port()});
    asio::write(*s, asio::buffer(part));
    return s;
  };
  const auto other = from_other_address();
  ASSERT_TRUE(
      eventually([&] { return server.metrics().partial_frame_bytes.value() == 120'000; }));
  const auto too_many = from_other_address();  // 150,000 in all
  ASSERT_TRUE(eventually(
      [&] { return server.metrics().connections_closed.value("partial_frame_memory") == 2; }));
  EXPECT_TRUE(eventually([&] { return server.metrics().partial_frame_bytes.value() == 120'000; }));
  // What a connection held is given back when it closes.
  holders.front().reset();
  ASSERT_TRUE(
      eventually([&] { return server.metrics().partial_frame_bytes.value() == 90'000; }));
}

}  // namespace
}  // namespace lantian::server
