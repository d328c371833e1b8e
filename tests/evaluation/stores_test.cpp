// The typed stores: the byte layout of every key they write (existing archives must stay readable,
// so these are fixed), and the violations' one-batch writes against concurrent reviews.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
#include <sstream>
#include <map>
#include <string>
#include <thread>

#include "evaluation/catalogue_store.hpp"
#include "evaluation/checkpoint_store.hpp"
#include "evaluation/observation_store.hpp"
#include "evaluation/violation_store.hpp"
#include "protocol/json.hpp"
#include "rules/observations.hpp"
#include "rules/records_json.hpp"
#include "temp_store.hpp"

namespace lantian::evaluation {
namespace {

using testing::TempStore;
const std::string vin = "LFWADRJF011002346";
constexpr std::int64_t new_year_2026 = 1767196800;  // 2026-01-01T00:00:00+08:00

std::string bytes(std::initializer_list<unsigned> values) {
  std::string out;
  for (auto v : values) out.push_back(static_cast<char>(v));
  return out;
}

rules::Violation violation(const std::string& rule, std::int64_t at_unix_s) {
  rules::Violation v;
  v.rule = rule;
  v.vin = vin;
  v.id = rule + "|" + vin + "|" + std::to_string(at_unix_s);
  v.at_unix_s = v.raised_at_unix_s = at_unix_s;
  v.severity = rules::Severity::high;
  v.evidence = {{"00ff", 0}};
  v.evidence_times = {at_unix_s};
  return v;
}

TEST(CatalogueStore, KeepsTheRegistryPermitAndZoneLayouts) {
  TempStore store;
  CatalogueStore catalogue(*store);
  rules::VehicleRecord truck;
  truck.vin = vin;
  truck.plate = "豫A12345";
  truck.category = "N3";
  truck.fuel = "diesel";
  std::string error;
  ASSERT_TRUE(catalogue.put_vehicles({truck}, error)) << error;
  ASSERT_TRUE(
      catalogue.put_permit({vin, {"P-7", "zone-1", new_year_2026, new_year_2026 + 86400}}, error))
      << error;
  const std::string zones = R"({"type":"FeatureCollection","features":[]})";
  EXPECT_EQ(catalogue.add_zone_version(zones, error), 1);
  EXPECT_EQ(catalogue.add_zone_version(zones, error), 2);

  EXPECT_EQ((*store).get(storage::Family::registry, vin),
            boost::json::serialize(rules::to_json(truck)));
  EXPECT_EQ((*store).get(storage::Family::permits, vin + "|zone-1|P-7"), "1767196800,1767283200");
  EXPECT_EQ((*store).get(storage::Family::zones, bytes({0, 0, 0, 0, 0, 0, 0, 2})), zones);

  const auto loaded = catalogue.load();
  const auto* found = loaded.registry->find(vin);
  ASSERT_NE(found, nullptr);
  ASSERT_EQ(found->permits.size(), 1u);
  EXPECT_EQ(found->permits[0].zone_id, "zone-1");
  EXPECT_EQ(found->permits[0].permit_no, "P-7");
  EXPECT_EQ(found->permits[0].valid_until_unix_s, new_year_2026 + 86400);
  EXPECT_EQ(loaded.zone_version(), 2);
  EXPECT_EQ(catalogue.latest_zone_version(), 2);
  EXPECT_EQ(catalogue.zone_version_text(1), zones);
  EXPECT_EQ(catalogue.load_zones(3), nullptr);
}

TEST(CatalogueStore, KeepsAreaVersionsLikeZoneVersions) {
  TempStore store;
  CatalogueStore catalogue(*store);
  EXPECT_EQ(catalogue.load().areas->version(), 0);
  EXPECT_TRUE(catalogue.load().areas->empty());
  const std::string areas =
      R"({"type":"FeatureCollection","features":[{"type":"Feature","properties":)"
      R"({"adcode":"410800","name":"焦作市","level":"city"},"geometry":{"type":"Polygon",)"
      R"("coordinates":[[[113,35],[113.5,35],[113.5,35.4],[113,35.4],[113,35]]]}}]})";
  std::string error;
  EXPECT_EQ(catalogue.add_area_version(areas, error), 1);
  EXPECT_EQ(catalogue.add_area_version(areas, error), 2);
  EXPECT_EQ((*store).get(storage::Family::areas, bytes({0, 0, 0, 0, 0, 0, 0, 2})), areas);
  EXPECT_EQ(catalogue.latest_area_version(), 2);
  EXPECT_EQ(catalogue.latest_zone_version(), 0);  // the families do not mix
  const auto loaded = catalogue.load();
  EXPECT_EQ(loaded.areas->version(), 2);
  ASSERT_EQ(loaded.areas->areas().size(), 1u);
  EXPECT_EQ(loaded.areas->locate(113.2, 35.2).city->jurisdiction, "焦作");
}

TEST(CheckpointStore, KeepsTheCheckpointLayoutAndThinsOutOlderOnes) {
  TempStore store;
  CheckpointStore checkpoints(*store);
  rules::VehicleState state;
  state.r01_last_day = 20454;
  std::string error;
  const CheckpointRetention retention{std::chrono::hours(2), std::chrono::hours(48)};
  for (int hour = 0; hour < 6; ++hour)
    ASSERT_TRUE(checkpoints.save(vin, new_year_2026 + hour * 3600, state, retention, error))
        << error;
  // c|VIN| · (boundary ^ 2^63), big-endian.
  EXPECT_EQ((*store).get(storage::Family::rule_state,
                         "c|" + vin + "|" + bytes({0x80, 0, 0, 0, 0x69, 0x55, 0x48, 0x80})),
            rules::to_json_text(state));
  // Kept: the newest two hours and the day's first (Beijing midnight); the rest are gone.
  EXPECT_EQ(checkpoints.newest_at_or_before(vin, new_year_2026 + 2 * 3600)->boundary_unix_s,
            new_year_2026);
  EXPECT_EQ(checkpoints.newest_at_or_before(vin, new_year_2026 + 4 * 3600)->boundary_unix_s,
            new_year_2026 + 4 * 3600);
  EXPECT_FALSE(checkpoints.newest_at_or_before(vin, new_year_2026 - 1));

  EXPECT_FALSE(checkpoints.last_offline_check());
  ASSERT_TRUE(checkpoints.record_offline_check(new_year_2026, error)) << error;
  EXPECT_EQ((*store).get(storage::Family::rule_state, "offline_checked_unix_s"), "1767196800");
  EXPECT_EQ(checkpoints.last_offline_check(), new_year_2026);
}

TEST(ObservationStore, StoresAnIdOnce) {
  TempStore store;
  ObservationStore observations(*store);
  rules::Observation ob;
  ob.id = "gate-1:42";
  ob.vin = vin;
  ob.at_unix_s = new_year_2026;
  std::string error;
  EXPECT_TRUE(observations.add_if_new(ob, error));
  EXPECT_FALSE(observations.add_if_new(ob, error));
  EXPECT_TRUE(error.empty());
  EXPECT_EQ(observations.get(ob.id), boost::json::serialize(rules::to_json(ob)));
  int seen = 0;
  observations.for_each([&](const rules::Observation& o) { seen += o.id == ob.id; });
  EXPECT_EQ(seen, 1);
}

// The blue-plate car 豫A11111 seen by a camera is not the yellow-plate 国三 truck 豫A11111: a
// sighting is attributed by number and colour, or by number alone when only one vehicle has it;
// otherwise it is kept as unmatched, with the reason, and raises nothing.
TEST(ObservationStore, SightingsAreAttributedByPlateNumberAndColour) {
  TempStore store;
  auto registry = std::make_shared<rules::Registry>();
  rules::VehicleRecord truck;
  truck.vin = "LZZJ5ACA5AF110265";
  truck.plate = "豫A11111";
  truck.plate_color = "yellow";
  truck.category = "N3";
  truck.fuel = "diesel";
  truck.stage = rules::Stage::CN3;
  registry->upsert(truck);
  rules::VehicleRecord car = truck;
  car.vin = "LGAD6SJA1RG736370";
  car.plate_color = "blue";
  car.category = "M1";
  car.fuel = "gasoline";
  car.stage = rules::Stage::CN6b;
  registry->upsert(car);
  const Catalogue catalogue{registry, std::make_shared<rules::ZoneIndex>(std::vector<rules::Zone>{}, 0)};
  const auto sighting = [](const std::string& id, const std::string& color) {
    rules::Observation ob;
    ob.id = id;
    ob.kind = rules::Observation::Kind::sighting;
    ob.plate = "豫A11111";
    ob.plate_color = color;
    ob.at_unix_s = new_year_2026 + 86400 * 59 + 36000;  // 2026-03-01 10:00
    ob.lon = 114.30;
    ob.lat = 34.80;
    return ob;
  };
  const rules::Engine engine{rules::EngineConfig{}};
  auto stored = store_observations(*store, engine, catalogue,
                                   {sighting("cam-1", "blue"), sighting("cam-2", "")});
  ASSERT_TRUE(stored.error.empty()) << stored.error;
  EXPECT_EQ(stored.added, 2u);
  EXPECT_EQ(stored.unmatched, 1u);  // cam-2: two vehicles have the number
  EXPECT_EQ(stored.raised, 0u);     // cam-1 is the car: no R01 against the truck
  stored = store_observations(*store, engine, catalogue, {sighting("cam-3", "yellow")});
  ASSERT_EQ(stored.violations.size(), 1u);
  EXPECT_EQ(stored.violations[0].at("id").as_string(), "R01|LZZJ5ACA5AF110265|2026-03-01");
  std::map<std::string, std::string> unmatched;
  ObservationStore(*store).for_each(
      [&](const rules::Observation& o) { unmatched[o.id] = o.unmatched_reason; });
  EXPECT_EQ(unmatched, (std::map<std::string, std::string>{
                           {"cam-1", ""},
                           {"cam-2",
                            "plate 豫A11111 is registered 2 times (blue, yellow) and the sighting "
                            "gives no colour"},
                           {"cam-3", ""}}));
}

TEST(ObservationImport, AnUnknownFieldOrPlateColourIsRejectedWithItsLine) {
  std::istringstream in(
      R"({"id":"a","kind":"sighting","plate":"豫A11111","plate_color":"蓝","time":1767196800})" "\n"
      R"({"id":"b","kind":"sighting","plate":"豫A11111","colour":"blue","time":1767196800})" "\n"
      R"({"id":"c","kind":"sighting","plate":"豫A11111","plate_color":"pink","time":1767196800})" "\n"
      R"({"id":"d","kind":"sighting","vin":"LZZJ5ACA5AF110265","time":1767196800,"unmatched":"x"})" "\n");
  const auto imported = rules::import_observations_jsonl(in);
  ASSERT_EQ(imported.observations.size(), 1u);
  EXPECT_EQ(imported.observations[0].plate_color, "blue");
  ASSERT_EQ(imported.rejected.size(), 3u);
  EXPECT_EQ(imported.rejected[0].line, 2u);
  EXPECT_EQ(imported.rejected[0].reason, "unknown field 'colour'");
  EXPECT_EQ(imported.rejected[1].line, 3u);
  EXPECT_EQ(imported.rejected[1].reason,
            "unknown plate_color 'pink' (blue, yellow, green, yellow_green, white, black)");
  EXPECT_EQ(imported.rejected[2].line, 4u);  // "unmatched" is the store's, not a source's
  EXPECT_EQ(imported.rejected[2].reason, "unknown field 'unmatched'");
}

TEST(ViolationStore, KeepsTheIndexLayouts) {
  TempStore store;
  ViolationStore violations(*store);
  const auto v = violation("R02", new_year_2026);
  const auto written = violations.record({{v.id, v}}, {});
  ASSERT_TRUE(written.error.empty()) << written.error;
  ASSERT_EQ(written.added.size(), 1u);
  // violation_index: desc(time) = ~(time + 2^63), big-endian, then the id.
  const auto position = bytes({0x7f, 0xff, 0xff, 0xff, 0x96, 0xaa, 0xb7, 0x7f}) + v.id;
  for (const auto& key :
       {"a|" + position, "v|" + vin + "|" + position, "r|R02|" + position, "s|open|" + position})
    EXPECT_EQ((*store).get(storage::Family::violation_index, key), "R02\t\t\topen\thigh\t0\t0")
        << key;
  // rule_state's withdrawal index: i|VIN| · (raised + 2^63) · id, empty.
  EXPECT_EQ((*store).get(storage::Family::rule_state,
                         "i|" + vin + "|" + bytes({0x80, 0, 0, 0, 0x69, 0x55, 0x48, 0x80}) + v.id),
            "");
  EXPECT_TRUE((*store).get(storage::Family::violations, v.id));
}

TEST(ViolationStore, WritesAnEvaluationsChangesTogether) {
  TempStore store;
  ViolationStore violations(*store);
  const auto kept = violation("R02", new_year_2026);
  const auto gone = violation("R03", new_year_2026 + 60);
  const auto before = violation("R03", new_year_2026 - 3600);  // before the re-evaluation
  ASSERT_TRUE(
      violations.record({{kept.id, kept}, {gone.id, gone}, {before.id, before}}, {}).error.empty());

  auto newer = kept;
  newer.evidence_times = {new_year_2026 + 5};
  const auto added = violation("R04", new_year_2026 + 120);
  ViolationChanges changes{.raised = {{newer.id, newer}, {added.id, added}},
                           .reevaluated = ViolationChanges::Reevaluation{vin, new_year_2026}};
  const auto written = violations.write(changes);
  ASSERT_TRUE(written.error.empty()) << written.error;
  ASSERT_EQ(written.added.size(), 1u);
  EXPECT_EQ(written.added[0].at("id").as_string(), added.id);
  EXPECT_EQ(written.withdrawn, std::vector<std::string>{gone.id});
  EXPECT_TRUE(violations.get(gone.id)->contains("withdrawn"));
  EXPECT_FALSE(violations.get(before.id)->contains("withdrawn"));
  EXPECT_FALSE(violations.get(kept.id)->contains("withdrawn"));

  ViolationQuery q;
  q.vin = vin;
  std::set<std::string> listed;
  for (const auto& v : violations.list(q, {}).items)
    listed.insert(std::string(v.at("id").as_string()));
  EXPECT_EQ(listed, (std::set<std::string>{kept.id, added.id, before.id}));
}

// A cluster node logs every change it makes (cluster/violation_replicator.hpp); another node
// applying them holds the same records, listed and indexed the same, and logs none of them.
TEST(ViolationStore, EveryChangeIsLoggedAndAppliesAsTheSameRecordElsewhere) {
  TempStore made, copy;
  ViolationStore writer(*made), reader(*copy);
  writer.log_every_change(true);
  const auto kept = violation("R02", new_year_2026);
  const auto gone = violation("R03", new_year_2026 + 60);
  ASSERT_TRUE(writer.record({{kept.id, kept}, {gone.id, gone}}, {}).error.empty());
  auto newer = kept;
  newer.evidence_times = {new_year_2026 + 5};
  ASSERT_TRUE(writer
                  .write({.raised = {{newer.id, newer}},
                          .reevaluated = ViolationChanges::Reevaluation{vin, new_year_2026 + 30}})
                  .error.empty());
  ASSERT_EQ(writer.review(kept.id, "confirmed", "seen on camera", "0afb942026db"),
            ViolationStore::ReviewResult::reviewed);

  std::vector<std::string> events;
  std::vector<boost::json::object> records;
  (*made).for_each(storage::Family::violation_changes, "",
                   [&](const std::string&, const std::string& value) {
                     const auto change = boost::json::parse(value).as_object();
                     events.push_back(std::string(change.at("id").as_string()) + " " +
                                      std::string(change.at("event").as_string()));
                     records.push_back(change.at("violation").as_object());
                     return true;
                   });
  // The first three changes one by one, the last two in one batch with the applier's position.
  std::string error;
  for (std::size_t i = 0; i < 3; ++i)
    ASSERT_TRUE(reader.apply_replicated({records[i]}, {}, error)) << error;
  ASSERT_TRUE(reader.apply_replicated({records[3], records[4]},
                                      {{storage::Family::cluster, "v|applied", "5"}}, error))
      << error;
  EXPECT_EQ((*copy).get(storage::Family::cluster, "v|applied"), "5");
  EXPECT_EQ(events, (std::vector<std::string>{
                        kept.id + " violation.raised", gone.id + " violation.raised",
                        kept.id + " violation.updated", gone.id + " violation.withdrawn",
                        kept.id + " violation.reviewed"}));
  for (const auto& id : {kept.id, gone.id}) EXPECT_EQ(reader.get(id), writer.get(id)) << id;
  EXPECT_EQ(reader.get(kept.id)->at("status"), "confirmed");
  EXPECT_FALSE((*copy).last_key(storage::Family::violation_changes));  // nothing logged

  const auto ids = [&](const ViolationQuery& q) {
    std::set<std::string> out;
    for (const auto& v : reader.list(q, {}).items) out.insert(std::string(v.at("id").as_string()));
    return out;
  };
  ViolationQuery all;
  all.vin = vin;
  EXPECT_EQ(ids(all), std::set<std::string>{kept.id});  // the withdrawn one is left out
  all.include_withdrawn = true;
  EXPECT_EQ(ids(all), (std::set<std::string>{kept.id, gone.id}));
  ViolationQuery confirmed;
  confirmed.status = "confirmed";
  EXPECT_EQ(ids(confirmed), std::set<std::string>{kept.id});
  ViolationQuery open;
  open.status = "open";
  EXPECT_TRUE(ids(open).empty());  // the review moved it out of the open listing
  // The withdrawal index, should this node one day evaluate the vehicle itself.
  EXPECT_EQ((*copy).get(storage::Family::rule_state,
                        "i|" + vin + "|" + bytes({0x80, 0, 0, 0, 0x69, 0x55, 0x48, 0x80}) + kept.id),
            "");

  // One id twice in a batch: the last record is stored, with its index entries only.
  TempStore twice;
  ViolationStore again(*twice);
  ASSERT_TRUE(again.apply_replicated({records[0], records[4]}, {}, error)) << error;
  EXPECT_EQ(again.get(kept.id), writer.get(kept.id));
  std::size_t open_entries = 0;
  (*twice).for_each(storage::Family::violation_index, "s|open|",
                    [&](const std::string&, const std::string&) { return ++open_entries, true; });
  EXPECT_EQ(open_entries, 0u);

  // A late rule change (the reviewed record's predecessor, from a partition's previous owner)
  // does not take the review away: it keeps the decision and takes the rest.
  auto late = records[2];  // "updated", before the review
  late["evidence"] = boost::json::array{};
  ASSERT_TRUE(reader.apply_replicated({late}, {}, error)) << error;
  const auto kept_review = reader.get(kept.id);
  EXPECT_EQ(kept_review->at("status"), "confirmed");
  EXPECT_EQ(kept_review->at("review"), writer.get(kept.id)->at("review"));
  EXPECT_EQ(kept_review->at("evidence"), boost::json::array{});
  EXPECT_EQ(ids(confirmed), std::set<std::string>{kept.id});

  EXPECT_FALSE(reader.apply_replicated({boost::json::object{{"id", "x"}}}, {}, error));
  EXPECT_EQ(error, "not a violation record (no id or rule)");
}

// A rule update of a violation never loses a review made meanwhile, nor the reverse.
TEST(ViolationStore, AReviewAndAnEvaluationOfTheSameViolationNeverLoseEachOther) {
  TempStore store;
  ViolationStore violations(*store);
  const auto v = violation("R02", new_year_2026);
  ASSERT_TRUE(violations.record({{v.id, v}}, {}).error.empty());
  constexpr int rounds = 100;
  std::thread reviewer([&] {
    for (int i = 0; i < rounds; ++i)
      EXPECT_EQ(violations.review(v.id, i % 2 ? "confirmed" : "dismissed",
                                  "review " + std::to_string(i), "reviewer-1"),
                ViolationStore::ReviewResult::reviewed);
  });
  for (int i = 0; i < rounds; ++i) {
    auto updated = v;
    updated.lon = 113.0 + i * 0.001;
    updated.lat = 34.0;
    EXPECT_TRUE(violations.write({.raised = {{v.id, updated}}}).error.empty());
  }
  reviewer.join();
  const auto stored = violations.get(v.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->at("review").at("comment").as_string(), "review " + std::to_string(rounds - 1));
  EXPECT_EQ(stored->at("review_history").as_array().size(), static_cast<std::size_t>(rounds - 1));
  EXPECT_EQ(stored->at("lon").to_number<double>(), 113.0 + (rounds - 1) * 0.001);
  // One status entry, the latest.
  ViolationQuery q;
  q.status = "confirmed";
  EXPECT_EQ(violations.list(q, {}).items.size(), 1u);
  q.status = "dismissed";
  EXPECT_TRUE(violations.list(q, {}).items.empty());
}

}  // namespace
}  // namespace lantian::evaluation

