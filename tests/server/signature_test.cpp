// Terminal authenticity end to end (docs/security.md): hj1239 reports verified with the vehicle's
// registry key or a key learned by activation, the verdict stored with each frame, R10 for
// forged or unsigned reports, the `reject` policy, and activation answered with 0x08.

#include <gtest/gtest.h>

#include <fstream>

#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/json.hpp"
#include "rule_frames.hpp"
#include "server/rules_commands.hpp"
#include "server_fixture.hpp"
#include "sim/sm2_signer.hpp"

namespace lantian::server {
namespace {
using namespace testing;
using namespace testing::frames;
using protocol::Bytes;
using protocol::Profile;
using protocol::SignatureCheck;

constexpr const char* keyed_truck = "LFWD2ZPZ9BA158472";     // registry row with a key
constexpr const char* keyless_truck = "LZZJ5ACA5AF110265";   // registry row without one
constexpr const char* chip = "CHIP000000000001";

std::unique_ptr<sim::Sm2Signer> signer_for(const std::string& seed,
                                           std::string user_id = "1234567812345678") {
  auto s = sim::Sm2Signer::derive(seed, std::move(user_id));
  EXPECT_TRUE(s);
  return s;
}

// `frame` (an hj1239 report) signed by `signer` over its data unit; without a signer, unsigned.
Bytes signed_report(const Bytes& frame, const sim::Sm2Signer* signer) {
  auto decoded = protocol::decode_frame(frame, {.profile = Profile::hj1239});
  EXPECT_TRUE(decoded);
  auto& report = std::get<protocol::ReportBody>(decoded->message.body);
  report.signature.reset();
  const Bytes unsigned_frame = protocol::encode(decoded->message).value();
  if (!signer) return unsigned_frame;
  report.signature = signer->sign(protocol::ByteView(unsigned_frame)
                                      .subspan(protocol::header_size,
                                               unsigned_frame.size() - protocol::frame_overhead));
  return protocol::encode(decoded->message).value();
}

Bytes report_at(const std::string& vin, int second, const sim::Sm2Signer* signer) {
  const auto t = protocol::BeijingTime::from_unix_seconds(
      bj(2026, 3, 1, 10, 0, 0).to_unix_seconds().value() + second);
  return signed_report(truck_sample(vin, Profile::hj1239, t, 113.0, 34.0), signer);
}

// An activation (0x07) of `vin` carrying `carried`'s key, signed by `signer` (time … VIN).
Bytes activation(const std::string& vin, const sim::Sm2Signer& carried,
                 const sim::Sm2Signer& signer, const std::string& body_vin = "") {
  protocol::ActivationBody a;
  a.time = bj(2026, 3, 1, 9, 0, 0);
  std::copy_n(chip, 16, a.chip_id.begin());
  a.public_key = carried.public_key();
  a.vin = protocol::make_vin(body_vin.empty() ? vin : body_vin);
  const protocol::Bytes one{0x01};
  a.signature = protocol::Signature(one, one);  // placeholder, to find the signed bytes
  const Bytes draft = frame(protocol::command::activation, vin, a);
  a.signature =
      signer.sign(protocol::ByteView(draft).subspan(protocol::header_size, 6 + 16 + 64 + 17));
  return frame(protocol::command::activation, vin, a);
}

// The vehicle's archived frames in key order (collection time, then arrival).
std::vector<storage::FrameRecord> records_of(storage::Store& store, const std::string& vin) {
  std::vector<storage::FrameRecord> out;
  store.for_each_frame(protocol::make_vin(vin), std::numeric_limits<std::int64_t>::min(),
                       std::numeric_limits<std::int64_t>::max(),
                       [&](const storage::FrameKey&, const storage::FrameRecord& r) {
                         out.push_back(r);
                         return true;
                       });
  return out;  // in key order: collection time, then arrival
}

// The activation reply read from `t` (the first 0x08 frame), as (status, detail).
std::pair<int, int> activation_answer(TestTerminal& t) {
  for (const auto& f : t.read_frames(1)) {
    const auto d = protocol::decode_frame(f, {.profile = Profile::hj1239});
    if (!d) continue;
    if (const auto* a = std::get_if<protocol::ActivationReplyBody>(&d->message.body))
      return {a->status, a->detail};
  }
  return {0, 0};
}

class SignatureTest : public ::testing::Test {
 protected:
  SignatureTest() : keyed_(signer_for(keyed_truck)), forger_(signer_for("a forger")) {
    const auto csv = dir_.path() / "registry.csv";
    std::ofstream(csv)
        << "vin,plate,plate_color,category,fuel,emission_stage,stage_source,rated_power_kw,"
           "profile,owner,registration_code,chip_id,sm2_public_key\n"
        << keyed_truck << ",豫C10001,yellow,N3,diesel,CN6b,registry,213,hj1239,洛阳某运输公司,,"
        << chip << "," << protocol::to_hex(keyed_->public_key()) << "\n"
        << keyless_truck << ",豫A10002,yellow,N3,diesel,CN6b,registry,247,hj1239,郑州某物流有限公司,,,\n";
    std::ostringstream out, err;
    EXPECT_EQ(run_import_registry(command({"lantiand", "import-registry", "--data-dir",
                                           dir_.path().c_str(), csv.c_str()}),
                                  out, err),
              0)
        << err.str();
  }

