// lantiand's command line and config file: defaults, overrides, and every problem listed.

#include "server/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace lantian::server {
namespace {

ParsedCommandLine parse(std::vector<const char*> args) {
  args.insert(args.begin(), "lantiand");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(Config, DefaultsStartAWorkingServer) {
  const auto p = parse({});
  ASSERT_TRUE(p.problems.empty());
  EXPECT_EQ(p.command, Command::serve);
  const Config& c = p.config;
  EXPECT_EQ(c.data_dir, "data");
  EXPECT_EQ(c.store.dir, std::filesystem::path("data") / "db");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_FALSE(c.listeners[0].tls);
  EXPECT_EQ(c.listeners[0].port, 7700);
  EXPECT_TRUE(c.listeners[1].tls);
  EXPECT_EQ(c.listeners[1].port, 7701);
  EXPECT_FALSE(c.listeners[1].profile.has_value());
  EXPECT_EQ(c.admin_port, 9100);
  EXPECT_EQ(c.store.sync, storage::SyncPolicy::always);
  EXPECT_FALSE(c.store.discard_frames);
  EXPECT_EQ(c.tls_cert, std::filesystem::path("data") / "certs" / "server.crt");
}

TEST(Config, ListenerUrls) {
  std::string problem;
  auto l = parse_listener("tls://0.0.0.0:7701?profile=hj1239", problem);
  ASSERT_TRUE(l.has_value()) << problem;
  EXPECT_TRUE(l->tls);
  EXPECT_EQ(l->host, "0.0.0.0");
  EXPECT_EQ(l->port, 7701);
  EXPECT_EQ(l->profile, protocol::Profile::hj1239);
  l = parse_listener("tcp://[::1]:0", problem);
  ASSERT_TRUE(l.has_value()) << problem;
  EXPECT_EQ(l->host, "::1");
  EXPECT_EQ(l->port, 0);
  EXPECT_FALSE(l->profile.has_value());
  EXPECT_FALSE(parse_listener("udp://1.2.3.4:5", problem));
  EXPECT_EQ(problem, "scheme must be tcp or tls");
  EXPECT_FALSE(parse_listener("tcp://1.2.3.4:70000", problem));
  EXPECT_FALSE(parse_listener("tcp://1.2.3.4:5?profile=gb", problem));
  EXPECT_EQ(problem, "profile must be auto, gb17691, hj1239 or nonroad");
  EXPECT_FALSE(parse_listener("tcp://1.2.3.4:5?color=red", problem));
}

TEST(Config, FrameSink) {
  EXPECT_TRUE(parse({"--frame-sink", "null"}).config.store.discard_frames);
  EXPECT_FALSE(parse({"--frame-sink", "rocksdb"}).config.store.discard_frames);
  const auto p = parse({"--frame-sink", "/dev/null"});
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_EQ(p.problems[0], "--frame-sink must be rocksdb or null, not '/dev/null'");
}

TEST(Config, EveryProblemIsListed) {
  const auto p =
      parse({"--listen", "udp://x:1", "--sync", "sometimes", "--idle-timeout-s", "0",
             "--login-policy", "loose", "--max-data-length", "70000", "--admin", "nowhere"});
  EXPECT_EQ(p.problems.size(), 6u);
  for (const auto& needle : {"udp://x:1", "--sync", "--idle-timeout-s", "--login-policy",
                             "--max-data-length", "--admin"})
    EXPECT_TRUE(std::any_of(p.problems.begin(), p.problems.end(), [&](const std::string& s) {
      return s.find(needle) != std::string::npos;
    })) << needle;
}

TEST(Config, FileSetsValuesAndTheCommandLineWins) {
  const auto path = std::filesystem::temp_directory_path() / "lantiand-test.conf";
  {
    std::ofstream f(path);
    f << "# a comment\ndata-dir = /var/lib/lantian\nlisten = tcp://127.0.0.1:7800?profile=gb17691\n"
      << "sync = interval\nsync-interval-ms = 5\nidle-timeout-s = 60\nunknown-thing = 1\n";
  }
  auto p = parse({"--config", path.c_str(), "--idle-timeout-s", "90"});
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_NE(p.problems[0].find("unknown option 'unknown-thing'"), std::string::npos);
  {
    std::ofstream f(path);
    f << "data-dir = /var/lib/lantian\nlisten = tcp://127.0.0.1:7800?profile=gb17691\nsync = "
         "interval\n"
      << "sync-interval-ms = 5\nidle-timeout-s = 60\n";
  }
  p = parse({"--config", path.c_str(), "--idle-timeout-s", "90"});
  ASSERT_TRUE(p.problems.empty()) << p.problems[0];
  EXPECT_EQ(p.config.data_dir, "/var/lib/lantian");
  ASSERT_EQ(p.config.listeners.size(), 1u);
  EXPECT_EQ(p.config.listeners[0].port, 7800);
  EXPECT_EQ(p.config.store.sync, storage::SyncPolicy::interval);
  EXPECT_EQ(p.config.store.sync_interval, std::chrono::milliseconds(5));
  EXPECT_EQ(p.config.idle_timeout, std::chrono::seconds(90));
  std::filesystem::remove(path);
  EXPECT_FALSE(parse({"--config", "/nonexistent/lantiand.conf"}).problems.empty());
}

TEST(Config, EveryRuleThresholdIsAnOptionWithTheCataloguesDefault) {
  const rules::EngineConfig defaults;
  auto p = parse({});
  ASSERT_TRUE(p.problems.empty());
  EXPECT_EQ(p.config.rules.r01_categories, (std::set<std::string>{"N1", "N2", "N3"}));
  EXPECT_EQ(p.config.rules.r07_mean_limit_ppm, defaults.r07_mean_limit_ppm);
  EXPECT_EQ(p.config.rules.r11_offline_s, defaults.r11_offline_s);

  const auto path = std::filesystem::temp_directory_path() / "lantiand-rules-test.conf";
  {
    std::ofstream f(path);
    f << "r07-mean-limit-ppm = 450.5\nr11-gap-s = 900\nzone-consecutive-fixes = 3\n";
  }
  p = parse({"--config", path.c_str(), "--r01-categories", "N3,N2", "--r11-gap-s", "1200"});
  std::filesystem::remove(path);
  ASSERT_TRUE(p.problems.empty()) << p.problems[0];
  EXPECT_EQ(p.config.rules.r01_categories, (std::set<std::string>{"N2", "N3"}));
  EXPECT_EQ(p.config.rules.r07_mean_limit_ppm, 450.5);
  EXPECT_EQ(p.config.rules.r11_gap_s, 1200);  // the command line wins
  EXPECT_EQ(p.config.rules.consecutive_fixes, 3);
  EXPECT_EQ(p.config.rules.r09_empty_pct, defaults.r09_empty_pct);

  p = parse({"--r07-min-conversion", "half", "--r04-consecutive", "0", "--r01-categories", ","});
  ASSERT_EQ(p.problems.size(), 3u);
  EXPECT_EQ(p.problems[0], "--r01-categories must name at least one category (N1,N2,N3)");
  EXPECT_EQ(p.problems[1], "--r04-consecutive must be a number of at least 1, not '0'");
  EXPECT_EQ(p.problems[2], "--r07-min-conversion must be a number of at least 0, not 'half'");

  // replay judges with the same numbers.
  p = parse({"replay", "--r07-mean-limit-ppm", "300"});
  ASSERT_TRUE(p.problems.empty()) << p.problems[0];
  EXPECT_EQ(p.config.rules.r07_mean_limit_ppm, 300);
}

TEST(Config, ExportArguments) {
  auto p = parse({"export", "--data-dir", "/d", "--vin", "LGAX2BG40N1000001", "--from",
                  "2024-05-20", "--to", "2024-05-20T18:00:00+08:00"});
  ASSERT_TRUE(p.problems.empty()) << p.problems[0];
  EXPECT_EQ(p.command, Command::export_frames);
  EXPECT_EQ(p.config.store.dir, std::filesystem::path("/d") / "db");
  EXPECT_EQ(p.export_query.from_unix_s, 1716134400);  // 2024-05-20 00:00 +08
  EXPECT_EQ(p.export_query.to_unix_s, 1716199200);
  EXPECT_EQ(parse_time("1716199200"), 1716199200);
  EXPECT_EQ(parse_time("2024-05-20 18:00:00"), 1716199200);
  EXPECT_FALSE(parse_time("yesterday").has_value());
  EXPECT_FALSE(parse_time("2024-05-20T18:00:00Z").has_value());
  EXPECT_EQ(parse({"export", "--vin", "SHORT"}).problems.size(), 1u);
  EXPECT_EQ(parse({"export", "--from", "soon"}).problems.size(), 1u);
}

TEST(Config, ATokenForAnEmptyCityOrZoneIsRefused) {
  const char* args[] = {"lantiand", "token", "create", "--role", "police", "--city", ""};
  const auto p = parse_command_line(7, args);
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_EQ(p.problems[0], "--city must name a city or zone, not be empty");
}

TEST(Config, HelpListsEveryOption) {
  const auto p = parse({"--help"});
  EXPECT_EQ(p.command, Command::help);
  for (const char* name :
       {"--config", "--data-dir", "--listen", "--admin", "--sync", "--retention-days",
        "--tls-client-auth", "--idle-timeout-s", "--max-connections-per-address"})
    EXPECT_NE(p.help_text.find(name), std::string::npos) << name;
}

}  // namespace
}  // namespace lantian::server

