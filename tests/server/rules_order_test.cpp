// Evaluation order and persistence of the rule worker: late resends folded in collection-time
// order, violations withdrawn when late data breaks their evidence, state carried across a restart
// through checkpoints, and the R11 offline check — each followed by a replay that must agree.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <sstream>

#include "rule_frames.hpp"
#include "server/rules_commands.hpp"
#include "server_fixture.hpp"

namespace lantian::server {
namespace {
using namespace testing;
using namespace testing::frames;
using protocol::Profile;

constexpr const char* cn3_truck = "LZZJ5ACA5AF110265";
constexpr const char* other_cn3_truck = "LFWD2ZPZ9BA158472";
// Inside the 24-hour 国三 truck zone of Zhengzhou (900 m from its east edge), and 900 m outside.
constexpr double inside[] = {113.82, 34.76};
constexpr double outside[] = {113.84, 34.76};
constexpr const char* zone = "zz-4ring-cn3";

std::int64_t unix_s(protocol::BeijingTime t) {
  return t.to_unix_seconds().value();
}

std::optional<boost::json::object> stored_violation(storage::Store& store, const std::string& id) {
  const auto text = store.get(storage::Family::violations, id);
  if (!text) return std::nullopt;
  return boost::json::parse(*text).as_object();
}

// `lantiand replay` prints `expected` and exits 0: the archive evaluated from scratch agrees.
void expect_replay(const std::filesystem::path& data, const std::string& expected) {
  std::ostringstream out, err;
  const std::string dir = data.string();
  const int status =
      run_replay(command({"lantiand", "replay", "--data-dir", dir.c_str()}), out, err);
  EXPECT_EQ(out.str() + err.str(), expected);
  EXPECT_EQ(status, 0);
}

// Sends `bytes` on a logged-in gb17691 connection and waits until `frames` more are stored and
// evaluated.
void deliver(RunningServer& server, TestTerminal& terminal, const protocol::Bytes& bytes,
             std::uint64_t frames) {
  const auto before = server.metrics().frames_stored.value();
  terminal.send(bytes);
  ASSERT_TRUE(
      eventually([&] { return server.metrics().frames_stored.value() == before + frames; }));
  server.drain_rules();
}

TEST(RuleOrder, LateResendsAreEvaluatedInCollectionTimeOrder) {
  TempDir dir;
  import_samples(dir.path());
  const auto t = bj(2026, 3, 1, 23, 0, 0);  // night: only the 24-hour zone applies
  const auto t0 = unix_s(t);
  auto at = [&](int seconds) { return protocol::BeijingTime::from_unix_seconds(t0 + seconds); };
  {
    RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=gb17691"}));
    TestTerminal truck(server.port());
    deliver(server, truck,
            cat({login(cn3_truck, at(-60)),
                 truck_sample(cn3_truck, Profile::gb17691, at(60), inside[0], inside[1]),
                 truck_sample(cn3_truck, Profile::gb17691, at(120), outside[0], outside[1])}),
            3);
    // In arrival order one fix inside is not a visit; nothing but R01.
    EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R02"), 0u);
    EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R01"), 1u);

    // The resend of 23:00:00 arrives late: in collection-time order it makes two consecutive fixes
    // inside (23:00:00, 23:01:00), so the visit that began at 23:00:00 is a violation.
    const auto reevaluations = server.metrics().evaluation.reevaluations.value();
    deliver(server, truck,
            truck_sample(cn3_truck, Profile::gb17691, at(0), inside[0], inside[1],
                         protocol::command::resend),
            1);
    EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R02"), 1u);
    const std::string visit =
        std::string("R02|") + cn3_truck + "|" + zone + "|" + std::to_string(t0);
    const auto r02 = stored_violation(server.store(), visit);
    ASSERT_TRUE(r02);
    EXPECT_EQ(r02->at("evidence").as_array().size(), 2u);
    EXPECT_EQ(r02->at("raised_unix_s").as_int64(), t0 + 60);
    // The late frame made the worker evaluate the vehicle again from its checkpoint, once.
    EXPECT_EQ(server.metrics().evaluation.reevaluations.value(), reevaluations + 1);

    // A second visit (23:10, 23:12) raises R02; then a late fix outside at 23:11 splits it into two
    // one-fix visits: the violation no longer stands and is withdrawn, not deleted.
    deliver(server, truck,
            cat({truck_sample(cn3_truck, Profile::gb17691, at(600), inside[0], inside[1]),
                 truck_sample(cn3_truck, Profile::gb17691, at(720), inside[0], inside[1])}),
            2);
    const std::string second =
        std::string("R02|") + cn3_truck + "|" + zone + "|" + std::to_string(t0 + 600);
    ASSERT_TRUE(stored_violation(server.store(), second));
    EXPECT_FALSE(stored_violation(server.store(), second)->contains("withdrawn"));
    deliver(server, truck,
            truck_sample(cn3_truck, Profile::gb17691, at(660), outside[0], outside[1],
                         protocol::command::resend),
            1);
    const auto withdrawn = stored_violation(server.store(), second);
    ASSERT_TRUE(withdrawn);
    ASSERT_TRUE(withdrawn->contains("withdrawn"));
    EXPECT_EQ(withdrawn->at("status").as_string(), "open");
    EXPECT_EQ(server.metrics().evaluation.violations_withdrawn.value(), 1u);
    EXPECT_FALSE(stored_violation(server.store(), visit)->contains("withdrawn"));

    // R01 keeps the day's first and last evidence: 23:00:00 (the resend) and 23:12:00.
    const auto r01 =
        stored_violation(server.store(), std::string("R01|") + cn3_truck + "|2026-03-01");
    ASSERT_TRUE(r01);
    const auto& evidence = r01->at("evidence").as_array();
    ASSERT_EQ(evidence.size(), 2u);
    EXPECT_EQ(evidence[0].at("time").as_string(), "2026-03-01T23:00:00+08:00");
    EXPECT_EQ(evidence[1].at("time").as_string(), "2026-03-01T23:12:00+08:00");
  }
  // The archive evaluated from scratch gives the same set, the withdrawn one excluded.
  expect_replay(dir.path(),
                "replayed: 2 violations; identical 2, not stored 0, not reproduced 0; withdrawn 1, awaiting re-review 0; "
                "offline (R11) confirmed by the archive 0, not confirmed 0; gate silence (R15) not replayed 0\n");
}

// Frames that arrive in order are evaluated from the session's own decoding: only a vehicle's
// first evaluation since start reads its archive (frames without evidence are never waited for). With no room to hold decoded frames, every frame
// is read back instead — on several shards — and the result is the same.
TEST(RuleOrder, InOrderFramesAreEvaluatedFromTheSessionsDecoding) {
  struct Case {
    int shards;
    std::size_t held;
    std::uint64_t read_back_after_samples, read_back_at_end;
  };
  for (const auto& c : {Case{1, 50000, 3, 3}, Case{3, 0, 3, 4}}) {
    SCOPED_TRACE(c.shards);
    TempDir dir;
    import_samples(dir.path());
    const auto t0 = unix_s(bj(2026, 3, 1, 23, 0, 0));
    auto at = [&](int seconds) { return protocol::BeijingTime::from_unix_seconds(t0 + seconds); };
    {
      auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=gb17691"});
      config.rule_threads = c.shards;
      config.rule_max_held_frames = c.held;
      RunningServer server(std::move(config));
      EXPECT_EQ(server.rules().shard_count(), static_cast<std::size_t>(c.shards));
      TestTerminal truck(server.port());
      deliver(server, truck, login(cn3_truck, at(-60)), 1);
      // A login carries nothing the rules read: nothing is evaluated.
      EXPECT_EQ(server.metrics().evaluation.frames_from_archive.value(), 0u);
      EXPECT_EQ(server.metrics().evaluation.reevaluations.value(), 0u);
      // The vehicle's first evaluation since start reads its archive: the login and both samples.
      deliver(server, truck,
              cat({truck_sample(cn3_truck, Profile::gb17691, at(60), inside[0], inside[1]),
                   truck_sample(cn3_truck, Profile::gb17691, at(120), inside[0], inside[1])}),
              2);
      EXPECT_EQ(server.metrics().evaluation.frames_from_archive.value(), c.read_back_after_samples);
      deliver(server, truck,
              truck_sample(cn3_truck, Profile::gb17691, at(180), outside[0], outside[1]), 1);
      EXPECT_EQ(server.metrics().evaluation.frames_from_archive.value(), c.read_back_at_end);
      EXPECT_EQ(server.metrics().evaluation.frames_handed_over.value(), 4u);
      EXPECT_EQ(server.metrics().evaluation.backlog_frames.value(), 0);
      EXPECT_EQ(server.metrics().evaluation.reevaluations.value(),
                1u);  // the first, from the archive
      EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R01"), 1u);
      EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R02"), 1u);
      EXPECT_TRUE(stored_violation(server.store(), std::string("R02|") + cn3_truck + "|" + zone +
                                                       "|" + std::to_string(t0 + 60)));
    }
    expect_replay(dir.path(),
                  "replayed: 2 violations; identical 2, not stored 0, not reproduced 0; "
                  "withdrawn 0, awaiting re-review 0; offline (R11) confirmed by the archive 0, not confirmed 0; gate silence (R15) not replayed 0\n");
  }
}

TEST(RuleOrder, AVisitContinuesAcrossARestart) {
  TempDir dir;
  import_samples(dir.path());
  const auto t0 = unix_s(bj(2026, 3, 1, 23, 0, 0));
  auto at = [&](int seconds) { return protocol::BeijingTime::from_unix_seconds(t0 + seconds); };
  {
    RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=gb17691"}));
    TestTerminal truck(server.port());
    deliver(server, truck,
            cat({login(other_cn3_truck, at(-60)),
                 truck_sample(other_cn3_truck, Profile::gb17691, at(0), inside[0], inside[1])}),
            2);
    EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R02"),
              0u);  // one fix inside so far
  }
  {
    // A new process: the vehicle's state comes back from its checkpoint and the archive.
    RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=gb17691"}));
    TestTerminal truck(server.port());
    deliver(server, truck,
            cat({login(other_cn3_truck, at(50)),
                 truck_sample(other_cn3_truck, Profile::gb17691, at(60), inside[0], inside[1])}),
            2);
    EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R02"), 1u);
    EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R01"),
              0u);  // raised by the first process
    EXPECT_TRUE(stored_violation(server.store(), std::string("R02|") + other_cn3_truck + "|" +
                                                     zone + "|" + std::to_string(t0)));
  }
  expect_replay(dir.path(),
                "replayed: 2 violations; identical 2, not stored 0, not reproduced 0; withdrawn 0, awaiting re-review 0; "
                "offline (R11) confirmed by the archive 0, not confirmed 0; gate silence (R15) not replayed 0\n");
}

