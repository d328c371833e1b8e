// lantiand end to end on loopback: real sockets, real TLS, real RocksDB.

#include <gtest/gtest.h>

#include <sstream>

#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/framer.hpp"
#include "protocol/platform_link.hpp"
#include "server/export_command.hpp"
#include "server_fixture.hpp"
#include "test_support.hpp"

namespace lantian::server {
namespace {
using namespace testing;
using protocol::Bytes;
using protocol::testing::corpus_frame;
using namespace std::chrono_literals;

const Bytes& frame(const std::string& name) {
  return corpus_frame(name).bytes;
}

std::uint8_t command_of(const Bytes& f) {
  return f.at(2);
}

// A copy of `f` with another VIN (and a correct BCC).
Bytes with_vin(Bytes f, const std::string& vin) {
  std::copy(vin.begin(), vin.end(), f.begin() + 3);
  f.back() = protocol::xor_checksum(protocol::ByteView(f).subspan(2, f.size() - 3));
  return f;
}

// A copy of `f` with another command byte (a real-time frame sent again as a resend).
Bytes with_command(Bytes f, std::uint8_t command) {
  f[2] = command;
  f.back() = protocol::xor_checksum(protocol::ByteView(f).subspan(2, f.size() - 3));
  return f;
}

Bytes cat(std::initializer_list<Bytes> frames) {
  Bytes out;
  for (const auto& f : frames) out.insert(out.end(), f.begin(), f.end());
  return out;
}

TEST(Ingest, Hj1239OverTcpIsAnsweredAfterStorage) {
  TempDir dir;
  std::vector<Bytes> replies;
  {
    RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"}));
    TestTerminal t(server.port());
    t.send(cat({frame("e1-login"), frame("e3-hj1239-realtime-signed"), frame("e4-logout")}));
    replies = t.read_frames(3);
    // When the replies arrive, the frames are already in the archive.
    EXPECT_EQ(server.metrics().frames_stored.value(), 3u);
  }
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(command_of(replies[0]), 0x01);
  EXPECT_EQ(command_of(replies[1]), 0x02);
  EXPECT_EQ(command_of(replies[2]), 0x04);
  for (const auto& r : replies) {
    auto d = protocol::decode_frame(r);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->data_length, 6u);  // the platform time
    EXPECT_EQ(protocol::as_text(d->message.header.vin), "LGAX2BG40N1000001");
  }
  const auto stored = stored_frames(dir.path());
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0].raw, frame("e1-login"));
  EXPECT_EQ(stored[1].raw, frame("e3-hj1239-realtime-signed"));
  EXPECT_EQ(stored[2].raw, frame("e4-logout"));
  EXPECT_EQ(stored[1].received.profile, protocol::Profile::hj1239);
  EXPECT_EQ(stored[1].received.listener, "tcp://127.0.0.1:0?profile=hj1239");
}

TEST(Ingest, Gb17691OverTlsGetsOnlyTheTimeSyncReply) {
  TempDir dir;
  RunningServer server(test_config(dir.path(), {"tls://127.0.0.1:0?profile=gb17691"}));
  TestTerminal t(server.port(), /*tls=*/true);
  t.send(cat({frame("e1-login"), frame("e2-gb17691-realtime"), frame("e5a-time-sync-request")}));
  const auto replies = t.read_frames(2, 1500ms);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(command_of(replies[0]), 0x05);
  auto d = protocol::decode_frame(replies[0]);
  ASSERT_TRUE(d.has_value());
  ASSERT_TRUE(std::holds_alternative<protocol::PlatformTimeBody>(d->message.body));
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto sent =
      std::get<protocol::PlatformTimeBody>(d->message.body).time.to_unix_seconds().value();
  EXPECT_NEAR(static_cast<double>(sent),
              static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(now).count()),
              5);
  server.stop();
  EXPECT_EQ(stored_frames(dir.path()).size(), 3u);
}

