// Administration of a running server: lantiand's own commands, run as an operator runs them
// against a lantiand process, go through its admin socket — the change takes effect without a
// restart and is audited — and go straight into the archive when no server runs.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <set>

#include "api_client.hpp"
#include "child_process.hpp"
#include "server_fixture.hpp"

namespace lantian::server {
namespace {
using namespace testing;
namespace json = boost::json;
namespace fs = std::filesystem;

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

class LiveAdministration : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.path() / "data";
    api_port_ = free_port();
    server_ = std::make_unique<Lantiand>(
        dir_.path() / "server.log",
        std::vector<std::string>{"--data-dir", data_.string(), "--api",
                                 "127.0.0.1:" + std::to_string(api_port_), "--admin",
                                 "127.0.0.1:" + std::to_string(free_port()), "--listen",
                                 "tcp://127.0.0.1:0"});
  }
  // `lantiand ARGS --data-dir DATA`
  CommandResult command(std::vector<std::string> args) {
    args.push_back("--data-dir");
    args.push_back(data_.string());
    return run_lantiand(args);
  }
  void start_server() {
    server_->start();
    ++starts_;
    // The development certificate is made by the script found beside the executable at run time.
    ASSERT_TRUE(server_->wait_for_log("event=local_admin_listening", starts_)) << server_->log();
  }

  TempDir dir_;
  fs::path data_;
  std::uint16_t api_port_ = 0;
  std::unique_ptr<Lantiand> server_;
  std::size_t starts_ = 0;
};