namespace lantian::evaluation {
namespace {

// Police enforce where a violation happens: a 三门峡 truck seen in 焦作 is 焦作's case.
TEST(ViolationStore, AViolationIsFiledWhereItsEvidenceWas) {
  TempStore store;
  ViolationStore violations(*store);
  rules::Registry registry;
  rules::VehicleRecord truck;
  truck.vin = vin;
  truck.plate = "豫M12345";  // registered in 三门峡
  truck.category = "N3";
  truck.fuel = "diesel";
  registry.upsert(truck);
  const auto areas = rules::import_areas_geojson(
      R"({"type":"FeatureCollection","features":[)"
      R"({"type":"Feature","properties":{"adcode":"410800","name":"焦作市","level":"city"},)"
      R"("geometry":{"type":"Polygon","coordinates":[[[113,35],[113.5,35],[113.5,35.4],[113,35.4],[113,35]]]}},)"
      R"({"type":"Feature","properties":{"adcode":"410821","name":"修武县","level":"county"},)"
      R"("geometry":{"type":"Polygon","coordinates":[[[113.3,35.1],[113.5,35.1],[113.5,35.4],[113.3,35.4],[113.3,35.1]]]}}]})");
  ASSERT_TRUE(areas.problems.empty()) << areas.problems.front();
  const rules::AreaIndex index(areas.areas, 4);
  const rules::AreaIndex none(std::vector<rules::AdminArea>{}, 0);
  const rules::ZoneIndex zones(std::vector<rules::Zone>{}, 0);

  struct Case {
    std::optional<double> lon, lat;
    const rules::AreaIndex* areas;
    std::string city, county, city_adcode;
  };
  const Case cases[] = {
      {113.2, 35.2, &index, "焦作", "", "410800"},             // in 焦作, outside 修武
      {113.4, 35.2, &index, "焦作", "修武县", "410800"},       // in 修武
      {111.2, 34.5, &index, "三门峡", "", ""},                 // outside every area loaded
      {std::nullopt, std::nullopt, &index, "三门峡", "", ""},  // no position
      {113.2, 35.2, &none, "三门峡", "", ""},                  // no areas loaded
  };
  std::int64_t at = new_year_2026;
  for (const auto& c : cases) {
    auto v = violation("R01", at += 86400);
    v.lon = c.lon;
    v.lat = c.lat;
    ViolationContext ctx{&registry, &zones};
    ctx.areas = c.areas;
    const auto written = violations.record({{v.id, v}}, ctx);
    ASSERT_EQ(written.added.size(), 1u) << written.error;
    const auto& stored = written.added[0];
    EXPECT_EQ(stored.at("city").as_string(), c.city) << v.id;
    EXPECT_EQ(stored.contains("county") ? std::string(stored.at("county").as_string()) : "",
              c.county)
        << v.id;
    EXPECT_EQ(
        stored.contains("city_adcode") ? std::string(stored.at("city_adcode").as_string()) : "",
        c.city_adcode)
        << v.id;
    EXPECT_EQ(stored.contains("area_version"), c.areas == &index) << v.id;
  }
  // A 焦作 police token sees the two that happened there; a county filter narrows to 修武.
  Jurisdiction jiaozuo;
  jiaozuo.cities = {"焦作"};
  EXPECT_EQ(violations.list({}, jiaozuo).items.size(), 2u);
  ViolationQuery by_county;
  by_county.county = "修武县";
  const auto page = violations.list(by_county, {});
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].at("id").as_string(), "R01|" + vin + "|" + std::to_string(new_year_2026 + 2 * 86400));
}

}  // namespace
}  // namespace lantian::evaluation

