#pragma once
// lantiand's configuration: built-in defaults, then an INI-style config file (--config), then the
// command line. Every option has the same name in the file and on the command line. Invalid
// configuration is rejected with every problem listed.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster_options.hpp"
#include "common/listen_url.hpp"
#include "common/time_text.hpp"
#include "forwarding/upstream_config.hpp"
#include "protocol/platform_link.hpp"
#include "protocol/types.hpp"
#include "rules/engine.hpp"
#include "rules/pollution_alerts.hpp"
#include "storage/store.hpp"

namespace lantian::server {

// Listener URLs and times on the command line are parsed as lantian-sim parses them (common/).
using common::ListenerConfig;
using common::parse_listener;
using common::parse_time;

enum class LoginPolicy { strict, lenient };
enum class ClientAuth { none, optional, required };
// What happens to a report whose signature fails (invalid, or missing for a vehicle with a key):
// `record` stores and acknowledges it with its verdict (R10 flags it); `reject` keeps it as
// evidence only — not acknowledged, its data not evaluated.
enum class SignaturePolicy { record, reject };

struct Config {
  std::filesystem::path data_dir = "data";
  std::vector<ListenerConfig> listeners;
  std::string admin_host = "127.0.0.1";
  std::uint16_t admin_port = 9100;

  // The HTTPS API and web console (docs/api.md).
  struct Api {
    bool enabled = true;
    std::string host = "0.0.0.0";
    std::uint16_t port = 7443;  // 0: any free port (logged)
    int threads = 2;
    std::size_t max_body_bytes = 16 << 20;
    std::size_t max_connections = 1000;
    std::chrono::seconds request_timeout{30};
    double rate_per_second = 20;  // per token
    double burst = 40;
    // A client address holds at most this many connections, and must finish the TLS handshake and
    // send its first request head within handshake_timeout: idle sockets cannot lock users out.
    std::size_t max_connections_per_address = 32;
    std::chrono::seconds handshake_timeout{5};
    // Requests without a valid token, per client address: refused (429) before the token is even
    // checked once the bucket is empty, which also bounds token guessing.
    double anonymous_rate_per_second = 5;
    double anonymous_burst = 60;
    // Audit entries of requests without a valid token, per address and minute; the others are
    // counted and summarised in one entry per address and minute.
    std::size_t audit_anonymous_per_minute = 60;
    // Audit entries older than this are deleted; nullopt keeps them for ever.
    std::optional<std::chrono::hours> audit_retention = std::chrono::hours(24 * 400);
    // Serve the console from this directory instead of the copy compiled in (console development).
    std::filesystem::path web_root;
    // The console map's background tiles (docs/api.md, GET /api/v1/map). An empty url: none, the
    // map draws the administrative areas, zones and violations on a plain background (offline).
    struct MapTiles {
      std::string url, overlay_url;  // XYZ templates ({z} {x} {y}, optional {s})
      std::string subdomains, attribution;
      std::string crs = "wgs84";  // wgs84 or gcj02: the coordinates the tiles are drawn in
      int max_zoom = 18;
    } map_tiles;
  } api;
  // The local administration socket (docs/operations.md): administrative commands reach the
  // running server through it. Empty: no socket.
  std::filesystem::path admin_socket;
  int threads = 2;
  // A node of a cluster on NATS JetStream (--cluster…); not enabled: the embedded server.
  cluster::ClusterOptions cluster;

  // TLS
  std::filesystem::path tls_cert, tls_key, tls_ca;  // default: DATA_DIR/certs/server.crt, …
  ClientAuth client_auth = ClientAuth::none;
  // Makes development certificates when none exist; found at run time (install_paths.hpp).
  std::filesystem::path certs_script;