namespace lantian::server {
namespace {

TEST(Config, UpstreamsAndPlatformAccounts) {
  const auto pw = std::filesystem::temp_directory_path() / "lantiand-upstream.pw";
  std::ofstream(pw) << "from-a-file\n";
  const std::string nation =
      "tls://nation.example.cn:19006?name=nation&user=HA0001&password-file=" + pw.string() +
      "&platform=LANTIANHENAN00001&profiles=gb17691,hj1239&window=64&max-lag-s=120"
      "&login-command=144&logout-command=145";
  const auto q = parse({"--upstream", nation.c_str(), "--upstream",
                        "tcp://10.0.0.2:7000?name=city&user=ZZ&password=p", "--platform-account",
                        "HA0001:link-secret"});
  ASSERT_TRUE(q.problems.empty()) << q.problems.front();
  const auto& c = q.config;
  ASSERT_EQ(c.upstreams.size(), 2u);
  EXPECT_TRUE(c.store.forward_log);
  const auto& u = c.upstreams[0];
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "nation.example.cn");
  EXPECT_EQ(u.server_name, "nation.example.cn");
  EXPECT_EQ(u.port, 19006);
  EXPECT_EQ(u.name, "nation");
  EXPECT_EQ(u.user, "HA0001");
  EXPECT_EQ(u.password, "from-a-file");
  EXPECT_EQ(u.platform_code, "LANTIANHENAN00001");
  EXPECT_EQ(u.profiles, (std::vector{protocol::Profile::gb17691, protocol::Profile::hj1239}));
  EXPECT_EQ(u.window, 64u);
  EXPECT_EQ(u.max_lag, std::chrono::seconds(120));
  EXPECT_EQ(u.codes.login, 144);
  EXPECT_EQ(u.codes.logout, 145);
  EXPECT_FALSE(c.upstreams[1].tls);
  EXPECT_EQ(c.upstreams[1].codes.login, 0x05);
  ASSERT_EQ(c.platform_accounts.size(), 1u);
  EXPECT_EQ(c.platform_accounts[0].user, "HA0001");
  EXPECT_EQ(c.platform_accounts[0].password, "link-secret");
  EXPECT_FALSE(parse({}).config.store.forward_log);
  std::filesystem::remove(pw);
}

TEST(Config, BadUpstreamsSayWhy) {
  const auto problem_of = [](const char* url) {
    const auto p = parse({"--upstream", url});
    return p.problems.empty() ? std::string() : p.problems.front();
  };
  EXPECT_EQ(problem_of("tcp://h:1?user=U"),
            "--upstream: name is required (it keys the upstream's cursor)");
  EXPECT_EQ(problem_of("tcp://h:1?name=Bad!&user=U"),
            "--upstream: name must be 1-32 of a-z, 0-9, _ and -");
  EXPECT_EQ(problem_of("tcp://h:1?name=a"), "--upstream: user is required, at most 12 characters");
  EXPECT_EQ(problem_of("tcp://h:1?name=a&user=U&platform=short"),
            "--upstream: platform must be 17 upper-case letters and digits");
  EXPECT_EQ(problem_of("tcp://h:1?name=a&user=U&ca=/x"), "--upstream: ca, cert and key need tls://");
  EXPECT_EQ(problem_of("tcp://h:1?name=a&user=U&window=0"),
            "--upstream: window must be a whole number from 1 to 100000");
  EXPECT_EQ(problem_of("tcp://h:1?name=a&user=U&colour=red"),
            "--upstream: unknown parameter 'colour'");
  EXPECT_EQ(problem_of("tcp://h:1?name=a&user=U&login-command=6"),
            "--upstream: login-command and logout-command must differ");
  const auto twice = parse({"--upstream", "tcp://h:1?name=a&user=U", "--upstream",
                            "tcp://h:2?name=a&user=V"});
  ASSERT_EQ(twice.problems.size(), 1u);
  EXPECT_EQ(twice.problems[0], "--upstream: two upstreams are named 'a'");
  EXPECT_EQ(parse({"--platform-account", "nopassword"}).problems.size(), 1u);
}

}  // namespace
}  // namespace lantian::server

