// The simulator's parts without sockets: the latency histogram, scenarios, fleet planning and its
// registry, the motion model's plausibility, the frames it sends (decoded back), the expectations,
// and the after-run checks.

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <sstream>

#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/json.hpp"
#include "rules/engine.hpp"
#include "rules/registry.hpp"
#include "sim/expectations.hpp"
#include "sim/fleet.hpp"
#include "sim/gate_systems.hpp"
#include "sim/load_stats.hpp"
#include "sim/run_checks.hpp"
#include "sim/terminal.hpp"
#include "sim/terminal_frames.hpp"
#include "sim/vehicle_model.hpp"

namespace lantian::sim {
namespace {
using namespace std::chrono_literals;

std::unique_ptr<rules::ZoneIndex> sample_zones() {
  std::ifstream in(std::string(LANTIAN_SAMPLES_DIR) + "/zones-henan-sample.geojson");
  std::stringstream text;
  text << in.rdbuf();
  auto imported = rules::import_zones_geojson(text.str());
  EXPECT_TRUE(imported.problems.empty());
  return std::make_unique<rules::ZoneIndex>(std::move(imported.zones), 1);
}

Scenario one_of_each() {
  Scenario s;
  s.guo6_trucks = s.guo3_trucks = s.banned_zone_trucks = 2;
  s.machines = s.black_smoke_machines = s.banned_zone_machines = 2;
  s.guo3_light_trucks = s.unknown_stage_zone_machines = 2;
  return s;
}

// 2026-11-20 10:00 Beijing time (a weekday morning: the daytime truck ban is active).
constexpr std::int64_t morning = 1795140000;
constexpr std::int64_t phase_out = 1767196800;  // 2026-01-01 00:00 Beijing

TEST(LatencyHistogram, BucketsAreExactBelow64AndWithinOnePartIn64Above) {
  for (std::uint64_t v : {0u, 1u, 63u}) EXPECT_EQ(LatencyHistogram::upper_edge(LatencyHistogram::bucket_of(v)), v);
  EXPECT_EQ(LatencyHistogram::bucket_of(64), 64);
  EXPECT_EQ(LatencyHistogram::bucket_of(128), 128);
  EXPECT_EQ(LatencyHistogram::upper_edge(128), 129u);  // 128 and 129 share a bucket
  for (std::uint64_t v = 64; v < 50'000'000; v = v * 3 + 7) {
    const auto edge = LatencyHistogram::upper_edge(LatencyHistogram::bucket_of(v));
    EXPECT_GE(edge, v);
    EXPECT_LE(static_cast<double>(edge - v), static_cast<double>(v) / 64) << v;
  }
}

TEST(LatencyHistogram, Quantiles) {
  auto h = std::make_unique<LatencyHistogram>();
  EXPECT_EQ(h->quantile_us(0.99), 0u);
  for (int i = 1; i <= 1000; ++i) h->record(std::chrono::microseconds(i));
  EXPECT_EQ(h->count(), 1000u);
  EXPECT_EQ(h->quantile_us(0.5), 503u);   // 500 lies in the bucket 496..503
  EXPECT_EQ(h->quantile_us(0.99), 991u);  // 990 in 984..991
  EXPECT_EQ(h->quantile_us(1.0), 1000u);  // capped by the maximum seen
  EXPECT_EQ(h->max_us(), 1000u);
  h->record(std::chrono::microseconds(-5));  // a clock step backwards counts as 0
  EXPECT_EQ(h->count(), 1001u);
}

TEST(Scenario, ParsesKeysAndRejectsBadLines) {
  std::istringstream good("# demo\nguo3_trucks = 20\n machines=5 # site\ntruck_profile = gb17691\n"
                          "gap_probability = 0.05\nseed = 7\n");
  std::string error;
  const auto s = parse_scenario(good, error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->guo3_trucks, 20u);
  EXPECT_EQ(s->machines, 5u);
  EXPECT_EQ(s->total(), 25u);
  EXPECT_EQ(s->truck_profile, protocol::Profile::gb17691);
  EXPECT_EQ(s->gap_probability, 0.05);
  EXPECT_EQ(s->seed, 7u);
  for (auto [text, message] : std::vector<std::pair<std::string, std::string>>{
           {"guo3_trucks = many\n", "line 1: bad value 'many' for guo3_trucks"},
           {"guo3_trucks = 1\nlorries = 2\n", "line 2: unknown key 'lorries'"},
           {"guo3_trucks 3\n", "line 1: expected key = value"},
           {"machines = 1\ngap_probability = 1.5\n", "line 2: gap_probability must be between 0 and 1"},
           {"machines = 1\ntruck_profile = nonroad\n", "line 2: truck_profile must be gb17691 or hj1239"},
           {"machines = 1\nsign = yes\n", "line 2: sign must be true or false"},
           {"machines = -5\n", "line 1: bad value '-5' for machines"},
           {"# nothing\n", "the scenario has no vehicles"}}) {
    std::istringstream in(text);
    EXPECT_FALSE(parse_scenario(in, error)) << text;
    EXPECT_EQ(error, message);
  }
  const auto mixed = preset_scenario("mixed", 100);
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->guo6_trucks, 57u);
  EXPECT_EQ(mixed->guo3_trucks, 12u);
  EXPECT_EQ(mixed->guo3_light_trucks, 3u);
  EXPECT_EQ(mixed->unknown_stage_zone_machines, 3u);
  EXPECT_EQ(mixed->total(), 100u);
  EXPECT_FALSE(preset_scenario("trains", 10));
}

TEST(Fleet, RegistryImportsCleanlyWithEveryRoleStaged) {
  const auto zones = sample_zones();
  std::string error;
  const auto fleet = plan_fleet(one_of_each(), zones.get(), error);
  ASSERT_TRUE(fleet) << error;
  ASSERT_EQ(fleet->size(), 16u);
  std::stringstream csv;
  write_registry_csv(*fleet, csv);
  const auto imported = rules::import_registry_csv(csv, 2027);
  EXPECT_TRUE(imported.rejected.empty()) << imported.rejected.front().reason;
  ASSERT_EQ(imported.records.size(), 16u);
  rules::Registry registry;
  for (const auto& r : imported.records) registry.upsert(r);
  const std::map<Role, std::pair<std::optional<rules::Stage>, std::string>> staged{
      {Role::guo6_truck, {rules::Stage::CN6b, "N3"}},
      {Role::guo3_truck, {rules::Stage::CN3, "N3"}},
      {Role::banned_zone_truck, {rules::Stage::CN4, "N3"}},
      {Role::machine, {rules::Stage::NR4, "nrmm:excavator"}},
      {Role::black_smoke_machine, {rules::Stage::NR3, "nrmm:excavator"}},
      {Role::banned_zone_machine, {rules::Stage::NR2, "nrmm:excavator"}},
      {Role::guo3_light_truck, {rules::Stage::CN3, "N1"}},
      {Role::unknown_stage_zone_machine, {std::nullopt, "nrmm:excavator"}}};
  std::set<std::string> vins;
  for (const auto& v : *fleet) {
    const auto* r = registry.find(v.vin);
    ASSERT_NE(r, nullptr) << v.vin;
    EXPECT_EQ(r->stage, staged.at(v.role).first) << v.vin;
    EXPECT_EQ(r->category, staged.at(v.role).second);
    EXPECT_EQ(r->profile, is_machine(v.role) ? protocol::Profile::nonroad : protocol::Profile::hj1239);
    EXPECT_FALSE(rules::registration_city(*r).empty()) << v.vin;
    if (!is_machine(v.role)) { EXPECT_TRUE(rules::vin_valid(v.vin)) << v.vin; }
    EXPECT_TRUE(vins.insert(v.vin).second) << "duplicate " << v.vin;
  }
  // The same scenario plans the same fleet (every worker process relies on it).
  const auto again = plan_fleet(one_of_each(), zones.get(), error);
  ASSERT_TRUE(again);
  for (std::size_t i = 0; i < fleet->size(); ++i) {
    EXPECT_EQ((*again)[i].vin, (*fleet)[i].vin);
    ASSERT_EQ((*again)[i].stops.size(), (*fleet)[i].stops.size());
    for (std::size_t k = 0; k < (*fleet)[i].stops.size(); ++k) {
      EXPECT_EQ((*again)[i].stops[k].lon, (*fleet)[i].stops[k].lon);
      EXPECT_EQ((*again)[i].stops[k].lat, (*fleet)[i].stops[k].lat);
    }
    EXPECT_EQ((*again)[i].site.lon, (*fleet)[i].site.lon);
    EXPECT_EQ((*again)[i].target_zone, (*fleet)[i].target_zone);
  }
}

TEST(Fleet, BannedRolesNeedABanningZone) {
  Scenario s;
  s.banned_zone_trucks = 1;
  std::string error;
  EXPECT_FALSE(plan_fleet(s, nullptr, error));
  EXPECT_EQ(error, "banned_zone_trucks needs a truck restriction zone banning 国四 N3 trucks (--zones)");
  s = {};
  s.unknown_stage_zone_machines = 1;
  EXPECT_FALSE(plan_fleet(s, nullptr, error));
  EXPECT_EQ(error,
            "banned_zone_machines and unknown_stage_zone_machines need a machinery ban zone "
            "banning 非道路国二 (--zones)");
}

// A day of every role: positions never jump (R12's 200 km/h), values stay in their ranges, trucks
// not sent into a zone never enter one, machines stay at their site.
TEST(VehicleModel, ADayOfEveryRoleIsPlausible) {
  const auto zones = sample_zones();
  std::string error;
  const auto fleet = plan_fleet(one_of_each(), zones.get(), error);
  ASSERT_TRUE(fleet);
  for (const auto& spec : *fleet) {
    VehicleModel model(spec, morning);
    SimSample last = model.next();
    EXPECT_EQ(last.unix_s, morning);
    int parked = 0, smoke = 0, inside_zone = 0;
    for (int i = 1; i < 86400; ++i) {
      const SimSample s = model.next();
      ASSERT_EQ(s.unix_s, morning + i);
      const double kmh = distance_m(last.position, s.position) * 3.6;
      ASSERT_LT(kmh, 120) << spec.vin << " at " << i;
      ASSERT_GE(s.speed_kmh, 0);
      ASSERT_LE(s.speed_kmh, 90);
      ASSERT_LE(s.engine_rpm, 2100);
      ASSERT_GE(s.coolant_c, 20);
      ASSERT_LE(s.coolant_c, 90);
      if (s.reagent_pct) { ASSERT_GT(*s.reagent_pct, 10); }
      if (s.engine_on()) {
        ASSERT_LT(s.nox_downstream_ppm, s.nox_upstream_ppm * 1.02);
        ASSERT_GT(s.nox_upstream_ppm, 0);
      }
      parked += !s.engine_on();
      smoke += s.smoke_k_m1.has_value();
      for (const auto* z : zones->containing(s.position.lon, s.position.lat))
        inside_zone += z->kind != rules::ZoneKind::exempt_corridor;
      if (is_machine(spec.role)) { ASSERT_LT(distance_m(s.position, spec.site), 50); }
      last = s;
    }
    if (!is_machine(spec.role)) { EXPECT_GT(parked, 0) << spec.vin << " never stops"; }
    EXPECT_EQ(smoke > 0, spec.role == Role::black_smoke_machine) << spec.vin;
    EXPECT_EQ(inside_zone > 0, spec.target_zone.has_value()) << spec.vin;
  }
}

// What a terminal sends decodes back to what it measured.
TEST(TerminalFrames, ReportsDecodeToTheSamples) {
  const auto zones = sample_zones();
  std::string error;
  const auto fleet = plan_fleet(one_of_each(), zones.get(), error);
  ASSERT_TRUE(fleet);
  for (auto profile : {protocol::Profile::hj1239, protocol::Profile::gb17691}) {
    VehicleSpec truck = (*fleet)[0];
    truck.profile = profile;
    VehicleModel model(truck, morning);
    std::vector<SimSample> samples;
    for (int i = 0; i < 10; ++i) samples.push_back(model.next());
    TerminalFrames frames(truck);
    std::vector<protocol::Bytes> out;
    frames.reports(samples, protocol::command::realtime, true, out);
    ASSERT_EQ(out.size(), profile == protocol::Profile::hj1239 ? 1u : 10u);
    std::vector<rules::Sample> decoded;
    for (const auto& f : out) {
      const auto d = protocol::decode_frame(f, {.profile = profile});
      ASSERT_TRUE(d);
      EXPECT_TRUE(d->issues.empty());
      for (auto& s : rules::samples_of(*d, "k")) decoded.push_back(std::move(s));
    }
    std::erase_if(decoded, [](const rules::Sample& s) { return !s.engine_rpm; });  // the OBD block
    ASSERT_EQ(decoded.size(), 10u);
    for (std::size_t i = 0; i < 10; ++i) {
      EXPECT_EQ(decoded[i].at_unix_s, samples[i].unix_s);
      EXPECT_NEAR(*decoded[i].lon, samples[i].position.lon, 1e-6);
      EXPECT_NEAR(*decoded[i].lat, samples[i].position.lat, 1e-6);
      EXPECT_NEAR(*decoded[i].engine_rpm, samples[i].engine_rpm, 0.125);
      EXPECT_NEAR(*decoded[i].nox_down_ppm, samples[i].nox_downstream_ppm, 0.05);
    }
  }
  // A black-smoke machine: per second a stream frame and a smoke frame, header position.
  const VehicleSpec& smoker = (*fleet)[8];
  ASSERT_EQ(smoker.role, Role::black_smoke_machine);
  VehicleModel model(smoker, morning);
  std::vector<SimSample> samples;
  for (int i = 0; i < 10; ++i) samples.push_back(model.next());
  TerminalFrames frames(smoker);
  std::vector<protocol::Bytes> out;
  frames.reports(samples, protocol::command::realtime, false, out);
  ASSERT_EQ(out.size(), 20u);
  const auto smoke = protocol::decode_frame(out[1], {.profile = protocol::Profile::nonroad});
  ASSERT_TRUE(smoke);
  const auto s = rules::samples_of(*smoke, "k");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_NEAR(*s[0].smoke_k_m1, *samples[0].smoke_k_m1, 0.005);
  EXPECT_GT(*s[0].smoke_k_m1, rules::Engine::machine_k_limit("I", smoker.rated_power_kw));
  // A corrupted copy fails its check byte; a resend keeps the data unit (the ack log's identity).
  const auto corrupted = TerminalFrames::corrupted(out[0]);
  EXPECT_FALSE(protocol::decode_frame(corrupted, {.profile = protocol::Profile::nonroad})->bcc_ok);
  const auto resend = TerminalFrames::as_resend(out[0]);
  const auto decoded = protocol::decode_frame(resend, {.profile = protocol::Profile::nonroad});
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(decoded->bcc_ok);
  EXPECT_EQ(decoded->message.header.command, protocol::command::resend);
  EXPECT_EQ(report_digest(resend), report_digest(out[0]));
  EXPECT_NE(report_digest(out[1]), report_digest(out[0]));
}

// An independent check of a signature with OpenSSL: SM2/SM3 over `message` with the user ID, the
// public key given as X‖Y, the signature as raw R and S.
bool sm2_verifies(const std::array<std::uint8_t, 64>& xy, protocol::ByteView message,
                  const protocol::Signature& signature, std::string_view id) {
  std::array<std::uint8_t, 65> point{0x04};
  std::copy(xy.begin(), xy.end(), point.begin() + 1);
  OSSL_PARAM_BLD* build = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(build, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0);
  OSSL_PARAM_BLD_push_octet_string(build, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(build);
  EVP_PKEY_CTX* from = EVP_PKEY_CTX_new_from_name(nullptr, "SM2", nullptr);
  EVP_PKEY* key = nullptr;
  EVP_PKEY_fromdata_init(from);
  EVP_PKEY_fromdata(from, &key, EVP_PKEY_PUBLIC_KEY, params);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(signature.r().data(), static_cast<int>(signature.r().size()), nullptr),
                 BN_bin2bn(signature.s().data(), static_cast<int>(signature.s().size()), nullptr));
  unsigned char* der = nullptr;
  const int der_size = i2d_ECDSA_SIG(sig, &der);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new(key, nullptr);
  EVP_PKEY_CTX_set1_id(pctx, id.data(), static_cast<int>(id.size()));
  EVP_MD_CTX_set_pkey_ctx(md, pctx);
  const bool ok = EVP_DigestVerifyInit(md, nullptr, EVP_sm3(), nullptr, key) == 1 &&
                  EVP_DigestVerify(md, der, static_cast<std::size_t>(der_size), message.data(),
                                   message.size()) == 1;
  EVP_MD_CTX_free(md);
  EVP_PKEY_CTX_free(pctx);
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  EVP_PKEY_free(key);
  EVP_PKEY_CTX_free(from);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(build);
  return ok;
}

// The demo preset's faulty trucks: each shows its one fault in what the rules read from its frames.
TEST(TerminalFrames, FaultyTrucksShowTheirFaultToTheRules) {
  const auto demo = preset_scenario("demo", 100);
  ASSERT_TRUE(demo);
  EXPECT_EQ(demo->faulty_trucks, 6u);
  EXPECT_EQ(demo->guo6_trucks, 51u);
  EXPECT_EQ(demo->total(), 100u);
  Scenario scenario;
  scenario.faulty_trucks = 6;
  const auto zones = sample_zones();
  std::string error;
  const auto fleet = plan_fleet(scenario, zones.get(), error);
  ASSERT_TRUE(fleet) << error;
  const std::vector<Fault> faults{Fault::no_fix,        Fault::scr_failure,
                                  Fault::mil_on,        Fault::reagent_empty,
                                  Fault::obd_vin_mismatch, Fault::position_jump};
  for (std::size_t k = 0; k < faults.size(); ++k) {
    const VehicleSpec& truck = (*fleet)[k];
    ASSERT_EQ(truck.fault, faults[k]);
    EXPECT_EQ(truck.stage, "CN6b");
    VehicleModel model(truck, morning);
    TerminalFrames frames(truck);
    std::vector<rules::Sample> seen;
    for (int report = 0; report < 18; ++report) {  // three minutes, an OBD block each minute
      std::vector<SimSample> samples;
      for (int i = 0; i < 10; ++i) samples.push_back(model.next());
      std::vector<protocol::Bytes> out;
      frames.reports(samples, protocol::command::realtime, report % 6 == 0, out);
      for (const auto& f : out) {
        const auto d = protocol::decode_frame(f, {.profile = truck.profile});
        ASSERT_TRUE(d);
        for (auto& x : rules::samples_of(*d, "k")) seen.push_back(std::move(x));
      }
    }
    std::vector<const rules::Sample*> streams, obd;
    for (const auto& x : seen) (x.engine_rpm ? streams : obd).push_back(&x);
    ASSERT_EQ(streams.size(), 180u) << to_string(truck.fault);
    ASSERT_EQ(obd.size(), 3u) << to_string(truck.fault);
    const bool driving = std::all_of(streams.begin(), streams.end(),
                                     [](const auto* x) { return *x->engine_rpm > 600; });
    EXPECT_TRUE(driving) << to_string(truck.fault) << ": the fault shows while driving";
    auto every = [&](auto test) { return std::all_of(streams.begin(), streams.end(), test); };
    switch (truck.fault) {
      case Fault::no_fix:
        EXPECT_TRUE(every([](const auto* x) { return x->position_invalid && !x->lon; }));
        break;
      case Fault::scr_failure:
        EXPECT_TRUE(every([](const auto* x) { return *x->nox_down_ppm > 500; }));
        break;
      case Fault::mil_on:
        for (const auto* x : obd) EXPECT_EQ(x->mil, 1);
        break;
      case Fault::reagent_empty:
        EXPECT_TRUE(every([](const auto* x) { return *x->reagent_pct <= 2.4; }));
        break;
      case Fault::obd_vin_mismatch:
        for (const auto* x : obd) EXPECT_EQ(x->obd_vin, "LZZJ5ACA5AF110265");
        break;
      case Fault::position_jump:
        // 0.2° of longitude in one second at 34° N: about 18 km, far beyond 200 km/h.
        EXPECT_NEAR(*streams[120]->lon - *streams[119]->lon, 0.2, 0.001);
        break;
      case Fault::none:
        break;
    }
    if (truck.fault != Fault::mil_on) {
      for (const auto* x : obd) EXPECT_EQ(x->mil, 0) << to_string(truck.fault);
    }
  }
}

TEST(TerminalFrames, SignedHj1239ReportsVerifyWithTheRegisteredKey) {
  VehicleSpec truck;
  truck.vin = "LZZ5CLSB7NA100000";
  truck.profile = protocol::Profile::hj1239;
  truck.category = "N3";
  truck.stage = "CN6b";
  truck.rated_power_kw = 300;
  truck.stops = {{113.0, 34.0}, {113.5, 34.0}};
  std::vector<VehicleSpec> fleet{truck};
  ASSERT_TRUE(attach_signers(fleet, std::string(default_sm2_id)));
  ASSERT_TRUE(fleet[0].signer);
  EXPECT_EQ(fleet[0].chip_id, "SIM0000000000000");
  // The key comes from the VIN: a second planning run registers the same one.
  std::vector<VehicleSpec> again{truck};
  ASSERT_TRUE(attach_signers(again, "other"));
  EXPECT_EQ(again[0].signer->public_key(), fleet[0].signer->public_key());
  std::stringstream csv;
  write_registry_csv(fleet, csv);
  const auto imported = rules::import_registry_csv(csv, 2027);
  ASSERT_EQ(imported.records.size(), 1u);
  EXPECT_EQ(imported.records[0].chip_id, "SIM0000000000000");
  EXPECT_EQ(imported.records[0].sm2_public_key_hex,
            protocol::to_hex(protocol::ByteView(fleet[0].signer->public_key())));

  VehicleModel model(fleet[0], morning);
  std::vector<SimSample> samples;
  for (int i = 0; i < 10; ++i) samples.push_back(model.next());
  TerminalFrames frames(fleet[0]);
  std::vector<protocol::Bytes> out;
  frames.reports(samples, protocol::command::realtime, true, out);
  ASSERT_EQ(out.size(), 1u);
  const auto d = protocol::decode_frame(out[0], {.profile = protocol::Profile::hj1239});
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->issues.empty());
  const auto& report = std::get<protocol::ReportBody>(d->message.body);
  ASSERT_TRUE(report.signature);
  EXPECT_EQ(report.blocks.size(), 11u);  // OBD + 10 samples: the signature was not taken for a block
  const auto unit = data_unit(out[0]);
  const auto signed_part = unit.subspan(0, unit.size() - 66);  // R-len R S-len S = 1+32+1+32
  const auto& pub = fleet[0].signer->public_key();
  EXPECT_TRUE(sm2_verifies(pub, signed_part, *report.signature, default_sm2_id));
  EXPECT_FALSE(sm2_verifies(pub, signed_part, *report.signature, "8765432187654321"));
  protocol::Bytes tampered(signed_part.begin(), signed_part.end());
  tampered[20] ^= 0x01;
  EXPECT_FALSE(sm2_verifies(pub, tampered, *report.signature, default_sm2_id));
  // A resend of it still carries a valid signature (the header is not signed).
  const auto resend = TerminalFrames::as_resend(out[0]);
  const auto r = protocol::decode_frame(resend, {.profile = protocol::Profile::hj1239});
  EXPECT_TRUE(sm2_verifies(pub, data_unit(resend).subspan(0, unit.size() - 66),
                           *std::get<protocol::ReportBody>(r->message.body).signature, default_sm2_id));
}

