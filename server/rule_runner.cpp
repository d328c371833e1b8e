#include "server/rule_runner.hpp"

#include <pthread.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <iterator>
#include <thread>
#include <limits>

#include "protocol/decode.hpp"
#include "protocol/json.hpp"
#include "rules/records_json.hpp"
#include "server/clock.hpp"

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

void fold_decoded(const rules::Engine& engine, const rules::VehicleRecord* vehicle,
                  const rules::ZoneIndex& zones, const storage::FrameKey& key,
                  const protocol::DecodedFrame& decoded, protocol::SignatureCheck signature,
                  bool rejected, std::int64_t receive_unix_ms, rules::VehicleState& state,
                  ViolationSet& out) {
  const std::string ref =
      frame_ref(storage::frame_key(key.vin, key.collection_unix_s, key.sequence));
  if (vehicle)
    if (auto v = engine.signature_violation(*vehicle, signature, key.collection_unix_s, ref))
      out.emplace(v->id, std::move(*v));  // the first frame of the day stays the evidence
  if (rejected) return;  // evidence of a forgery only: its data is not trusted
  for (auto& sample : rules::samples_of(decoded, ref)) {
    sample.received_unix_s = receive_unix_ms / 1000;  // as the server saw it
    auto raised = vehicle ? engine.step(state, vehicle, sample, zones)
                          : engine.step_unregistered(state, protocol::as_text(key.vin), sample);
    for (auto& v : raised) out.insert_or_assign(v.id, std::move(v));
  }
}

bool carries_evidence(const protocol::DecodedFrame& frame) {
  return std::holds_alternative<protocol::ReportBody>(frame.message.body) ||
         std::holds_alternative<protocol::RemovalAlarmBody>(frame.message.body);
}

namespace {
// An archived frame decoded with the profile it was received under, when the rules read anything
// in it.
std::optional<protocol::DecodedFrame> evidence_of(const storage::FrameRecord& record) {
  protocol::DecodeOptions options;
  options.profile = record.received.profile;
  auto decoded = protocol::decode_frame(record.raw, options);
  if (!decoded || !carries_evidence(*decoded)) return std::nullopt;
  return std::move(*decoded);
}
}  // namespace

void fold_frame(const rules::Engine& engine, const rules::VehicleRecord* vehicle,
                const rules::ZoneIndex& zones, const storage::FrameKey& key,
                const storage::FrameRecord& record, rules::VehicleState& state, ViolationSet& out) {
  const auto decoded = evidence_of(record);
  if (!decoded) return;
  fold_decoded(engine, vehicle, zones, key, *decoded, record.received.signature,
               record.received.rejected, record.received.receive_unix_ms, state, out);
}

ViolationSet evaluate_archive(const storage::Store& store, const rules::Engine& engine,
                              const rules::Registry& registry, const rules::ZoneIndex& zones,
                              std::int64_t from_unix_s, std::int64_t to_unix_s) {
  ViolationSet out;
  std::string current_vin;
  const rules::VehicleRecord* vehicle = nullptr;
  rules::VehicleState state;
  store.for_each_frame(std::nullopt, from_unix_s, to_unix_s,
                       [&](const storage::FrameKey& key, const storage::FrameRecord& r) {
                         if (protocol::as_text(key.vin) != current_vin) {
                           current_vin = std::string(protocol::as_text(key.vin));
                           vehicle = registry.find(current_vin);
                           state = rules::VehicleState();
                         }
                         fold_frame(engine, vehicle, zones, key, r, state, out);
                         return true;
                       });
  // External observations, evaluated after the frames (their violations have ids of their own, or
  // the same per-day id as a frame's R01).
  std::map<std::string, rules::VehicleState> states;
  store.for_each(
      storage::Family::observations, "", [&](const std::string&, const std::string& value) {
        const auto ob = rules::observation_from_json(value);
        if (!ob || ob->at_unix_s < from_unix_s || ob->at_unix_s > to_unix_s) return true;
        const auto* found =
            ob->vin.empty() ? registry.find_by_plate(ob->plate) : registry.find(ob->vin);
        if (!found) return true;
        for (auto& v : rules::evaluate_observation(engine, states[found->vin], *found, *ob, zones))
          out.emplace(v.id, std::move(v));
        return true;
      });
  return out;
}