TEST(Ingest, NonroadOverTlsWithTheListenersProfile) {
  TempDir dir;
  RunningServer server(test_config(dir.path(), {"tls://127.0.0.1:0?profile=nonroad"}));
  {
    TestTerminal t(server.port(), true);
    t.send(cat({frame("c10-nonroad-login"), frame("c13-nonroad-stream-working"),
                frame("c14-nonroad-removal-alarm"), frame("c15-nonroad-logout")}));
    EXPECT_TRUE(t.read_frames(1, 500ms).empty());  // non-road gets no replies by default
  }
  server.stop();
  const auto stored = stored_frames(dir.path());
  ASSERT_EQ(stored.size(), 4u);
  std::ostringstream out, err;
  ExportQuery q;
  q.vin = protocol::make_vin("NR4EXC2023ZZ00017");
  ASSERT_EQ(run_export(server.config(), q, out, err), 0) << err.str();
  const std::string text = out.str();
  EXPECT_NE(text.find("\"command_name\":\"removal_alarm\",\"ack_flag\":null"), std::string::npos);
  EXPECT_NE(text.find("\"egr_commanded_pct\":10.25"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4);
}

TEST(Ingest, AutoListenerAnswersLoginThenFollowsTheTerminalsProfile) {
  TempDir dir;
  RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=auto"}));
  TestTerminal hj(server.port());
  hj.send(cat({frame("e1-login"), frame("e3-hj1239-realtime-signed")}));
  EXPECT_EQ(hj.read_frames(2).size(), 2u);  // login answered; hj1239 layout recognised and answered

  TestTerminal gb(server.port());
  const Bytes login = with_vin(frame("e1-login"), "LZZ5CLSB5PA123456");
  gb.send(cat({login, with_vin(frame("e2-gb17691-realtime"), "LZZ5CLSB5PA123456")}));
  const auto replies = gb.read_frames(2, 1000ms);
  ASSERT_EQ(replies.size(), 1u);  // only the login
  EXPECT_EQ(command_of(replies[0]), 0x01);
}

TEST(Ingest, PlatformVariantFramesAreAcknowledged) {
  TempDir dir;
  RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"}));
  TestTerminal t(server.port());
  const Bytes forwarded = frame("c08-platform-variant-realtime");
  t.send(cat({with_vin(frame("e1-login"), "LZZ5CLSB5PA123456"), forwarded}));
  const auto replies = t.read_frames(2);
  ASSERT_EQ(replies.size(), 2u);
  auto ack = protocol::decode_frame(replies[1]);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->message.header.variant, protocol::HeaderVariant::platform);
  EXPECT_EQ(ack->message.header.ack_flag, protocol::ack_flag::success);
}

TEST(Ingest, ADifferentVinOnTheConnectionClosesIt) {
  TempDir dir;
  RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"}));
  TestTerminal t(server.port());
  t.send(
      cat({frame("e1-login"), with_vin(frame("e3-hj1239-realtime-signed"), "LZZ5CLSB5PA123456")}));
  EXPECT_EQ(t.read_frames(1).size(), 1u);  // the login's reply
  EXPECT_TRUE(t.closed_by_server());
  EXPECT_EQ(server.metrics().connections_rejected.value("vin_mismatch"), 1u);
  server.stop();
  EXPECT_EQ(stored_frames(dir.path()).size(), 1u);  // the spoofed frame is not stored
}

