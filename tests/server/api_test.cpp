// The HTTPS API against a real server: tokens and roles (the whole authorisation matrix),
// jurisdictions, every endpoint, cursor pagination under concurrent inserts, the audit log, bad
// parameters, limits and the live feed.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

#include "api_client.hpp"
#include "rule_frames.hpp"
#include "server/api/api_server.hpp"
#include "server/api/forwarded.hpp"
#include "server/api/tokens.hpp"
#include "server_fixture.hpp"

namespace lantian::server {
namespace {
using namespace testing;
using namespace testing::frames;
using protocol::Profile;
using verb = boost::beast::http::verb;
namespace json = boost::json;

constexpr const char* cn3_truck = "LZZJ5ACA5AF110265";       // 豫A… 郑州
constexpr const char* luoyang_loader = "NRCNCZVY6RRDY6AGJ";  // registration code 4110… 许昌
constexpr double zz_inside[] = {113.82, 34.76};

std::int64_t unix_s(protocol::BeijingTime t) {
  return t.to_unix_seconds().value();
}

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() {
    import_samples(dir_.path());
    auto config = test_config(dir_.path(), {"tcp://127.0.0.1:0?profile=gb17691"});
    config.api.enabled = true;
    config.api.max_body_bytes = 64 * 1024;
    config.api.rate_per_second = 1000;
    config.api.burst = 1000;
    server_ = std::make_unique<RunningServer>(config);
    client_ = std::make_unique<ApiClient>(server_->api_port());
    police_ = token(api::Role::police);
    reviewer_ = token(api::Role::reviewer);
    operator_ = token(api::Role::operator_);
    admin_ = token(api::Role::admin);
  }

  std::string token(api::Role role, std::set<std::string> cities = {},
                    std::set<std::string> zones = {},
                    std::optional<std::int64_t> expires_unix_ms = std::nullopt) {
    return create_token(server_->store(), role, std::move(cities), std::move(zones),
                        expires_unix_ms);
  }

  // A 国三 truck in Zhengzhou's 24-hour zone at night: R01 and R02.
  void drive_cn3_truck() {
    TestTerminal truck(server_->port());
    const auto t0 = unix_s(bj(2026, 3, 1, 23, 0, 0));
    auto at = [&](int s) { return protocol::BeijingTime::from_unix_seconds(t0 + s); };
    truck.send(
        cat({login(cn3_truck, at(-60)),
             truck_sample(cn3_truck, Profile::gb17691, at(0), zz_inside[0], zz_inside[1]),
             truck_sample(cn3_truck, Profile::gb17691, at(10), zz_inside[0], zz_inside[1]),
             truck_sample(cn3_truck, Profile::gb17691, at(86400), zz_inside[0], zz_inside[1])}));
    ASSERT_TRUE(eventually([&] { return server_->metrics().frames_stored.value() == 4; }));
    server_->drain_rules();
  }

  // Black smoke at a roadside check (R05) of a machine registered in 许昌.
  HttpResult post_smoke(const std::string& id,
                        const std::string& time = "2026-04-02T10:00:00+08:00") {
    return client_->post("/api/v1/observations", operator_,
                         R"({"id":")" + id + R"(","kind":"smoke","vin":")" + luoyang_loader +
                             R"(","time":")" + time +
                             R"(","lon":114.30,"lat":34.80,"ringelmann":3,"site":"开封东工地"})");
  }

  TempDir dir_;
  std::unique_ptr<RunningServer> server_;
  std::unique_ptr<ApiClient> client_;
  std::string police_, reviewer_, operator_, admin_;
};

std::vector<std::string> ids_of(const json::value& page) {
  std::vector<std::string> out;
  for (const auto& v : page.at("items").as_array()) out.emplace_back(v.at("id").as_string());
  return out;
}

TEST_F(ApiTest, TokensAreRequiredAndCheckedOnEveryRequest) {
  EXPECT_EQ(client_->get("/api/v1/me").status, 401u);
  const auto unknown = client_->get("/api/v1/me", "lt_" + std::string(64, '0'));
  EXPECT_EQ(unknown.status, 401u);
  EXPECT_EQ(unknown.json().at("error").at("message").as_string(), "unknown token");
  EXPECT_EQ(unknown.headers.at("www-authenticate"), "Bearer realm=\"lantian\"");
  const auto expired = token(api::Role::police, {}, {}, 1000);
  EXPECT_EQ(client_->get("/api/v1/me", expired).json().at("error").at("message").as_string(),
            "the token has expired");
  const auto me = client_->get("/api/v1/me", police_);
  ASSERT_EQ(me.status, 200u);
  EXPECT_EQ(me.json().at("role").as_string(), "police");
  EXPECT_EQ(me.json().at("id").as_string(), api::sha256_hex(police_).substr(0, 12));
  // The archive keeps only the hash.
  EXPECT_FALSE(server_->store().get(storage::Family::tokens, police_));
  EXPECT_TRUE(server_->store().get(storage::Family::tokens, api::sha256_hex(police_)));
}