std::vector<rules::Violation> offline_episodes(const storage::Store& store,
                                               const rules::Engine& engine,
                                               const rules::VehicleRecord& vehicle,
                                               std::int64_t now_unix_s) {
  std::vector<std::pair<std::int64_t, std::string>> arrivals;  // (receive time, frame ref)
  store.for_each_frame(protocol::make_vin(vehicle.vin), std::numeric_limits<std::int64_t>::min(),
                       std::numeric_limits<std::int64_t>::max(),
                       [&](const storage::FrameKey& key, const storage::FrameRecord& r) {
                         arrivals.emplace_back(r.received.receive_unix_ms / 1000,
                                               frame_ref(storage::frame_key(
                                                   key.vin, key.collection_unix_s, key.sequence)));
                         return true;
                       });
  std::sort(arrivals.begin(), arrivals.end());
  std::vector<rules::Violation> out;
  for (std::size_t i = 0; i < arrivals.size(); ++i) {
    const auto until = i + 1 < arrivals.size() ? arrivals[i + 1].first : now_unix_s;
    if (auto v =
            engine.offline_violation(vehicle, arrivals[i].first, {arrivals[i].second, -1}, until))
      out.push_back(std::move(*v));
  }
  return out;
}

ObservationsStored store_observations(storage::Store& store, const rules::Engine& engine,
                                      const rules::Registry& registry,
                                      const rules::ZoneIndex& zones,
                                      const std::vector<rules::Observation>& observations) {
  ObservationsStored out;
  ViolationStore violations(store);
  std::map<std::string, rules::VehicleState> states;
  for (const auto& ob : observations) {
    if (!store.insert_if_absent(storage::Family::observations, ob.id,
                                boost::json::serialize(rules::to_json(ob)), out.error)) {
      if (!out.error.empty()) return out;
      ++out.known;
      continue;
    }
    ++out.added;
    const auto* vehicle = ob.vin.empty() ? registry.find_by_plate(ob.plate) : registry.find(ob.vin);
    if (!vehicle) {
      ++out.unmatched;
      continue;
    }
    ViolationSet raised;
    for (auto& v : rules::evaluate_observation(engine, states[vehicle->vin], *vehicle, ob, zones))
      raised.insert_or_assign(v.id, std::move(v));
    for (auto& v : violations.record(raised, {&registry, &zones, /*from_frames=*/false})) {
      ++out.raised;
      out.violations.push_back(std::move(v));
    }
  }
  return out;
}

namespace rule_state_keys {
namespace {
std::string with_time(std::string key, std::int64_t unix_s) {
  // Offset so that times before 1970 still sort before later ones.
  storage::append_u64(key, static_cast<std::uint64_t>(unix_s) ^ (std::uint64_t{1} << 63));
  return key;
}
}  // namespace
std::string checkpoint_prefix(const std::string& vin) {
  return "c|" + vin + "|";
}
std::string checkpoint(const std::string& vin, std::int64_t boundary_unix_s) {
  return with_time(checkpoint_prefix(vin), boundary_unix_s);
}
std::int64_t time_of(std::string_view key, std::size_t prefix_size) {
  return static_cast<std::int64_t>(storage::read_u64(key.substr(prefix_size)) ^
                                   (std::uint64_t{1} << 63));
}
}  // namespace rule_state_keys

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

std::int64_t collection_time_of(const std::string& frame_key) {
  const auto parsed = storage::parse_frame_key(frame_key);
  return parsed ? parsed->collection_unix_s : 0;
}

bool same_day_boundary(std::int64_t unix_s) {
  return floor_div(unix_s + protocol::beijing_utc_offset_seconds, 86400) * 86400 ==
         unix_s + protocol::beijing_utc_offset_seconds;
}

}  // namespace

RuleRunner::RuleRunner(storage::Store& store, rules::EngineConfig config, ServerMetrics& metrics,
                       RuleRunnerOptions options)
    : store_(store),
      engine_(std::move(config)),
      metrics_(metrics),
      options_(options),
      violations_(store),
      registry_(std::make_shared<rules::Registry>(load_registry(store))),
      zones_(load_latest_zones(store)) {
  spdlog::info("event=rules_loaded vehicles={} zones={} zone_version={}", registry_->size(),
               zones_->zones().size(), zones_->version());
  // Silences that passed while the server was down are found before any terminal is heard.
  check_offline(now_unix_ms() / 1000);
  const std::size_t count =
      options_.shards ? options_.shards : std::max(1u, std::thread::hardware_concurrency());
  for (std::size_t i = 0; i < count; ++i) shards_.push_back(std::make_unique<Shard>());
  for (std::size_t i = 0; i < count; ++i)
    shards_[i]->worker = std::thread([this, i] {
      const auto name = "lt-rules-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      run(i);
    });
}

RuleRunner::~RuleRunner() {
  stop();
}