TEST(Ingest, StrictLoginClosesALeniantOneCounts) {
  TempDir dir;
  {
    RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"}));
    TestTerminal t(server.port());
    t.send(frame("e3-hj1239-realtime-signed"));
    EXPECT_TRUE(t.closed_by_server());
    EXPECT_EQ(server.metrics().connections_rejected.value("no_login"), 1u);
  }
  EXPECT_TRUE(stored_frames(dir.path()).empty());

  TempDir dir2;
  auto config = test_config(dir2.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.login_policy = LoginPolicy::lenient;
  RunningServer server(config);
  TestTerminal t(server.port());
  t.send(frame("e3-hj1239-realtime-signed"));
  EXPECT_EQ(t.read_frames(1).size(), 1u);
  EXPECT_EQ(server.metrics().connections_rejected.value("no_login"), 1u);
}

TEST(Ingest, GarbageIsSkippedAndCountedOversizedFramesClose) {
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.max_data_length = 100;
  RunningServer server(config);
  TestTerminal t(server.port());
  const Bytes garbage{'n', 'o', 'i', 's', 'e', 0x00, 0x01};
  t.send(cat({garbage, frame("e1-login"), garbage}));
  EXPECT_EQ(t.read_frames(1).size(), 1u);
  EXPECT_EQ(server.metrics().decode_errors.value("garbage"), 2u);
  t.send(frame("e3-hj1239-realtime-signed"));  // 225-byte data unit > 100
  EXPECT_TRUE(t.closed_by_server());
  EXPECT_EQ(server.metrics().decode_errors.value("oversized"), 1u);
}

TEST(Ingest, ReportsAfterAFalseStartAreAnsweredAtOnce) {
  // A buggy terminal: after its login, garbage holding a start pair whose header announces a real-
  // time report of 40,000 bytes, then real reports. They are answered now, not after the frame
  // timeout, and the session goes on.
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.frame_timeout = 60s;
  RunningServer server(config);
  TestTerminal t(server.port());
  const Bytes& login = frame("e1-login");
  const std::string vin(login.begin() + 3, login.begin() + 20);
  t.send(login);
  ASSERT_EQ(t.read_frames(1).size(), 1u);
  Bytes garbage{0x11, 0x22, 0x33};
  garbage.insert(garbage.end(), login.begin(), login.begin() + 24);
  garbage[3 + 2] = protocol::command::realtime;
  garbage[3 + 22] = 0x9C;  // 0x9C40 = 40,000
  garbage[3 + 23] = 0x40;
  garbage.insert(garbage.end(), 10, 0x00);
  ASSERT_EQ(garbage.size(), 37u);
  t.send(cat({garbage, with_vin(frame("e3-hj1239-realtime-signed"), vin),
              with_vin(frame("c03-hj1239-10-samples-unsigned"), vin)}));
  const auto replies = t.read_frames(2, 2s);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(command_of(replies[0]), protocol::command::realtime);
  EXPECT_EQ(command_of(replies[1]), protocol::command::realtime);
  EXPECT_EQ(server.metrics().decode_errors.value("garbage"), 1u);
  EXPECT_EQ(server.metrics().decode_errors.value("false_start"), 1u);
  t.send(frame("e4-logout"));
  EXPECT_EQ(t.read_frames(1).size(), 1u);
  server.stop();
  EXPECT_EQ(stored_frames(dir.path()).size(), 4u);
}

TEST(Ingest, VariantsAreCountedNotTreatedAsErrors) {
  TempDir dir;
  RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"}));
  TestTerminal t(server.port());
  const Bytes& login = frame("e1-login");
  const std::string vin(login.begin() + 3, login.begin() + 20);
  t.send(cat({login, with_vin(frame("c05-hj1239-twc-32-byte-variant"), vin)}));
  EXPECT_EQ(t.read_frames(2).size(), 2u);
  EXPECT_EQ(server.metrics().decode_variants.value("twc_32_byte"), 1u);
  EXPECT_EQ(server.metrics().decode_errors.value("layout_variant"), 0u);
  server.stop();
  EXPECT_EQ(stored_frames(dir.path()).size(), 2u);
}

TEST(Ingest, DeadlinesCloseSilentConnections) {
  TempDir dir;
  auto config = test_config(
      dir.path(), {"tls://127.0.0.1:0?profile=hj1239", "tcp://127.0.0.1:0?profile=hj1239"});
  config.handshake_timeout = 1s;
  config.first_frame_timeout = 1s;
  config.idle_timeout = 1s;
  RunningServer server(config);
  TestTerminal no_handshake(server.port(0));  // plain TCP to the TLS port: never handshakes
  TestTerminal no_login(server.port(1));
  TestTerminal idle(server.port(1));
  idle.send(frame("e1-login"));
  EXPECT_EQ(idle.read_frames(1).size(), 1u);
  EXPECT_TRUE(no_handshake.closed_by_server(3s));
  EXPECT_TRUE(no_login.closed_by_server(3s));
  EXPECT_TRUE(idle.closed_by_server(3s));
  EXPECT_EQ(server.metrics().connections_closed.value("handshake_timeout"), 1u);
  EXPECT_EQ(server.metrics().connections_closed.value("first_frame_timeout"), 1u);
  EXPECT_EQ(server.metrics().connections_closed.value("idle_timeout"), 1u);
  EXPECT_EQ(server.metrics().tls_handshake_failures.value(), 1u) << server.metrics().render();
}

TEST(Ingest, DuplicatesAndResendsAreAcknowledgedAndStoredOnce) {
  TempDir dir;
  {
    RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"}));
    TestTerminal t(server.port());
    const Bytes samples =
        with_vin(frame("c02-hj1239-10-samples-signed-tildes"), "LZZ5CLSB5PA123456");
    t.send(cat({with_vin(frame("e1-login"), "LZZ5CLSB5PA123456"), samples, samples,
                with_command(samples, 0x03)}));
    const auto replies = t.read_frames(4);
    ASSERT_EQ(replies.size(), 4u);
    EXPECT_EQ(command_of(replies[3]), 0x03);
    EXPECT_EQ(server.metrics().duplicates.value(), 2u);
  }
  EXPECT_EQ(stored_frames(dir.path()).size(), 2u);  // login + the samples once
}

TEST(Ingest, ASecondLoginOfTheSameVinReplacesTheFirstConnection) {
  TempDir dir;
  RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"}));
  TestTerminal first(server.port());
  first.send(frame("e1-login"));
  EXPECT_EQ(first.read_frames(1).size(), 1u);
  TestTerminal second(server.port());
  second.send(frame("e1-login"));
  EXPECT_EQ(second.read_frames(1).size(), 1u);
  EXPECT_TRUE(first.closed_by_server());
  EXPECT_EQ(server.metrics().vin_replaced.value(), 1u);
  second.send(frame("e3-hj1239-realtime-signed"));
  EXPECT_EQ(second.read_frames(1).size(), 1u);
}

TEST(Ingest, ClientCertificateMustNameTheLoginVin) {
  TempDir dir;
  auto config = test_config(dir.path(), {"tls://127.0.0.1:0?profile=hj1239"});
  config.client_auth = ClientAuth::required;
  RunningServer server(config);
  TestTerminal good(server.port(), true, "LGAX2BG40N1000001");
  good.send(frame("e1-login"));
  EXPECT_EQ(good.read_frames(1).size(), 1u);
  TestTerminal wrong(server.port(), true, "LZZ5CLSB5PA123456");
  wrong.send(frame("e1-login"));  // certificate for another VIN
  EXPECT_TRUE(wrong.closed_by_server());
  EXPECT_EQ(server.metrics().connections_rejected.value("certificate_vin_mismatch"), 1u);
  // Without a certificate the handshake fails (under TLS 1.3 the client learns it on its first
  // read).
  const auto failures = server.metrics().tls_handshake_failures.value();
  try {
    TestTerminal none(server.port(), true);
    none.send(frame("e1-login"));
    EXPECT_TRUE(none.closed_by_server());
  } catch (const std::exception&) {
  }
  EXPECT_TRUE(
      eventually([&] { return server.metrics().tls_handshake_failures.value() == failures + 1; }));
}

TEST(Ingest, ConnectionLimitsRefuseTheExcess) {
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.max_connections = 3;
  RunningServer server(config);
  TestTerminal a(server.port()), b(server.port()), c(server.port()), d(server.port());
  EXPECT_TRUE(d.closed_by_server());
  EXPECT_EQ(server.metrics().connections_rejected.value("max_connections"), 1u);
  a.send(frame("e1-login"));
  EXPECT_EQ(a.read_frames(1).size(), 1u);
}

TEST(Ingest, GracefulStopStoresAndAnswersEverythingRead) {
  TempDir dir;
  std::size_t sent = 0, acked = 0;
  {
    RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"}));
    TestTerminal t(server.port());
    t.send(frame("e1-login"));
    ASSERT_EQ(t.read_frames(1).size(), 1u);
    // 200 real-time frames with distinct times, then stop at once.
    Bytes burst;
    for (int i = 0; i < 200; ++i) {
      Bytes f = frame("e3-hj1239-realtime-signed");
      f[24 + 5] = static_cast<std::uint8_t>(i % 60);         // send time: seconds
      f[24 + 4] = static_cast<std::uint8_t>(i / 60);         // minutes
      f[24 + 9 + 5] = f[24 + 5], f[24 + 9 + 4] = f[24 + 4];  // OBD block time
      f.back() = protocol::xor_checksum(protocol::ByteView(f).subspan(2, f.size() - 3));
      burst.insert(burst.end(), f.begin(), f.end());
      ++sent;
    }
    t.send(burst);
    const std::size_t first = t.read_frames(1).size();  // the server is working through the burst
    ASSERT_GE(first, 1u);
    server.stop();
    acked =
        1 + first + t.read_frames(sent, 10s).size();  // login, first replies, the rest until close
  }
  // Everything the server read before stopping was stored and answered: nothing acknowledged is
  // missing, and nothing stored went unanswered.
  EXPECT_EQ(stored_frames(dir.path()).size(), acked);
  EXPECT_GT(acked, 2u);
}

}  // namespace
}  // namespace lantian::server