// Every role against every route: allowed routes never answer 403, the others always do.
// Every route with every role: a role the route allows gets the route's exact success status for a
// valid request (so a route that wrongly refused, or failed, shows), every other role 403.
TEST_F(ApiTest, AuthorisationMatrix) {
  drive_cn3_truck();
  const auto t0 = unix_s(bj(2026, 3, 1, 23, 0, 0));
  const std::string r02 =
      "R02%7C" + std::string(cn3_truck) + "%7Czz-4ring-cn3%7C" + std::to_string(t0);
  const auto revocable = client_->post("/api/v1/tokens", admin_, R"({"role":"police"})");
  ASSERT_EQ(revocable.status, 201u);
  const std::string revocable_id(revocable.json().at("record").at("id").as_string());
  // A subscriber for a rule nothing here raises: registered and disabled, it never delivers.
  const std::string subscriber_body =
      R"({"name":"matrix","url":"https://127.0.0.1:9/hook","secret":"0123456789abcdef","rules":["R99"]})";
  const auto disposable = client_->post("/api/v1/subscribers", admin_, subscriber_body);
  ASSERT_EQ(disposable.status, 201u) << disposable.body;
  const std::string subscriber_id(disposable.json().at("id").as_string());
  std::ifstream zones_file(std::string(LANTIAN_SAMPLES_DIR) + "/zones-henan-sample.geojson");
  const std::string zones((std::istreambuf_iterator<char>(zones_file)),
                          std::istreambuf_iterator<char>());
  ASSERT_FALSE(zones.empty());
  std::ifstream areas_file(std::string(LANTIAN_SAMPLES_DIR) + "/areas-henan-sample.geojson");
  const std::string areas((std::istreambuf_iterator<char>(areas_file)),
                          std::istreambuf_iterator<char>());
  ASSERT_FALSE(areas.empty());
  struct Call {
    verb method;
    std::string target, body;
    std::set<std::string> allowed;
    unsigned success;
  };
  const std::string vin = cn3_truck;
  const std::string vehicle =
      R"({"plate":"豫A87590","plate_color":"yellow","category":"N3","fuel":"diesel",)"
      R"("emission_stage":"CN3","stage_source":"registry","rated_power_kw":247,)"
      R"("profile":"gb17691","owner":"郑州某物流有限公司"})";
  const std::string registry_csv =
      "vin,plate,plate_color,category,fuel,emission_stage,owner\n"
      "LZZJ5ACA5AF110265,豫A87590,yellow,N3,diesel,CN3,郑州某物流有限公司\n";
  const std::string observation =
      R"([{"id":"matrix-1","kind":"smoke","vin":")" + std::string(luoyang_loader) +
      R"(","time":"2026-04-02T10:00:00+08:00","lon":114.30,"lat":34.80,"ringelmann":3}])";
  const std::vector<Call> calls{
      {verb::get, "/api/v1/me", "", {"police", "reviewer", "operator", "admin", "gate"}, 200},
      {verb::get, "/api/v1/violations", "", {"police", "reviewer"}, 200},
      {verb::get, "/api/v1/violations.csv", "", {"police", "reviewer"}, 200},
      {verb::get, "/api/v1/violations/" + r02, "", {"police", "reviewer"}, 200},
      {verb::post,
       "/api/v1/violations/" + r02 + "/review",
       R"({"decision":"confirmed","comment":"matrix"})",
       {"reviewer"},
       200},
      {verb::get, "/api/v1/vehicles?q=LZ", "", {"police", "reviewer", "operator"}, 200},
      {verb::get, "/api/v1/vehicles/" + vin, "", {"police", "reviewer", "operator"}, 200},
      {verb::put, "/api/v1/vehicles/" + vin, vehicle, {"operator"}, 200},
      {verb::get,
       "/api/v1/vehicles/" + vin + "/track?from=2026-03-01&to=2026-03-02",
       "",
       {"police", "reviewer"},
       200},
      {verb::get,
       "/api/v1/vehicles/" + vin + "/frames?from=2026-03-01&to=2026-03-02",
       "",
       {"police", "reviewer"},
       200},
      {verb::post, "/api/v1/registry", registry_csv, {"operator"}, 200},
      {verb::get, "/api/v1/enterprises", "", {"police", "reviewer", "operator"}, 200},
      {verb::post,
       "/api/v1/enterprises",
       "id,name,city,industry,grade\nHN-0001,某厂,郑州,钢铁,A\n",
       {"operator"},
       200},
      {verb::get, "/api/v1/enterprises/HN-0001", "", {"police", "reviewer", "operator"}, 200},
      // Authorised but refused record by record (an enterprise neither may write for): 200.
      {verb::post,
       "/api/v1/gate-events",
       R"([{"id":"m-1","enterprise":"XX-0000","gate":"g","time":1767225600,"direction":"in",)"
       R"("plate":"豫A87590"}])",
       {"operator", "gate"},
       200},
      {verb::get, "/api/v1/alerts", "", {"police", "reviewer", "operator"}, 200},
      {verb::get, "/api/v1/alerts/policy", "", {"police", "reviewer", "operator"}, 200},
      {verb::post,
       "/api/v1/alerts",
       R"({"city":"郑州","level":"red","from":"2026-12-01","to":"2026-12-02"})",
       {"operator"},
       201},
      {verb::post, "/api/v1/alerts/4101-202612010000-red/end", R"({"at":1796054400})",
       {"operator"}, 200},
      {verb::get, "/api/v1/zones", "", {"police", "reviewer", "operator"}, 200},
      {verb::get, "/api/v1/zones/versions", "", {"police", "reviewer", "operator"}, 200},
      {verb::get, "/api/v1/zones/zz-4ring-cn3", "", {"police", "reviewer", "operator"}, 200},
      {verb::post, "/api/v1/zones", zones, {"operator"}, 201},
      {verb::get, "/api/v1/areas", "", {"police", "reviewer", "operator"}, 200},
      {verb::post, "/api/v1/areas", areas, {"operator"}, 201},
      {verb::post,
       "/api/v1/permits",
       "vin,zone_id,valid_from,valid_to,permit_no\n" + vin + ",zz-4ring-cn3,2026-01-01,2026-12-31,ZZ-1\n",
       {"operator"},
       200},
      {verb::get, "/api/v1/map", "", {"police", "reviewer", "operator"}, 200},
      {verb::post, "/api/v1/observations", observation, {"operator"}, 201},
      {verb::get,
       "/api/v1/stats/online?from=2026-03-01&to=2026-03-02",
       "",
       {"police", "reviewer"},
       200},
      {verb::get,
       "/api/v1/stats/violations?from=2026-03-01&to=2026-03-02",
       "",
       {"police", "reviewer"},
       200},
      {verb::get, "/api/v1/tokens", "", {"admin"}, 200},
      {verb::post, "/api/v1/tokens", R"({"role":"police"})", {"admin"}, 201},
      {verb::delete_, "/api/v1/tokens/" + revocable_id, "", {"admin"}, 204},
      {verb::get, "/api/v1/audit", "", {"admin"}, 200},
      {verb::get, "/api/v1/upstreams", "", {"admin"}, 200},
      {verb::get, "/api/v1/subscribers", "", {"admin"}, 200},
      {verb::post, "/api/v1/subscribers", subscriber_body, {"admin"}, 201},
      {verb::delete_, "/api/v1/subscribers/" + subscriber_id, "", {"admin"}, 204},
  };
  const std::map<std::string, std::string> tokens{
      {"police", police_},
      {"reviewer", reviewer_},
      {"operator", operator_},
      {"admin", admin_},
      {"gate", create_token(server_->store(), api::Role::gate, {}, {}, std::nullopt, {"HN-0001"})}};
  for (const auto& call : calls)
    for (const auto& [role, secret] : tokens) {
      const auto r = client_->request(call.method, call.target, secret, call.body);
      const unsigned expected = call.allowed.count(role) ? call.success : 403u;
      EXPECT_EQ(r.status, expected) << role << " " << call.target << ": " << r.body;
    }
}

TEST_F(ApiTest, ViolationsListDetailAndReview) {
  drive_cn3_truck();
  const auto list = client_->get("/api/v1/violations", police_);
  ASSERT_EQ(list.status, 200u) << list.body;
  const auto t0 = unix_s(bj(2026, 3, 1, 23, 0, 0));
  const std::string r02 = std::string("R02|") + cn3_truck + "|zz-4ring-cn3|" + std::to_string(t0);
  // Newest first: the next day's R01, then the first day's R02 and R01 (same time: by id).
  EXPECT_EQ(ids_of(list.json()),
            (std::vector<std::string>{std::string("R01|") + cn3_truck + "|2026-03-02",
                                      std::string("R01|") + cn3_truck + "|2026-03-01", r02}));
  const auto filtered =
      client_->get("/api/v1/violations?rule=R02&city=%E9%83%91%E5%B7%9E", police_);
  EXPECT_EQ(ids_of(filtered.json()), (std::vector<std::string>{r02}));
  EXPECT_EQ(ids_of(client_->get("/api/v1/violations?rule=R02&from=2026-03-02", police_).json()),
            (std::vector<std::string>{}));
  EXPECT_EQ(
      ids_of(client_->get("/api/v1/violations?plate=%E8%B1%ABA87590&rule=R02", police_).json()),
      (std::vector<std::string>{r02}));
  EXPECT_EQ(ids_of(client_->get("/api/v1/violations?plate=%E8%B1%ABA87590&plate_color=yellow&rule=R02",
                                police_)
                       .json()),
            (std::vector<std::string>{r02}));
  EXPECT_EQ(client_->get("/api/v1/violations?plate=%E8%B1%ABA87590&plate_color=blue", police_).status,
            400u);  // no blue 豫A87590
  // No areas are loaded here: a county filter matches nothing.
  EXPECT_TRUE(ids_of(client_->get("/api/v1/violations?county=%E4%B8%AD%E7%89%9F%E5%8E%BF", police_)
                         .json())
                  .empty());
  EXPECT_EQ(
      ids_of(
          client_->get("/api/v1/violations?bbox=113.8,34.7,113.9,34.8&rule=R02", police_).json()),
      (std::vector<std::string>{r02}));
  EXPECT_TRUE(
      ids_of(client_->get("/api/v1/violations?bbox=112,34,113,35", police_).json()).empty());

  // The detail carries the evidence: the decoded frames with their bytes, and the zone geometry.
  const std::string escaped =
      "R02%7C" + std::string(cn3_truck) + "%7Czz-4ring-cn3%7C" + std::to_string(t0);
  const auto detail = client_->get("/api/v1/violations/" + escaped, police_);
  ASSERT_EQ(detail.status, 200u) << detail.body;
  const auto d = detail.json();
  EXPECT_EQ(d.at("violation").at("city").as_string(), "郑州");
  EXPECT_EQ(d.at("violation").at("plate").as_string(), "豫A87590");
  ASSERT_EQ(d.at("frames").as_array().size(), 2u);
  const auto& frame = d.at("frames").at(0);
  EXPECT_EQ(frame.at("decoded").at("command_name").as_string(), "realtime");
  EXPECT_TRUE(frame.at("hex").as_string().starts_with("2323"));
  EXPECT_EQ(d.at("zone").at("properties").at("id").as_string(), "zz-4ring-cn3");
  EXPECT_EQ(d.at("zone").at("version").as_int64(), 1);
  EXPECT_EQ(d.at("vehicle").at("plate").as_string(), "豫A87590");

  // Review: police may not; a reviewer confirms, then dismisses (the first decision is kept).
  EXPECT_EQ(client_
                ->post("/api/v1/violations/" + escaped + "/review", police_,
                       R"({"decision":"confirmed","comment":"x"})")
                .status,
            403u);
  const auto no_comment = client_->post("/api/v1/violations/" + escaped + "/review", reviewer_,
                                        R"({"decision":"confirmed"})");
  EXPECT_EQ(no_comment.status, 400u);
  EXPECT_EQ(no_comment.json().at("error").at("parameter").as_string(), "comment");
  auto reviewed =
      client_->post("/api/v1/violations/" + escaped + "/review", reviewer_,
                    R"({"decision":"confirmed","comment":"视频核实：车辆在禁区内行驶"})");
  ASSERT_EQ(reviewed.status, 200u) << reviewed.body;
  EXPECT_EQ(reviewed.json().at("status").as_string(), "confirmed");
  reviewed = client_->post("/api/v1/violations/" + escaped + "/review", reviewer_,
                           R"({"decision":"dismiss","comment":"持有临时通行证"})");
  EXPECT_EQ(reviewed.json().at("status").as_string(), "dismissed");
  EXPECT_EQ(reviewed.json().at("review_history").at(0).at("decision").as_string(), "confirmed");
  EXPECT_EQ(reviewed.json().at("review").at("by").as_string(),
            api::sha256_hex(reviewer_).substr(0, 12));
  EXPECT_EQ(ids_of(client_->get("/api/v1/violations?status=dismissed", police_).json()),
            (std::vector<std::string>{r02}));
  EXPECT_EQ(client_->get("/api/v1/violations/nonexistent", police_).status, 404u);
}

