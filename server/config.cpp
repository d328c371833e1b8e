#include "server/config.hpp"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <fstream>
#include <sstream>

#include "cluster/partitions.hpp"
#include "common/number_text.hpp"
#include "protocol/beijing_time.hpp"
#include "server/install_paths.hpp"
#include "server/rule_options.hpp"

namespace lantian::server {
namespace po = boost::program_options;

namespace {

const char* const default_listeners[] = {"tcp://0.0.0.0:7700?profile=auto",
                                         "tls://0.0.0.0:7701?profile=auto"};

using common::parse_number;

bool imports_a_file(Command command) {
  return command == Command::import_registry || command == Command::import_zones ||
         command == Command::import_areas || command == Command::import_observations ||
         command == Command::import_permits || command == Command::import_enterprises ||
         command == Command::import_gate_events;
}

// --cluster*: the node's part in a cluster (cluster/cluster_options.hpp).
void parse_cluster(const po::variables_map& vm, cluster::ClusterOptions& c,
                   std::vector<std::string>& problems) {
  if (vm.count("cluster"))
    for (const auto& value : vm["cluster"].as<std::vector<std::string>>()) {
      std::stringstream list(value);
      std::string url;
      while (std::getline(list, url, ',')) {
        if (url.empty()) continue;
        if (!url.starts_with("nats://") && !url.starts_with("tls://")) {
          problems.push_back("--cluster: '" + url + "' is not a nats://HOST:PORT URL");
          continue;
        }
        c.servers.push_back(url);
      }
    }
  if (vm.count("cluster-node")) {
    c.node = vm["cluster-node"].as<std::string>();
  } else {
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) == 0) c.node = host;
    // A host name may hold dots; a node name may not.
    for (auto& ch : c.node)
      if (!cluster::valid_node_name(std::string_view(&ch, 1))) ch = '-';
  }
  if (c.enabled() && !cluster::valid_node_name(c.node))
    problems.push_back("--cluster-node: '" + c.node + "' must be 1-64 of A-Z a-z 0-9 _ -");
  const auto role = vm["cluster-role"].as<std::string>();
  if (role == "ingest") {
    c.processor = false;
  } else if (role == "processor") {
    c.ingest = false;
  } else if (role != "both") {
    problems.push_back("--cluster-role must be ingest, processor or both, not '" + role + "'");
  }
  c.partitions = vm["cluster-partitions"].as<unsigned>();
  if (c.partitions < 1 || c.partitions > 1024)
    problems.push_back("--cluster-partitions must be 1 to 1024");
  c.replicas = vm["cluster-replicas"].as<int>();
  if (c.replicas < 1 || c.replicas > 5) problems.push_back("--cluster-replicas must be 1 to 5");
  const int hours = vm["cluster-retention-hours"].as<int>();
  if (hours < 1) problems.push_back("--cluster-retention-hours must be at least 1");
  c.retention = std::chrono::hours(std::max(hours, 1));
  c.max_pending = vm["cluster-max-pending"].as<std::size_t>();
  if (c.max_pending < 1) problems.push_back("--cluster-max-pending must be at least 1");
}

void add_alert_policy_option(po::options_description& o) {
  o.add_options()("alert-policy", po::value<std::vector<std::string>>()->composing(),
                  "R14: GRADE:LEVEL=STAGE (B:yellow=CN5, C:red=none), repeatable: the oldest stage "
                  "an enterprise of that grade may let through during an alert of that level "
                  "(docs/enterprises.md has the default table)");
}

void read_alert_policy_option(const po::variables_map& vm, rules::AlertPolicy& policy,
                              std::vector<std::string>& problems) {
  if (!vm.count("alert-policy")) return;
  for (const auto& entry : vm["alert-policy"].as<std::vector<std::string>>())
    if (auto problem = policy.set(entry); !problem.empty())
      problems.push_back("--alert-policy: " + problem);
}