namespace lantian::server {
namespace {
using namespace testing;
using namespace std::chrono_literals;

TEST(Ingest, ATerminalThatNeverReadsIsClosedAfterTheWriteDeadline) {
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
  config.write_timeout = 1s;
  config.socket_buffer_bytes = 4096;
  RunningServer server(config);
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.open(boost::asio::ip::tcp::v4());
  socket.set_option(boost::asio::socket_base::receive_buffer_size(2048));
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
  // Time-sync requests, each answered with a 31-byte reply that the terminal never reads.
  protocol::Bytes requests;
  const auto& login = protocol::testing::corpus_frame("e1-login").bytes;
  requests.insert(requests.end(), login.begin(), login.end());
  const auto& sync = protocol::testing::corpus_frame("e5a-time-sync-request").bytes;
  for (int i = 0; i < 40000; ++i) requests.insert(requests.end(), sync.begin(), sync.end());
  std::thread writer([&] {
    boost::system::error_code ec;
    boost::asio::write(socket, boost::asio::buffer(requests), ec);  // fails once the server closes
  });
  EXPECT_TRUE(eventually(
      [&] { return server.metrics().connections_closed.value("write_timeout") == 1; }, 10s));
  boost::system::error_code ec;
  socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  writer.join();
  socket.close(ec);
}

}  // namespace
}  // namespace lantian::server