TEST(TerminalFrames, LoginSerialsRestartEachBeijingDay) {
  VehicleSpec v;
  v.vin = "LZZ5CLSB7NA100000";
  TerminalFrames frames(v);
  auto serial = [](const protocol::Bytes& f) {
    const auto d = protocol::decode_frame(f, {});
    return std::get<protocol::LoginBody>(d->message.body).serial;
  };
  EXPECT_EQ(serial(frames.login(morning)), 1);
  EXPECT_EQ(serial(frames.login(morning + 60)), 2);
  EXPECT_EQ(serial(frames.login(morning + 14 * 3600)), 1);  // 00:00 Beijing passed
}

TEST(Expectations, PredictsEachRoleOnce) {
  const auto zones = sample_zones();
  VehicleSpec truck;
  truck.vin = "LZZ5CLSB1EA100039";
  truck.role = Role::banned_zone_truck;
  truck.stage = "CN4";
  truck.category = "N3";
  Expectations e(truck, zones.get(), phase_out);
  auto at = [](std::int64_t t, double lon, double lat) {
    SimSample s;
    s.unix_s = t;
    s.position = {lon, lat};
    s.speed_kmh = 30;
    s.engine_rpm = 1100;
    return s;
  };
  e.observe(at(morning, 113.65, 34.76));      // inside 郑州四环 (daytime truck ban)
  EXPECT_TRUE(e.violations().empty());        // one fix is not a visit yet
  e.observe(at(morning + 1, 113.65, 34.76));  // the second: R02
  e.observe(at(morning + 2, 113.65, 34.76));  // the same visit
  e.observe(at(morning + 3, 113.40, 34.76));  // outside: the visit ends
  e.observe(at(morning + 4, 113.65, 34.76));
  e.observe(at(morning + 5, 113.65, 34.76));  // a second visit
  e.observe(at(morning + 13 * 3600, 113.65, 34.76));  // 23:00: the ban is not active
  e.observe(at(morning + 13 * 3600 + 1, 113.65, 34.76));
  ASSERT_EQ(e.violations().size(), 2u);
  EXPECT_EQ(e.violations()[0], (ExpectedViolation{"R02", truck.vin, "zz-4ring-trucks-day", morning}));
  EXPECT_EQ(e.violations()[1].at_unix_s, morning + 4);

  VehicleSpec old = truck;
  old.role = Role::guo3_truck;
  old.stage = "CN3";
  Expectations r01(old, nullptr, phase_out);
  r01.observe(at(morning, 114.0, 33.0));
  r01.observe(at(morning + 60, 114.0, 33.0));
  r01.observe(at(morning + 86400, 114.0, 33.0));  // the next day: another
  ASSERT_EQ(r01.violations().size(), 2u);
  EXPECT_EQ(r01.violations()[1], (ExpectedViolation{"R01", old.vin, "", morning + 86400}));

  // A 国三 N1 light truck: R01 as any diesel truck.
  VehicleSpec light = old;
  light.role = Role::guo3_light_truck;
  light.category = "N1";
  Expectations r01_light(light, nullptr, phase_out);
  r01_light.observe(at(morning, 114.0, 33.0));
  ASSERT_EQ(r01_light.violations().size(), 1u);
  EXPECT_EQ(r01_light.violations()[0], (ExpectedViolation{"R01", light.vin, "", morning}));

  // A machine of unknown stage working in 郑州's 禁用区: R13 per visit; idling there is not working.
  VehicleSpec unknown;
  unknown.vin = "4101EX00000000051";
  unknown.role = Role::unknown_stage_zone_machine;
  unknown.category = "nrmm:excavator";
  Expectations r13(unknown, zones.get(), phase_out);
  auto idle = at(morning, 113.68, 34.76);
  idle.engine_rpm = 400;
  r13.observe(idle);
  r13.observe(at(morning + 1, 113.68, 34.76));
  r13.observe(at(morning + 2, 113.68, 34.76));
  ASSERT_EQ(r13.violations().size(), 1u);
  EXPECT_EQ(r13.violations()[0], (ExpectedViolation{"R13", unknown.vin, "zz-nrmm-ban", morning + 1}));

  VehicleSpec smoker;
  smoker.vin = "4107EX00000000047";
  smoker.role = Role::black_smoke_machine;
  smoker.stage = "NR3";
  smoker.category = "nrmm:excavator";
  smoker.rated_power_kw = 100;
  Expectations r04(smoker, zones.get(), phase_out);
  auto smoke = [&](std::int64_t t, double k, double coolant) {
    SimSample s = at(t, 114.0, 33.0);
    s.smoke_k_m1 = k;
    s.coolant_c = coolant;
    return s;
  };
  r04.observe(smoke(morning, 3.0, 80));
  r04.observe(smoke(morning + 1, 3.0, 60));  // cold: the streak restarts
  r04.observe(smoke(morning + 2, 3.0, 80));
  r04.observe(smoke(morning + 3, 3.0, 80));
  r04.observe(smoke(morning + 4, 3.0, 80));  // the third warm sample in a row
  r04.observe(smoke(morning + 5, 3.0, 80));
  ASSERT_EQ(r04.violations().size(), 1u);
  EXPECT_EQ(r04.violations()[0], (ExpectedViolation{"R04", smoker.vin, "", morning + 2}));
  std::ostringstream text;
  write_expected(r04.violations(), text);
  EXPECT_EQ(text.str(),
            "{\"rule\":\"R04\",\"vin\":\"4107EX00000000047\",\"at\":\"2026-11-20T10:00:02+08:00\","
            "\"at_unix_s\":1795140002}\n");
}