TEST_F(ApiTest, JurisdictionFiltersEveryQuery) {
  drive_cn3_truck();
  ASSERT_EQ(post_smoke("check-1").status, 201u);
  const auto zhengzhou = token(api::Role::police, {"郑州"});
  const auto xuchang = token(api::Role::police, {"许昌"});
  const auto zone_only = token(api::Role::police, {}, {"zz-4ring-cn3"});
  EXPECT_EQ(client_->get("/api/v1/violations", police_).json().at("items").as_array().size(), 4u);
  EXPECT_EQ(ids_of(client_->get("/api/v1/violations", xuchang).json()),
            (std::vector<std::string>{std::string("R05|") + luoyang_loader + "|check-1"}));
  EXPECT_EQ(client_->get("/api/v1/violations", zhengzhou).json().at("items").as_array().size(), 3u);
  const auto zone_ids = ids_of(client_->get("/api/v1/violations", zone_only).json());
  ASSERT_EQ(zone_ids.size(), 1u);
  EXPECT_TRUE(zone_ids[0].starts_with("R02|"));
  // Another city's violation, vehicle and track do not exist for this token.
  const std::string r05 = std::string("R05%7C") + luoyang_loader + "%7Ccheck-1";
  EXPECT_EQ(client_->get("/api/v1/violations/" + r05, zhengzhou).status, 404u);
  EXPECT_EQ(client_->get("/api/v1/violations/" + r05, xuchang).status, 200u);
  EXPECT_EQ(client_->get(std::string("/api/v1/vehicles/") + cn3_truck, xuchang).status, 404u);
  EXPECT_EQ(client_
                ->get(std::string("/api/v1/vehicles/") + cn3_truck +
                          "/track?from=2026-03-01&to=2026-03-02",
                      xuchang)
                .status,
            404u);
  EXPECT_EQ(client_->get(std::string("/api/v1/vehicles/") + cn3_truck, zhengzhou).status, 200u);
  // Zones: only those of the token's cities; statistics likewise.
  const auto zones = client_->get("/api/v1/zones", xuchang).json();
  ASSERT_EQ(zones.at("features").as_array().size(), 1u);
  EXPECT_EQ(zones.at("features").at(0).at("properties").at("city").as_string(), "许昌");
  const auto counts =
      client_->get("/api/v1/stats/violations?from=2026-01-01&to=2026-12-31", xuchang);
  EXPECT_EQ(counts.json().at("items").as_array().size(), 1u);
  // The feed and the CSV export are filtered the same way.
  const auto csv = client_->get("/api/v1/violations.csv", xuchang);
  EXPECT_EQ(std::count(csv.body.begin(), csv.body.end(), '\n'), 2);
}