po::options_description serve_options() {
  po::options_description o(
      "Options (also accepted, without the leading --, in the --config file)");
  // clang-format off
  o.add_options()
    ("help,h", "show this help")
    ("config", po::value<std::string>(), "INI-style configuration file (key = value; the option names below)")
    ("data-dir", po::value<std::string>()->default_value("data"), "RocksDB archive and development certificates")
    ("listen", po::value<std::vector<std::string>>()->composing(),
       "terminal listener, repeatable: tcp://HOST:PORT?profile=P or tls://HOST:PORT?profile=P "
       "(P: auto, gb17691, hj1239, nonroad; port 0: any free port). "
       "Default: tcp://0.0.0.0:7700?profile=auto and tls://0.0.0.0:7701?profile=auto")
    ("admin", po::value<std::string>()->default_value("127.0.0.1:9100"), "HOST:PORT of /metrics and /healthz")
    ("threads", po::value<int>()->default_value(2), "I/O threads")
    ("api", po::value<std::string>()->default_value("0.0.0.0:7443"),
       "HOST:PORT of the HTTPS API and web console (port 0: any free port), or off")
    ("api-threads", po::value<int>()->default_value(2), "API threads")
    ("api-max-body-bytes", po::value<std::size_t>()->default_value(16 << 20), "largest API request body (413 beyond)")
    ("api-max-connections", po::value<std::size_t>()->default_value(1000), "open API connections at most")
    ("api-request-timeout-s", po::value<int>()->default_value(30), "deadline for reading an API request and writing its answer")
    ("api-rate", po::value<double>()->default_value(20), "API requests per second per token (429 beyond)")
    ("api-burst", po::value<double>()->default_value(40), "API requests a token may send at once")
    ("api-max-connections-per-address", po::value<std::size_t>()->default_value(32), "open API connections per client address at most")
    ("api-handshake-timeout-s", po::value<int>()->default_value(5), "deadline for a new API connection's TLS handshake and first request head")
    ("api-anonymous-rate", po::value<double>()->default_value(5), "requests per second per address without a valid token (429 beyond, before the token is checked)")
    ("api-anonymous-burst", po::value<double>()->default_value(60), "requests an address may send at once without a valid token")
    ("audit-anonymous-per-minute", po::value<std::size_t>()->default_value(60), "audit entries per address and minute for requests without a valid token (the rest are counted in one summary entry)")
    ("audit-retention-days", po::value<int>()->default_value(400), "audit entries older than this are deleted (0: kept for ever)")
    ("map-tiles", po::value<std::string>(),
       "the console map's tile layer, an XYZ template with {z} {x} {y} and optional {s} (a WMTS in "
       "Web Mercator written with TILEMATRIX={z}&TILEROW={y}&TILECOL={x}); default: none, offline")
    ("map-tiles-overlay", po::value<std::string>(), "a second tile layer drawn over the first (labels, e.g. 天地图 cva_w)")
    ("map-tiles-subdomains", po::value<std::string>()->default_value(""), "the characters {s} takes, e.g. 01234567")
    ("map-tiles-attribution", po::value<std::string>()->default_value(""), "the tiles' attribution, shown on the map")
    ("map-tiles-crs", po::value<std::string>()->default_value("wgs84"),
       "wgs84 (天地图, OpenStreetMap) or gcj02 (高德, 腾讯): the console shifts every position onto GCJ-02 tiles")
    ("map-tiles-max-zoom", po::value<int>()->default_value(18), "the tiles' highest zoom level")
    ("admin-socket", po::value<std::string>(),
       "Unix socket of local administration (default DATA_DIR/admin.sock; off: none): lantiand's "
       "commands change a running server through it; only the server's user may connect")
    ("api-web-root", po::value<std::string>(), "serve the web console from this directory instead of the built-in copy (for console development)")
    ("tls-cert", po::value<std::string>(), "server certificate (PEM chain; default DATA_DIR/certs/server.crt)")
    ("tls-key", po::value<std::string>(), "server private key (default DATA_DIR/certs/server.key)")
    ("tls-ca", po::value<std::string>(), "CA for terminal certificates (default DATA_DIR/certs/ca.crt)")
    ("tls-client-auth", po::value<std::string>()->default_value("none"),
       "none, optional or required: verify terminal certificates; a verified certificate's CN must be the login VIN")
    ("certs-script", po::value<std::string>(),
       "script that creates development certificates when DATA_DIR/certs has none "
       "(default: share/lantian/make-dev-certs.sh beside the executable's directory)")
    ("handshake-timeout-s", po::value<int>()->default_value(10), "TLS handshake deadline")
    ("first-frame-timeout-s", po::value<int>()->default_value(30), "deadline for a new connection's first frame")
    ("idle-timeout-s", po::value<int>()->default_value(300), "close a connection silent for this long")
    ("write-timeout-s", po::value<int>()->default_value(10), "close a terminal that does not read its replies")
    ("max-data-length", po::value<std::size_t>()->default_value(protocol::max_data_length),
       "largest data unit accepted (bytes, at most 65531); larger frames close the connection")
    ("max-connections", po::value<std::size_t>()->default_value(100000), "open terminal connections in all")
    ("max-connections-per-address", po::value<std::size_t>()->default_value(1000), "logged-in connections per source address (a login beyond it closes its connection)")
    ("pending-pressure", po::value<std::size_t>()->default_value(1000), "connections not yet logged in above which new ones get --first-frame-timeout-under-pressure-s")
    ("first-frame-timeout-under-pressure-s", po::value<int>()->default_value(5), "first-frame deadline of a new connection while more than --pending-pressure have not logged in")
    ("login-rate", po::value<double>()->default_value(0.1), "logins per second per VIN and source address (refilling --login-burst); a login beyond it closes its connection unstored")
    ("login-burst", po::value<double>()->default_value(10), "logins a VIN may make at once")
    ("max-partial-frame-bytes-per-address", po::value<std::size_t>()->default_value(4u << 20), "bytes of unfinished frames held for one source address; the connection whose frame goes beyond closes")
    ("max-partial-frame-bytes", po::value<std::size_t>()->default_value(256u << 20), "bytes of unfinished frames held in all")
    ("max-accepts-per-second", po::value<std::size_t>()->default_value(5000), "new connections per second")
    ("login-policy", po::value<std::string>()->default_value("strict"),
       "strict: the first frame must be a login (else close); lenient: accept and count")
    ("reply-gb17691", po::value<bool>()->default_value(false), "also answer gb17691 and non-road frames (hj1239 always)")
    ("close-on-garbage", po::value<bool>()->default_value(false), "close a connection that sends bytes that are not frames")
    ("max-garbage-bytes", po::value<std::size_t>()->default_value(64 * 1024),
       "bytes that are not frames a connection may send between two frames before it is closed")
    ("frame-timeout-s", po::value<int>()->default_value(60),
       "a frame that has begun must arrive whole within this (slow senders; 0: no limit)")
    ("min-free-disk-mb", po::value<std::uint64_t>()->default_value(256),
       "stop storing (and acknowledging) frames while the archive's disk has less free space than this; 0: no reserve")
    ("sm2-user-id", po::value<std::string>()->default_value("1234567812345678"),
       "SM2 user ID of terminal signatures; chip-id: each terminal's chip id")
    ("verify-threads", po::value<int>()->default_value(2),
       "threads that verify terminal signatures (SM2 costs about 0.6 ms per report), off the I/O threads; 0: on the I/O threads (a benchmark reference)")
    ("handshake-nice", po::value<int>()->default_value(10),
       "nice value (0-19) of the TLS handshake thread: during a reconnect storm established terminals keep their CPU")
    ("rule-threads", po::value<int>()->default_value(0),
       "rule evaluation shards, each a thread owning the vehicles whose VIN hashes to it; 0: one per core")
    ("rule-max-held-frames", po::value<std::size_t>()->default_value(50000),
       "decoded frames held for the rule workers; past it they read frames back from the archive")
    ("signature-policy", po::value<std::string>()->default_value("record"),
       "a report whose signature fails: record (store, acknowledge, flag R10) or reject (keep as evidence, do not acknowledge)")
    ("socket-buffer-bytes", po::value<std::size_t>()->default_value(0),
       "kernel send and receive buffer per terminal socket (0: the kernel's default; small values save memory with many terminals)")
    ("sync", po::value<std::string>()->default_value("always"), "WAL sync: always (per batch), interval, off")
    ("upstream", po::value<std::vector<std::string>>()->composing(),
       "a receiving platform every accepted report is forwarded to, repeatable: "
       "tcp|tls://HOST:PORT?name=N&user=U&password-file=F&platform=CODE[&ca=F&cert=F&key=F"
       "&profiles=P,P&vins=FILE&window=256&reply-timeout-s=30&max-lag-s=300"
       "&login-command=5&logout-command=6] (docs/forwarding.md)")
    ("platform-account", po::value<std::vector<std::string>>()->composing(),
       "USER:PASSWORD a lower platform may log in with over the platform link, repeatable")
    ("platform-login-command", po::value<int>()->default_value(0x05),
       "command code of a platform login on the platform link (GB/T 32960.3: 5)")
    ("platform-logout-command", po::value<int>()->default_value(0x06),
       "command code of a platform logout on the platform link (GB/T 32960.3: 6)")
    ("cluster", po::value<std::vector<std::string>>()->composing(),
       "run as a node of a cluster on NATS JetStream: a broker URL nats://HOST:PORT, repeatable or "
       "comma-separated (docs/deploy-cluster.md); without it, the embedded single-process server")
    ("cluster-node", po::value<std::string>(),
       "this node's name in the cluster, unique, [A-Za-z0-9_-] (default: the host name)")
    ("cluster-role", po::value<std::string>()->default_value("both"),
       "ingest (terminal sessions publishing to the log), processor (archive and rules of the "
       "partitions it owns) or both")
    ("cluster-partitions", po::value<unsigned>()->default_value(16),
       "partitions vehicles are spread over; fixed for the life of the frame stream")
    ("cluster-replicas", po::value<int>()->default_value(3),
       "copies of the frame stream on distinct brokers (3 survives the loss of one)")
    ("cluster-retention-hours", po::value<int>()->default_value(24),
       "how long the frame stream keeps frames: what a processor taking a partition over rebuilds from")
    ("cluster-max-pending", po::value<std::size_t>()->default_value(20000),
       "frames an ingest node has published and JetStream not yet acknowledged; beyond it sessions wait")
    ("share-ca", po::value<std::string>(),
       "CA certificate (PEM) of the enforcement systems violations are delivered to (default: the system's CAs)")
    ("frame-sink", po::value<std::string>()->default_value("rocksdb"),
       "rocksdb, or null: frames are acknowledged without being stored (benchmark reference only)")
    ("sync-interval-ms", po::value<int>()->default_value(10), "WAL sync period with --sync interval")
    ("retention-days", po::value<int>()->default_value(0), "drop raw frames older than this (0: keep all)")
    ("max-batch", po::value<std::size_t>()->default_value(2000), "frames per storage batch")
    ("storage-writers", po::value<std::size_t>()->default_value(2),
       "storage writer threads, each taking the vehicles whose VIN hashes to it; one WAL sync covers every lane's batches")
    ("queue-capacity", po::value<std::size_t>()->default_value(20000), "frames waiting for storage before sessions stop reading")
    ("log-level", po::value<std::string>()->default_value("info"), "trace, debug, info, warn, error");
  // clang-format on
  po::options_description rules("Rule thresholds (docs/rules.md; replay, import-observations and import-gate-events take the same)");
  add_rule_options(rules);
  add_alert_policy_option(rules);
  o.add(rules);
  return o;
}