RuleRunner::Shard& RuleRunner::shard_of(std::string_view vin) {
  return *shards_[std::hash<std::string_view>{}(vin) % shards_.size()];
}

void RuleRunner::submit(const protocol::Vin& vin, std::vector<StoredFrame> frames) {
  const auto handed_over = frames.size();
  // Logins, time syncs, logouts… carry nothing the rules read: they neither wait nor order.
  std::erase_if(frames, [](const StoredFrame& f) { return !carries_evidence(f.decoded); });
  if (frames.empty()) {
    metrics_.rule_frames.inc(handed_over);
    return;
  }
  const std::string text(protocol::as_text(vin));
  auto& shard = shard_of(text);
  const auto n = frames.size();
  {
    std::lock_guard lock(shard.mutex);
    if (shard.stopping) return;
    auto& work = shard.pending[text];
    for (const auto& f : frames) {
      if (work.min_key.empty() || f.key < work.min_key) work.min_key = f.key;
      if (f.key > work.max_key) work.max_key = f.key;
    }
    work.count += n;
    if (!work.read_back && held_frames_.load() + n > options_.max_held_frames) {
      // Over the memory bound: this vehicle's pending frames are read back from the archive.
      held_frames_ -= work.frames.size();
      work.frames = {};
      work.read_back = true;
    }
    if (!work.read_back) {
      held_frames_ += n;
      std::move(frames.begin(), frames.end(), std::back_inserter(work.frames));
    }
  }
  // Counted once pending, so that whoever sees the count and then calls drain() waits for them.
  metrics_.rules_backlog_reports.add(static_cast<std::int64_t>(n));
  metrics_.rule_frames.inc(handed_over);
  shard.wake.notify_one();
}

void RuleRunner::stop() {
  for (auto& shard : shards_) {
    {
      std::lock_guard lock(shard->mutex);
      shard->stopping = true;
    }
    shard->wake.notify_one();
  }
  for (auto& shard : shards_)
    if (shard->worker.joinable()) shard->worker.join();
}

void RuleRunner::drain() {
  for (auto& shard : shards_) {
    std::unique_lock lock(shard->mutex);
    shard->idle.wait(lock, [&] { return shard->pending.empty() && !shard->busy; });
  }
}

void RuleRunner::refresh_catalogue() {
  std::lock_guard loading(reload_mutex_);
  if (!reload_.exchange(false)) return;  // another shard loaded it meanwhile
  auto registry = std::make_shared<const rules::Registry>(load_registry(store_));
  auto zones = load_latest_zones(store_);
  spdlog::info("event=rules_reloaded vehicles={} zones={} zone_version={}", registry->size(),
               zones->zones().size(), zones->version());
  std::lock_guard lock(mutex_);
  registry_ = std::move(registry);
  zones_ = std::move(zones);
}

void RuleRunner::run(std::size_t index) {
  Shard& shard = *shards_[index];
  // The first shard also runs the periodic offline check.
  const bool checks_offline = index == 0;
  auto next_check = std::chrono::steady_clock::now() + options_.offline_check_interval;
  for (;;) {
    std::unordered_map<std::string, Work> work;
    {
      std::unique_lock lock(shard.mutex);
      const auto ready = [&] { return shard.stopping || !shard.pending.empty() || reload_.load(); };
      if (checks_offline)
        shard.wake.wait_until(lock, next_check, ready);
      else
        shard.wake.wait(lock, ready);
      if (shard.pending.empty() && shard.stopping) break;
      work.swap(shard.pending);
      shard.busy = true;
    }
    if (reload_.load()) refresh_catalogue();
    for (auto& [vin, w] : work) {
      try {
        evaluate(shard, vin, w);
      } catch (const std::exception& e) {
        // A rule bug must not stop evaluation of every other vehicle; the frames stay archived
        // and `lantiand replay` shows what was missed.
        spdlog::error("event=rule_evaluation_failed vin={} error=\"{}\"", vin, e.what());
      }
      held_frames_ -= w.frames.size();
      metrics_.rules_backlog_reports.add(-static_cast<std::int64_t>(w.count));
    }
    if (checks_offline && std::chrono::steady_clock::now() >= next_check) {
      check_offline(now_unix_ms() / 1000);
      next_check = std::chrono::steady_clock::now() + options_.offline_check_interval;
    }
    {
      std::lock_guard lock(shard.mutex);
      shard.busy = false;
    }
    shard.idle.notify_all();
  }
  shard.idle.notify_all();
}