namespace lantian::server {
namespace {
using namespace testing;

TEST(Ingest, CertificateReloadTakesEffectForNewConnections) {
  namespace fs = std::filesystem;
  TempDir dir;
  const fs::path live = dir.path() / "live";
  fs::create_directories(live);
  fs::copy_file(test_certificates() / "server.crt", live / "server.crt");
  fs::copy_file(test_certificates() / "server.key", live / "server.key");
  auto config = test_config(dir.path(), {"tls://127.0.0.1:0?profile=hj1239"});
  config.tls_cert = live / "server.crt";
  config.tls_key = live / "server.key";
  RunningServer server(config);
  TestTerminal before(server.port(), true);

  // A new PKI: the old CA no longer verifies the server after the reload, the new one does.
  const fs::path fresh = dir.path() / "fresh";
  ASSERT_EQ(
      std::system(
          ("bash '" LANTIAN_CERTS_SCRIPT "' '" + fresh.string() + "' >/dev/null 2>&1").c_str()),
      0);
  fs::copy_file(fresh / "server.crt", live / "server.crt", fs::copy_options::overwrite_existing);
  fs::copy_file(fresh / "server.key", live / "server.key", fs::copy_options::overwrite_existing);
  server.reload_tls();
  EXPECT_THROW(TestTerminal(server.port(), true), std::exception);
  TestTerminal after(server.port(), true, std::nullopt, fresh / "ca.crt");
  after.send(protocol::testing::corpus_frame("e1-login").bytes);
  EXPECT_EQ(after.read_frames(1).size(), 1u);
  // The connection made before the reload keeps working.
  before.send(protocol::testing::corpus_frame("e1-login").bytes);
  EXPECT_EQ(before.read_frames(1).size(), 1u);
}

TEST(Ingest, TlsBelowVersion12IsRefused) {
  TempDir dir;
  RunningServer server(test_config(dir.path(), {"tls://127.0.0.1:0?profile=hj1239"}));
  boost::asio::io_context io;
  boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
  SSL_CTX_set_security_level(ctx.native_handle(), 0);  // let the client offer TLS 1.1 at all
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_1_VERSION);
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream(io, ctx);
  stream.lowest_layer().connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
  boost::system::error_code ec;
  stream.handshake(boost::asio::ssl::stream_base::client, ec);
  EXPECT_TRUE(ec);
  EXPECT_TRUE(eventually([&] { return server.metrics().tls_handshake_failures.value() == 1; }));
}

}  // namespace
}  // namespace lantian::server