// Pages of 7 while violations are inserted before, between and after the pages' positions: every
// violation that existed when paging began appears exactly once.
TEST_F(ApiTest, CursorPaginationNeitherSkipsNorRepeatsUnderConcurrentInserts) {
  evaluation::ViolationStore store(server_->store());
  const auto catalogue = server_->rules().catalogue().snapshot();
  auto make = [&](int i) {
    rules::Violation v;
    v.rule = "R09";
    v.vin = cn3_truck;
    v.id = "R09|" + std::string(cn3_truck) + "|" + std::to_string(1'770'000'000 + i * 100);
    v.at_unix_s = v.raised_at_unix_s = 1'770'000'000 + (i / 2) * 100;  // pairs share a time
    v.severity = rules::Severity::low;
    return v;
  };
  evaluation::ViolationSet initial;
  for (int i = 0; i < 60; ++i) {
    auto v = make(i);
    initial.emplace(v.id, v);
  }
  store.record(initial, {catalogue->registry.get(), catalogue->zones.get()});
  std::multiset<std::string> seen;
  std::string cursor;
  int page = 0, extra = 1000;
  for (;;) {
    const auto r = client_->get(
        "/api/v1/violations?rule=R09&limit=7" + (cursor.empty() ? "" : "&cursor=" + cursor),
        police_);
    ASSERT_EQ(r.status, 200u) << r.body;
    for (const auto& id : ids_of(r.json())) seen.insert(id);
    // Concurrent writers: a newer one, an older one, and one at an existing time.
    evaluation::ViolationSet more;
    for (int k : {extra, -extra, 2 * (page * 3)}) {
      auto v = make(k);
      v.id += "|late" + std::to_string(page);
      more.emplace(v.id, v);
    }
    ++extra, ++page;
    store.record(more, {catalogue->registry.get(), catalogue->zones.get()});
    const auto body = r.json();
    const auto& next = body.at("next_cursor");
    if (next.is_null()) break;
    cursor = std::string(next.as_string());
    ASSERT_LT(page, 100);
  }
  for (const auto& [id, v] : initial) EXPECT_EQ(seen.count(id), 1u) << id;
  for (const auto& id : seen) EXPECT_EQ(seen.count(id), 1u) << id;  // nothing twice
}

TEST_F(ApiTest, BadRequestsGetClearErrors) {
  auto error_of = [&](const std::string& target) {
    const auto r = client_->get(target, police_);
    EXPECT_EQ(r.status, 400u) << target << ": " << r.body;
    return std::string(r.json().at("error").at("parameter").as_string());
  };
  EXPECT_EQ(error_of("/api/v1/violations?rulle=R01"), "rulle");
  EXPECT_EQ(error_of("/api/v1/violations?rule=X1"), "rule");
  EXPECT_EQ(error_of("/api/v1/violations?from=yesterday"), "from");
  EXPECT_EQ(error_of("/api/v1/violations?limit=0"), "limit");
  EXPECT_EQ(error_of("/api/v1/violations?limit=abc"), "limit");
  EXPECT_EQ(error_of("/api/v1/violations?bbox=1,2,3"), "bbox");
  EXPECT_EQ(error_of("/api/v1/violations?cursor=zz"), "cursor");
  EXPECT_EQ(error_of("/api/v1/violations?status=closed"), "status");
  EXPECT_EQ(error_of("/api/v1/violations?from=2026-03-02&to=2026-03-01"), "to");
  EXPECT_EQ(error_of("/api/v1/vehicles/SHORT"), "vin");
  EXPECT_EQ(error_of(std::string("/api/v1/vehicles/") + cn3_truck +
                     "/track?from=2026-01-01&to=2026-03-01"),
            "to");  // more than 7 days
  EXPECT_EQ(client_->get("/api/v1/nothing", police_).status, 404u);
  EXPECT_EQ(client_->request(verb::delete_, "/api/v1/violations", police_).status, 405u);
  const auto bad_json = client_->post("/api/v1/observations", operator_, "{not json");
  EXPECT_EQ(bad_json.status, 400u);
  EXPECT_EQ(bad_json.json().at("error").at("code").as_string(), "bad_json");
  const auto huge = client_->post("/api/v1/observations", operator_, std::string(100 * 1024, ' '));
  EXPECT_EQ(huge.status, 413u);
  EXPECT_EQ(huge.json().at("error").at("code").as_string(), "too_large");
  EXPECT_EQ(client_->get("/../../etc/passwd").status, 404u);
}

TEST_F(ApiTest, VehiclesTracksFramesAndStatistics) {
  drive_cn3_truck();
  const auto search = client_->get("/api/v1/vehicles?q=%E8%B1%ABA875", police_).json();
  ASSERT_EQ(search.at("items").as_array().size(), 1u);
  EXPECT_EQ(search.at("items").at(0).at("vin").as_string(), cn3_truck);
  // A VIN prefix in any case.
  EXPECT_EQ(client_->get("/api/v1/vehicles?q=lzzj5", police_).json().at("items").at(0).at("vin"),
            cn3_truck);
  const auto detail = client_->get(std::string("/api/v1/vehicles/") + cn3_truck, police_).json();
  EXPECT_EQ(detail.at("city").as_string(), "郑州");
  EXPECT_TRUE(detail.at("online").as_bool());  // a frame just arrived
  EXPECT_EQ(detail.at("open_violations").as_array().size(), 3u);
  const auto track = client_->get(
      std::string("/api/v1/vehicles/") + cn3_truck + "/track?from=2026-03-01&to=2026-03-01",
      police_);
  ASSERT_EQ(track.status, 200u) << track.body;
  EXPECT_EQ(track.headers.at("content-type"), "application/geo+json; charset=utf-8");
  const auto track_json = track.json();
  const auto& line = track_json.at("features").at(0);
  EXPECT_EQ(line.at("geometry").at("coordinates").as_array().size(), 2u);  // the next day's is out
  EXPECT_EQ(line.at("geometry").at("coordinates").at(0).at(0).as_double(), 113.82);
  EXPECT_EQ(line.at("properties").at("times").at(1).as_int64(), unix_s(bj(2026, 3, 1, 23, 0, 10)));
  const auto frames = client_
                          ->get(std::string("/api/v1/vehicles/") + cn3_truck +
                                    "/frames?from=2026-03-01&to=2026-03-03&limit=2",
                                police_)
                          .json();
  ASSERT_EQ(frames.at("items").as_array().size(), 2u);
  EXPECT_EQ(frames.at("items").at(0).at("decoded").at("command_name").as_string(), "login");
  const auto rest = client_
                        ->get(std::string("/api/v1/vehicles/") + cn3_truck +
                                  "/frames?from=2026-03-01&to=2026-03-03&cursor=" +
                                  std::string(frames.at("next_cursor").as_string()),
                              police_)
                        .json();
  EXPECT_EQ(rest.at("items").as_array().size(), 2u);  // 4 frames in all
  EXPECT_TRUE(rest.at("next_cursor").is_null());

  // Online on 2 of the 3 days from 2026-03-01 to 2026-03-03.
  const auto online =
      client_
          ->get("/api/v1/stats/online?from=2026-03-01&to=2026-03-03&city=%E9%83%91%E5%B7%9E",
                police_)
          .json();
  EXPECT_EQ(online.at("days").as_int64(), 3);
  bool found = false;
  for (const auto& v : online.at("vehicles").as_array())
    if (v.at("vin").as_string() == cn3_truck) {
      found = true;
      EXPECT_EQ(v.at("days_online").as_int64(), 2);
      EXPECT_NEAR(v.at("rate").as_double(), 2.0 / 3.0, 1e-12);
    }
  EXPECT_TRUE(found);
  const auto counts =
      client_->get("/api/v1/stats/violations?from=2026-03-01&to=2026-03-02", police_).json();
  std::set<std::string> rows;
  for (const auto& c : counts.at("items").as_array())
    rows.insert(std::string(c.at("day").as_string()) + " " + std::string(c.at("rule").as_string()) +
                " " + std::string(c.at("city").as_string()) + " " +
                std::to_string(c.at("count").as_int64()));
  EXPECT_EQ(rows, (std::set<std::string>{"2026-03-01 R01 郑州 1", "2026-03-01 R02 郑州 1",
                                         "2026-03-02 R01 郑州 1"}));
}

TEST_F(ApiTest, OperatorsKeepRegistryZonesAndObservations) {
  // A new vehicle by PUT, checked like a CSV row.
  const auto bad = client_->request(
      verb::put, "/api/v1/vehicles/LZZJ5ACA6AF110265", operator_,
      R"({"plate":"豫A00001","category":"N3","fuel":"diesel","emission_stage":"国三"})");
  EXPECT_EQ(bad.status, 400u);  // check digit
  const auto put = client_->request(
      verb::put, "/api/v1/vehicles/LGAD6SJA1RG736370", operator_,
      R"({"plate":"豫B12345","category":"N3","fuel":"diesel","emission_stage":"国六b","profile":"hj1239"})");
  ASSERT_EQ(put.status, 200u) << put.body;
  EXPECT_EQ(put.json().at("city").as_string(), "开封");
  EXPECT_EQ(put.json().at("emission_stage").as_string(), "CN6b");
  const auto csv = client_->request(verb::post, "/api/v1/registry", operator_,
                                    "vin,plate,category,fuel,emission_stage\n"
                                    "LZZJ5ACA5AF110265,豫A87590,N3,diesel,国三\n"
                                    "BADVIN,豫A1,N3,diesel,国三\n",
                                    "text/csv");
  ASSERT_EQ(csv.status, 200u) << csv.body;
  EXPECT_EQ(csv.json().at("imported").as_int64(), 1);
  EXPECT_EQ(csv.json().at("rejected").at(0).at("line").as_int64(), 3);
  // A restricted operator may not write another city's vehicle.
  const auto kaifeng_operator = token(api::Role::operator_, {"开封"});
  EXPECT_EQ(
      client_
          ->request(
              verb::put, std::string("/api/v1/vehicles/") + cn3_truck, kaifeng_operator,
              R"({"plate":"豫A87590","category":"N3","fuel":"diesel","emission_stage":"国三"})")
          .status,
      403u);
  // … nor take one: a 郑州 operator giving 开封's vehicle a 豫A plate is refused, by PUT and by CSV,
  // and the stored record stays 开封's.
  const auto zhengzhou_operator = token(api::Role::operator_, {"郑州"});
  const auto taken = client_->request(
      verb::put, "/api/v1/vehicles/LGAD6SJA1RG736370", zhengzhou_operator,
      R"({"plate":"豫A12345","category":"N3","fuel":"diesel","emission_stage":"国六b"})");
  EXPECT_EQ(taken.status, 403u);
  EXPECT_EQ(taken.json().at("error").at("message").as_string(),
            "the vehicle is registered in 开封, outside this token's cities");
  const auto taken_csv = client_->request(verb::post, "/api/v1/registry", zhengzhou_operator,
                                          "vin,plate,category,fuel,emission_stage\n"
                                          "LGAD6SJA1RG736370,豫A12345,N3,diesel,国六b\n",
                                          "text/csv");
  ASSERT_EQ(taken_csv.status, 200u) << taken_csv.body;
  EXPECT_EQ(taken_csv.json().at("imported").as_int64(), 0);
  EXPECT_EQ(taken_csv.json().at("rejected").at(0).at("reason").as_string(),
            "the vehicle is registered in 开封, outside this token's cities");
  EXPECT_EQ(client_->get("/api/v1/vehicles/LGAD6SJA1RG736370", operator_)
                .json()
                .at("registry")
                .at("plate"),
            "豫B12345");
  // Zones: a bad upload stores nothing; a good one is the next version, used from then on.
  const auto broken =
      client_->post("/api/v1/zones", operator_,
                    R"({"type":"FeatureCollection","features":[{"type":"Feature"}]})");
  EXPECT_EQ(broken.status, 400u);
  EXPECT_EQ(broken.json().at("error").at("code").as_string(), "invalid_zones");
  std::ifstream in(std::string(LANTIAN_SAMPLES_DIR) + "/zones-henan-sample.geojson");
  std::stringstream geojson;
  geojson << in.rdbuf();
  const auto uploaded = client_->post("/api/v1/zones", operator_, geojson.str());
  ASSERT_EQ(uploaded.status, 201u) << uploaded.body;
  EXPECT_EQ(uploaded.json().at("version").as_int64(), 2);
  const auto versions = client_->get("/api/v1/zones/versions", police_).json();
  EXPECT_EQ(versions.at("items").as_array().size(), 2u);
  EXPECT_EQ(
      client_->get("/api/v1/zones/zz-nrmm-ban?version=1", police_).json().at("version").as_int64(),
      1);
  EXPECT_EQ(client_->get("/api/v1/zones/zz-nrmm-ban?version=3", police_).status, 400u);
  EXPECT_TRUE(
      eventually([&] { return server_->rules().catalogue().snapshot()->zone_version() == 2; }));
  // Observations: one object or a batch; known ids are not stored twice.
  auto first = post_smoke("check-7");
  ASSERT_EQ(first.status, 201u) << first.body;
  EXPECT_EQ(first.json().at("violations_raised").as_int64(), 1);
  const auto again = post_smoke("check-7");
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(again.json().at("known").as_int64(), 1);
  const auto batch = client_->post(
      "/api/v1/observations", operator_,
      R"([{"id":"gate-9","kind":"sighting","plate":"豫A87590","time":"2026-05-02T07:15:00+08:00","site":"物流园门禁"},
          {"id":"bad","kind":"smoke","time":"nope"}])");
  ASSERT_EQ(batch.status, 201u) << batch.body;
  EXPECT_EQ(batch.json().at("added").as_int64(), 1);
  EXPECT_EQ(batch.json().at("rejected").as_array().size(), 1u);
  EXPECT_EQ(ids_of(client_->get("/api/v1/violations?rule=R01", police_).json()),
            (std::vector<std::string>{std::string("R01|") + cn3_truck + "|2026-05-02"}));
}