  Config config(SignaturePolicy policy = SignaturePolicy::record) {
    auto c = test_config(dir_.path(), {"tcp://127.0.0.1:0?profile=hj1239"});
    c.signature_policy = policy;
    return c;
  }

  std::vector<SignatureCheck> verdicts(storage::Store& store, const std::string& vin) {
    std::vector<SignatureCheck> out;
    for (const auto& r : records_of(store, vin)) out.push_back(r.received.signature);
    return out;
  }

  TempDir dir_;
  std::unique_ptr<sim::Sm2Signer> keyed_, forger_;
};

TEST_F(SignatureTest, RegistryKeyVerifiesReportsAndForgeriesRaiseR10) {
  RunningServer server(config());
  TestTerminal t(server.port());
  t.send(cat({login(keyed_truck, bj(2026, 3, 1, 9, 59, 0)), report_at(keyed_truck, 0, keyed_.get()),
              report_at(keyed_truck, 10, forger_.get()), report_at(keyed_truck, 20, nullptr)}));
  // Under `record`, every report is stored and answered, with its verdict.
  EXPECT_EQ(t.read_frames(4).size(), 4u);
  ASSERT_TRUE(eventually([&] { return server.metrics().frames_stored.value() == 4; }));
  EXPECT_EQ(verdicts(server.store(), keyed_truck),
            (std::vector{SignatureCheck::not_signed, SignatureCheck::valid,
                         SignatureCheck::invalid, SignatureCheck::missing}));
  EXPECT_EQ(server.metrics().signatures.value("valid"), 1u);
  EXPECT_EQ(server.metrics().signatures.value("invalid"), 1u);
  EXPECT_EQ(server.metrics().signatures.value("missing"), 1u);
  server.drain_rules();
  const auto& violations = server.rules().violations();
  const std::string prefix = std::string("R10|") + keyed_truck + "|signature_";
  const auto invalid = violations.get(prefix + "invalid|2026-03-01");
  const auto missing = violations.get(prefix + "missing|2026-03-01");
  ASSERT_TRUE(invalid);
  ASSERT_TRUE(missing);
  EXPECT_EQ(invalid->at("rule").as_string(), "R10");
  EXPECT_EQ(invalid->at("severity").as_string(), "medium");
  EXPECT_FALSE(violations.get(prefix + "valid|2026-03-01"));
}

TEST_F(SignatureTest, AForgerySentFirstDoesNotShadowTheGenuineReport) {
  RunningServer server(config());  // record: both are stored and answered
  TestTerminal t(server.port());
  t.send(cat({login(keyed_truck, bj(2026, 3, 1, 9, 59, 0)),
              report_at(keyed_truck, 0, forger_.get()), report_at(keyed_truck, 0, keyed_.get()),
              report_at(keyed_truck, 0, keyed_.get())}));
  EXPECT_EQ(t.read_frames(4).size(), 4u);
  // The genuine report is stored although the forgery claimed its blocks first; its resend is
  // the duplicate.
  ASSERT_TRUE(eventually([&] { return server.metrics().duplicates.value() == 1; }));
  EXPECT_EQ(server.metrics().frames_stored.value(), 3u);
  EXPECT_EQ(verdicts(server.store(), keyed_truck),
            (std::vector{SignatureCheck::not_signed, SignatureCheck::invalid,
                         SignatureCheck::valid}));
}

TEST_F(SignatureTest, ACertificateBindsActivationAndLoginToItsVin) {
  // A terminal certificate for the VIN, issued from the deployment's CA by the script.
  const std::string issue = "bash '" LANTIAN_CERTS_SCRIPT "' --client '" +
                            test_certificates().string() + "' " + keyless_truck +
                            " >/dev/null 2>&1";
  ASSERT_EQ(std::system(issue.c_str()), 0);
  auto c = test_config(dir_.path(), {"tls://127.0.0.1:0?profile=hj1239"});
  c.client_auth = ClientAuth::required;
  RunningServer server(c);
  const auto device = signer_for(keyless_truck);
  {
    // Its certificate does not cover another VIN, not even for an activation before login.
    TestTerminal t(server.port(), true, keyless_truck);
    t.send(activation(keyed_truck, *device, *device));
    EXPECT_TRUE(t.closed_by_server());
  }
  {
    TestTerminal t(server.port(), true, keyless_truck);
    t.send(login(keyed_truck, bj(2026, 3, 1, 9, 59, 0)));
    EXPECT_TRUE(t.closed_by_server());
  }
  EXPECT_EQ(server.metrics().connections_rejected.value("certificate_vin_mismatch"), 2u);
  EXPECT_EQ(server.metrics().activations.value("activated"), 0u);
  TestTerminal t(server.port(), true, keyless_truck);
  t.send(activation(keyless_truck, *device, *device));
  EXPECT_EQ(activation_answer(t), std::pair(0x01, 0x00));
  t.send(cat({login(keyless_truck, bj(2026, 3, 1, 9, 59, 0)),
              report_at(keyless_truck, 0, device.get())}));
  EXPECT_EQ(t.read_frames(2).size(), 2u);
  EXPECT_EQ(server.metrics().signatures.value("valid"), 1u);
}

// Before: 50 connections logging in as one VIN kept disconnecting the real terminal (132
// disconnects, 65 of 197 reports answered).
TEST_F(SignatureTest, AProvenSessionIsNeverDisplacedByALoginThatIsNot) {
  RunningServer server(config());
  TestTerminal real(server.port());
  real.send(cat({login(keyed_truck, bj(2026, 3, 1, 9, 59, 0)),
                 report_at(keyed_truck, 0, keyed_.get())}));
  ASSERT_EQ(real.read_frames(2).size(), 2u);  // proven: a report verified with its key
  for (int i = 0; i < 3; ++i) {
    TestTerminal spoof(server.port());
    spoof.send(login(keyed_truck, bj(2026, 3, 1, 9, 59, 30)));
    EXPECT_TRUE(spoof.closed_by_server()) << i;  // unanswered: nothing of it is stored
  }
  EXPECT_EQ(server.metrics().connections_closed.value("vin_held_by_proven_session"), 3u);
  EXPECT_EQ(server.metrics().vin_replaced.value(), 0u);
  real.send(report_at(keyed_truck, 10, keyed_.get()));
  EXPECT_EQ(real.read_frames(1).size(), 1u);
  ASSERT_TRUE(eventually([&] { return server.metrics().frames_stored.value() == 3; }));
  EXPECT_EQ(records_of(server.store(), keyed_truck).size(), 3u);  // login, two reports

  // A session that has proved nothing is replaced by a new login: a terminal reconnecting.
  TestTerminal first(server.port());
  first.send(login(keyless_truck, bj(2026, 3, 1, 9, 59, 0)));
  ASSERT_EQ(first.read_frames(1).size(), 1u);
  TestTerminal second(server.port());
  second.send(login(keyless_truck, bj(2026, 3, 1, 9, 59, 40)));
  EXPECT_EQ(second.read_frames(1).size(), 1u);
  EXPECT_TRUE(first.closed_by_server());
  EXPECT_EQ(server.metrics().connections_closed.value("replaced_by_new_login"), 1u);
}

// Before: with --tls-client-auth optional, a connection without a certificate displaced a
// certificate-verified session of that VIN.
TEST_F(SignatureTest, ACertificateVerifiedSessionIsNotDisplacedByOneWithout) {
  const std::string issue = "bash '" LANTIAN_CERTS_SCRIPT "' --client '" +
                            test_certificates().string() + "' " + keyless_truck +
                            " >/dev/null 2>&1";
  ASSERT_EQ(std::system(issue.c_str()), 0);
  auto c = test_config(dir_.path(), {"tls://127.0.0.1:0?profile=hj1239"});
  c.client_auth = ClientAuth::optional;
  RunningServer server(c);
  TestTerminal certified(server.port(), true, keyless_truck);
  certified.send(login(keyless_truck, bj(2026, 3, 1, 9, 59, 0)));
  ASSERT_EQ(certified.read_frames(1).size(), 1u);
  TestTerminal bare(server.port(), true);
  bare.send(login(keyless_truck, bj(2026, 3, 1, 9, 59, 30)));
  EXPECT_TRUE(bare.closed_by_server());
  EXPECT_EQ(server.metrics().connections_closed.value("vin_held_by_proven_session"), 1u);
  certified.send(report_at(keyless_truck, 0, nullptr));
  EXPECT_EQ(certified.read_frames(1).size(), 1u);
  // Another certificate-verified login of the VIN replaces it (the terminal reconnecting).
  TestTerminal again(server.port(), true, keyless_truck);
  again.send(login(keyless_truck, bj(2026, 3, 1, 10, 0, 30)));
  EXPECT_EQ(again.read_frames(1).size(), 1u);
  EXPECT_TRUE(certified.closed_by_server());
}

TEST_F(SignatureTest, UnregisteredKeysLeaveReportsUnverified) {
  RunningServer server(config());
  TestTerminal t(server.port());
  t.send(cat({login(keyless_truck, bj(2026, 3, 1, 9, 59, 0)),
              report_at(keyless_truck, 0, forger_.get()), report_at(keyless_truck, 10, nullptr)}));
  EXPECT_EQ(t.read_frames(3).size(), 3u);
  ASSERT_TRUE(eventually([&] { return server.metrics().frames_stored.value() == 3; }));
  EXPECT_EQ(verdicts(server.store(), keyless_truck),
            (std::vector{SignatureCheck::not_signed, SignatureCheck::unverified,
                         SignatureCheck::unverified}));
}

TEST_F(SignatureTest, RejectPolicyKeepsForgeriesAsEvidenceWithoutAnsweringThem) {
  RunningServer server(config(SignaturePolicy::reject));
  TestTerminal t(server.port());
  // The forgery claims the genuine report's collection time: it must not take its place.
  t.send(cat({login(keyed_truck, bj(2026, 3, 1, 9, 59, 0)),
              report_at(keyed_truck, 0, forger_.get()), report_at(keyed_truck, 0, keyed_.get())}));
  const auto replies = t.read_frames(3, std::chrono::milliseconds(1500));
  ASSERT_EQ(replies.size(), 2u);  // the login and the genuine report
  EXPECT_EQ(replies[1][2], protocol::command::realtime);
  EXPECT_EQ(server.metrics().frames_stored.value(), 3u);
  EXPECT_EQ(server.metrics().duplicates.value(), 0u);
  EXPECT_EQ(server.metrics().frames_rejected.value("invalid"), 1u);
  const auto records = records_of(server.store(), keyed_truck);
  ASSERT_EQ(records.size(), 3u);
  std::vector<std::pair<SignatureCheck, bool>> seen;
  for (const auto& r : records) seen.emplace_back(r.received.signature, r.received.rejected);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::pair<SignatureCheck, bool>>{
                      {SignatureCheck::not_signed, false},
                      {SignatureCheck::valid, false},
                      {SignatureCheck::invalid, true}}));
  // The vehicle's latest state is the genuine report's.
  const auto latest = server.store().latest_state(protocol::make_vin(keyed_truck));
  ASSERT_TRUE(latest);
  EXPECT_NE(latest->find("\"signature\":\"valid\""), std::string::npos) << *latest;
  server.drain_rules();
  EXPECT_TRUE(server.rules().violations().get(std::string("R10|") + keyed_truck +
                                              "|signature_invalid|2026-03-01"));
}