TEST(RunChecks, AckedReportsAgainstTheExport) {
  VehicleSpec v;
  v.vin = "LZZ5CLSB7NA100000";
  v.stops = {{113.0, 34.0}, {113.5, 34.0}};
  VehicleModel model(v, morning);
  std::vector<SimSample> samples;
  for (int i = 0; i < 10; ++i) samples.push_back(model.next());
  TerminalFrames frames(v);
  std::vector<protocol::Bytes> out;
  frames.reports(samples, protocol::command::realtime, false, out);
  frames.reports(samples, protocol::command::resend, false, out);
  ASSERT_EQ(out.size(), 2u);
  // The second report (built anew for the same samples: the next serial) was not stored.
  const std::string stored_line = "{\"vin\":\"" + v.vin + "\",\"raw\":\"" + protocol::to_hex(out[0]) + "\"}\n";
  std::istringstream exported(stored_line + "not json\n");
  std::istringstream acked(v.vin + " " + report_digest(out[0]) + "\n" + v.vin + " " +
                           report_digest(out[1]) + "\n");
  const auto r = check_acked(acked, exported);
  EXPECT_EQ(r.acknowledged, 2u);
  EXPECT_EQ(r.stored, 1u);
  ASSERT_EQ(r.missing.size(), 1u);
  EXPECT_EQ(r.missing[0], v.vin + " " + report_digest(out[1]));
}