// Each jurisdiction check on a write, with what the write would have done without it. (Permits
// have no API: only `lantiand import-permits`, on the server's machine.)
TEST_F(ApiTest, EveryWriteHoldsItsJurisdiction) {
  drive_cn3_truck();  // 郑州's R01 and R02
  const auto kaifeng_operator = token(api::Role::operator_, {"开封"});
  const auto zhengzhou_operator = token(api::Role::operator_, {"郑州"});
  const auto luoyang_reviewer = token(api::Role::reviewer, {"洛阳"});

  // Registry CSV: a row whose vehicle is registered in another city is refused, the rest kept.
  const auto csv = client_->request(verb::post, "/api/v1/registry", kaifeng_operator,
                                    "vin,plate,plate_color,category,fuel,emission_stage\n"
                                    "LZZJ5ACA5AF110265,豫A87590,yellow,N3,diesel,国六b\n",
                                    "text/csv");
  ASSERT_EQ(csv.status, 200u) << csv.body;
  EXPECT_EQ(csv.json().at("imported").as_int64(), 0);
  EXPECT_EQ(csv.json().at("rejected").at(0).at("reason").as_string(),
            "the vehicle is not registered in this token's cities");
  EXPECT_EQ(client_->get(std::string("/api/v1/vehicles/") + cn3_truck, operator_)
                .json()
                .at("registry")
                .at("emission_stage")
                .as_string(),
            "CN3");

  // Zones: a version replaces the province's set; a city's operator may not upload one.
  std::ifstream in(std::string(LANTIAN_SAMPLES_DIR) + "/zones-henan-sample.geojson");
  std::stringstream geojson;
  geojson << in.rdbuf();
  const auto zones = client_->post("/api/v1/zones", zhengzhou_operator, geojson.str());
  EXPECT_EQ(zones.status, 403u);
  EXPECT_EQ(zones.json().at("error").at("code").as_string(), "outside_jurisdiction");
  EXPECT_EQ(client_->get("/api/v1/zones/versions", police_).json().at("items").as_array().size(),
            1u);

  // Observations: a sighting of another city's vehicle is refused and raises nothing.
  const auto smoke = client_->post(
      "/api/v1/observations", kaifeng_operator,
      R"({"id":"kf-1","kind":"smoke","vin":")" + std::string(luoyang_loader) +
          R"(","time":"2026-04-02T10:00:00+08:00","lon":114.30,"lat":34.80,"ringelmann":3})");
  ASSERT_EQ(smoke.status, 200u) << smoke.body;
  EXPECT_EQ(smoke.json().at("added").as_int64(), 0);
  EXPECT_EQ(smoke.json().at("violations_raised").as_int64(), 0);
  EXPECT_EQ(smoke.json().at("rejected").at(0).at("reason").as_string(),
            "not a vehicle of this token's cities");
  EXPECT_TRUE(ids_of(client_->get("/api/v1/violations?rule=R05", police_).json()).empty());

  // Reviews: another city's violation does not exist for the reviewer, and stays unreviewed.
  const auto t0 = unix_s(bj(2026, 3, 1, 23, 0, 0));
  const std::string r02 =
      "R02%7C" + std::string(cn3_truck) + "%7Czz-4ring-cn3%7C" + std::to_string(t0);
  const auto review = client_->post("/api/v1/violations/" + r02 + "/review", luoyang_reviewer,
                                    R"({"decision":"dismissed","comment":"not ours"})");
  EXPECT_EQ(review.status, 404u);
  EXPECT_EQ(
      client_->get("/api/v1/violations/" + r02, police_).json().at("violation").at("status"),
      "open");
}

TEST_F(ApiTest, EnterprisesAreListedWithinJurisdictionAndImportedByOperators) {
  std::ifstream sample(std::string(LANTIAN_SAMPLES_DIR) + "/enterprises-henan-sample.csv");
  const std::string csv((std::istreambuf_iterator<char>(sample)), std::istreambuf_iterator<char>());
  const auto imported = client_->request(verb::post, "/api/v1/enterprises", operator_, csv,
                                         "text/csv");
  ASSERT_EQ(imported.status, 200u) << imported.body;
  EXPECT_EQ(imported.json().at("imported").as_int64(), 5);
  EXPECT_TRUE(imported.json().at("rejected").as_array().empty());

  const auto ids = [](const HttpResult& r) {
    std::vector<std::string> out;
    const auto page = r.json();
    for (const auto& e : page.at("items").as_array()) out.emplace_back(e.at("id").as_string());
    return out;
  };
  EXPECT_EQ(ids(client_->get("/api/v1/enterprises", police_)),
            (std::vector<std::string>{"91410100MA44SAMP1X", "91410300MA47SAMP4K",
                                      "91410800MA45SAMP2Y", "91411200MA46SAMP3W", "HN-XC-0001"}));
  EXPECT_EQ(ids(client_->get("/api/v1/enterprises?industry=%E9%92%A2%E9%93%81", police_)),
            (std::vector<std::string>{"91410800MA45SAMP2Y"}));  // 钢铁
  const auto jiaozuo = token(api::Role::police, {"焦作"});
  EXPECT_EQ(ids(client_->get("/api/v1/enterprises", jiaozuo)),
            (std::vector<std::string>{"91410800MA45SAMP2Y"}));
  const auto detail = client_->get("/api/v1/enterprises/91410800MA45SAMP2Y", jiaozuo);
  ASSERT_EQ(detail.status, 200u);
  EXPECT_EQ(detail.json().at("grade").as_string(), "A");
  EXPECT_EQ(detail.json().at("gates").at(0).at("id").as_string(), "main");
  EXPECT_EQ(client_->get("/api/v1/enterprises/91410100MA44SAMP1X", jiaozuo).status, 404u);
  EXPECT_EQ(client_->get("/api/v1/enterprises?bulk=true", police_).status, 400u);

  // A 焦作 operator may not write 郑州's enterprise, nor move it to 焦作.
  const auto jiaozuo_operator = token(api::Role::operator_, {"焦作"});
  const auto moved = client_->request(
      verb::post, "/api/v1/enterprises", jiaozuo_operator,
      "id,name,city,industry,grade\n91410100MA44SAMP1X,郑州某物流园区有限公司,焦作,物流园区,A\n"
      "91410800MA45SAMP2Y,焦作某钢铁有限公司,焦作,钢铁,B\n",
      "text/csv");
  ASSERT_EQ(moved.status, 200u) << moved.body;
  EXPECT_EQ(moved.json().at("imported").as_int64(), 1);
  EXPECT_EQ(moved.json().at("rejected").at(0).at("reason").as_string(),
            "not an enterprise of this token's cities");
  EXPECT_EQ(client_->get("/api/v1/enterprises/91410100MA44SAMP1X", police_)
                .json()
                .at("city")
                .as_string(),
            "郑州");
  EXPECT_EQ(client_->get("/api/v1/enterprises/91410800MA45SAMP2Y", police_)
                .json()
                .at("grade")
                .as_string(),
            "B");
}

TEST_F(ApiTest, TheAuditLogRecordsEveryRequest) {
  client_->get("/api/v1/violations?rule=R01", police_);
  client_->get("/api/v1/me");  // refused: still audited
  const auto audit = client_->get("/api/v1/audit", admin_);
  ASSERT_EQ(audit.status, 200u) << audit.body;
  const auto audit_json = audit.json();
  const auto& items = audit_json.at("items").as_array();
  ASSERT_GE(items.size(), 2u);
  const auto& listed = items[items.size() - 2];
  EXPECT_EQ(listed.at("target").as_string(), "/api/v1/violations?rule=R01");
  EXPECT_EQ(listed.at("token_id").as_string(), api::sha256_hex(police_).substr(0, 12));
  EXPECT_EQ(listed.at("role").as_string(), "police");
  EXPECT_EQ(listed.at("status").as_int64(), 200);
  EXPECT_EQ(listed.at("records").as_int64(), 0);
  EXPECT_EQ(listed.at("peer").as_string(), "127.0.0.1");
  EXPECT_EQ(items.back().at("status").as_int64(), 401);
  EXPECT_TRUE(items.back().at("token_id").is_null());
  // Filtered by token, paged by cursor.
  const auto mine =
      client_
          ->get("/api/v1/audit?token=" + api::sha256_hex(police_).substr(0, 12) + "&limit=1",
                admin_)
          .json();
  ASSERT_EQ(mine.at("items").as_array().size(), 1u);
  EXPECT_FALSE(mine.at("next_cursor").is_null());
}