TEST_F(LiveAdministration, CommandsChangeTheRunningServerAtOnceAndAreAudited) {
  start_server();
  struct stat socket_stat {};
  ASSERT_EQ(::stat((data_ / "admin.sock").c_str(), &socket_stat), 0);
  EXPECT_EQ(socket_stat.st_mode & 0777, 0600u);  // the server's user only

  auto admin = command({"token", "create", "--role", "admin", "--label", "值班管理员"});
  ASSERT_EQ(admin.status, 0) << admin.err;
  const auto admin_token = trimmed(admin.out);
  ASSERT_TRUE(admin_token.starts_with("lt_")) << admin.out;
  auto op = command({"token", "create", "--role", "operator", "--label", "运维"});
  ASSERT_EQ(op.status, 0) << op.err;
  const auto operator_token = trimmed(op.out);
  const auto operator_id = op.err.substr(op.err.find("token id ") + 9, 12);

  const ApiClient api(api_port_);
  // The operator token works at once: the server wrote it, no restart.
  EXPECT_EQ(api.get("/api/v1/vehicles/LZZJ5ACA5AF110265", operator_token).status, 404u);

  const auto registry = command({"import-registry", LANTIAN_SAMPLES_DIR "/registry-sample.csv"});
  EXPECT_EQ(registry.status, 0) << registry.err;
  EXPECT_EQ(registry.out,
            "imported 16 vehicles and machines, rejected 0 rows (through the running server)\n");
  const auto vehicle = api.get("/api/v1/vehicles/LZZJ5ACA5AF110265", operator_token);
  ASSERT_EQ(vehicle.status, 200u) << vehicle.body;
  // Read from the catalogue snapshot in use: the import swapped it.
  EXPECT_EQ(vehicle.json().at("registry").at("plate").as_string(), "豫A87590");

  const auto zones = command({"import-zones", LANTIAN_SAMPLES_DIR "/zones-henan-sample.geojson"});
  EXPECT_EQ(zones.status, 0) << zones.err;
  EXPECT_EQ(zones.out, "stored 6 zones as version 1 (through the running server)\n");
  const auto areas = command({"import-areas", LANTIAN_SAMPLES_DIR "/areas-henan-sample.geojson"});
  EXPECT_EQ(areas.status, 0) << areas.err;
  EXPECT_EQ(areas.out,
            "stored 5 city and 1 county outlines as area version 1 (through the running server)\n");
  // The new area version is the catalogue in use: the snapshot was swapped.
  const auto outlines = api.get("/api/v1/areas", operator_token);
  ASSERT_EQ(outlines.status, 200u) << outlines.body;
  EXPECT_EQ(outlines.json().at("version").as_int64(), 1);
  EXPECT_EQ(outlines.json().at("features").as_array().size(), 6u);

  write_file(dir_.path() / "permits.csv",
             "vin,zone_id,valid_from,valid_to,permit_no\n"
             "LZZJ5ACA5AF110265,zz-4ring-cn3,2026-01-01,2026-12-31,ZZ-1\n"
             "LZZJ5ACA5AF110265,,2026-01-01,2025-12-31,ZZ-2\n");
  const auto permits = command({"import-permits", (dir_.path() / "permits.csv").string()});
  EXPECT_EQ(permits.status, 1);  // a row was rejected
  EXPECT_EQ(permits.out, "imported 1 permits, rejected 1 rows (through the running server)\n");
  EXPECT_NE(permits.err.find("permits.csv:3: rejected: "), std::string::npos) << permits.err;

  const auto enterprises =
      command({"import-enterprises", LANTIAN_SAMPLES_DIR "/enterprises-henan-sample.csv"});
  EXPECT_EQ(enterprises.status, 0) << enterprises.err;
  EXPECT_EQ(enterprises.out, "imported 5 enterprises, rejected 0 rows (through the running server)\n");

  write_file(dir_.path() / "observations.jsonl",
             R"({"id":"smoke-zz-01","kind":"smoke","vin":"NRCNCZVY6RRDY6AGJ","time":"2026-04-02T10:00:00+08:00","lon":113.68,"lat":34.76,"ringelmann":3,"site":"郑州东区工地","image_ref":"img/smoke-zz-01.jpg"})"
             "\nnot json\n");
  const auto observations =
      command({"import-observations", (dir_.path() / "observations.jsonl").string()});
  EXPECT_EQ(observations.status, 1);
  EXPECT_EQ(observations.out,
            "imported 1 observations (0 already known, 0 matching no registered vehicle), raised 1 "
            "violations, rejected 1 lines (through the running server)\n");
  EXPECT_NE(observations.err.find("observations.jsonl:2: rejected: not a JSON object"),
            std::string::npos)
      << observations.err;

  const auto declared = command({"alert", "--city", "焦作", "--level", "orange", "--from",
                                 "2026-11-10", "--to", "2026-11-12", "--note", "焦环〔2026〕30号"});
  ASSERT_EQ(declared.status, 0) << declared.err;
  ASSERT_TRUE(declared.out.starts_with("declared ")) << declared.out;
  const auto alert_id = trimmed(declared.out.substr(9));
  const auto again = command({"alert", "--city", "焦作", "--level", "orange", "--from",
                              "2026-11-10", "--to", "2026-11-12", "--note", "焦环〔2026〕30号"});
  EXPECT_EQ(again.out, "already declared: " + alert_id + "\n");
  const auto lifted = command({"alert", "--end", alert_id, "--at", "2026-11-11"});
  EXPECT_EQ(lifted.status, 0) << lifted.err;
  EXPECT_EQ(lifted.out, "lifted " + alert_id + " at 1794326400\n");  // 2026-11-11 00:00 +08:00

  const auto revoked = command({"token", "revoke", operator_id});
  EXPECT_EQ(revoked.status, 0) << revoked.err;
  EXPECT_EQ(revoked.out, "revoked " + operator_id + "\n");
  EXPECT_EQ(api.get("/api/v1/areas", operator_token).status, 401u);

  // Every change is in the audit log under the local caller, with what it changed.
  const auto audit = api.get("/api/v1/audit?token=local:uid=0&limit=100", admin_token);
  ASSERT_EQ(audit.status, 200u) << audit.body;
  std::multiset<std::string> done;
  const auto entries = audit.json();
  for (const auto& e : entries.at("items").as_array()) {
    EXPECT_EQ(e.at("role").as_string(), "admin");
    EXPECT_TRUE(e.at("peer").as_string().starts_with("unix:pid="));
    done.insert(std::string(e.at("method").as_string()) + " " +
                std::string(e.at("target").as_string()) + " " +
                std::to_string(e.at("status").to_number<int>()));
  }
  const std::multiset<std::string> expected{
      "POST /api/v1/tokens 201",
      "POST /api/v1/tokens 201",
      "POST /api/v1/registry 200",
      "POST /api/v1/zones 201",
      "POST /api/v1/areas 201",
      "POST /api/v1/permits 200",
      "POST /api/v1/enterprises 200",
      "POST /api/v1/observations 201",
      "POST /api/v1/alerts 201",
      "POST /api/v1/alerts 200",
      "POST /api/v1/alerts/" + alert_id + "/end 200",
      "DELETE /api/v1/tokens/" + operator_id + " 204"};
  EXPECT_EQ(done, expected);

  // A backup while the server runs, written by it; not twice into the same directory.
  const auto backup_dir = dir_.path() / "backup-1";
  const auto backup = command({"backup", backup_dir.string()});
  EXPECT_EQ(backup.status, 0) << backup.err;
  EXPECT_EQ(backup.out, "backed up the archive and its development certificates into " +
                            backup_dir.string() + " (written by the running server)\n");
  const auto twice = command({"backup", backup_dir.string()});
  EXPECT_EQ(twice.status, 1);
  EXPECT_NE(twice.err.find("exists already"), std::string::npos) << twice.err;

  // Killed, the server leaves its socket file behind; nobody answers on it, so the commands work
  // on the archive themselves.
  server_->kill9();
  ASSERT_TRUE(fs::exists(data_ / "admin.sock"));
  const auto offline = command({"import-registry", LANTIAN_SAMPLES_DIR "/registry-sample.csv"});
  EXPECT_EQ(offline.status, 0) << offline.err;
  EXPECT_EQ(offline.out, "imported 16 vehicles and machines, rejected 0 rows\n");
  const auto offline_backup = command({"backup", (dir_.path() / "backup-2").string()});
  EXPECT_EQ(offline_backup.status, 0) << offline_backup.err;
  EXPECT_EQ(offline_backup.out, "backed up the archive and its development certificates into " +
                                    (dir_.path() / "backup-2").string() + "\n");

  // The backup is an archive of its own: a server starts on it with what was there.
  const auto tokens = run_lantiand({"token", "list", "--data-dir", backup_dir.string()});
  EXPECT_EQ(tokens.status, 0) << tokens.err;
  EXPECT_EQ(std::count(tokens.out.begin(), tokens.out.end(), '\n'), 2);
  EXPECT_NE(tokens.out.find("\"label\":\"运维\""), std::string::npos);
  EXPECT_TRUE(fs::exists(backup_dir / "certs" / "ca.crt"));

  // Started again, the server replaces the stale socket file.
  start_server();
  const auto through = command({"import-zones", LANTIAN_SAMPLES_DIR "/zones-henan-sample.geojson"});
  EXPECT_EQ(through.out, "stored 6 zones as version 2 (through the running server)\n");
  EXPECT_TRUE(server_->stop());
  EXPECT_FALSE(fs::exists(data_ / "admin.sock"));  // a graceful stop removes it
}

