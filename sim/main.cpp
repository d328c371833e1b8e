// lantian-sim: a fleet of simulated terminals for load tests, demos and reproducing field
// problems (docs/simulator.md).
//
//   lantian-sim --connect tls://127.0.0.1:7701 --preset mixed --vehicles 1000 --duration 60
//   lantian-sim --scenario demo.scenario --zones zones.geojson --registry-out fleet.csv --plan-only
//   lantian-sim check-acked ACKED_FILE EXPORT_JSONL
//   lantian-sim check-violations EXPECTED_JSONL VIOLATIONS_JSONL [REGISTRY_CSV]
//
// The fleet is planned in the parent process; terminals are split over worker processes (each a
// single-threaded io_context of coroutines) that share the counters through shared memory.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "common/listen_url.hpp"
#include "common/time_text.hpp"
#include "protocol/bytes.hpp"
#include "protocol/json.hpp"
#include "rules/registry.hpp"
#include "sim/expectations.hpp"
#include "sim/fleet.hpp"
#include "sim/gate_systems.hpp"
#include "protocol/beijing_time.hpp"
#include "rules/enterprises.hpp"
#include "rules/pollution_alerts.hpp"
#include "sim/load_stats.hpp"
#include "sim/run_checks.hpp"
#include "sim/terminal.hpp"
#include "sim/upstream_platform.hpp"

namespace po = boost::program_options;
namespace asio = boost::asio;
using namespace lantian;
using namespace lantian::sim;