// In a cluster, a vehicle's owner answers another node's request with the caller's token record
// and jurisdiction — only for the routes that need the owner's archive — and audits it.
TEST_F(ApiTest, AnOwnerAnswersOnlyAVehiclesRoutesForAnotherNode) {
  drive_cn3_truck();
  const auto ask = [&](verb method, const std::string& target, api::Role role,
                       std::set<std::string> cities = {}) {
    api::ApiRequest r;
    r.method = method;
    r.target = target;
    r.peer = "10.1.2.3";
    r.token.id = "0afb942026db";
    r.token.role = role;
    r.token.jurisdiction.cities = std::move(cities);
    const auto answer = api::decode_forwarded_response(
        server_->api().answer_forwarded(api::encode_forwarded_request(r)));
    EXPECT_TRUE(answer);
    return answer.value_or(api::ApiResponse{});
  };
  const std::string vehicle = std::string("/api/v1/vehicles/") + cn3_truck;
  const auto detail = ask(verb::get, vehicle, api::Role::police);
  EXPECT_EQ(detail.status, api::http::status::ok) << detail.body;
  EXPECT_EQ(json::parse(detail.body).at("vin").as_string(), cn3_truck);
  // R01 on each of its two days, and R02.
  EXPECT_EQ(json::parse(detail.body).at("open_violations").as_array().size(), 3u);
  // The caller's jurisdiction holds on the owner: 开封's police do not see a 郑州 truck.
  EXPECT_EQ(ask(verb::get, vehicle, api::Role::police, {"开封"}).status,
            api::http::status::not_found);
  // Nothing else is taken from another node, whatever the token record says.
  const auto token = ask(verb::post, "/api/v1/tokens", api::Role::admin);
  EXPECT_EQ(token.status, api::http::status::forbidden);
  EXPECT_EQ(json::parse(token.body).at("error").at("code").as_string(), "not_forwardable");
  EXPECT_EQ(ask(verb::get, "/api/v1/violations", api::Role::police).status,
            api::http::status::forbidden);

  const auto audit = client_->get("/api/v1/audit?token=0afb942026db", admin_).json();
  const auto& items = audit.at("items").as_array();
  ASSERT_EQ(items.size(), 4u);
  for (const auto& item : items) EXPECT_EQ(item.at("peer").as_string(), "forwarded:10.1.2.3");
  std::multiset<std::int64_t> statuses;
  for (const auto& item : items) statuses.insert(item.at("status").as_int64());
  EXPECT_EQ(statuses, (std::multiset<std::int64_t>{200, 403, 403, 404}));
}

// Before: an audit entry said a write happened, not what it changed.
TEST_F(ApiTest, TheAuditOfAChangeSaysWhoWhatBeforeAndAfter) {
  drive_cn3_truck();
  const auto t0 = unix_s(bj(2026, 3, 1, 23, 0, 0));
  const std::string r02 = std::string("R02|") + cn3_truck + "|zz-4ring-cn3|" + std::to_string(t0);
  const std::string escaped =
      "R02%7C" + std::string(cn3_truck) + "%7Czz-4ring-cn3%7C" + std::to_string(t0);
  ASSERT_EQ(client_
                ->post("/api/v1/violations/" + escaped + "/review", reviewer_,
                       R"({"decision":"confirmed","comment":"seen on camera"})")
                .status,
            200u);
  ASSERT_EQ(client_
                ->request(verb::put, std::string("/api/v1/vehicles/") + cn3_truck, operator_,
                          R"({"plate":"豫A87590","plate_color":"yellow","category":"N3",)"
                          R"("fuel":"diesel","emission_stage":"CN6b","stage_source":"registry",)"
                          R"("rated_power_kw":247,"profile":"gb17691","owner":"郑州某物流有限公司"})")
                .status,
            200u);
  const auto created = client_->post("/api/v1/tokens", admin_,
                                     R"({"role":"police","cities":["洛阳"],"label":"洛阳交警"})");
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string new_id(created.json().at("record").at("id").as_string());
  const std::string secret(created.json().at("token").as_string());
  ASSERT_EQ(client_->request(verb::delete_, "/api/v1/tokens/" + new_id, admin_).status, 204u);
  // A refused write records no change.
  ASSERT_EQ(client_->request(verb::put, std::string("/api/v1/vehicles/") + cn3_truck, police_,
                             R"({"emission_stage":"CN6b"})")
                .status,
            403u);

  const auto audit = client_->get("/api/v1/audit?limit=1000", admin_);
  ASSERT_EQ(audit.status, 200u) << audit.body;
  std::vector<std::string> changes;
  const auto log = audit.json();
  for (const auto& e : log.at("items").as_array())
    if (const auto* change = e.as_object().if_contains("change"))
      changes.push_back(std::string(e.at("role").as_string()) + " " +
                        std::string(e.at("method").as_string()) + " " +
                        json::serialize(*change));
  const auto reviewer_id = api::sha256_hex(reviewer_).substr(0, 12);
  ASSERT_EQ(changes.size(), 4u) << audit.body;
  // The review: the status and decision before (none) and after, with the reviewer's id.
  const auto review = json::parse(changes[0].substr(changes[0].find('{')));
  EXPECT_TRUE(changes[0].starts_with("reviewer POST "));
  EXPECT_EQ(review.at("violation").as_string(), r02);
  EXPECT_EQ(review.at("before").at("status").as_string(), "open");
  EXPECT_TRUE(review.at("before").at("review").is_null());
  EXPECT_EQ(review.at("after").at("status").as_string(), "confirmed");
  EXPECT_EQ(review.at("after").at("review").at("decision").as_string(), "confirmed");
  EXPECT_EQ(review.at("after").at("review").at("comment").as_string(), "seen on camera");
  EXPECT_EQ(review.at("after").at("review").at("by").as_string(), reviewer_id);
  // The registry write: only the field that changed, before → after.
  EXPECT_EQ(changes[1], std::string("operator PUT {\"vin\":\"") + cn3_truck +
                            R"(","before":{"emission_stage":"CN3"},"after":{"emission_stage":"CN6b"}})");
  // The new token's record (never its secret), then its revocation.
  EXPECT_TRUE(changes[2].starts_with("admin POST {\"token\":{\"id\":\"" + new_id + "\""));
  EXPECT_NE(changes[2].find(R"("role":"police")"), std::string::npos) << changes[2];
  EXPECT_NE(changes[2].find(R"("cities":["洛阳"])"), std::string::npos) << changes[2];
  EXPECT_EQ(changes[2].find(secret), std::string::npos);
  EXPECT_EQ(changes[3], "admin DELETE {\"token_id\":\"" + new_id +
                            R"(","before":{"revoked":false},"after":{"revoked":true}})");
}

TEST_F(ApiTest, AdminsManageTokens) {
  const auto created =
      client_->post("/api/v1/tokens", admin_,
                    R"({"role":"police","cities":["洛阳"],"label":"洛阳交警","expires_days":30})");
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string secret(created.json().at("token").as_string());
  const std::string id(created.json().at("record").at("id").as_string());
  const auto me = client_->get("/api/v1/me", secret).json();
  EXPECT_EQ(me.at("cities").at(0).as_string(), "洛阳");
  EXPECT_EQ(client_->post("/api/v1/tokens", admin_, R"({"role":"king"})").status, 400u);
  EXPECT_EQ(client_->request(verb::delete_, "/api/v1/tokens/" + id, admin_).status, 204u);
  EXPECT_EQ(client_->get("/api/v1/me", secret).json().at("error").at("message").as_string(),
            "the token was revoked");
  const auto list = client_->get("/api/v1/tokens", admin_).json();
  for (const auto& t : list.at("items").as_array()) EXPECT_FALSE(t.as_object().contains("token"));
}