namespace lantian::evaluation {
namespace {

// The archive key (hex, as evidence keeps it) of frame `sequence` of `vin` at `at`.
std::string evidence_key(std::int64_t at, std::uint64_t sequence) {
  protocol::Vin v{};
  std::copy(vin.begin(), vin.end(), v.begin());
  const auto raw = storage::frame_key(v, at, sequence);
  return protocol::to_hex(protocol::ByteView(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()));
}
std::string raw_key(const std::string& hex) {
  const auto b = protocol::from_hex(hex);
  return std::string(b->begin(), b->end());
}

// Evidence is never deleted: the frames of a violation are held while it stands; a withdrawal
// releases them unless another violation still refers to them; an archive from before holds is
// held once at start.
TEST(ViolationStore, HoldsTheFramesOfEveryViolationNotWithdrawn) {
  TempStore store;
  ViolationStore violations(*store);
  const auto shared = evidence_key(new_year_2026 + 60, 7);
  auto gone = violation("R03", new_year_2026 + 60);
  gone.evidence = {{shared, 0}, {evidence_key(new_year_2026 + 70, 8), 0}};
  auto kept = violation("R02", new_year_2026 - 3600);
  kept.evidence = {{shared, 1}, {"observation:gate-1", -1}};
  ASSERT_TRUE(violations.record({{gone.id, gone}, {kept.id, kept}}, {}).error.empty());
  const auto holds = [&] {
    std::set<std::string> out;
    (*store).for_each(storage::Family::legal_holds, "",
                      [&](const std::string& key, const std::string&) {
                        out.insert(key);
                        return true;
                      });
    return out;
  };
  EXPECT_EQ(holds(), (std::set<std::string>{raw_key(shared) + gone.id, raw_key(shared) + kept.id,
                                            raw_key(evidence_key(new_year_2026 + 70, 8)) + gone.id}));

  // Re-evaluated from new year without `gone`: withdrawn, its holds released; `kept` (raised
  // earlier) still holds the shared frame.
  const auto written = violations.write(
      {.reevaluated = ViolationChanges::Reevaluation{vin, new_year_2026}});
  ASSERT_EQ(written.withdrawn, std::vector<std::string>{gone.id});
  EXPECT_EQ(holds(), (std::set<std::string>{raw_key(shared) + kept.id}));
  EXPECT_TRUE((*store).is_held(raw_key(shared)));
  EXPECT_FALSE((*store).is_held(raw_key(evidence_key(new_year_2026 + 70, 8))));

  // Raised again: held again.
  ASSERT_TRUE(violations.record({{gone.id, gone}}, {}).error.empty());
  EXPECT_EQ(holds().size(), 3u);
  // ... and each step is a change enforcement systems receive, in order (the change log).
  std::vector<std::string> changes;
  (*store).for_each(storage::Family::violation_changes, "",
                    [&](const std::string&, const std::string& value) {
                      const auto c = boost::json::parse(value).as_object();
                      if (c.at("id").as_string() == gone.id)
                        changes.emplace_back(c.at("event").as_string());
                      return true;
                    });
  EXPECT_EQ(changes, (std::vector<std::string>{"violation.raised", "violation.withdrawn",
                                               "violation.raised"}));

  // An archive whose violations were stored before holds: held once.
  TempStore older;
  std::string error;
  ASSERT_TRUE((*older).put(storage::Family::violations, kept.id,
                           boost::json::serialize(rules::to_json(kept, 1)), error))
      << error;
  ViolationStore older_violations(*older);
  EXPECT_EQ(older_violations.hold_stored_evidence(error), 1u);
  EXPECT_TRUE((*older).is_held(raw_key(shared)));
  EXPECT_EQ(older_violations.hold_stored_evidence(error), 0u);  // done before
}

}  // namespace
}  // namespace lantian::evaluation