namespace lantian::server {
namespace {

TEST(Config, MapTilesAdminSocketAndTheCertificateScriptFoundAtRunTime) {
  const auto defaults = parse({"--data-dir", "/var/lib/lantian"});
  ASSERT_TRUE(defaults.problems.empty());
  EXPECT_EQ(defaults.config.admin_socket, "/var/lib/lantian/admin.sock");
  EXPECT_TRUE(defaults.config.api.map_tiles.url.empty());  // offline
  // Beside the executable's bin directory (the test binary's build tree has it too), never a
  // path compiled in.
  EXPECT_EQ(defaults.config.certs_script.filename(), "make-dev-certs.sh");
  EXPECT_EQ(defaults.config.certs_script.parent_path().filename(), "lantian");
  EXPECT_EQ(defaults.config.certs_script.parent_path().parent_path().filename(), "share");
  EXPECT_TRUE(std::filesystem::exists(defaults.config.certs_script));
  EXPECT_TRUE(parse({"--admin-socket", "off"}).config.admin_socket.empty());

  const auto tiles = parse({"--map-tiles",
                            "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                            "&LAYER=vec&TILEMATRIXSET=w&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=K",
                            "--map-tiles-subdomains", "01234567", "--map-tiles-attribution",
                            "天地图", "--map-tiles-crs", "wgs84"});
  ASSERT_TRUE(tiles.problems.empty()) << tiles.problems.front();
  EXPECT_EQ(tiles.config.api.map_tiles.subdomains, "01234567");
  EXPECT_EQ(tiles.config.api.map_tiles.crs, "wgs84");
  EXPECT_EQ(tiles.config.api.map_tiles.max_zoom, 18);

  const auto bad = parse({"--map-tiles", "ftp://x/{z}/{x}.png", "--map-tiles-crs", "bd09",
                          "--map-tiles-max-zoom", "30"});
  ASSERT_EQ(bad.problems.size(), 3u);
  EXPECT_EQ(bad.problems[0],
            "--map-tiles: an http(s) URL template with {z}, {x} and {y}, not 'ftp://x/{z}/{x}.png'");
  EXPECT_EQ(bad.problems[1], "--map-tiles-crs must be wgs84 or gcj02, not 'bd09'");
  EXPECT_EQ(bad.problems[2], "--map-tiles-max-zoom must be 1..22");
  EXPECT_EQ(parse({"--map-tiles-overlay", "https://x/{z}/{x}/{y}"}).problems.at(0),
            "--map-tiles-overlay needs --map-tiles");
  // Its host goes into the Content-Security-Policy: no directive can ride along.
  EXPECT_EQ(parse({"--map-tiles", "https://a.example.com; script-src */{z}/{x}/{y}"}).problems.size(),
            1u);
}

TEST(Config, CommandsFindTheServerFromTheirOptionsOrTheConfigFile) {
  const auto plain = parse({"import-registry", "--data-dir", "/srv/lt", "r.csv"});
  ASSERT_TRUE(plain.problems.empty());
  EXPECT_EQ(plain.server_socket, "/srv/lt/admin.sock");
  EXPECT_FALSE(plain.server_required);
  const auto named = parse({"token", "create", "--role", "admin", "--server", "/run/x.sock"});
  ASSERT_TRUE(named.problems.empty());
  EXPECT_EQ(named.server_socket, "/run/x.sock");
  EXPECT_TRUE(named.server_required);

  const auto file = std::filesystem::temp_directory_path() / "lantian-config-command.conf";
  std::ofstream(file) << "data-dir = /var/lib/lantian\nadmin-socket = /run/lantian/admin.sock\n"
                         "listen = tcp://0.0.0.0:7700\napi-threads = 4\n";
  const auto configured = parse({"backup", "--config", file.c_str(), "/var/backups/lt-1"});
  std::filesystem::remove(file);
  ASSERT_TRUE(configured.problems.empty()) << configured.problems.front();
  EXPECT_EQ(configured.command, Command::backup);
  EXPECT_EQ(configured.config.data_dir, "/var/lib/lantian");  // the server's options are ignored
  EXPECT_EQ(configured.server_socket, "/run/lantian/admin.sock");
  EXPECT_EQ(configured.backup_dir, "/var/backups/lt-1");
  EXPECT_EQ(parse({"backup"}).problems.at(0), "into which directory? (lantiand backup DIR)");
}

}  // namespace
}  // namespace lantian::server

#include "server/api/api_server.hpp"

namespace lantian::server {
namespace {

TEST(Config, TheConsoleMayLoadTilesFromTheConfiguredHostsOnly) {
  Config::Api::MapTiles tiles;
  EXPECT_EQ(api::tile_image_sources(tiles), "");
  tiles.url = "https://t{s}.tianditu.gov.cn/vec_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=K";
  tiles.overlay_url = "https://t{s}.tianditu.gov.cn/cva_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}";
  tiles.subdomains = "01";
  EXPECT_EQ(api::tile_image_sources(tiles), " https://t0.tianditu.gov.cn https://t1.tianditu.gov.cn");
  tiles.subdomains.clear();
  EXPECT_EQ(api::tile_image_sources(tiles), " https://*.tianditu.gov.cn");
  tiles.url = "https://webrd0{s}.is.autonavi.com:443/appmaptile?x={x}&y={y}&z={z}";
  tiles.overlay_url = "http://tiles.example.test/{z}/{x}/{y}.png";
  tiles.subdomains = "1";
  EXPECT_EQ(api::tile_image_sources(tiles),
            " http://tiles.example.test https://webrd01.is.autonavi.com:443");
}

}  // namespace
}  // namespace lantian::server