TEST(RuleOrder, OfflineCheckFlagsASilentTerminalOncePerSilence) {
  TempDir dir;
  import_samples(dir.path());
  std::string id;
  {
    RunningServer server(test_config(dir.path(), {"tcp://127.0.0.1:0?profile=gb17691"}));
    TestTerminal truck(server.port());
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    deliver(server, truck, login(cn3_truck, protocol::BeijingTime::from_unix_seconds(now)), 1);
    const auto received_s =
        boost::json::parse(*server.store().latest_state(protocol::make_vin(cn3_truck)))
            .at("receive_unix_ms")
            .to_number<std::int64_t>() /
        1000;
    id = std::string("R11|") + cn3_truck + "|offline|" + std::to_string(received_s);
    server.rules().check_offline(received_s + 72 * 3600 - 1);  // just below 72 h
    EXPECT_FALSE(stored_violation(server.store(), id));
    server.rules().check_offline(received_s + 72 * 3600);
    server.rules().check_offline(received_s + 80 * 3600);  // the same silence: the same violation
    EXPECT_EQ(server.metrics().evaluation.violations_raised.value("R11"), 1u);
    const auto v = stored_violation(server.store(), id);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->at("severity").as_string(), "low");
    EXPECT_EQ(v->at("unix_s").as_int64(), received_s);
    EXPECT_EQ(v->at("thresholds").at("offline_s").as_int64(), 72 * 3600);
    // Other registered vehicles never sent anything: no terminal went silent.
    EXPECT_EQ(v->at("evidence").as_array().size(), 1u);
  }
  expect_replay(dir.path(),
                "replayed: 0 violations; identical 0, not stored 0, not reproduced 0; withdrawn 0, awaiting re-review 0; "
                "offline (R11) confirmed by the archive 1, not confirmed 0; gate silence (R15) not replayed 0\n");
}

}  // namespace
}  // namespace lantian::server