namespace lantian::evaluation {
namespace {

// Late data (one unsigned back-dated resend is enough) never undoes a reviewer's decision: the
// reviewed violation it no longer raises is kept and flagged for re-review; the evidence decided
// on stays with the decision, and held, when newer evidence replaces it.
TEST(ViolationStore, AReviewedViolationIsFlaggedForReReviewNotWithdrawn) {
  TempStore store;
  ViolationStore violations(*store);
  auto v = violation("R02", new_year_2026);
  const auto first = evidence_key(new_year_2026, 1);
  v.evidence = {{first, 0}};
  ASSERT_TRUE(violations.record({{v.id, v}}, {}).error.empty());
  ASSERT_EQ(violations.review(v.id, "confirmed", "seen on camera", "reviewer-1"),
            ViolationStore::ReviewResult::reviewed);

  // Newer evidence replaces the current set; the reviewed set stays in the review, held.
  auto newer = v;
  const auto second = evidence_key(new_year_2026 + 5, 2);
  newer.evidence = {{second, 0}};
  ASSERT_TRUE(violations.record({{newer.id, newer}}, {}).error.empty());
  auto stored = violations.get(v.id);
  EXPECT_EQ(stored->at("evidence").at(0).at("frame_key").as_string(), second);
  EXPECT_EQ(stored->at("review").at("evidence").at(0).at("frame_key").as_string(), first);
  EXPECT_TRUE((*store).is_held(raw_key(first)));
  EXPECT_TRUE((*store).is_held(raw_key(second)));

  // Re-evaluated without it: not withdrawn, flagged, still confirmed.
  auto written = violations.write({.reevaluated = ViolationChanges::Reevaluation{vin, new_year_2026}});
  ASSERT_TRUE(written.error.empty()) << written.error;
  EXPECT_TRUE(written.withdrawn.empty());
  EXPECT_EQ(written.flagged_for_rereview, std::vector<std::string>{v.id});
  stored = violations.get(v.id);
  EXPECT_FALSE(stored->contains("withdrawn"));
  EXPECT_EQ(stored->at("status").as_string(), "confirmed");
  EXPECT_EQ(stored->at("rereview").at("reason").as_string(),
            "evaluating the vehicle again with late data no longer raises it");
  EXPECT_TRUE((*store).is_held(raw_key(first)));
  // Flagged once.
  written = violations.write({.reevaluated = ViolationChanges::Reevaluation{vin, new_year_2026}});
  EXPECT_TRUE(written.flagged_for_rereview.empty());
  // A new decision answers the flag.
  ASSERT_EQ(violations.review(v.id, "dismissed", "the late frames show it left", "reviewer-2"),
            ViolationStore::ReviewResult::reviewed);
  stored = violations.get(v.id);
  EXPECT_FALSE(stored->contains("rereview"));
  EXPECT_TRUE(stored->at("review").as_object().contains("rereview"));
  EXPECT_EQ(stored->at("review_history").as_array().size(), 1u);
  // An unreviewed violation is still withdrawn.
  auto open = violation("R03", new_year_2026 + 60);
  ASSERT_TRUE(violations.record({{open.id, open}}, {}).error.empty());
  written = violations.write({.reevaluated = ViolationChanges::Reevaluation{vin, new_year_2026}});
  EXPECT_EQ(written.withdrawn, std::vector<std::string>{open.id});
}

}  // namespace
}  // namespace lantian::evaluation