  // Sessions
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds first_frame_timeout{30};
  std::chrono::seconds idle_timeout{300};
  std::chrono::seconds write_timeout{10};
  std::size_t max_data_length = protocol::max_data_length;
  std::size_t max_connections = 100000;
  // Logged-in connections per source address: connections that have not logged in do not count
  // (they cannot lock an address's terminals out); they are bounded by max_connections and, when
  // more than pending_pressure are waiting, by a shorter first-frame deadline.
  std::size_t max_connections_per_address = 1000;
  std::size_t pending_pressure = 1000;
  std::chrono::seconds first_frame_timeout_under_pressure{5};
  // Logins per VIN and source address: a token bucket; a login beyond it closes its connection
  // before it is stored.
  double login_rate_per_second = 0.1;
  double login_burst = 10;
  // Bytes of unfinished frames the server holds for one source address and in all.
  std::size_t max_partial_frame_bytes_per_address = 4u << 20;
  std::size_t max_partial_frame_bytes = 256u << 20;
  std::size_t max_accepts_per_second = 5000;
  LoginPolicy login_policy = LoginPolicy::strict;
  bool reply_gb17691 = false;     // gb17691 and non-road terminals get replies only when set
  bool close_on_garbage = false;  // otherwise resynchronise and count
  // Bytes of garbage a connection may send between two frames before it is closed.
  std::size_t max_garbage_bytes = 64 * 1024;
  // A frame that has begun must be complete within this (slow senders; 0: no limit).
  std::chrono::seconds frame_timeout{60};
  // Signatures (docs/security.md): the SM2 user ID ("chip-id": each terminal's chip id) and what
  // a failing signature does.
  std::string sm2_user_id = "1234567812345678";
  // Threads that verify signatures (≈ 0.6 ms each), so that I/O threads never wait on them; 0
  // verifies on the I/O threads (the reference of the benchmark in docs/performance.md).
  int verify_threads = 2;
  // Rule evaluation shards (ShardedEvaluatorOptions::shards; 0: one per core) and the decoded
  // frames they may hold before reading frames back from the archive instead.
  int rule_threads = 0;
  // Nice value of the TLS handshake thread (0–19): during a reconnect storm the established
  // sessions keep their CPU and the handshakes take what is left.
  int handshake_nice = 10;
  std::size_t rule_max_held_frames = 50000;
  SignaturePolicy signature_policy = SignaturePolicy::record;
  std::size_t socket_buffer_bytes =
      0;  // SO_SNDBUF/SO_RCVBUF per terminal socket; 0: kernel default

  // The platform link (docs/forwarding.md): the platforms this one forwards its reports to, and
  // the accounts lower platforms log in with to forward theirs here.
  std::vector<forwarding::UpstreamConfig> upstreams;
  struct PlatformAccount {
    std::string user, password;
  };
  std::vector<PlatformAccount> platform_accounts;
  protocol::PlatformLinkCodes platform_link;
  // The CA that signed the enforcement systems' HTTPS certificates (empty: the system's CAs).
  std::filesystem::path share_ca;

  storage::StoreOptions store;
  rules::EngineConfig rules;
  // Grade × alert level → the oldest stage a key freight enterprise may let through (R14);
  // --alert-policy entries applied over the defaults.
  rules::AlertPolicy alert_policy;
  std::string log_level = "info";
};

enum class Command {
  serve,
  export_frames,
  import_registry,
  import_zones,
  import_areas,
  import_observations,
  import_permits,
  import_enterprises,
  import_gate_events,
  alert,
  list_violations,
  replay,
  token_create,
  token_list,
  token_revoke,
  backup,
  help
};

// `lantiand token create`: the new token's role and jurisdiction.
struct TokenRequest {
  std::string role, label, id;  // id: for revoke
  std::vector<std::string> cities, zones, enterprises;
  std::optional<int> expires_days;
};

// `lantiand alert`: declare a heavy-pollution alert, lift one, or list them.
struct AlertRequest {
  enum class Action { declare, end, list } action = Action::list;
  std::string city, level, note, id;  // id: the alert to end
  std::optional<std::int64_t> from_unix_s, to_unix_s, at_unix_s;  // at: when it ends (default now)
};

struct ExportQuery {
  std::optional<protocol::Vin> vin;
  std::int64_t from_unix_s = std::numeric_limits<std::int32_t>::min();
  std::int64_t to_unix_s = std::numeric_limits<std::int64_t>::max() / 2;
};

struct ParsedCommandLine {
  Command command = Command::serve;
  Config config;
  ExportQuery export_query;  // export, violations, replay: time range (and VIN)
  std::string rule;          // violations: only this rule
  std::string input_file;    // the import commands
  TokenRequest token;        // token create / revoke
  AlertRequest alert;        // alert
  std::string backup_dir;    // backup: the new directory
  // The running server's admin socket the command goes through (--server, else the configured
  // admin-socket, else DATA_DIR/admin.sock); `server_required`: named with --server, so there is
  // no falling back to the archive when it does not answer.
  std::filesystem::path server_socket;
  bool server_required = false;
  std::string help_text;
  std::vector<std::string> problems;  // empty when valid
};

// Parses `lantiand [serve options]` or `lantiand export --data-dir DIR [--vin V] [--from T] [--to
// T]`.
[[nodiscard]] ParsedCommandLine parse_command_line(int argc, const char* const argv[]);

}  // namespace lantian::server
