#include "server/rule_runner.hpp"

#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>
#include <chrono>

#include "protocol/decode.hpp"
#include "protocol/json.hpp"
#include "rules/records_json.hpp"

namespace lantian::server {

std::string zone_version_key(int version) {
  std::string key;
  storage::append_u64(key, static_cast<std::uint64_t>(version));
  return key;
}

rules::Registry load_registry(const storage::Store& store) {
  rules::Registry registry;
  store.for_each(storage::Family::registry, "", [&](const std::string&, const std::string& value) {
    if (auto r = rules::vehicle_from_json(value)) registry.upsert(std::move(*r));
    return true;
  });
  // Permits: "VIN|zone|number" → "from_unix_s,until_unix_s".
  store.for_each(
      storage::Family::permits, "", [&](const std::string& key, const std::string& value) {
        const auto a = key.find('|'), b = key.find('|', a + 1);
        std::int64_t from = 0, until = 0;
        if (a == std::string::npos || b == std::string::npos ||
            std::sscanf(value.c_str(), "%ld,%ld", &from, &until) != 2)
          return true;
        registry.add_permit(key.substr(0, a),
                            {key.substr(b + 1), key.substr(a + 1, b - a - 1), from, until});
        return true;
      });
  return registry;
}

std::shared_ptr<const rules::ZoneIndex> load_zone_version(const storage::Store& store,
                                                          int version) {
  const auto text = store.get(storage::Family::zones, zone_version_key(version));
  if (!text) return nullptr;
  return std::make_shared<rules::ZoneIndex>(rules::import_zones_geojson(*text).zones, version);
}

std::shared_ptr<const rules::ZoneIndex> load_latest_zones(const storage::Store& store) {
  int latest = 0;
  store.for_each(storage::Family::zones, "", [&](const std::string& key, const std::string&) {
    if (key.size() == 8) latest = static_cast<int>(storage::read_u64(key));
    return true;
  });
  if (latest == 0) return std::make_shared<rules::ZoneIndex>(std::vector<rules::Zone>{}, 0);
  return load_zone_version(store, latest);
}

std::string frame_ref(const std::string& frame_key) {
  return protocol::to_hex(protocol::ByteView(
      reinterpret_cast<const std::uint8_t*>(frame_key.data()), frame_key.size()));
}

std::map<std::string, rules::Violation> evaluate_archive(
    const storage::Store& store, const rules::Engine& engine, const rules::Registry& registry,
    const rules::ZoneIndex& zones, std::int64_t from_unix_s, std::int64_t to_unix_s) {
  std::map<std::string, rules::Violation> out;
  std::string current_vin;
  rules::VehicleState state;
  store.for_each_frame(std::nullopt, from_unix_s, to_unix_s,
                       [&](const storage::FrameKey& key, const storage::FrameRecord& r) {
                         const std::string vin(protocol::as_text(key.vin));
                         if (vin != current_vin) {
                           current_vin = vin;
                           state = {};
                         }
                         protocol::DecodeOptions options;
                         options.profile = r.received.profile;
                         auto decoded = protocol::decode_frame(r.raw, options);
                         if (!decoded) return true;
                         const std::string raw_key =
                             storage::frame_key(key.vin, key.collection_unix_s, key.sequence);
                         for (auto& sample : rules::samples_of(*decoded, frame_ref(raw_key))) {
                           sample.received_unix_s =
                               r.received.receive_unix_ms / 1000;  // as the server saw it
                           for (auto& v : engine.step(state, registry.find(vin), sample, zones))
                             out.emplace(v.id, std::move(v));
                         }
                         return true;
                       });
  // External observations, evaluated after the frames (their violations have ids of their own, or
  // the same per-day id as a frame's R01).
  std::map<std::string, rules::VehicleState> states;
  store.for_each(
      storage::Family::observations, "", [&](const std::string&, const std::string& value) {
        const auto ob = rules::observation_from_json(value);
        if (!ob || ob->at_unix_s < from_unix_s || ob->at_unix_s > to_unix_s) return true;
        const auto* vehicle =
            ob->vin.empty() ? registry.find_by_plate(ob->plate) : registry.find(ob->vin);
        if (!vehicle) return true;
        for (auto& v :
             rules::evaluate_observation(engine, states[vehicle->vin], *vehicle, *ob, zones))
          out.emplace(v.id, std::move(v));
        return true;
      });
  return out;
}

RuleRunner::RuleRunner(storage::Store& store, rules::EngineConfig config, ServerMetrics& metrics)
    : store_(store),
      engine_(std::move(config)),
      metrics_(metrics),
      registry_(load_registry(store)),
      zones_(load_latest_zones(store)) {
  spdlog::info("event=rules_loaded vehicles={} zones={} zone_version={}", registry_.size(),
               zones_->zones().size(), zones_->version());
  worker_ = std::thread([this] { run(); });
}

RuleRunner::~RuleRunner() {
  stop();
}

void RuleRunner::submit(std::string vin, std::vector<rules::Sample> samples) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    queue_.push_back({std::move(vin), std::move(samples)});
  }
  wake_.notify_one();
}

void RuleRunner::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (worker_.joinable()) worker_.join();
}

void RuleRunner::drain() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void RuleRunner::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping and drained
      job = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    auto& state = states_[job.vin];
    const auto* vehicle = registry_.find(job.vin);
    for (const auto& sample : job.samples) {
      for (const auto& v : engine_.step(state, vehicle, sample, *zones_)) {
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        std::string error;
        if (store_.insert_if_absent(storage::Family::violations, v.id,
                                    boost::json::serialize(rules::to_json(v, now_ms)), error)) {
          metrics_.violations.with(v.rule).inc();
          spdlog::info("event=violation rule={} vin={} id=\"{}\"", v.rule, v.vin, v.id);
        } else if (!error.empty()) {
          spdlog::error("event=violation_not_stored id=\"{}\" error=\"{}\"", v.id, error);
        }
      }
    }
    {
      std::lock_guard lock(mutex_);
      busy_ = false;
    }
    idle_.notify_all();
  }
  idle_.notify_all();
}

}  // namespace lantian::server