namespace {

LoadCounters* g_counters = nullptr;
extern "C" void on_signal(int) {
  if (g_counters) g_counters->stop.store(true);
}

// Terminals per worker process: below the 20,000 open files a process may have here.
constexpr std::size_t terminals_per_process = 15'000;

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// `lantian-sim check-acked ACKED EXPORT` and `check-violations EXPECTED STORED [REGISTRY]`.
int run_check(const std::string& what, const std::vector<std::string>& files) {
  std::vector<std::ifstream> in;
  for (const auto& f : files) {
    in.emplace_back(f);
    if (!in.back()) {
      std::cerr << "lantian-sim " << what << ": cannot read " << f << '\n';
      return 2;
    }
  }
  auto show = [](const char* label, const std::vector<std::string>& lines) {
    for (std::size_t i = 0; i < lines.size() && i < 20; ++i)
      std::cout << label << ": " << lines[i] << '\n';
  };
  if (what == "check-acked") {
    const auto r = check_acked(in[0], in[1]);
    show("missing", r.missing);
    std::cout << "acknowledged " << r.acknowledged << ", stored " << r.stored << ", missing "
              << r.missing.size() << '\n';
    return r.missing.empty() ? 0 : 1;
  }
  std::vector<std::string> vins;
  if (in.size() == 3)  // the registry CSV the run wrote: its rows, whatever the column order
    for (const auto& record : rules::import_registry_csv(in[2], 2100).records)
      vins.push_back(record.vin);
  const auto r = check_violations(in[0], in[1], vins);
  show("missing", r.missing);
  show("unexpected", r.unexpected);
  std::cout << "expected " << r.expected << ", found " << r.found << ", missing "
            << r.missing.size() << ", unexpected " << r.unexpected.size() << '\n';
  return r.missing.empty() && r.unexpected.empty() ? 0 : 1;
}

struct Files {
  std::string acked, expected;
};

// The worker that runs terminal `index`: i mod workers — except during a storm with several
// workers, when the terminals that stay connected get worker 0 to themselves, so their answers are
// not read late behind the storming terminals' own handshakes (the latency is the server's).
std::size_t worker_of(std::size_t index, std::size_t workers, const LoadOptions& options) {
  if (options.storm_at_s < 0 || options.storm_steady == 0 || workers < 2) return index % workers;
  return index < options.storm_steady ? 0 : 1 + index % (workers - 1);
}

// One worker: its terminals (worker_of), on one io_context.
void run_worker(const std::vector<VehicleSpec>& fleet, std::size_t worker, std::size_t workers,
                const LoadOptions& options, asio::ssl::context* tls,
                const rules::ZoneIndex* zones, std::int64_t phase_out, LoadCounters& counters,
                const Files& files) {
  asio::io_context io(1);
  const int ack_fd =
      files.acked.empty() ? -1 : ::open(files.acked.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  AckLog acks(ack_fd);
  std::vector<std::unique_ptr<Expectations>> expectations;
  std::size_t mine = 0, mine_done = 0;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    if (worker_of(i, workers, options) != worker) continue;
    expectations.push_back(std::make_unique<Expectations>(fleet[i], zones, phase_out));
    ++mine;
    asio::co_spawn(io, run_terminal(fleet[i], options, tls, counters, acks, *expectations.back()),
                   [&mine_done](std::exception_ptr) { ++mine_done; });
  }
  // Acknowledged keys reach the file within 100 ms (a crash test kills the server meanwhile).
  asio::steady_timer flush(io);
  std::function<void()> arm = [&] {
    flush.expires_after(std::chrono::milliseconds(100));
    flush.async_wait([&](boost::system::error_code ec) {
      acks.flush();
      // Until this worker's own terminals are done (the shared counter would make io.run() wait
      // for the other workers too, and forever if one died).
      if (!ec && mine_done < mine) arm();
    });
  };
  if (acks.enabled()) arm();
  io.run();
  acks.flush();
  if (ack_fd >= 0) ::close(ack_fd);
  if (!files.expected.empty()) {
    std::vector<ExpectedViolation> all;
    for (const auto& e : expectations)
      all.insert(all.end(), e->violations().begin(), e->violations().end());
    std::ostringstream text;
    write_expected(all, text);
    const int fd = ::open(files.expected.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
      const std::string s = text.str();
      [[maybe_unused]] auto n = ::write(fd, s.data(), s.size());
      ::close(fd);
    }
  }
}

void print_progress(const LoadCounters& c, double elapsed, std::uint64_t& last_sent,
                    std::uint64_t& last_acked, double interval) {
  const auto sent = c.frames_sent.load(), acked = c.frames_acked.load();
  std::cerr << std::fixed << std::setprecision(0) << "t=" << elapsed << "s online="
            << c.terminals_online.load() << " sent=" << sent << " ("
            << static_cast<double>(sent - last_sent) / interval << "/s) acked=" << acked << " ("
            << static_cast<double>(acked - last_acked) / interval << "/s) p99="
            << std::setprecision(1) << static_cast<double>(c.latency.quantile_us(0.99)) / 1000
            << "ms errors=" << c.connection_errors.load() << " reconnects="
            << c.reconnects.load() << '\n';
  last_sent = sent;
  last_acked = acked;
}

void print_report(const boost::json::object& r) {
  const auto& l = r.at("latency").as_object();
  std::cout << std::fixed << std::setprecision(1) << "frames sent " << r.at("frames_sent").as_uint64()
            << " (" << r.at("frames_sent_per_s").as_double() << "/s), acknowledged "
            << r.at("frames_acked").as_uint64() << " (" << r.at("frames_acked_per_s").as_double()
            << "/s over the " << r.at("window_s").as_double() << " s run; " << r.at("elapsed_s").as_double()
            << " s with the final drain and logout)\n"
            << std::setprecision(2) << "reply latency ms: p50 " << l.at("p50_ms").as_double()
            << ", p99 " << l.at("p99_ms").as_double() << ", p999 " << l.at("p999_ms").as_double()
            << ", max " << l.at("max_ms").as_double() << '\n'
            << "connects " << r.at("connects").as_uint64() << ", connection errors "
            << r.at("connection_errors").as_uint64() << ", reconnects "
            << r.at("reconnects").as_uint64() << ", TLS resumed " << r.at("tls_resumed").as_uint64()
            << ", resends " << r.at("resends_sent").as_uint64() << ", malformed "
            << r.at("malformed_sent").as_uint64() << '\n';
  if (const auto* storm = r.if_contains("storm")) {
    const auto& s = storm->as_object();
    const auto& sl = s.at("steady_latency").as_object();
    std::cout << "storm: " << s.at("back").as_uint64() << " of " << s.at("dropped").as_uint64()
              << " back in " << s.at("all_back_s").as_double()
              << " s; steady terminals' p99 " << sl.at("p99_ms").as_double() << " ms\n";
  }
}

// The gate records of --enterprises over the --gate-days before the run, with the --alert and
// --alert-policy they are judged by. nullopt with `problems` filled when an option is wrong.
std::optional<GatePlan> plan_gates(const po::variables_map& vm, const std::vector<VehicleSpec>& fleet,
                                   const rules::ZoneIndex* zones, std::int64_t start_unix_s,
                                   std::int64_t phase_out_unix_s, std::int64_t now_unix_s,
                                   std::uint64_t seed, std::vector<std::string>& problems) {
  std::ifstream in(vm["enterprises"].as<std::string>());
  if (!in) {
    problems.push_back("cannot read --enterprises " + vm["enterprises"].as<std::string>());
    return std::nullopt;
  }
  const auto imported = rules::import_enterprises_csv(in);
  for (const auto& r : imported.rejected)
    problems.push_back("--enterprises line " + std::to_string(r.line) + ": " + r.reason);
  rules::AlertPolicy policy;
  if (vm.count("alert-policy"))
    for (const auto& entry : vm["alert-policy"].as<std::vector<std::string>>())
      if (auto problem = policy.set(entry); !problem.empty())
        problems.push_back("--alert-policy: " + problem);
  std::vector<rules::PollutionAlert> alerts;
  if (vm.count("alert"))
    for (const auto& text : vm["alert"].as<std::vector<std::string>>()) {
      std::vector<std::string> parts;
      std::stringstream fields(text);
      for (std::string part; std::getline(fields, part, ':');) parts.push_back(part);
      std::vector<std::string> reasons;
      std::optional<rules::PollutionAlert> alert;
      if (parts.size() == 4)
        alert = rules::alert_from_request(
            boost::json::object{{"city", parts[0]}, {"level", parts[1]}, {"from", parts[2]},
                                {"to", parts[3]}},
            reasons);
      else
        reasons.push_back("expected CITY:LEVEL:FROM:TO (dates)");
      if (alert)
        alerts.push_back(*alert);
      else
        for (const auto& r : reasons) problems.push_back("--alert " + text + ": " + r);
    }
  const int days = vm["gate-days"].as<int>();
  if (days < 1 || days > 366) problems.push_back("--gate-days must be 1 to 366");
  if (!problems.empty()) return std::nullopt;
  GatePlanOptions options;
  const auto start_day = protocol::beijing_day_number(start_unix_s);
  options.first_day_unix_s = (start_day - days) * 86400 - protocol::beijing_utc_offset_seconds;
  options.days = days;
  options.seed = seed;
  options.phase_out_unix_s = phase_out_unix_s;
  options.now_unix_s = now_unix_s;
  return plan_gate_records(fleet, imported.enterprises, rules::AlertCalendar(std::move(alerts)),
                           policy, zones, options);
}

// `lantian-sim upstream …`: the simulator as the receiving platform above a lantiand.
int run_upstream_command(int argc, char** argv) {
  po::options_description o("lantian-sim upstream options");
  // clang-format off
  o.add_options()
    ("help", "this text")
    ("listen", po::value<std::string>()->default_value("tcp://127.0.0.1:0"), "tcp://HOST:PORT or tls://HOST:PORT (port 0: any, printed)")
    ("tls-cert", po::value<std::string>(), "certificate chain (PEM) for tls://")
    ("tls-key", po::value<std::string>(), "its private key (PEM)")
    ("account", po::value<std::string>(), "USER:PASSWORD the platform login must carry (default: any)")
    ("refuse-every", po::value<std::uint64_t>()->default_value(0), "answer every Nth report 0x02 (error)")
    ("stall-after", po::value<std::uint64_t>()->default_value(0), "after N reports, hold the answers for --stall-s once")
    ("stall-s", po::value<int>()->default_value(60), "how long a stall lasts")
    ("duration", po::value<double>()->default_value(0), "seconds to run (0: until SIGINT or SIGTERM)")
    ("json-out", po::value<std::string>(), "write the counts as JSON here at the end");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, o), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "lantian-sim upstream: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << "lantian-sim upstream: a receiving platform for lantiand's --upstream links\n" << o;
    return 0;
  }
  UpstreamOptions options;
  std::string problem;
  const auto listener = common::parse_listener(vm["listen"].as<std::string>(), problem);
  if (!listener) {
    std::cerr << "lantian-sim upstream: --listen: " << problem << "\n";
    return 2;
  }
  options.host = listener->host;
  options.port = listener->port;
  options.tls = listener->tls;
  if (options.tls && (!vm.count("tls-cert") || !vm.count("tls-key"))) {
    std::cerr << "lantian-sim upstream: tls:// needs --tls-cert and --tls-key\n";
    return 2;
  }
  if (vm.count("tls-cert")) options.tls_cert = vm["tls-cert"].as<std::string>();
  if (vm.count("tls-key")) options.tls_key = vm["tls-key"].as<std::string>();
  if (vm.count("account")) {
    const auto account = vm["account"].as<std::string>();
    const auto colon = account.find(':');
    if (colon == std::string::npos) {
      std::cerr << "lantian-sim upstream: --account must be USER:PASSWORD\n";
      return 2;
    }
    options.user = account.substr(0, colon);
    options.password = account.substr(colon + 1);
  }
  options.refuse_every = vm["refuse-every"].as<std::uint64_t>();
  options.stall_after = vm["stall-after"].as<std::uint64_t>();
  options.stall_for = std::chrono::seconds(vm["stall-s"].as<int>());
  options.duration = std::chrono::duration<double>(vm["duration"].as<double>());
  if (vm.count("json-out")) options.json_out = vm["json-out"].as<std::string>();
  try {
    run_upstream_platform(options);
  } catch (const std::exception& e) {
    std::cerr << "lantian-sim upstream: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "check-acked") {
    if (argc != 4) {
      std::cerr << "usage: lantian-sim check-acked ACKED_FILE EXPORT_JSONL\n";
      return 2;
    }
    return run_check(argv[1], {argv[2], argv[3]});
  }
  if (argc >= 2 && std::string(argv[1]) == "check-violations") {
    if (argc != 4 && argc != 5) {
      std::cerr << "usage: lantian-sim check-violations EXPECTED_JSONL VIOLATIONS_JSONL [REGISTRY_CSV]\n";
      return 2;
    }
    return run_check(argv[1], std::vector<std::string>(argv + 2, argv + argc));
  }
  if (argc >= 2 && std::string(argv[1]) == "upstream") return run_upstream_command(argc - 1, argv + 1);
  po::options_description o("lantian-sim options");
  // clang-format off
  o.add_options()
    ("help", "this text")
    ("connect", po::value<std::vector<std::string>>()->composing(),
       "the server's terminal listener: tcp://HOST:PORT or tls://HOST:PORT; repeatable (a "
       "cluster's ingest nodes, one scheme): terminals are spread over them and move to the next "
       "when a connection fails")
    ("scenario", po::value<std::string>(), "scenario file (key = value lines; docs/simulator.md)")
    ("preset", po::value<std::string>()->default_value("mixed"), "mixed, demo (mixed with faulty trucks) or guo6 (when no --scenario)")
    ("vehicles", po::value<std::size_t>()->default_value(100), "fleet size of a preset")
    ("seed", po::value<std::uint64_t>(), "planning seed (overrides the scenario's)")
    ("truck-profile", po::value<std::string>(), "gb17691 or hj1239 (overrides the scenario's)")
    ("zones", po::value<std::string>(), "the deployment's zones (GeoJSON): routes avoid them; banned-zone roles enter them")
    ("registry-out", po::value<std::string>(), "write the fleet's registry CSV here")
    ("expected-out", po::value<std::string>(), "write the violations the run should produce here (JSON Lines, at the end)")
    ("acked-out", po::value<std::string>(), "append one line per acknowledged report here (for crash tests)")
    ("json-out", po::value<std::string>(), "write the final report as JSON here")
    ("plan-only", "plan the fleet, write --registry-out, and exit")
    ("duration", po::value<double>()->default_value(60), "seconds to run")
    ("rate", po::value<double>()->default_value(0), "target frames per second for the whole fleet")
    ("window", po::value<std::size_t>()->default_value(0), "as fast as replies allow, with this many unanswered reports per terminal")
    ("start", po::value<std::string>(), "collection time of the first samples (default: now in real time, 24 h ago with --rate/--window)")
    ("phase-out", po::value<std::string>()->default_value("2026-01-01"), "R01's phase-out date, for --expected-out")
    ("enterprises", po::value<std::string>(), "key freight enterprises (the lantiand import-enterprises CSV): their gate systems record the fleet's trucks and unregistered ones on the --gate-days before --start")
    ("gate-out", po::value<std::string>(), "write those gate records here (JSON Lines, for lantiand import-gate-events); their violations go to --expected-out")
    ("gate-days", po::value<int>()->default_value(7), "days of gate records before --start")
    ("alert", po::value<std::vector<std::string>>()->composing(), "a heavy-pollution alert the gates see: CITY:LEVEL:FROM:TO (安阳:orange:2026-11-14:2026-11-16), repeatable; declare the same with lantiand alert")
    ("alert-policy", po::value<std::vector<std::string>>()->composing(), "GRADE:LEVEL=STAGE, as lantiand's --alert-policy")
    ("processes", po::value<std::size_t>()->default_value(0), "worker processes (0: one per 15,000 terminals)")
    ("source-addresses", po::value<std::size_t>()->default_value(0), "bind terminals round robin to 127.0.0.1 … 127.0.0.N (0: let the kernel choose)")
    ("tls-ca", po::value<std::string>(), "verify the server against this CA (default: no verification)")
    ("tls-cert", po::value<std::string>(), "client certificate (mutual TLS)")
    ("tls-key", po::value<std::string>(), "client certificate's key")
    ("no-tls-resume", "full handshake on every connection")
    ("sign", "hj1239 trucks sign their reports with SM2 keys of their own (written to --registry-out)")
    ("sm2-id", po::value<std::string>()->default_value(std::string(default_sm2_id)), "SM2 user ID of the signatures")
    ("gb17691-replies", "the server answers gb17691 and non-road reports too (lantiand --reply-gb17691 true); otherwise those terminals are paced in real time and only counted as sent")
    ("storm-at", po::value<double>()->default_value(-1), "seconds into the run when every terminal but --storm-steady reconnects at once")
    ("storm-steady", po::value<std::size_t>()->default_value(0), "terminals (the first N) that stay connected through the storm")
    ("gap-probability", po::value<double>(), "chance per 10 s of a 1–5 min coverage gap (trucks; overrides the scenario's)")
    ("malformed-probability", po::value<double>(), "chance per frame of an extra corrupted frame (overrides the scenario's)")
    ("reply-timeout", po::value<int>()->default_value(30), "seconds before an unanswered frame breaks the connection")
    ("progress", po::value<double>()->default_value(1), "seconds between progress lines on stderr (0: none)");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, o), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "lantian-sim: " << e.what() << '\n';
    return 2;
  }
  if (vm.count("help")) {
    std::cout << o << '\n';
    return 0;
  }
  std::vector<std::string> problems;

  // The scenario and the fleet.
  std::optional<Scenario> scenario;
  std::string error;
  if (vm.count("scenario")) {
    std::ifstream in(vm["scenario"].as<std::string>());
    if (!in) problems.push_back("cannot read --scenario " + vm["scenario"].as<std::string>());
    else if (!(scenario = parse_scenario(in, error))) problems.push_back("--scenario: " + error);
  } else if (!(scenario = preset_scenario(vm["preset"].as<std::string>(),
                                          vm["vehicles"].as<std::size_t>()))) {
    problems.push_back("--preset must be mixed, demo or guo6");
  }
  std::unique_ptr<rules::ZoneIndex> zones;
  if (vm.count("zones")) {
    const auto text = read_file(vm["zones"].as<std::string>());
    if (!text) {
      problems.push_back("cannot read --zones " + vm["zones"].as<std::string>());
    } else {
      auto imported = rules::import_zones_geojson(*text);
      for (const auto& p : imported.problems) problems.push_back("--zones: " + p);
      zones = std::make_unique<rules::ZoneIndex>(std::move(imported.zones), 1);
    }
  }
  if (scenario) {
    if (vm.count("seed")) scenario->seed = vm["seed"].as<std::uint64_t>();
    if (vm.count("gap-probability")) scenario->gap_probability = vm["gap-probability"].as<double>();
    if (vm.count("malformed-probability"))
      scenario->malformed_probability = vm["malformed-probability"].as<double>();
    if (vm.count("truck-profile")) {
      const auto p = protocol::parse_profile(vm["truck-profile"].as<std::string>());
      if (!p || *p == protocol::Profile::nonroad)
        problems.push_back("--truck-profile must be gb17691 or hj1239");
      else
        scenario->truck_profile = *p;
    }
  }
  if (!problems.empty()) {
    for (const auto& p : problems) std::cerr << "lantian-sim: " << p << '\n';
    return 2;
  }
  auto fleet = plan_fleet(*scenario, zones.get(), error);
  if (!fleet) {
    std::cerr << "lantian-sim: " << error << '\n';
    return 2;
  }
  if ((scenario->sign || vm.count("sign")) && !attach_signers(*fleet, vm["sm2-id"].as<std::string>())) {
    std::cerr << "lantian-sim: OpenSSL cannot make SM2 keys\n";
    return 1;
  }
  if (vm.count("registry-out")) {
    std::ofstream out(vm["registry-out"].as<std::string>());
    write_registry_csv(*fleet, out);
    if (!out) {
      std::cerr << "lantian-sim: cannot write --registry-out\n";
      return 2;
    }
  }
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const bool paced = vm["rate"].as<double>() > 0 || vm["window"].as<std::size_t>() > 0;
  std::int64_t start_unix_s = paced ? now_s - 86400 : now_s - 10;
  if (vm.count("start")) {
    if (auto t = common::parse_time(vm["start"].as<std::string>()))
      start_unix_s = *t;
    else
      problems.push_back("--start must be a time (2026-11-20T10:00:00+08:00 or Unix seconds)");
  }
  const auto phase_out = common::parse_time(vm["phase-out"].as<std::string>());
  if (!phase_out) problems.push_back("--phase-out must be a date");
  std::optional<GatePlan> gates;
  if (vm.count("enterprises") && problems.empty()) {
    gates = plan_gates(vm, *fleet, zones.get(), start_unix_s, *phase_out, now_s, scenario->seed,
                       problems);
    if (gates && vm.count("gate-out")) {
      std::ofstream out(vm["gate-out"].as<std::string>());
      write_gate_records(*gates, out);
      if (!out) problems.push_back("cannot write --gate-out");
    }
  }
  if (!problems.empty()) {
    for (const auto& p : problems) std::cerr << "lantian-sim: " << p << '\n';
    return 2;
  }
  if (vm.count("plan-only")) {
    if (gates && vm.count("expected-out")) {
      std::ofstream out(vm["expected-out"].as<std::string>());
      write_expected(gates->expected, out);
    }
    std::cout << "planned " << fleet->size() << " vehicles"
              << (gates ? ", " + std::to_string(gates->records.size()) + " gate records" : "")
              << '\n';
    return 0;
  }

  // The run's options.
  LoadOptions options;
  options.port = 0;  // none yet
  if (!vm.count("connect")) problems.push_back("--connect is required (or --plan-only)");
  else
    for (const auto& url : vm["connect"].as<std::vector<std::string>>()) {
      const auto l = common::parse_listener(url, error);
      if (!l) {
        problems.push_back("--connect: " + error);
      } else if (options.port == 0) {
        options.host = l->host;
        options.port = l->port;
        options.tls = l->tls;
      } else if (l->tls != options.tls) {
        problems.push_back("--connect: every server must be tcp:// or every one tls://");
      } else {
        options.more_servers.emplace_back(l->host, l->port);
      }
    }
  options.rate = vm["rate"].as<double>();
  options.window = vm["window"].as<std::size_t>();
  options.duration = std::chrono::duration<double>(vm["duration"].as<double>());
  options.terminals_total = fleet->size();
  options.gb17691_replies = vm.count("gb17691-replies") > 0;
  options.tls_resume = !vm.count("no-tls-resume");
  options.reply_timeout = std::chrono::seconds(vm["reply-timeout"].as<int>());
  options.storm_at_s = vm["storm-at"].as<double>();
  options.storm_steady = vm["storm-steady"].as<std::size_t>();
  options.gap_probability = scenario->gap_probability;
  options.malformed_probability = scenario->malformed_probability;
  if (options.rate < 0) problems.push_back("--rate must not be negative");
  for (std::size_t i = 1; i <= vm["source-addresses"].as<std::size_t>(); ++i)
    options.source_addresses.push_back("127.0.0." + std::to_string(i));
  options.start_unix_s = start_unix_s;
  std::size_t workers = vm["processes"].as<std::size_t>();
  if (workers == 0) workers = (fleet->size() + terminals_per_process - 1) / terminals_per_process;
  workers = std::clamp<std::size_t>(workers, 1, std::max<std::size_t>(1, fleet->size()));
  std::vector<std::size_t> per_worker(workers, 0);
  for (std::size_t i = 0; i < fleet->size(); ++i) ++per_worker[worker_of(i, workers, options)];
  if (*std::max_element(per_worker.begin(), per_worker.end()) > terminals_per_process + 1000)
    problems.push_back("more than 16,000 terminals in one process: raise --processes");
  for (double p : {options.gap_probability, options.malformed_probability})
    if (p < 0 || p > 1) problems.push_back("probabilities must be between 0 and 1");

  asio::ssl::context tls(asio::ssl::context::tls_client);
  if (options.tls) {
    tls.set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                    asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    // Each terminal keeps its own session (for resumption); no shared cache.
    SSL_CTX_set_session_cache_mode(tls.native_handle(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(tls.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    boost::system::error_code ec;
    if (vm.count("tls-ca")) {
      tls.load_verify_file(vm["tls-ca"].as<std::string>(), ec);
      if (ec) problems.push_back("--tls-ca: " + ec.message());
      tls.set_verify_mode(asio::ssl::verify_peer);
    }
    if (vm.count("tls-cert") != vm.count("tls-key"))
      problems.push_back("--tls-cert and --tls-key go together");
    if (vm.count("tls-cert")) {
      tls.use_certificate_chain_file(vm["tls-cert"].as<std::string>(), ec);
      if (!ec) tls.use_private_key_file(vm["tls-key"].as<std::string>(), asio::ssl::context::pem, ec);
      if (ec) problems.push_back("--tls-cert/--tls-key: " + ec.message());
    }
  }
  if (!problems.empty()) {
    for (const auto& p : problems) std::cerr << "lantian-sim: " << p << '\n';
    return 2;
  }

  LoadCounters* counters = create_shared_counters();
  if (!counters) {
    std::cerr << "lantian-sim: cannot map shared memory\n";
    return 1;
  }
  g_counters = counters;
  ::signal(SIGINT, on_signal);
  ::signal(SIGTERM, on_signal);
  ::signal(SIGPIPE, SIG_IGN);
  Files files;
  for (auto [name, path] : {std::pair{"acked-out", &files.acked}, {"expected-out", &files.expected}})
    if (vm.count(name)) {
      *path = vm[name].as<std::string>();
      std::ofstream truncate(*path, std::ios::trunc);
    }
  if (gates && !files.expected.empty()) {  // the terminals' own are appended at the end
    std::ofstream out(files.expected, std::ios::app);
    write_expected(gates->expected, out);
  }

  options.run_start_us = steady_us();
  const auto started = std::chrono::steady_clock::now();
  std::vector<pid_t> children;
  std::thread in_process;
  if (workers == 1) {
    in_process = std::thread([&] {
      run_worker(*fleet, 0, 1, options, &tls, zones.get(), *phase_out, *counters, files);
    });
  } else {
    std::cout.flush();
    for (std::size_t w = 0; w < workers; ++w) {
      const pid_t pid = ::fork();
      if (pid < 0) {
        std::cerr << "lantian-sim: fork failed\n";
        counters->stop.store(true);
        if (children.empty()) return 1;
        break;
      }
      if (pid == 0) {
        run_worker(*fleet, w, workers, options, &tls, zones.get(), *phase_out, *counters, files);
        std::_Exit(0);
      }
      children.push_back(pid);
    }
  }
  std::vector<int> statuses(children.size(), 0);
  std::vector<bool> reaped(children.size(), false);
  // Progress until every terminal is done.
  const double every = vm["progress"].as<double>();
  std::uint64_t last_sent = 0, last_acked = 0;
  auto last_print = started;
  RateWindow window;
  auto close_window = [&] {
    if (window.length.count() > 0) return;
    window = {counters->frames_sent.load(), counters->frames_acked.load(),
              std::chrono::steady_clock::now() - started};
  };
  while (counters->terminals_done.load() < fleet->size()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (std::chrono::steady_clock::now() - started >= options.duration || counters->stop.load())
      close_window();
    if (!children.empty()) {
      // A worker that died (it should not) must not leave the parent waiting for its terminals.
      bool all_exited = true;
      for (std::size_t w = 0; w < children.size(); ++w) {
        if (reaped[w]) continue;
        if (::waitpid(children[w], &statuses[w], WNOHANG) == children[w])
          reaped[w] = true;
        else
          all_exited = false;
      }
      if (all_exited) break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (every > 0 && std::chrono::duration<double>(now - last_print).count() >= every) {
      print_progress(*counters, std::chrono::duration<double>(now - started).count(), last_sent,
                     last_acked, std::chrono::duration<double>(now - last_print).count());
      last_print = now;
    }
  }
  close_window();
  if (in_process.joinable()) in_process.join();
  int failed_workers = 0;
  for (std::size_t w = 0; w < children.size(); ++w) {
    if (!reaped[w]) ::waitpid(children[w], &statuses[w], 0);
    if (!(WIFEXITED(statuses[w]) && WEXITSTATUS(statuses[w]) == 0)) ++failed_workers;
  }
  const auto report =
      report_json(*counters, window, std::chrono::steady_clock::now() - started);
  print_report(report);
  if (vm.count("json-out")) {
    std::ofstream out(vm["json-out"].as<std::string>());
    out << boost::json::serialize(report) << '\n';
  }
  if (failed_workers > 0) {
    std::cerr << "lantian-sim: " << failed_workers << " worker process(es) failed\n";
    return 1;
  }
  return 0;
}