TEST_F(SignatureTest, ActivationTeachesAKeyOnceAndItSurvivesARestart) {
  const auto device = signer_for(keyless_truck);
  {
    RunningServer server(config());
    {
      TestTerminal bad_signature(server.port());
      bad_signature.send(activation(keyless_truck, *device, *forger_));
      EXPECT_EQ(activation_answer(bad_signature), std::pair(0x02, 0x03));
    }
    {
      TestTerminal wrong_vin(server.port());
      wrong_vin.send(activation(keyless_truck, *device, *device, keyed_truck));
      EXPECT_EQ(activation_answer(wrong_vin), std::pair(0x02, 0x02));
    }
    {
      TestTerminal t(server.port());
      t.send(activation(keyless_truck, *device, *device));
      EXPECT_EQ(activation_answer(t), std::pair(0x01, 0x00));
      t.send(cat({login(keyless_truck, bj(2026, 3, 1, 9, 59, 0)),
                  report_at(keyless_truck, 0, device.get()),
                  report_at(keyless_truck, 10, forger_.get())}));
      EXPECT_EQ(t.read_frames(3).size(), 3u);
      // One activation per connection: a second one closes it.
      t.send(activation(keyless_truck, *device, *device));
      EXPECT_TRUE(t.closed_by_server());
    }
    {
      // Trust on first use: a later activation with another key cannot re-key the VIN.
      TestTerminal rekey(server.port());
      rekey.send(activation(keyless_truck, *forger_, *forger_));
      EXPECT_EQ(activation_answer(rekey), std::pair(0x02, 0x01));
      // Nor can one for a VIN whose key is in the registry.
      TestTerminal registered(server.port());
      registered.send(activation(keyed_truck, *forger_, *forger_));
      EXPECT_EQ(activation_answer(registered), std::pair(0x02, 0x01));
    }
    EXPECT_EQ(server.metrics().activations.value("activated"), 1u);
    EXPECT_EQ(server.metrics().activations.value("bad_signature"), 1u);
    EXPECT_EQ(server.metrics().activations.value("vin_mismatch"), 1u);
    EXPECT_EQ(server.metrics().activations.value("key_conflict"), 2u);
    EXPECT_EQ(server.metrics().activations.value("repeated"), 1u);
  }
  RunningServer restarted(config());
  TestTerminal t(restarted.port());
  t.send(cat({login(keyless_truck, bj(2026, 3, 1, 10, 59, 0)),
              report_at(keyless_truck, 3600, device.get())}));
  EXPECT_EQ(t.read_frames(2).size(), 2u);
  EXPECT_EQ(restarted.metrics().signatures.value("valid"), 1u);
}

