// lantiand: wires configuration, storage, the terminal listeners, the rule worker, the HTTPS API,
// the admin port and signals together. Everything it does lives in the libraries; this file only
// connects them.

#include <pthread.h>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <iostream>
#include <optional>
#include <thread>

#include "cluster/frame_publisher.hpp"
#include "cluster/nats_link.hpp"
#include "cluster/owner_requests.hpp"
#include "cluster/partition_processor.hpp"
#include "cluster/terminal_key_bucket.hpp"
#include "cluster/violation_replicator.hpp"
#include "evaluation/sharded_evaluator.hpp"
#include "forwarding/forwarder.hpp"
#include "sharing/violation_sharing.hpp"
#include "server/admin_http.hpp"
#include "server/api/api_server.hpp"
#include "server/api/local_admin_socket.hpp"
#include "server/api/token_commands.hpp"
#include "server/config.hpp"
#include "server/export_command.hpp"
#include "server/ingest_server.hpp"
#include "server/metrics.hpp"
#include "server/rules_commands.hpp"

namespace asio = boost::asio;
using namespace lantian;

namespace {

int serve(const server::Config& config) {
  auto logger = spdlog::stdout_logger_mt("lantiand");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::flush_on(spdlog::level::info);

  std::string error;
  auto store_options = config.store;
  store_options.diagnostics = [](int level, std::string_view line) {
    // RocksDB's informational chatter (options, compaction statistics) at debug.
    const auto ours = level <= 1 ? spdlog::level::debug
                      : level == 2 ? spdlog::level::warn
                                   : spdlog::level::err;
    if (line.starts_with("event="))
      spdlog::log(ours, "{}", line);  // the store's own report (event=wal_corruption)
    else
      spdlog::log(ours, "event=rocksdb message=\"{}\"", line);
  };
  auto store = storage::Store::open(store_options, error);
  if (!store) {
    spdlog::error("event=startup_failed error=\"{}\"", error);
    return 1;
  }
  spdlog::info("event=storage_open dir={} sync={}", config.store.dir.string(),
               storage::to_string(config.store.sync));
  if (config.store.discard_frames)
    spdlog::warn("event=frame_sink_null note=\"frames are acknowledged WITHOUT being stored (benchmark reference)\"");

  asio::io_context io;
  server::ServerMetrics metrics;
  if (const auto& wal = store->wal_recovery(); wal.damaged) {
    metrics.wal_damaged.set(1);
    metrics.wal_batches_salvaged.set(static_cast<std::int64_t>(wal.batches_salvaged));
    metrics.wal_writes_lost.set(static_cast<std::int64_t>(wal.writes_lost));
  }
  // A cluster node (docs/deploy-cluster.md): an ingest node's frames become durable in the
  // replicated log; a processor node's archive is filled from the partitions it owns.
  const auto& cluster_options = config.cluster;
  std::unique_ptr<cluster::NatsLink> link;
  std::unique_ptr<cluster::FramePublisher> publisher;
  std::unique_ptr<cluster::Ownership> ownership;
  if (cluster_options.enabled()) {
    link = std::make_unique<cluster::NatsLink>(cluster_options);
    if (cluster_options.ingest) publisher = std::make_unique<cluster::FramePublisher>(*link);
    if (!link->start(publisher ? publisher->answer_handler() : nullptr, error)) {
      spdlog::error("event=startup_failed error=\"{}\"", error);
      store->close();
      return 1;
    }
    if (cluster_options.processor)
      ownership = std::make_unique<cluster::Ownership>(cluster_options.partitions);
  }
  evaluation::ShardedEvaluatorOptions rule_options{
      .shards = static_cast<std::size_t>(config.rule_threads),
      .max_held_frames = config.rule_max_held_frames};
  if (ownership)
    rule_options.owns_vehicle = [&ownership](const protocol::Vin& vin) {
      return ownership->owns(vin);
    };
  evaluation::ShardedEvaluator rules(*store, config.rules, metrics.evaluation, rule_options);
  // Every node of a cluster holds every violation; each processor publishes all its changes.
  if (ownership) rules.violations().log_every_change(true);
  std::optional<server::IngestServer> ingest_server;
  if (publisher) {
    ingest_server.emplace(io, config, *store, *publisher, metrics);
  } else if (link) {  // a processor only: no terminal listeners
    auto processor_config = config;
    processor_config.listeners.clear();
    ingest_server.emplace(io, processor_config, *store, metrics);
  } else {
    ingest_server.emplace(io, config, *store, metrics);
  }
  auto& ingest = *ingest_server;
  // Keys terminals register by activation hold for every ingest node of a cluster.
  std::unique_ptr<cluster::TerminalKeyBucket> key_bucket;
  if (publisher) {
    key_bucket = std::make_unique<cluster::TerminalKeyBucket>(*link);
    ingest.terminal_keys().share(
        {.find = [&key_bucket](const std::string& vin,
                               bool& reachable) { return key_bucket->find(vin, reachable); },
         .add_first = [&key_bucket](const std::string& vin, const std::string& record,
                                    std::optional<std::string>& existing, std::string& why) {
           return key_bucket->add_first(vin, record, existing, why);
         }});
  }
  // An ingest node evaluates nothing (the processors do); it reads the registry for sessions.
  ingest.set_evaluation(link ? nullptr : &rules, &rules.catalogue());
  std::unique_ptr<cluster::PartitionProcessor> processor;
  if (ownership) {
    processor = std::make_unique<cluster::PartitionProcessor>(*link, *store, &rules, *ownership);
    if (!processor->start(error)) {
      spdlog::error("event=startup_failed error=\"{}\"", error);
      rules.stop();
      store->close();
      return 1;
    }
  }
  std::vector<std::string> problems;
  // Forwarding upward starts before the listeners: every report they accept is in its log.
  forwarding::Forwarder forwarder(config.upstreams, *store);
  if (!forwarder.start(problems)) {
    for (const auto& p : problems) spdlog::error("event=startup_failed error=\"{}\"", p);
    rules.stop();
    store->close();
    return 1;
  }
  if (!ingest.start(problems)) {
    for (const auto& p : problems) spdlog::error("event=startup_failed error=\"{}\"", p);
    forwarder.stop();
    rules.stop();
    store->close();
    return 1;
  }
  // The API runs on its own threads: a slow query never delays a terminal's reply.
  asio::io_context api_io;
  auto api_work = asio::make_work_guard(api_io);
  server::api::ApiServer api(api_io, config, *store, rules, metrics);
  // In a cluster, one API for all nodes (docs/deploy-cluster.md): the violations every node
  // holds, and requests about a vehicle answered by its partition's owner.
  std::unique_ptr<cluster::ViolationReplicator> replicator;
  std::unique_ptr<cluster::OwnerRequests> owner_requests;
  if (link) {
    replicator = std::make_unique<cluster::ViolationReplicator>(
        *link, *store, rules.violations(), ownership.get(),
        [&api](const boost::json::object& v) { api.publish(v); });
    owner_requests = std::make_unique<cluster::OwnerRequests>(
        *link, ownership.get(),
        [&api](const std::string& request) { return api.answer_forwarded(request); });
    api.set_ask_owner([&owner_requests](std::string_view vin, const std::string& request) {
      auto answer = owner_requests->ask(vin, request);
      return server::api::OwnerAnswer{answer.here, std::move(answer.bytes),
                                      std::move(answer.error)};
    });
  }
  // Violations to enforcement systems: every delivery attempt goes to the API's audit log.
  sharing::SharingOptions sharing_options{.ca_file = config.share_ca};
  if (replicator)
    sharing_options.other_reader_through = [&replicator] {
      return replicator->published_through();
    };
  sharing::ViolationSharing sharing(
      *store, sharing_options,
      [&api](const sharing::DeliveryAttempt& attempt) { api.audit_delivery(attempt); });
  std::string problem;
  if (!sharing.start(problem)) {
    spdlog::error("event=startup_failed error=\"{}\"", problem);
    forwarder.stop();
    rules.stop();
    store->close();
    return 1;
  }
  api.set_sharing(&sharing);
  api.set_forwarder(&forwarder);
  server::AdminHttp admin(
      io,
      [&] {
        metrics.ingest_queue_depth.set(static_cast<std::int64_t>(store->stats().queue_depth));
        for (auto us : store->take_sync_latencies())
          metrics.fsync_seconds.observe(static_cast<double>(us.count()) / 1e6);
        return metrics.render() + forwarder.render_metrics() + sharing.render_metrics() +
               (publisher ? publisher->render_metrics() : std::string()) +
               (processor ? processor->render_metrics() : std::string()) +
               (replicator ? replicator->render_metrics() : std::string());
      },
      [&]() -> std::string {
        if (ingest.stopping()) return "stopping";
        return forwarder.lagging();
      });
  if (!admin.start(config.admin_host, config.admin_port, problem)) {
    spdlog::error("event=startup_failed error=\"{}\"", problem);
    sharing.stop();
    forwarder.stop();
    rules.stop();
    store->close();
    return 1;
  }
  if (config.api.enabled) {
    if (!api.start(problem)) {
      spdlog::error("event=startup_failed error=\"{}\"", problem);
      sharing.stop();
      forwarder.stop();
      rules.stop();
      store->close();
      return 1;
    }
    rules.on_violation([&api](const boost::json::object& v) { api.publish(v); });
  }
  // lantiand's own commands change the running server through this (docs/operations.md).
  server::api::LocalAdminSocket local_admin(api);
  if (!config.admin_socket.empty() && !local_admin.start(config.admin_socket, problem)) {
    spdlog::error("event=startup_failed error=\"{}\"", problem);
    api.stop();
    sharing.stop();
    forwarder.stop();
    rules.stop();
    store->close();
    return 1;
  }
  if (replicator) replicator->start();
  if (owner_requests) owner_requests->start();
  std::vector<std::thread> api_threads;
  for (int i = 0; i < config.api.threads; ++i)
    api_threads.emplace_back([&] {
      pthread_setname_np(pthread_self(), "lt-api");
      api_io.run();
    });

  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void()> wait_for_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      if (signal == SIGHUP) {
        ingest.reload_tls();
        wait_for_signal();
        return;
      }
      spdlog::info("event=signal signal={} action=graceful_stop", signal);
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            co_await ingest.shutdown();
            local_admin.stop();  // waits for the command being carried out
            if (owner_requests) owner_requests->stop();  // other nodes ask the next owner
            admin.stop();
            api.stop();
            api_work.reset();
            // Requests waiting for I/O are abandoned; one being carried out finishes before the
            // store it writes to closes.
            api_io.stop();
            for (auto& t : api_threads) t.join();
            api_threads.clear();
            if (publisher) publisher->close();
            if (processor) processor->stop();  // leaves the membership; others take over
            rules.stop();    // evaluates what the sessions handed over
            if (replicator) replicator->stop();  // the rest is published at the next start
            forwarder.stop();  // logs out of the upstreams, saves their cursors
            sharing.stop();    // saves the subscribers' cursors
            store->close();  // everything read is stored and answered; flush and close
            if (link) link->stop();
            spdlog::info("event=stopped");
            io.stop();
          },
          asio::detached);
    });
  };
  wait_for_signal();

  std::vector<std::thread> threads;
  for (int i = 1; i < config.threads; ++i)
    threads.emplace_back([&] {
      pthread_setname_np(pthread_self(), "lt-io");
      io.run();
    });
  io.run();
  for (auto& t : threads) t.join();
  for (auto& t : api_threads) t.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = server::parse_command_line(argc, argv);
  if (!parsed.problems.empty()) {
    for (const auto& p : parsed.problems) std::cerr << "lantiand: " << p << '\n';
    std::cerr << "lantiand: " << parsed.problems.size()
              << " problem(s); `lantiand --help` lists every option\n";
    return 2;
  }
  switch (parsed.command) {
    case server::Command::help:
      std::cout << parsed.help_text;
      return 0;
    case server::Command::export_frames:
      return server::run_export(parsed.config, parsed.export_query, std::cout, std::cerr);
    case server::Command::import_registry:
      return server::run_import_registry(parsed, std::cout, std::cerr);
    case server::Command::import_zones:
      return server::run_import_zones(parsed, std::cout, std::cerr);
    case server::Command::import_areas:
      return server::run_import_areas(parsed, std::cout, std::cerr);
    case server::Command::import_permits:
      return server::run_import_permits(parsed, std::cout, std::cerr);
    case server::Command::import_enterprises:
      return server::run_import_enterprises(parsed, std::cout, std::cerr);
    case server::Command::import_gate_events:
      return server::run_import_gate_events(parsed, std::cout, std::cerr);
    case server::Command::alert:
      return server::run_alert(parsed, std::cout, std::cerr);
    case server::Command::import_observations:
      return server::run_import_observations(parsed, std::cout, std::cerr);
    case server::Command::list_violations:
      return server::run_list_violations(parsed, std::cout, std::cerr);
    case server::Command::replay:
      return server::run_replay(parsed, std::cout, std::cerr);
    case server::Command::token_create:
      return server::api::run_token_create(parsed, std::cout, std::cerr);
    case server::Command::token_list:
      return server::api::run_token_list(parsed, std::cout, std::cerr);
    case server::Command::token_revoke:
      return server::api::run_token_revoke(parsed, std::cout, std::cerr);
    case server::Command::backup:
      return server::run_backup(parsed, std::cout, std::cerr);
    case server::Command::serve:
      break;
  }
  std::signal(SIGPIPE, SIG_IGN);
  return serve(parsed.config);
}