TEST(RunChecks, ViolationsMissingAndUnexpected) {
  std::istringstream expected(
      "{\"rule\":\"R01\",\"vin\":\"A\",\"at_unix_s\":100}\n"
      "{\"rule\":\"R02\",\"vin\":\"B\",\"zone\":\"z1\",\"at_unix_s\":200}\n"
      "{\"rule\":\"R02\",\"vin\":\"B\",\"zone\":\"z1\",\"at_unix_s\":300}\n"
      "{\"rule\":\"R04\",\"vin\":\"C\",\"at_unix_s\":400}\n");
  std::istringstream stored(
      "{\"rule\":\"R01\",\"vin\":\"A\",\"zone_id\":null,\"unix_s\":100}\n"
      "{\"rule\":\"R02\",\"vin\":\"B\",\"zone_id\":\"z1\",\"unix_s\":200}\n"
      "{\"rule\":\"R04\",\"vin\":\"C\",\"zone_id\":null,\"unix_s\":400,\"withdrawn\":{\"unix_ms\":1}}\n"
      "{\"rule\":\"R09\",\"vin\":\"A\",\"zone_id\":null,\"unix_s\":100}\n"
      "{\"rule\":\"R09\",\"vin\":\"OTHER\",\"zone_id\":null,\"unix_s\":100}\n");
  const auto r = check_violations(expected, stored, {"A", "B", "C"});
  EXPECT_EQ(r.expected, 4u);
  EXPECT_EQ(r.found, 2u);
  // The second visit was not stored; withdrawn does not count; OTHER is not of the fleet.
  EXPECT_EQ(r.missing, (std::vector<std::string>{"R02 B z1 @300", "R04 C @400"}));
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"R09 A @100"});
}