TEST_F(SignatureTest, ChipIdAsTheUserId) {
  auto c = config();
  c.sm2_user_id = "chip-id";
  RunningServer server(c);
  const auto chip_signer = signer_for(keyed_truck, chip);  // the same key, signing with the chip id
  TestTerminal t(server.port());
  t.send(cat({login(keyed_truck, bj(2026, 3, 1, 9, 59, 0)),
              report_at(keyed_truck, 0, chip_signer.get()),
              report_at(keyed_truck, 10, keyed_.get())}));
  EXPECT_EQ(t.read_frames(3).size(), 3u);
  EXPECT_EQ(server.metrics().signatures.value("valid"), 1u);
  EXPECT_EQ(server.metrics().signatures.value("invalid"), 1u);
}

// In a cluster, every ingest node shares the keys learned by activation (SharedKeys, a replicated
// bucket there; a map here): the first activation of a VIN anywhere wins.
class SharedKeysTest : public ::testing::Test {
 protected:
  struct Node {
    TempDir dir;
    std::unique_ptr<storage::Store> store;
    std::unique_ptr<TerminalKeys> keys;
  };
  std::unique_ptr<Node> node() {
    auto n = std::make_unique<Node>();
    std::string error;
    n->store = storage::Store::open({.dir = n->dir.path() / "db"}, error);
    EXPECT_TRUE(n->store) << error;
    n->keys = std::make_unique<TerminalKeys>(*n->store, nullptr, "1234567812345678");
    n->keys->share(
        {.find =
             [this](const std::string& vin, bool& reachable) -> std::optional<std::string> {
               ++finds;
               reachable = reachable_;
               const auto it = bucket.find(vin);
               if (!reachable_ || it == bucket.end()) return std::nullopt;
               return it->second;
             },
         .add_first = [this](const std::string& vin, const std::string& record,
                             std::optional<std::string>& existing, std::string& why) {
           if (!reachable_) {
             why = "the cluster's brokers cannot be reached";
             return false;
           }
           if (const auto it = bucket.find(vin); it != bucket.end()) {
             existing = it->second;
             return false;
           }
           bucket[vin] = record;
           return true;
         }});
    return n;
  }
  // Activates `vin` on `n` with `carried`'s key (signed by it).
  static std::string activate(Node& n, const std::string& vin, const sim::Sm2Signer& carried) {
    const auto bytes = activation(vin, carried, carried);
    const auto decoded = protocol::decode_frame(bytes, {.profile = Profile::hj1239});
    EXPECT_TRUE(decoded);
    const auto& body = std::get<protocol::ActivationBody>(decoded->message.body);
    return n.keys
        ->activate(body, protocol::make_vin(vin),
                   protocol::ByteView(bytes).subspan(protocol::header_size, 6 + 16 + 64 + 17),
                   1796658415940)
        .result;
  }