// The options of the commands that read or change the archive offline.
po::options_description command_options(Command command) {
  const char* title = "";
  switch (command) {
    case Command::export_frames:
      title = "lantiand export: print stored frames as JSON Lines (decoded-frame JSON + arrival)";
      break;
    case Command::import_registry:
      title =
          "lantiand import-registry FILE: add or update vehicles and machines from a registry CSV";
      break;
    case Command::import_zones:
      title = "lantiand import-zones FILE: store a GeoJSON zone set as the next zone version";
      break;
    case Command::import_areas:
      title =
          "lantiand import-areas FILE: store a GeoJSON set of city and county outlines as the next "
          "area version (violations are filed where they happen)";
      break;
    case Command::import_permits:
      title =
          "lantiand import-permits FILE: add permits (vin, zone_id, valid_from, valid_to, "
          "permit_no) exempting vehicles from R02";
      break;
    case Command::import_enterprises:
      title =
          "lantiand import-enterprises FILE: add or replace key freight enterprises (id, name, "
          "city, county, industry, grade, bulk, gates) from CSV";
      break;
    case Command::import_observations:
      title =
          "lantiand import-observations FILE: add smoke measurements and sightings (JSON Lines) "
          "and evaluate them";
      break;
    case Command::import_gate_events:
      title =
          "lantiand import-gate-events FILE: add the gate records of key freight enterprises "
          "(JSON Lines) and evaluate them";
      break;
    case Command::alert:
      title =
          "lantiand alert: declare a heavy-pollution alert (--city --level --from --to), lift one "
          "(--end ID), or list them (--list)";
      break;
    case Command::list_violations:
      title = "lantiand violations: print stored violations as JSON Lines";
      break;
    case Command::replay:
      title =
          "lantiand replay: re-evaluate the archive from scratch and compare with the stored "
          "violations";
      break;
    case Command::token_create:
      title = "lantiand token create: make an API token (printed once)";
      break;
    case Command::token_list:
      title = "lantiand token list: the API tokens (ids, roles, jurisdictions; never secrets)";
      break;
    case Command::token_revoke:
      title = "lantiand token revoke ID: stop a token from working";
      break;
    case Command::backup:
      title =
          "lantiand backup DIR: write a consistent copy of the archive (and its development "
          "certificates) into the new directory DIR, while the server runs or not";
      break;
    default:
      break;
  }
  po::options_description o(title);
  // clang-format off
  o.add_options()
    ("help,h", "show this help")
    ("data-dir", po::value<std::string>()->default_value("data"), "the archive")
    ("config", po::value<std::string>(), "the server's configuration file: its data-dir and admin-socket (and rule options) apply")
    ("server", po::value<std::string>(),
       "the running server's admin socket (default: the configured admin-socket, else DATA_DIR/admin.sock); "
       "changes go through a running server, and straight into the archive when none runs");
  if (command == Command::export_frames || command == Command::list_violations)
    o.add_options()("vin", po::value<std::string>(), "only this vehicle or machine");
  if (command == Command::list_violations)
    o.add_options()("rule", po::value<std::string>(), "only this rule (R01 … R12)");
  if (command == Command::export_frames || command == Command::list_violations || command == Command::replay)
    o.add_options()
      ("from", po::value<std::string>(), "from (ISO 8601, YYYY-MM-DD in Beijing time, or Unix seconds)")
      ("to", po::value<std::string>(), "to, inclusive");
  if (command == Command::replay || command == Command::import_observations ||
      command == Command::import_gate_events)
    add_rule_options(o);
  if (command == Command::import_gate_events || command == Command::replay)
    add_alert_policy_option(o);
  if (command == Command::alert)
    o.add_options()
      ("city", po::value<std::string>(), "the city the alert is for, e.g. 安阳")
      ("level", po::value<std::string>(), "yellow, orange or red")
      ("from", po::value<std::string>(), "in force from (ISO 8601 or YYYY-MM-DD, Beijing time)")
      ("to", po::value<std::string>(), "until (exclusive)")
      ("note", po::value<std::string>(), "the notice it follows (文号)")
      ("end", po::value<std::string>(), "lift the alert with this id")
      ("at", po::value<std::string>(), "with --end: when it is lifted (default now)")
      ("list", po::bool_switch(), "print every alert as JSON Lines");
  if (imports_a_file(command))
    o.add_options()("file", po::value<std::string>(), "the file to import");
  if (command == Command::token_create)
    o.add_options()
      ("role", po::value<std::string>(), "police, reviewer, operator, admin or gate")
      ("enterprise", po::value<std::vector<std::string>>()->composing(), "gate: an enterprise whose gate records the token may write (repeatable)")
      ("city", po::value<std::vector<std::string>>()->composing(), "limit the token to this city (repeatable), e.g. 郑州")
      ("zone", po::value<std::vector<std::string>>()->composing(), "limit the token to this zone id (repeatable)")
      ("label", po::value<std::string>(), "who the token is for")
      ("expires-days", po::value<int>(), "the token stops working after this many days");
  if (command == Command::token_revoke)
    o.add_options()("id", po::value<std::string>(), "the token's id (from token list)");
  if (command == Command::backup)
    o.add_options()("dir", po::value<std::string>(), "the new directory the copy goes into");
  // clang-format on
  return o;
}