TEST_F(ApiTest, TheLiveFeedSendsNewViolationsWithinTheJurisdiction) {
  FeedClient everything(server_->api_port(), police_);
  FeedClient zhengzhou(server_->api_port(), token(api::Role::police, {"郑州"}));
  ASSERT_EQ(everything.status(), 200u);
  ASSERT_EQ(zhengzhou.status(), 200u);
  ASSERT_EQ(post_smoke("check-9").status, 201u);  // 许昌
  const auto got = everything.read_until("check-9", std::chrono::seconds(5));
  EXPECT_NE(got.find("event: violation"), std::string::npos) << got;
  EXPECT_NE(got.find(std::string("id: R05|") + luoyang_loader + "|check-9"), std::string::npos);
  drive_cn3_truck();  // 郑州
  const auto zz = zhengzhou.read_until("R02|", std::chrono::seconds(5));
  EXPECT_NE(zz.find("R02|"), std::string::npos) << zz;
  EXPECT_EQ(zz.find("check-9"), std::string::npos);  // not this token's city
  EXPECT_EQ(FeedClient(server_->api_port(), operator_).status(), 403u);
}

// Revoking a token ends its open live feed: no event after the revocation, the stream closed
// within one heartbeat (5 s).
TEST_F(ApiTest, ARevokedTokensLiveFeedEndsAndDeliversNothingMore) {
  const auto created =
      client_->post("/api/v1/tokens", admin_, R"({"role":"police","label":"feed"})");
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string secret(created.json().at("token").as_string());
  const std::string id(created.json().at("record").at("id").as_string());
  FeedClient feed(server_->api_port(), secret);
  ASSERT_EQ(feed.status(), 200u);
  ASSERT_EQ(client_->request(verb::delete_, "/api/v1/tokens/" + id, admin_).status, 204u);
  ASSERT_EQ(post_smoke("check-10").status, 201u);
  const auto started = std::chrono::steady_clock::now();
  const auto got = feed.read_until("never sent", std::chrono::seconds(20));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));  // closed
  EXPECT_EQ(got.find("check-10"), std::string::npos) << got;
}

TEST(ApiLimits, RateLimitAnswers429WithRetryAfter) {
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0"});
  config.api.enabled = true;
  config.api.rate_per_second = 0.5;
  config.api.burst = 3;
  RunningServer server(config);
  api::TokenRecord r;
  std::string error;
  const auto secret = api::TokenStore(server.store()).create(r, error).value();
  ApiClient client(server.api_port());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client.get("/api/v1/me", secret).status, 200u);
  const auto limited = client.get("/api/v1/me", secret);
  EXPECT_EQ(limited.status, 429u);
  EXPECT_EQ(limited.headers.at("retry-after"), "2");
  EXPECT_EQ(limited.json().at("error").at("code").as_string(), "rate_limited");
}

}  // namespace
}  // namespace lantian::server