  std::map<std::string, std::string> bucket;
  bool reachable_ = true;
  int finds = 0;
};

TEST_F(SharedKeysTest, AKeyLearnedOnOneNodeVerifiesOnEveryOther) {
  const auto device = signer_for(keyless_truck);
  const auto forger = signer_for("a forger");
  auto a = node(), b = node(), c = node();
  EXPECT_EQ(activate(*a, keyless_truck, *device), "activated");
  ASSERT_EQ(bucket.count(keyless_truck), 1u);

  // b never saw the activation: it fetches the key once, then knows it.
  const auto found = b->keys->key_for(keyless_truck);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->source, TerminalKey::Source::activation);
  EXPECT_EQ(found->key.xy(), device->public_key());
  EXPECT_EQ(found->chip_id, chip);
  const int asked = finds;
  EXPECT_TRUE(b->keys->key_for(keyless_truck));
  EXPECT_EQ(finds, asked);  // kept in b's archive
  EXPECT_TRUE(b->store->get(storage::Family::terminal_keys, keyless_truck));

  // Another key for the VIN is refused on any node; the same one is answered ok.
  EXPECT_EQ(activate(*c, keyless_truck, *forger), "key_conflict");
  EXPECT_EQ(activate(*c, keyless_truck, *device), "already_active");

  // A VIN the bucket lacks is asked once a minute, not at every signed frame.
  const int before = finds;
  EXPECT_FALSE(c->keys->key_for(keyed_truck));
  EXPECT_FALSE(c->keys->key_for(keyed_truck));
  EXPECT_EQ(finds, before + 1);
  // …and an activation of it there clears that at once.
  EXPECT_EQ(activate(*c, keyed_truck, *forger), "activated");
  EXPECT_TRUE(c->keys->key_for(keyed_truck));

  // Without the bucket, no key is learned: the terminal activates again later.
  reachable_ = false;
  const std::string third = "LGWEF4A51AA100293";
  EXPECT_EQ(activate(*a, third, *forger), "cluster_unavailable");
  EXPECT_FALSE(a->store->get(storage::Family::terminal_keys, third));
  EXPECT_FALSE(a->keys->key_for(third));
}

}  // namespace
}  // namespace lantian::server