void parse_host_port(const std::string& text, std::string& host, std::uint16_t& port,
                     const std::string& what, std::vector<std::string>& problems) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || !parse_number(text.substr(colon + 1), port)) {
    problems.push_back(what + ": expected HOST:PORT, got '" + text + "'");
    return;
  }
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
}

// DATA_DIR/admin.sock unless `configured` names another socket or "off".
std::filesystem::path admin_socket_path(const std::filesystem::path& data_dir,
                                        const po::variables_map& vm) {
  if (!vm.count("admin-socket")) return data_dir / "admin.sock";
  const auto path = vm["admin-socket"].as<std::string>();
  return path == "off" ? std::filesystem::path() : std::filesystem::path(path);
}

void read_serve(const po::variables_map& vm, Config& c, std::vector<std::string>& problems) {
  c.data_dir = vm["data-dir"].as<std::string>();
  c.admin_socket = admin_socket_path(c.data_dir, vm);
  // sockaddr_un holds 107 bytes of path.
  if (c.admin_socket.string().size() > 100)
    problems.push_back("--admin-socket: the path " + c.admin_socket.string() +
                       " is too long for a Unix socket (at most 100 bytes); choose a shorter one");
  std::vector<std::string> urls;
  if (vm.count("listen"))
    urls = vm["listen"].as<std::vector<std::string>>();
  else
    urls.assign(std::begin(default_listeners), std::end(default_listeners));
  for (const auto& url : urls) {
    std::string problem;
    if (auto l = parse_listener(url, problem))
      c.listeners.push_back(*l);
    else
      problems.push_back("--listen " + url + ": " + problem);
  }
  parse_host_port(vm["admin"].as<std::string>(), c.admin_host, c.admin_port, "--admin", problems);
  c.threads = vm["threads"].as<int>();
  if (c.threads < 1 || c.threads > 256) problems.push_back("--threads must be 1..256");
  if (const auto api = vm["api"].as<std::string>(); api == "off")
    c.api.enabled = false;
  else
    parse_host_port(api, c.api.host, c.api.port, "--api", problems);
  c.api.threads = vm["api-threads"].as<int>();
  if (c.api.threads < 1 || c.api.threads > 64) problems.push_back("--api-threads must be 1..64");
  c.api.max_body_bytes = vm["api-max-body-bytes"].as<std::size_t>();
  c.api.max_connections = vm["api-max-connections"].as<std::size_t>();
  if (c.api.max_body_bytes < 1024 || c.api.max_connections == 0)
    problems.push_back(
        "--api-max-body-bytes must be at least 1024, --api-max-connections at least 1");
  const int api_timeout = vm["api-request-timeout-s"].as<int>();
  if (api_timeout < 1 || api_timeout > 3600)
    problems.push_back("--api-request-timeout-s must be 1..3600");
  c.api.request_timeout = std::chrono::seconds(api_timeout);
  if (vm.count("api-web-root")) {
    c.api.web_root = vm["api-web-root"].as<std::string>();
    if (!std::filesystem::is_directory(c.api.web_root))
      problems.push_back("--api-web-root: not a directory: " + c.api.web_root.string());
  }
  auto& tiles = c.api.map_tiles;
  if (vm.count("map-tiles")) tiles.url = vm["map-tiles"].as<std::string>();
  if (vm.count("map-tiles-overlay")) tiles.overlay_url = vm["map-tiles-overlay"].as<std::string>();
  tiles.subdomains = vm["map-tiles-subdomains"].as<std::string>();
  tiles.attribution = vm["map-tiles-attribution"].as<std::string>();
  tiles.crs = vm["map-tiles-crs"].as<std::string>();
  tiles.max_zoom = vm["map-tiles-max-zoom"].as<int>();
  for (const auto* url : {&tiles.url, &tiles.overlay_url})
    if (!url->empty() && ((!url->starts_with("https://") && !url->starts_with("http://")) ||
                          url->find("{z}") == std::string::npos ||
                          url->find("{x}") == std::string::npos ||
                          url->find("{y}") == std::string::npos || url->size() > 2000 ||
                          protocol::has_control_character(*url) ||
                          // The host goes into the console's Content-Security-Policy: nothing
                          // that could end a source or a directive there.
                          url->find_first_of(" ;,'\"") != std::string::npos))
      problems.push_back("--map-tiles" + std::string(url == &tiles.url ? "" : "-overlay") +
                         ": an http(s) URL template with {z}, {x} and {y}, not '" + *url + "'");
  if (!tiles.overlay_url.empty() && tiles.url.empty())
    problems.push_back("--map-tiles-overlay needs --map-tiles");
  if (tiles.crs != "wgs84" && tiles.crs != "gcj02")
    problems.push_back("--map-tiles-crs must be wgs84 or gcj02, not '" + tiles.crs + "'");
  if (tiles.max_zoom < 1 || tiles.max_zoom > 22) problems.push_back("--map-tiles-max-zoom must be 1..22");
  if (tiles.attribution.size() > 500 || protocol::has_control_character(tiles.attribution) ||
      tiles.subdomains.size() > 32 || protocol::has_control_character(tiles.subdomains))
    problems.push_back("--map-tiles-attribution (≤ 500 bytes) and --map-tiles-subdomains (≤ 32) hold no control characters");
  c.api.rate_per_second = vm["api-rate"].as<double>();
  c.api.burst = vm["api-burst"].as<double>();
  if (!(c.api.rate_per_second > 0) || !(c.api.burst >= 1))
    problems.push_back("--api-rate must be above 0 and --api-burst at least 1");
  c.api.max_connections_per_address = vm["api-max-connections-per-address"].as<std::size_t>();
  if (c.api.max_connections_per_address == 0)
    problems.push_back("--api-max-connections-per-address must be at least 1");
  const int api_handshake = vm["api-handshake-timeout-s"].as<int>();
  if (api_handshake < 1 || api_handshake > 600)
    problems.push_back("--api-handshake-timeout-s must be 1..600");
  c.api.handshake_timeout = std::chrono::seconds(api_handshake);
  c.api.anonymous_rate_per_second = vm["api-anonymous-rate"].as<double>();
  c.api.anonymous_burst = vm["api-anonymous-burst"].as<double>();
  if (!(c.api.anonymous_rate_per_second > 0) || !(c.api.anonymous_burst >= 1))
    problems.push_back("--api-anonymous-rate must be above 0 and --api-anonymous-burst at least 1");
  c.api.audit_anonymous_per_minute = vm["audit-anonymous-per-minute"].as<std::size_t>();
  const int audit_days = vm["audit-retention-days"].as<int>();
  if (audit_days < 0 || audit_days > 36500)
    problems.push_back("--audit-retention-days must be 0..36500");
  else if (audit_days == 0)
    c.api.audit_retention.reset();
  else
    c.api.audit_retention = std::chrono::hours(24 * audit_days);

  const auto certs = c.data_dir / "certs";
  c.tls_cert =
      vm.count("tls-cert") ? vm["tls-cert"].as<std::string>() : (certs / "server.crt").string();
  c.tls_key =
      vm.count("tls-key") ? vm["tls-key"].as<std::string>() : (certs / "server.key").string();
  c.tls_ca = vm.count("tls-ca") ? vm["tls-ca"].as<std::string>() : (certs / "ca.crt").string();
  const auto auth = vm["tls-client-auth"].as<std::string>();
  if (auth == "none")
    c.client_auth = ClientAuth::none;
  else if (auth == "optional")
    c.client_auth = ClientAuth::optional;
  else if (auth == "required")
    c.client_auth = ClientAuth::required;
  else
    problems.push_back("--tls-client-auth must be none, optional or required, not '" + auth + "'");
  c.certs_script = vm.count("certs-script") ? std::filesystem::path(vm["certs-script"].as<std::string>())
                                             : installed_file("make-dev-certs.sh");

  auto seconds = [&](const char* name, std::chrono::seconds& out) {
    const int v = vm[name].as<int>();
    if (v < 1 || v > 7 * 86400) problems.push_back(std::string("--") + name + " must be 1..604800");
    out = std::chrono::seconds(v);
  };
  seconds("handshake-timeout-s", c.handshake_timeout);
  seconds("first-frame-timeout-s", c.first_frame_timeout);
  seconds("first-frame-timeout-under-pressure-s", c.first_frame_timeout_under_pressure);
  c.pending_pressure = vm["pending-pressure"].as<std::size_t>();
  c.login_rate_per_second = vm["login-rate"].as<double>();
  c.login_burst = vm["login-burst"].as<double>();
  if (!(c.login_rate_per_second > 0) || !(c.login_burst >= 1))
    problems.push_back("--login-rate must be above 0 and --login-burst at least 1");
  c.max_partial_frame_bytes_per_address = vm["max-partial-frame-bytes-per-address"].as<std::size_t>();
  c.max_partial_frame_bytes = vm["max-partial-frame-bytes"].as<std::size_t>();
  if (c.max_partial_frame_bytes_per_address < 65536 ||
      c.max_partial_frame_bytes < c.max_partial_frame_bytes_per_address)
    problems.push_back(
        "--max-partial-frame-bytes-per-address must be at least 65536 (one largest frame) and "
        "--max-partial-frame-bytes at least that");
  seconds("idle-timeout-s", c.idle_timeout);
  seconds("write-timeout-s", c.write_timeout);
  c.max_data_length = vm["max-data-length"].as<std::size_t>();
  if (c.max_data_length > protocol::max_data_length)
    problems.push_back("--max-data-length must be at most 65531");
  c.max_connections = vm["max-connections"].as<std::size_t>();
  c.max_connections_per_address = vm["max-connections-per-address"].as<std::size_t>();
  c.max_accepts_per_second = vm["max-accepts-per-second"].as<std::size_t>();
  if (c.max_connections == 0 || c.max_connections_per_address == 0 || c.max_accepts_per_second == 0)
    problems.push_back("connection limits must be at least 1");
  const auto policy = vm["login-policy"].as<std::string>();
  if (policy == "strict")
    c.login_policy = LoginPolicy::strict;
  else if (policy == "lenient")
    c.login_policy = LoginPolicy::lenient;
  else
    problems.push_back("--login-policy must be strict or lenient, not '" + policy + "'");
  c.reply_gb17691 = vm["reply-gb17691"].as<bool>();
  c.close_on_garbage = vm["close-on-garbage"].as<bool>();
  c.socket_buffer_bytes = vm["socket-buffer-bytes"].as<std::size_t>();
  c.max_garbage_bytes = vm["max-garbage-bytes"].as<std::size_t>();
  if (const int s = vm["frame-timeout-s"].as<int>(); s >= 0)
    c.frame_timeout = std::chrono::seconds(s);
  else
    problems.push_back("--frame-timeout-s must be 0 (no limit) or more");
  c.store.min_free_bytes = vm["min-free-disk-mb"].as<std::uint64_t>() << 20;
  c.sm2_user_id = vm["sm2-user-id"].as<std::string>();
  if (c.sm2_user_id.empty() || c.sm2_user_id.size() > 64)
    problems.push_back("--sm2-user-id must have 1 to 64 characters");
  c.handshake_nice = vm["handshake-nice"].as<int>();
  if (c.handshake_nice < 0 || c.handshake_nice > 19)
    problems.push_back("--handshake-nice must be 0 to 19");
  c.rule_threads = vm["rule-threads"].as<int>();
  if (c.rule_threads < 0 || c.rule_threads > 256)
    problems.push_back("--rule-threads must be 0 to 256");
  c.rule_max_held_frames = vm["rule-max-held-frames"].as<std::size_t>();
  c.verify_threads = vm["verify-threads"].as<int>();
  if (c.verify_threads < 0 || c.verify_threads > 256)
    problems.push_back("--verify-threads must be 0 to 256");
  const auto signature_policy = vm["signature-policy"].as<std::string>();
  if (signature_policy == "record")
    c.signature_policy = SignaturePolicy::record;
  else if (signature_policy == "reject")
    c.signature_policy = SignaturePolicy::reject;
  else
    problems.push_back("--signature-policy must be record or reject, not '" + signature_policy + "'");

  if (vm.count("upstream"))
    for (const auto& url : vm["upstream"].as<std::vector<std::string>>()) {
      std::string problem;
      if (auto u = forwarding::parse_upstream(url, problem))
        c.upstreams.push_back(std::move(*u));
      else
        problems.push_back("--upstream: " + problem);
    }
  for (std::size_t i = 0; i < c.upstreams.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (c.upstreams[i].name == c.upstreams[j].name)
        problems.push_back("--upstream: two upstreams are named '" + c.upstreams[i].name + "'");
  c.store.forward_log = !c.upstreams.empty();
  if (vm.count("share-ca")) c.share_ca = vm["share-ca"].as<std::string>();
  parse_cluster(vm, c.cluster, problems);
  if (vm.count("platform-account"))
    for (const auto& account : vm["platform-account"].as<std::vector<std::string>>()) {
      const auto colon = account.find(':');
      if (colon == std::string::npos || colon == 0 ||
          colon > protocol::platform_user_length ||
          account.size() - colon - 1 > protocol::platform_password_length)
        problems.push_back("--platform-account must be USER:PASSWORD (user 1-12, password ≤ 20 characters)");
      else
        c.platform_accounts.push_back({account.substr(0, colon), account.substr(colon + 1)});
    }
  for (const auto& [name, field] : {std::pair{"platform-login-command", &c.platform_link.login},
                                    std::pair{"platform-logout-command", &c.platform_link.logout}}) {
    const int code = vm[name].as<int>();
    if (code < 1 || code > 255)
      problems.push_back(std::string("--") + name + " must be 1..255");
    else
      *field = static_cast<std::uint8_t>(code);
  }
  if (c.platform_link.login == c.platform_link.logout)
    problems.push_back("--platform-login-command and --platform-logout-command must differ");

  c.store.dir = c.data_dir / "db";
  const auto sync = vm["sync"].as<std::string>();
  if (auto p = storage::parse_sync_policy(sync))
    c.store.sync = *p;
  else
    problems.push_back("--sync must be always, interval or off, not '" + sync + "'");
  const auto sink = vm["frame-sink"].as<std::string>();
  if (sink == "null")
    c.store.discard_frames = true;
  else if (sink != "rocksdb")
    problems.push_back("--frame-sink must be rocksdb or null, not '" + sink + "'");
  const int interval = vm["sync-interval-ms"].as<int>();
  if (interval < 1 || interval > 10000) problems.push_back("--sync-interval-ms must be 1..10000");
  c.store.sync_interval = std::chrono::milliseconds(interval);
  const int days = vm["retention-days"].as<int>();
  if (days < 0) problems.push_back("--retention-days must be 0 (keep all) or more");
  if (days > 0) c.store.retention = std::chrono::hours(24 * days);
  c.store.max_batch = vm["max-batch"].as<std::size_t>();
  c.store.queue_capacity = vm["queue-capacity"].as<std::size_t>();
  c.store.writers = vm["storage-writers"].as<std::size_t>();
  if (c.store.writers == 0 || c.store.writers > 64)
    problems.push_back("--storage-writers must be 1 to 64");
  if (c.store.max_batch == 0 || c.store.queue_capacity == 0)
    problems.push_back("--max-batch and --queue-capacity must be at least 1");
  read_rule_options(vm, c.rules, problems);
  read_alert_policy_option(vm, c.alert_policy, problems);
  c.log_level = vm["log-level"].as<std::string>();
  static const char* levels[] = {"trace", "debug", "info", "warn", "error"};
  if (std::find(std::begin(levels), std::end(levels), c.log_level) == std::end(levels))
    problems.push_back("--log-level must be trace, debug, info, warn or error");
}

void read_alert_request(const po::variables_map& vm, AlertRequest& a,
                        std::vector<std::string>& problems) {
  auto text = [&](const char* name) {
    return vm.count(name) ? vm[name].as<std::string>() : std::string();
  };
  auto time = [&](const char* name) -> std::optional<std::int64_t> {
    if (!vm.count(name)) return std::nullopt;
    const auto t = parse_time(text(name));
    if (!t) problems.push_back(std::string("--") + name + ": not a time: '" + text(name) + "'");
    return t;
  };
  const bool declaring = vm.count("city") || vm.count("level") || vm.count("from") ||
                         vm.count("to") || vm.count("note");
  const bool listing = vm["list"].as<bool>();
  if (int(declaring) + int(vm.count("end") > 0) + int(listing) != 1) {
    problems.push_back("lantiand alert: either --city --level --from --to, or --end ID, or --list");
    return;
  }
  if (listing) {
    a.action = AlertRequest::Action::list;
  } else if (vm.count("end")) {
    a.action = AlertRequest::Action::end;
    a.id = text("end");
    a.at_unix_s = time("at");
  } else {
    a.action = AlertRequest::Action::declare;
    a.city = text("city");
    a.level = text("level");
    a.note = text("note");
    a.from_unix_s = time("from");
    a.to_unix_s = time("to");
    if (a.city.empty() || a.level.empty() || !vm.count("from") || !vm.count("to"))
      problems.push_back("lantiand alert: declaring needs --city, --level, --from and --to");
  }
}

}  // namespace