namespace lantian::server {
namespace {

// Gate records (门禁) from a gate system's own token, during a heavy-pollution alert: R01 and R14
// for a 国三 truck, R14 and R16 for a 国四 one whose papers say 国五, R01 and R14 (suspect) for an
// unregistered one judged on its papers — and nothing for a 国六 truck, nor for a record sent
// again.
class GateApiTest : public ApiTest {
 protected:
  GateApiTest() {
    std::ifstream sample(std::string(LANTIAN_SAMPLES_DIR) + "/enterprises-henan-sample.csv");
    const std::string csv((std::istreambuf_iterator<char>(sample)),
                          std::istreambuf_iterator<char>());
    EXPECT_EQ(client_->request(verb::post, "/api/v1/enterprises", operator_, csv, "text/csv").status,
              200u);
  }
  static constexpr const char* park = "91410100MA44SAMP1X";  // 郑州, grade B, gates east and west
};

json::value record(const std::string& id, const std::string& time, const std::string& plate,
                   const char* enterprise = "91410100MA44SAMP1X") {
  return json::object{{"id", id},         {"enterprise", enterprise}, {"gate", "east"},
                      {"time", time},     {"direction", "in"},        {"plate", plate},
                      {"plate_color", "yellow"}, {"bulk", true},      {"cargo", "煤炭"},
                      {"image_ref", "east/" + id + ".jpg"}};
}

TEST_F(GateApiTest, GateRecordsDuringAnAlertRaiseExactlyTheirViolations) {
  // The gate system's token: created by an admin for its enterprise only.
  const auto created = client_->request(
      verb::post, "/api/v1/tokens", admin_,
      R"({"role":"gate","enterprises":["91410100MA44SAMP1X"],"label":"郑州物流园区门禁"})");
  ASSERT_EQ(created.status, 201u) << created.body;
  EXPECT_EQ(json::serialize(created.json().at("record").at("enterprises")),
            R"(["91410100MA44SAMP1X"])");
  const std::string gate(created.json().at("token").as_string());
  EXPECT_EQ(client_->request(verb::post, "/api/v1/tokens", admin_, R"({"role":"gate"})").status,
            400u);
  // It writes gate records and reads nothing else.
  EXPECT_EQ(client_->get("/api/v1/violations", gate).status, 403u);
  EXPECT_EQ(client_->get("/api/v1/enterprises", gate).status, 403u);
  EXPECT_EQ(client_->get("/api/v1/alerts", gate).status, 403u);

  // An orange alert in 郑州, declared by an operator (twice: stored once).
  const std::string alert_body =
      R"({"city":"郑州","level":"orange","from":"2026-11-10T00:00:00+08:00",)"
      R"("to":"2026-11-12T00:00:00+08:00","note":"郑重污染〔2026〕12号"})";
  const auto declared = client_->request(verb::post, "/api/v1/alerts", operator_, alert_body);
  ASSERT_EQ(declared.status, 201u) << declared.body;
  EXPECT_EQ(declared.json().at("id").as_string(), "4101-202611100000-orange");
  EXPECT_EQ(client_->request(verb::post, "/api/v1/alerts", operator_, alert_body).status, 200u);
  EXPECT_EQ(client_->request(verb::post, "/api/v1/alerts", police_, alert_body).status, 403u);
  const auto luoyang_operator = token(api::Role::operator_, {"洛阳"});
  EXPECT_EQ(client_->request(verb::post, "/api/v1/alerts", luoyang_operator, alert_body).status,
            403u);
  const auto listed = client_->get("/api/v1/alerts?city=%E9%83%91%E5%B7%9E", police_);  // 郑州
  ASSERT_EQ(listed.status, 200u);
  ASSERT_EQ(listed.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(listed.json().at("items").at(0).at("level").as_string(), "orange");

  auto cn4 = record("E-2", "2026-11-10T08:30:00+08:00", "豫A41640");  // registered 国四
  cn4.as_object()["declared_stage"] = "国五";
  auto unregistered = record("E-4", "2026-11-10T09:30:00+08:00", "豫A00001");
  unregistered.as_object()["declared_stage"] = "CN3";
  unregistered.as_object()["declared_fuel"] = "diesel";
  auto sideways = record("E-6", "2026-11-10T10:00:00+08:00", "豫A00002");
  sideways.as_object()["direction"] = "sideways";
  const json::array batch{record("E-1", "2026-11-10T08:00:00+08:00", "豫A87590"),  // 国三
                          cn4,
                          record("E-3", "2026-11-10T09:00:00+08:00", "豫A48701"),  // 国六
                          unregistered,
                          record("E-1", "2026-11-10T08:00:00+08:00", "豫A87590"),  // again
                          sideways,
                          record("S-1", "2026-11-10T08:00:00+08:00", "豫A87590",
                                 "91410800MA45SAMP2Y")};  // another enterprise's
  const auto posted =
      client_->request(verb::post, "/api/v1/gate-events", gate, json::serialize(batch));
  ASSERT_EQ(posted.status, 201u) << posted.body;
  const auto answer = posted.json();
  EXPECT_EQ(answer.at("added").as_int64(), 4);
  EXPECT_EQ(answer.at("known").as_int64(), 1);
  EXPECT_EQ(answer.at("unmatched").as_int64(), 1);
  EXPECT_EQ(json::serialize(answer.at("rejected")),
            R"([{"index":5,"reason":"direction must be in or out"},)"
            R"({"index":6,"reason":"enterprise 91410800MA45SAMP2Y is not one of this token's"}])");

  const auto ids = [&](const std::string& query) {
    std::set<std::string> out;
    const auto got = client_->get("/api/v1/violations?" + query, police_);
    const auto page = got.json();
    for (const auto& v : page.at("items").as_array()) out.emplace(v.at("id").as_string());
    return out;
  };
  const std::set<std::string> expected{
      "R01|LZZJ5ACA5AF110265|2026-11-10",
      "R14|LZZJ5ACA5AF110265|91410100MA44SAMP1X|2026-11-10",
      "R14|LRDS3D9J9GG887446|91410100MA44SAMP1X|2026-11-10",
      "R16|LRDS3D9J9GG887446|gate:91410100MA44SAMP1X/E-2",
      "R01|豫A00001/yellow|2026-11-10",
      "R14|豫A00001/yellow|91410100MA44SAMP1X|2026-11-10"};
  EXPECT_EQ(ids("enterprise=91410100MA44SAMP1X"), expected);
  EXPECT_EQ(answer.at("violations_raised").as_int64(), 6);
  // A truck seen only at a gate is found by its plate.
  EXPECT_EQ(ids("plate=%E8%B1%ABA00001"),  // 豫A00001
            (std::set<std::string>{"R01|豫A00001/yellow|2026-11-10",
                                   "R14|豫A00001/yellow|91410100MA44SAMP1X|2026-11-10"}));

  const auto r14 =
      client_->get("/api/v1/violations/R14%7CLRDS3D9J9GG887446%7C91410100MA44SAMP1X%7C2026-11-10",
                   police_);
  ASSERT_EQ(r14.status, 200u) << r14.body;
  const auto r14_json = r14.json();
  const auto& v = r14_json.at("violation");
  EXPECT_EQ(v.at("city").as_string(), "郑州");
  EXPECT_EQ(v.at("stage").as_string(), "CN4");
  EXPECT_EQ(v.at("enterprise_id").as_string(), park);
  EXPECT_EQ(json::serialize(v.at("details")),
            R"({"alert_id":"4101-202611100000-orange","alert_level":"orange",)"
            R"("direction":"in","enterprise":"郑州某物流园区有限公司","gate":"east",)"
            R"("grade":"B","image_ref":"east/E-2.jpg","oldest_allowed":"CN5"})");
  EXPECT_EQ(v.at("evidence").at(0).at("frame_key").as_string(), "gate:91410100MA44SAMP1X/E-2");
  // The evidence is the gate record itself.
  ASSERT_EQ(r14_json.at("gate_records").as_array().size(), 1u);
  EXPECT_EQ(r14_json.at("gate_records").at(0).at("matched_vin").as_string(),
            "LRDS3D9J9GG887446");
  const auto unmatched = client_->get(
      "/api/v1/violations/R01%7C%E8%B1%ABA00001%2Fyellow%7C2026-11-10", police_);
  ASSERT_EQ(unmatched.status, 200u) << unmatched.body;
  EXPECT_EQ(unmatched.json().at("violation").at("plate").as_string(), "豫A00001");
  EXPECT_TRUE(unmatched.json().at("violation").at("suspect").as_bool());
  EXPECT_EQ(unmatched.json().at("violation").at("stage_source").as_string(), "declared");
  EXPECT_EQ(std::string(unmatched.json().at("gate_records").at(0).at("unmatched").as_string()),
            "no registered vehicle has plate 豫A00001 in yellow");

  // Sent again: nothing new, nothing raised.
  const auto again =
      client_->request(verb::post, "/api/v1/gate-events", gate, json::serialize(batch));
  ASSERT_EQ(again.status, 200u) << again.body;
  EXPECT_EQ(again.json().at("added").as_int64(), 0);
  EXPECT_EQ(again.json().at("known").as_int64(), 5);
  EXPECT_EQ(again.json().at("violations_raised").as_int64(), 0);
  EXPECT_EQ(ids("enterprise=91410100MA44SAMP1X"), expected);

  // Lifted early: from then on the same 国四 truck is let through without R14.
  const auto lifted = client_->request(verb::post, "/api/v1/alerts/4101-202611100000-orange/end",
                                       operator_, R"({"at":"2026-11-10T12:00:00+08:00"})");
  ASSERT_EQ(lifted.status, 200u) << lifted.body;
  EXPECT_EQ(lifted.json().at("ended_unix_s").as_int64(), 1794283200);  // 12:00 Beijing
  EXPECT_EQ(client_->request(verb::post, "/api/v1/alerts/4101-202611100000-orange/end", operator_,
                             R"({"at":"2026-11-11T12:00:00+08:00"})")
                .status,
            409u);
  json::array later{record("E-7", "2026-11-10T13:00:00+08:00", "豫A41640")};
  const auto after =
      client_->request(verb::post, "/api/v1/gate-events", gate, json::serialize(later));
  ASSERT_EQ(after.status, 201u) << after.body;
  EXPECT_EQ(after.json().at("violations_raised").as_int64(), 0);
  EXPECT_EQ(client_->get("/api/v1/alerts/policy", police_).json().at("policy").at("B").at(
                "orange").as_string(),
            "CN5");

  // November's statistics: five bulk entries, one by a 国六 truck (20 %, short of 80 %); on the
  // alert day (until it was lifted at noon) four entries, three against the policy.
  const auto stats = client_->get("/api/v1/stats/enterprises?month=2026-11", police_);
  ASSERT_EQ(stats.status, 200u) << stats.body;
  const auto stats_json = stats.json();
  EXPECT_EQ(stats_json.at("target").as_double(), 0.8);
  const auto& rows = stats_json.at("enterprises").as_array();
  ASSERT_EQ(rows.size(), 5u);
  const auto& zz = rows.at(0).as_object();
  EXPECT_EQ(zz.at("id").as_string(), park);
  EXPECT_EQ(zz.at("grade").as_string(), "B");
  EXPECT_EQ(zz.at("entries").as_int64(), 5);
  EXPECT_EQ(zz.at("bulk_entries").as_int64(), 5);
  EXPECT_EQ(zz.at("clean_bulk_entries").as_int64(), 1);
  EXPECT_EQ(zz.at("clean_share").as_double(), 0.2);
  EXPECT_FALSE(zz.at("meets_target").as_bool());
  EXPECT_EQ(json::serialize(zz.at("bulk_entries_by_stage")), R"({"CN3":2,"CN4":2,"CN6a":1})");
  EXPECT_EQ(json::serialize(zz.at("trucks_by_stage")), R"({"CN3":2,"CN4":1,"CN6a":1})");
  EXPECT_EQ(json::serialize(zz.at("alert_days")), R"(["2026-11-10"])");
  EXPECT_EQ(zz.at("entries_during_alerts").as_int64(), 4);
  EXPECT_EQ(zz.at("entries_against_policy").as_int64(), 3);
  EXPECT_EQ(zz.at("alert_compliance").as_double(), 0.25);
  // An enterprise without records: nothing to divide.
  EXPECT_TRUE(rows.at(1).at("clean_share").is_null());
  EXPECT_TRUE(rows.at(1).at("meets_target").is_null());
  const auto& cities = stats_json.at("cities").as_array();
  ASSERT_EQ(cities.size(), 5u);
  EXPECT_EQ(cities.at(4).at("city").as_string(), "郑州");
  EXPECT_EQ(cities.at(4).at("bulk_entries").as_int64(), 5);
  EXPECT_EQ(stats_json.at("total").at("clean_bulk_entries").as_int64(), 1);
  // Within a jurisdiction, and month by month.
  EXPECT_EQ(client_->get("/api/v1/stats/enterprises?month=2026-11", token(api::Role::police, {"洛阳"}))
                .json()
                .at("enterprises")
                .as_array()
                .size(),
            1u);
  const auto monthly = client_->get(
      std::string("/api/v1/stats/enterprises/") + park + "?from=2026-10&to=2026-11", police_);
  ASSERT_EQ(monthly.status, 200u) << monthly.body;
  const auto monthly_json = monthly.json();
  const auto& months = monthly_json.at("months").as_array();
  ASSERT_EQ(months.size(), 2u);
  EXPECT_EQ(months.at(0).at("month").as_string(), "2026-10");
  EXPECT_EQ(months.at(0).at("entries").as_int64(), 0);
  EXPECT_EQ(months.at(1).at("month").as_string(), "2026-11");
  EXPECT_EQ(months.at(1).at("clean_bulk_entries").as_int64(), 1);
  EXPECT_EQ(client_->get("/api/v1/stats/enterprises?month=2026-13", police_).status, 400u);
  EXPECT_EQ(client_->get(std::string("/api/v1/stats/enterprises/") + park +
                             "?from=2024-01&to=2026-11",
                         police_)
                .status,
            400u);  // more than 24 months
  EXPECT_EQ(client_->get("/api/v1/stats/enterprises?month=2026-11", gate).status, 403u);
}

}  // namespace
}  // namespace lantian::server