void RuleRunner::evaluate(Shard& shard, const std::string& vin, Work& work) {
  ViolationSet raised;
  const auto it = shard.cursors.find(vin);
  if (it != shard.cursors.end() && work.min_key > it->second.last_key) {
    // In order: continue from the current state, from memory when the frames are held.
    if (work.read_back) {
      fold_archive(vin, it->second, 0, false, work.max_key, raised);
    } else {
      fold_memory(vin, it->second, work.frames, raised);
    }
    record(raised);
    return;
  }
  // Late data, or the first frame since start: evaluate again from the newest checkpoint at or
  // before the earliest new frame, through everything folded before and handed over now — or, the
  // first time since start, through the whole archive (what an earlier run evaluated included).
  std::optional<std::string> through;
  if (it != shard.cursors.end()) through = std::max(work.max_key, it->second.last_key);
  metrics_.rule_reevaluations.inc();
  const std::int64_t late = collection_time_of(work.min_key);
  Cursor cursor;
  std::int64_t from = std::numeric_limits<std::int64_t>::min();
  const auto prefix = rule_state_keys::checkpoint_prefix(vin);
  store_.for_each(storage::Family::rule_state, prefix,
                  [&](const std::string& key, const std::string& value) {
                    const auto boundary = rule_state_keys::time_of(key, prefix.size());
                    if (boundary > late) return false;
                    if (auto state = rules::vehicle_state_from_json(value)) {
                      cursor.state = std::move(*state);
                      from = boundary;
                    }
                    return true;
                  });
  fold_archive(vin, cursor, from, true, through, raised);
  record(raised);
  metrics_.violations_withdrawn.inc(violations_.withdraw_unreproduced(vin, from, raised));
  shard.cursors.insert_or_assign(vin, std::move(cursor));
}

void RuleRunner::checkpoint_before(const std::string& vin, const Cursor& cursor,
                                   std::optional<std::int64_t>& bucket,
                                   std::int64_t collection_unix_s) {
  const auto interval = std::max<std::int64_t>(1, options_.checkpoint_interval.count());
  const auto here = floor_div(collection_unix_s, interval);
  if (!bucket || here > *bucket) save_checkpoint(vin, here * interval, cursor.state);
  bucket = here;
}

void RuleRunner::fold_archive(const std::string& vin, Cursor& cursor, std::int64_t from_unix_s,
                              bool rebuilding, const std::optional<std::string>& through_key,
                              ViolationSet& raised) {
  const auto interval = std::max<std::int64_t>(1, options_.checkpoint_interval.count());
  const auto registry_now = registry();
  const auto zones_now = zones();
  const auto* vehicle = registry_now->find(vin);
  if (!rebuilding) from_unix_s = collection_time_of(cursor.last_key);
  // The interval of the last frame folded: crossing into a later one saves a checkpoint first.
  std::optional<std::int64_t> bucket;
  if (!cursor.last_key.empty())
    bucket = floor_div(collection_time_of(cursor.last_key), interval);
  else if (from_unix_s != std::numeric_limits<std::int64_t>::min())
    bucket = floor_div(from_unix_s, interval);  // the restored checkpoint's own interval
  store_.for_each_frame(
      protocol::make_vin(vin), from_unix_s,
      through_key ? collection_time_of(*through_key) : std::numeric_limits<std::int64_t>::max(),
      [&](const storage::FrameKey& key, const storage::FrameRecord& record) {
        auto raw_key = storage::frame_key(key.vin, key.collection_unix_s, key.sequence);
        if (through_key && raw_key > *through_key) return false;  // not handed over yet
        if (raw_key <= cursor.last_key) return true;  // folded already
        const auto decoded = evidence_of(record);
        metrics_.rule_frames_from_archive.inc();
        // Only frames with evidence move the vehicle on (a time sync is filed under its receive
        // time, which may lie far ahead of the reports it comes with).
        if (!decoded) return true;
        checkpoint_before(vin, cursor, bucket, key.collection_unix_s);
        fold_decoded(engine_, vehicle, *zones_now, key, *decoded, record.received.signature,
                     record.received.rejected, record.received.receive_unix_ms, cursor.state,
                     raised);
        cursor.last_key = std::move(raw_key);
        return true;
      });
}