ParsedCommandLine parse_command_line(int argc, const char* const argv[]) {
  ParsedCommandLine out;
  static const std::pair<const char*, Command> commands[] = {
      {"export", Command::export_frames},
      {"import-registry", Command::import_registry},
      {"import-zones", Command::import_zones},
      {"import-areas", Command::import_areas},
      {"import-observations", Command::import_observations},
      {"import-permits", Command::import_permits},
      {"import-enterprises", Command::import_enterprises},
      {"import-gate-events", Command::import_gate_events},
      {"alert", Command::alert},
      {"violations", Command::list_violations},
      {"replay", Command::replay},
      {"token create", Command::token_create},
      {"token list", Command::token_list},
      {"token revoke", Command::token_revoke},
      {"backup", Command::backup}};
  Command command = Command::serve;
  int words = 1;  // `lantiand token create …` names its command in two words
  if (argc > 1)
    for (const auto& [name, c] : commands) {
      const std::string n = name;
      if (n == argv[1] || (argc > 2 && n == std::string(argv[1]) + " " + argv[2]))
        command = c, words = n.find(' ') == std::string::npos ? 1 : 2;
    }
  if (argc > 1 && std::string(argv[1]) == "token" && command == Command::serve) {
    out.problems.push_back("token: expected create, list or revoke");
    return out;
  }
  const bool sub = command != Command::serve;
  const auto options = sub ? command_options(command) : serve_options();
  po::positional_options_description positional;
  if (imports_a_file(command)) positional.add("file", 1);
  if (command == Command::token_revoke) positional.add("id", 1);
  if (command == Command::backup) positional.add("dir", 1);
  std::ostringstream help;
  const std::string command_name = !sub         ? ""
                                   : words == 2 ? std::string(argv[1]) + " " + argv[2]
                                                : std::string(argv[1]);
  if (sub)
    help << "Usage: lantiand " << command_name << " [options]"
         << (command == Command::token_revoke ? " ID"
             : command == Command::backup     ? " DIR"
             : positional.max_total_count()   ? " FILE"
                                              : "")
         << "\n";
  else
    help << "Usage: lantiand [options]\n       lantiand "
            "export|import-registry|import-zones|import-areas|import-observations|import-permits|"
            "import-enterprises|import-gate-events|alert|violations|replay|token create|token list|"
            "token revoke|backup --help\n";
  help << options;
  out.help_text = help.str();

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc - (sub ? words : 0), argv + (sub ? words : 0))
                  .options(options)
                  .positional(positional)
                  .run(),
              vm);
    if (vm.count("config")) {
      const auto path = vm["config"].as<std::string>();
      std::ifstream file(path);
      if (!file) {
        out.problems.push_back("--config " + path + ": cannot read the file");
      } else if (!sub) {
        const auto parsed = po::parse_config_file(file, options, /*allow_unregistered=*/true);
        for (const auto& opt : parsed.options)
          if (opt.unregistered)
            out.problems.push_back(path + ": unknown option '" + opt.string_key + "'");
        po::store(parsed, vm);  // the command line, stored first, wins
      } else {
        // A command takes from the server's file what locates the archive and the server (and
        // the rule options it shares); the server's other options are not its business.
        auto known = command_options(command);
        known.add_options()("admin-socket", po::value<std::string>());
        auto parsed = po::parse_config_file(file, known, /*allow_unregistered=*/true);
        std::erase_if(parsed.options, [](const auto& opt) {
          return opt.unregistered || opt.string_key == "server" || opt.string_key == "config";
        });
        po::store(parsed, vm);
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    out.problems.push_back(e.what());
    return out;
  }
  if (vm.count("help")) {
    out.command = Command::help;
    return out;
  }
  if (!sub) {
    read_serve(vm, out.config, out.problems);
    return out;
  }
  out.command = command;
  out.config.data_dir = vm["data-dir"].as<std::string>();
  out.config.store.dir = out.config.data_dir / "db";
  if (vm.count("server")) {
    out.server_socket = vm["server"].as<std::string>();
    out.server_required = true;
  } else {
    out.server_socket = admin_socket_path(out.config.data_dir, vm);
  }
  if (command == Command::backup) {
    if (!vm.count("dir"))
      out.problems.push_back("into which directory? (lantiand backup DIR)");
    else
      out.backup_dir = vm["dir"].as<std::string>();
  }
  if (vm.count("vin")) {
    const auto vin = vm["vin"].as<std::string>();
    if (vin.size() != 17) out.problems.push_back("--vin must be 17 characters");
    out.export_query.vin = protocol::make_vin(vin);
  }
  if (vm.count("rule")) out.rule = vm["rule"].as<std::string>();
  auto time = [&](const char* name, std::int64_t& target, bool end_of_day) {
    if (!vm.count(name)) return;
    const auto text = vm[name].as<std::string>();
    if (auto t = parse_time(text))
      target = *t + (end_of_day && text.size() == 10 ? 86399 : 0);
    else
      out.problems.push_back(std::string("--") + name + ": not a time: '" + text + "'");
  };
  time("from", out.export_query.from_unix_s, false);
  time("to", out.export_query.to_unix_s, true);  // a date as --to means through that day
  if (command == Command::replay || command == Command::import_observations ||
      command == Command::import_gate_events)
    read_rule_options(vm, out.config.rules, out.problems);
  if (command == Command::import_gate_events || command == Command::replay)
    read_alert_policy_option(vm, out.config.alert_policy, out.problems);
  if (command == Command::alert) read_alert_request(vm, out.alert, out.problems);
  if (command == Command::token_create) {
    auto& t = out.token;
    t.role = vm.count("role") ? vm["role"].as<std::string>() : "";
    if (t.role != "police" && t.role != "reviewer" && t.role != "operator" && t.role != "admin" &&
        t.role != "gate")
      out.problems.push_back("--role must be police, reviewer, operator, admin or gate");
    if (vm.count("city")) t.cities = vm["city"].as<std::vector<std::string>>();
    if (vm.count("zone")) t.zones = vm["zone"].as<std::vector<std::string>>();
    if (vm.count("enterprise")) t.enterprises = vm["enterprise"].as<std::vector<std::string>>();
    // A gate token writes for its enterprises and nothing else; no other role has any.
    if (t.role == "gate" && (t.enterprises.empty() || !t.cities.empty() || !t.zones.empty()))
      out.problems.push_back("a gate token needs --enterprise (and takes no --city or --zone)");
    if (t.role != "gate" && !t.enterprises.empty())
      out.problems.push_back("--enterprise is for gate tokens only");
    // An empty name would be a jurisdiction nothing belongs to; the API refuses it too.
    for (const auto* names : {&t.cities, &t.zones})
      if (std::any_of(names->begin(), names->end(), [](const auto& n) { return n.empty(); }))
        out.problems.push_back(std::string(names == &t.cities ? "--city" : "--zone") +
                               " must name a city or zone, not be empty");
    if (vm.count("label")) t.label = vm["label"].as<std::string>();
    // As the API: a label is short and holds no control characters (it reaches logs and the
    // console).
    if (t.label.size() > 200 || protocol::has_control_character(t.label))
      out.problems.push_back("--label must be at most 200 bytes without control characters");
    if (vm.count("expires-days")) {
      t.expires_days = vm["expires-days"].as<int>();
      if (*t.expires_days < 1 || *t.expires_days > 3650)  // as POST /api/v1/tokens
        out.problems.push_back("--expires-days must be 1..3650");
    }
  }
  if (command == Command::token_revoke) {
    if (!vm.count("id"))
      out.problems.push_back("which token? (lantiand token revoke ID)");
    else
      out.token.id = vm["id"].as<std::string>();
  }
  if (imports_a_file(command)) {
    if (!vm.count("file"))
      out.problems.push_back("which file? (lantiand " + std::string(argv[1]) + " FILE)");
    else
      out.input_file = vm["file"].as<std::string>();
  }
  return out;
}

}  // namespace lantian::server