namespace lantian::server {
namespace {

Bytes platform_login(const std::string& password) {
  return protocol::make_platform_login(
      protocol::make_vin("LANTIANZHENGZHOU1"),
      {protocol::BeijingTime::from_fields(2026, 12, 7, 8, 0, 0), 1, "ZZ0001", password, 0x01});
}

TEST(PlatformLinkIngest, ALowerPlatformForwardsManyVehiclesOnOneLink) {
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=auto"});
  config.platform_accounts = {{"ZZ0001", "link-secret"}};
  RunningServer server(config);
  TestTerminal link(server.port());
  const Bytes first = protocol::to_platform_variant(
      with_vin(frame("e3-hj1239-realtime-signed"), "LZZ5CLSB5PA000001"));
  const Bytes second = protocol::to_platform_variant(
      with_vin(frame("e3-hj1239-realtime-signed"), "LZZ5CLSB5PA000002"));
  const Bytes logout = protocol::make_platform_logout(
      protocol::make_vin("LANTIANZHENGZHOU1"), protocol::BeijingTime::from_fields(2026, 12, 7, 9, 0, 0), 1);
  link.send(cat({platform_login("link-secret"), first, second, first, logout}));
  const auto replies = link.read_frames(5);
  ASSERT_EQ(replies.size(), 5u);
  const std::uint8_t commands[] = {0x05, 0x02, 0x02, 0x02, 0x06};
  const char* vins[] = {"LANTIANZHENGZHOU1", "LZZ5CLSB5PA000001", "LZZ5CLSB5PA000002",
                        "LZZ5CLSB5PA000001", "LANTIANZHENGZHOU1"};
  for (std::size_t i = 0; i < replies.size(); ++i) {
    EXPECT_EQ(replies[i][2], commands[i]) << i;
    EXPECT_EQ(replies[i][3], protocol::ack_flag::success) << i;
    EXPECT_EQ(std::string(replies[i].begin() + 4, replies[i].begin() + 21), vins[i]) << i;
  }
  EXPECT_TRUE(link.closed_by_server());  // after the logout
  // Both vehicles' reports stored once each (the repeat is a duplicate), as they came; the login
  // and logout of the link are not frames of a vehicle and are not stored.
  std::vector<Bytes> stored;
  server.store().for_each_frame(std::nullopt, INT64_MIN / 4, INT64_MAX / 4,
                                [&](const storage::FrameKey&, const storage::FrameRecord& r) {
                                  stored.push_back(r.raw);
                                  return true;
                                });
  server.stop();
  EXPECT_EQ(stored, (std::vector<Bytes>{first, second}));
  EXPECT_EQ(server.metrics().duplicates.value(), 1u);
  EXPECT_EQ(server.metrics().connections_closed.value("platform_logout"), 1u);
}

TEST(PlatformLinkIngest, AnUnknownAccountIsRefusedAndNothingIsStored) {
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=auto"});
  config.platform_accounts = {{"ZZ0001", "link-secret"}};
  RunningServer server(config);
  TestTerminal link(server.port());
  link.send(cat({platform_login("guess"), protocol::to_platform_variant(frame("e3-hj1239-realtime-signed"))}));
  const auto replies = link.read_frames(1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0][2], 0x05);
  EXPECT_EQ(replies[0][3], protocol::ack_flag::error);
  EXPECT_TRUE(link.closed_by_server());
  EXPECT_EQ(server.metrics().connections_rejected.value("platform_login_refused"), 1u);
  EXPECT_EQ(server.metrics().frames_stored.value(), 0u);
}

}  // namespace
}  // namespace lantian::server