namespace lantian::evaluation {
namespace {

// Gate records of one day sent in two batches: the second batch's R01 (evaluated on its own,
// opening at its own first record) adds its evidence but keeps the day's opening.
TEST(ViolationStore, ALaterBatchOfExternalEvidenceDoesNotMoveTheOpening) {
  TempStore store;
  ViolationStore violations(*store);
  auto first = violation("R01", new_year_2026 + 8 * 3600);
  first.id = "R01|" + vin + "|2026-01-01";
  first.evidence = {{"gate:E1/1", -1}};
  first.lon = 113.4, first.lat = 35.2;
  ASSERT_TRUE(violations.record({{first.id, first}}, {}).error.empty());
  auto later = first;
  later.at_unix_s = later.raised_at_unix_s = new_year_2026 + 10 * 3600;
  later.evidence = {{"gate:E1/2", -1}};
  later.evidence_times = {later.at_unix_s};
  ASSERT_TRUE(violations.record({{later.id, later}}, {}).error.empty());
  const auto stored = violations.get(first.id).value();
  EXPECT_EQ(stored.at("unix_s").as_int64(), new_year_2026 + 8 * 3600);
  ASSERT_EQ(stored.at("evidence").as_array().size(), 2u);
  EXPECT_EQ(stored.at("evidence").at(0).at("frame_key").as_string(), "gate:E1/1");
  EXPECT_EQ(stored.at("evidence").at(1).at("frame_key").as_string(), "gate:E1/2");
  // A terminal's frames re-evaluated still decide (their state spans every batch).
  auto framed = first;
  framed.at_unix_s = framed.raised_at_unix_s = new_year_2026 + 9 * 3600;
  framed.evidence = {{"00ff", 0}};
  ASSERT_TRUE(violations.record({{framed.id, framed}}, {}).error.empty());
  EXPECT_EQ(violations.get(first.id)->at("unix_s").as_int64(), new_year_2026 + 9 * 3600);
}

}  // namespace
}  // namespace lantian::evaluation