// A server that answers the login and then stops reading: once the socket buffers are full the
// terminal's write never completes, and only the write watchdog ends the connection (at the reply
// timeout), so the run ends instead of hanging.
TEST(Terminal, AWriteTheServerNeverTakesEndsAtTheReplyTimeout) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  Scenario scenario;
  scenario.guo6_trucks = 1;
  const auto zones = sample_zones();
  std::string error;
  const auto fleet = plan_fleet(scenario, zones.get(), error);
  ASSERT_TRUE(fleet) << error;
  const VehicleSpec& truck = fleet->front();

  asio::io_context io;
  tcp::acceptor acceptor(io);
  acceptor.open(tcp::v4());
  acceptor.set_option(asio::socket_base::receive_buffer_size(4096));  // fills at once
  acceptor.bind({asio::ip::make_address("127.0.0.1"), 0});
  acceptor.listen();
  tcp::socket held(io);
  protocol::Header login;
  login.command = protocol::command::login;
  std::copy(truck.vin.begin(), truck.vin.end(), login.vin.begin());
  const auto answer =
      protocol::make_same_command_reply(login, protocol::BeijingTime::from_unix_seconds(morning));
  acceptor.async_accept(held, [&](boost::system::error_code ec) {
    if (!ec) asio::write(held, asio::buffer(answer), ec);  // and never reads
  });

  LoadOptions options;
  options.port = acceptor.local_endpoint().port();
  options.rate = 200'000;  // as fast as it can encode
  options.duration = 1s;
  options.reply_timeout = 2s;
  options.start_unix_s = morning;
  options.run_start_us = steady_us();
  LoadCounters counters;
  AckLog acks(-1);
  Expectations expectations(truck, zones.get(), morning);
  asio::co_spawn(io, run_terminal(truck, options, nullptr, counters, acks, expectations),
                 asio::detached);
  const auto started = std::chrono::steady_clock::now();
  io.run_for(20s);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 8s);
  EXPECT_EQ(counters.terminals_done.load(), 1u);
  EXPECT_EQ(counters.connects.load(), 1u);
  EXPECT_EQ(counters.frames_acked.load(), 0u);
  EXPECT_GT(counters.frames_unanswered.load(), 1000u);  // far more than the buffers took
}

}  // namespace
}  // namespace lantian::sim