void RuleRunner::fold_memory(const std::string& vin, Cursor& cursor,
                             std::vector<StoredFrame>& frames, ViolationSet& raised) {
  const auto interval = std::max<std::int64_t>(1, options_.checkpoint_interval.count());
  const auto registry_now = registry();
  const auto zones_now = zones();
  const auto* vehicle = registry_now->find(vin);
  std::sort(frames.begin(), frames.end(),
            [](const StoredFrame& a, const StoredFrame& b) { return a.key < b.key; });
  std::optional<std::int64_t> bucket;
  if (!cursor.last_key.empty()) bucket = floor_div(collection_time_of(cursor.last_key), interval);
  for (auto& frame : frames) {
    const auto key = storage::parse_frame_key(frame.key);
    if (!key) continue;
    checkpoint_before(vin, cursor, bucket, key->collection_unix_s);
    fold_decoded(engine_, vehicle, *zones_now, *key, frame.decoded, frame.signature,
                 frame.rejected, frame.receive_unix_ms, cursor.state, raised);
    cursor.last_key = std::move(frame.key);
  }
}
void RuleRunner::save_checkpoint(const std::string& vin, std::int64_t boundary,
                                 const rules::VehicleState& state) {
  std::vector<storage::RecordEdit> edits{{storage::Family::rule_state,
                                          rule_state_keys::checkpoint(vin, boundary),
                                          rules::to_json_text(state)}};
  // Thin out the older ones: hourly for the newest day, then the first of each Beijing day.
  const auto hourly_from = boundary - std::chrono::seconds(options_.hourly_for).count();
  const auto daily_from = boundary - std::chrono::seconds(options_.daily_for).count();
  const auto prefix = rule_state_keys::checkpoint_prefix(vin);
  store_.for_each(storage::Family::rule_state, prefix,
                  [&](const std::string& key, const std::string&) {
                    const auto t = rule_state_keys::time_of(key, prefix.size());
                    if (t >= hourly_from) return false;
                    if (t < daily_from || !same_day_boundary(t))
                      edits.push_back({storage::Family::rule_state, key, std::nullopt});
                    return true;
                  });
  std::string error;
  // Unsynced: a checkpoint lost in a power cut only means evaluating from an older one.
  if (!store_.apply(edits, storage::Durability::unsynced, error))
    spdlog::error("event=checkpoint_not_stored vin={} error=\"{}\"", vin, error);
}

void RuleRunner::record(const ViolationSet& raised) {
  if (raised.empty()) return;
  const auto registry_now = registry();
  const auto zones_now = zones();
  const auto listener = [&] {
    std::lock_guard lock(mutex_);
    return listener_;
  }();
  const ViolationContext context{registry_now.get(), zones_now.get()};
  for (const auto& v : violations_.record(raised, context)) {
    const auto rule = std::string(v.at("rule").as_string());
    metrics_.violations.with(rule).inc();
    spdlog::info("event=violation rule={} vin={} id=\"{}\"", rule,
                 std::string(v.at("vin").as_string()), std::string(v.at("id").as_string()));
    if (listener) listener(v);
  }
}

void RuleRunner::on_violation(std::function<void(const boost::json::object&)> listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

void RuleRunner::reload() {
  reload_ = true;
  for (auto& shard : shards_) {
    // Under the shard's mutex, so that a worker about to wait sees the flag or the notification.
    { std::lock_guard lock(shard->mutex); }
    shard->wake.notify_one();
  }
}

std::shared_ptr<const rules::Registry> RuleRunner::registry() const {
  std::lock_guard lock(mutex_);
  return registry_;
}

std::shared_ptr<const rules::ZoneIndex> RuleRunner::zones() const {
  std::lock_guard lock(mutex_);
  return zones_;
}

void RuleRunner::check_offline(std::int64_t now_unix_s) {
  ViolationSet raised;
  const auto registry_now = registry();
  for (const auto& [vin, vehicle] : registry_now->records()) {
    const auto v = protocol::make_vin(vin);
    const auto latest = store_.latest_state(v);
    const auto key = store_.latest_frame_key(v);
    if (!latest || !key) continue;  // never heard: not a terminal that went silent
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(*latest, ec);
    if (ec || !parsed.is_object() || !parsed.as_object().contains("receive_unix_ms")) continue;
    const auto received_s =
        parsed.as_object().at("receive_unix_ms").to_number<std::int64_t>() / 1000;
    if (auto x = engine_.offline_violation(vehicle, received_s, {frame_ref(*key), -1}, now_unix_s))
      raised.emplace(x->id, std::move(*x));
  }
  record(raised);
  std::string error;
  if (!store_.apply({{storage::Family::rule_state, rule_state_keys::last_offline_check,
                      std::to_string(now_unix_s)}},
                    storage::Durability::synced, error))
    // The next check reads the archive again; replay compares with the time recorded last.
    spdlog::error("event=offline_check_not_recorded error=\"{}\"", error);
}

}  // namespace lantian::server