namespace lantian::evaluation {
namespace {

// A gate record earlier in the day than the terminal's first frame: the violation opens at the
// gate, and the frame stays evidence (and held).
TEST(ViolationStore, AnEarlierGateRecordKeepsTheFramesAsEvidence) {
  TempStore store;
  ViolationStore violations(*store);
  auto framed = violation("R01", new_year_2026 + 10 * 3600);
  framed.id = "R01|" + vin + "|2026-01-01";
  ASSERT_TRUE(violations.record({{framed.id, framed}}, {}).error.empty());
  auto gate = framed;
  gate.at_unix_s = gate.raised_at_unix_s = new_year_2026 + 7 * 3600;
  gate.evidence = {{"gate:E1/1", -1}};
  gate.evidence_times = {gate.at_unix_s};
  ASSERT_TRUE(violations.record({{gate.id, gate}}, {}).error.empty());
  const auto stored = violations.get(framed.id).value();
  EXPECT_EQ(stored.at("unix_s").as_int64(), new_year_2026 + 7 * 3600);
  ASSERT_EQ(stored.at("evidence").as_array().size(), 2u);
  EXPECT_EQ(stored.at("evidence").at(0).at("frame_key").as_string(), "gate:E1/1");
  EXPECT_EQ(stored.at("evidence").at(1).at("frame_key").as_string(), "00ff");
}

}  // namespace
}  // namespace lantian::evaluation