namespace lantian::sim {
namespace {

// One 国三 truck and one 国四 truck of the fleet at a grade-A steel works every day for two days,
// with an orange alert on the second: R01 each day for the 国三 one, R14 on the alert day for both;
// nothing for records before the phase-out; R15 once the works have been silent a whole day.
TEST(GateSystems, PlannedRecordsAndTheirViolations) {
  VehicleSpec cn3, cn4;
  cn3.vin = "LZZ5CLSB1EA100039";
  cn3.role = Role::guo3_truck;
  cn3.plate = "豫H00001";
  cn3.plate_color = "yellow";
  cn3.stage = "CN3";
  cn3.category = "N3";
  cn4 = cn3;
  cn4.vin = "LZZ5CLSB1EA100040";
  cn4.role = Role::banned_zone_truck;
  cn4.plate = "豫H00002";
  cn4.stage = "CN4";
  rules::Enterprise works;
  works.id = "91410800MA45SAMP2Y";
  works.city = "焦作";
  works.grade = "A";
  works.bulk = true;
  works.gates = {{"main", 113.4472, 35.2291}};
  auto midnight = [](int day) {
    return protocol::BeijingTime::from_fields(2026, 11, day, 0, 0, 0).to_unix_seconds().value();
  };
  rules::PollutionAlert orange;
  orange.city = "焦作";
  orange.level = rules::AlertLevel::orange;
  orange.from_unix_s = midnight(17);
  orange.to_unix_s = midnight(18);
  GatePlanOptions o;
  o.first_day_unix_s = midnight(16);
  o.days = 2;
  o.seed = 7;
  o.visit_probability = 1;
  o.unregistered_per_day = 0;
  o.phase_out_unix_s = midnight(1);
  o.now_unix_s = midnight(18) + 3600;  // the day after: not yet a whole day without records
  const auto plan = plan_gate_records({cn3, cn4}, {works}, rules::AlertCalendar({orange}),
                                      rules::AlertPolicy(), nullptr, o);
  ASSERT_EQ(plan.records.size(), 8u);  // in and out, two trucks, two days
  for (std::size_t i = 1; i < plan.records.size(); ++i)
    EXPECT_LE(plan.records[i - 1].at_unix_s, plan.records[i].at_unix_s);
  std::vector<std::string> rules_raised;
  for (const auto& x : plan.expected)
    rules_raised.push_back(x.rule + " " + x.vin + " " +
                           protocol::BeijingTime::from_unix_seconds(x.at_unix_s)
                               .iso8601()
                               .value_or("")
                               .substr(0, 10));
  EXPECT_EQ(rules_raised, (std::vector<std::string>{"R01 LZZ5CLSB1EA100039 2026-11-16",
                                                    "R01 LZZ5CLSB1EA100039 2026-11-17",
                                                    "R14 LZZ5CLSB1EA100039 2026-11-17",
                                                    "R14 LZZ5CLSB1EA100040 2026-11-17"}));
  // Each one opens at the truck's entry that day.
  for (const auto& x : plan.expected) {
    const auto entry = std::find_if(plan.records.begin(), plan.records.end(), [&](const auto& r) {
      return r.at_unix_s == x.at_unix_s;
    });
    ASSERT_NE(entry, plan.records.end());
    EXPECT_NE(entry->json.find(R"("direction":"in")"), std::string::npos) << entry->json;
  }
  o.now_unix_s = midnight(19) + 60;  // a whole day since: R15 — but only 2 active days of 3
  EXPECT_EQ(plan_gate_records({cn3, cn4}, {works}, rules::AlertCalendar({orange}),
                              rules::AlertPolicy(), nullptr, o)
                .expected.size(),
            4u);
  o.days = 3;
  o.first_day_unix_s = midnight(15);
  const auto three = plan_gate_records({cn3, cn4}, {works}, rules::AlertCalendar({orange}),
                                       rules::AlertPolicy(), nullptr, o);
  ASSERT_EQ(three.expected.back().rule, "R15");
  EXPECT_EQ(three.expected.back().enterprise, "91410800MA45SAMP2Y");
  EXPECT_EQ(three.expected.back().at_unix_s, three.records.back().at_unix_s);
}

}  // namespace
}  // namespace lantian::sim