TEST_F(LiveAdministration, ANamedServerThatDoesNotAnswerIsAnErrorNotAFallBack) {
  const auto missing = (dir_.path() / "nobody.sock").string();
  const auto r = command({"import-registry", LANTIAN_SAMPLES_DIR "/registry-sample.csv",
                          "--server", missing});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "lantiand: cannot reach the server's admin socket " + missing +
                       ": No such file or directory\n");
  EXPECT_FALSE(fs::exists(data_ / "db"));  // nothing was written into the archive
}

TEST_F(LiveAdministration, BothWaysRefuseACsvThatIsNotUtf8) {
  // 郑州 in GBK: a spreadsheet's export; its records would be stored as JSON no reader accepts.
  write_file(dir_.path() / "gbk.csv",
             "vin,plate,plate_color,category,fuel,emission_stage,owner\n"
             "LZZJ5ACA5AF110265,\xd4\xa5" "A87590,yellow,N3,diesel,CN3,\xd6\xa3\xd6\xdd\n");
  const auto offline = command({"import-registry", (dir_.path() / "gbk.csv").string()});
  EXPECT_EQ(offline.status, 1);
  EXPECT_EQ(offline.err, "lantiand import-registry: " + (dir_.path() / "gbk.csv").string() +
                             " is not UTF-8 text: save the CSV as UTF-8\n");
  start_server();
  const auto online = command({"import-registry", (dir_.path() / "gbk.csv").string()});
  EXPECT_EQ(online.status, 1);
  EXPECT_EQ(online.err, "lantiand import-registry: body: not UTF-8 text: save the CSV as UTF-8\n");
  EXPECT_TRUE(server_->stop());
}

TEST_F(LiveAdministration, RootDoesNotWriteIntoAnotherUsersArchive) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  fs::create_directories(data_);
  ASSERT_EQ(::chown(data_.c_str(), 65534, 65534), 0);  // nobody's, as /var/lib/lantian is lantian's
  const auto r = command({"import-zones", LANTIAN_SAMPLES_DIR "/zones-henan-sample.geojson"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(data_.string() + " belongs to nobody, and no server answers on its admin "
                                        "socket; run the command as nobody (sudo -u nobody"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(data_ / "db"));
}

TEST_F(LiveAdministration, TheConfigFileLocatesTheArchiveAndTheSocket) {
  // The packaged service's layout: the data directory and the socket named in the config file,
  // the commands given only --config.
  const auto socket = dir_.path() / "run" / "lantiand.sock";
  fs::create_directories(socket.parent_path());
  const auto config = dir_.path() / "lantiand.conf";
  write_file(config, "# as /etc/lantian/lantiand.conf\ndata-dir = " + data_.string() +
                         "\nadmin-socket = " + socket.string() +
                         "\nlisten = tcp://127.0.0.1:0\napi = 127.0.0.1:" +
                         std::to_string(api_port_) + "\nadmin = 127.0.0.1:" +
                         std::to_string(free_port()) + "\nlog-level = info\n");
  Lantiand server(dir_.path() / "configured.log", {"--config", config.string()});
  server.start();
  ASSERT_TRUE(server.wait_for_log("event=local_admin_listening socket=" + socket.string()))
      << server.log();
  const auto r = run_lantiand({"import-areas", "--config", config.string(),
                               LANTIAN_SAMPLES_DIR "/areas-henan-sample.geojson"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "stored 5 city and 1 county outlines as area version 1 (through the running server)\n");
  EXPECT_TRUE(server.stop());
}

}  // namespace
}  // namespace lantian::server
