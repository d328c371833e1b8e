#include "evaluation/sharded_evaluator.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <iterator>
#include <limits>

#include "evaluation/clock.hpp"
#include "evaluation/frame_evaluation.hpp"
#include "evaluation/gate_store.hpp"

namespace lantian::evaluation {

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

std::int64_t collection_time_of(const std::string& frame_key) {
  const auto parsed = storage::parse_frame_key(frame_key);
  return parsed ? parsed->collection_unix_s : 0;
}

void log_catalogue(std::string_view event, const Catalogue& c) {
  spdlog::info("event={} vehicles={} zones={} zone_version={} areas={} area_version={}", event,
               c.registry->size(), c.zones->zones().size(), c.zone_version(),
               c.areas->areas().size(), c.areas->version());
}

}  // namespace

ShardedEvaluator::ShardedEvaluator(storage::Store& store, rules::EngineConfig config,
                                   EvaluationMetrics& metrics, ShardedEvaluatorOptions options)
    : store_(store),
      engine_(std::move(config)),
      metrics_(metrics),
      options_(options),
      catalogue_store_(store),
      checkpoints_(store),
      violations_(store),
      catalogue_(catalogue_store_.load()) {
  const auto loaded = catalogue_.snapshot();
  log_catalogue("rules_loaded", *loaded);
  // An archive from before legal holds: hold its violations' frames before retention next runs.
  std::string hold_error;
  if (const auto held = violations_.hold_stored_evidence(hold_error); !held)
    spdlog::error("event=legal_holds_failed error=\"{}\"", hold_error);
  else if (*held)
    spdlog::info("event=legal_holds_written violations={}", *held);
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

ShardedEvaluator::~ShardedEvaluator() {
  stop();
}

ShardedEvaluator::Shard& ShardedEvaluator::shard_of(std::string_view vin) {
  return *shards_[std::hash<std::string_view>{}(vin) % shards_.size()];
}

void ShardedEvaluator::submit(const protocol::Vin& vin, std::vector<StoredFrame> frames) {
  const auto handed_over = frames.size();
  // Logins, time syncs, logouts… carry nothing the rules read: they neither wait nor order.
  std::erase_if(frames, [](const StoredFrame& f) { return !carries_evidence(f.decoded); });
  if (frames.empty()) {
    metrics_.frames_handed_over.inc(handed_over);
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
  metrics_.backlog_frames.add(static_cast<std::int64_t>(n));
  metrics_.frames_handed_over.inc(handed_over);
  shard.wake.notify_one();
}

void ShardedEvaluator::stop() {
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

void ShardedEvaluator::drain() {
  for (auto& shard : shards_) {
    std::unique_lock lock(shard->mutex);
    shard->idle.wait(lock, [&] { return shard->pending.empty() && !shard->busy; });
  }
}

void ShardedEvaluator::refresh_catalogue() {
  std::lock_guard loading(reload_mutex_);
  if (!reload_.exchange(false)) return;  // another shard loaded it meanwhile
  auto loaded = catalogue_store_.load();
  log_catalogue("rules_reloaded", loaded);
  catalogue_.replace(std::move(loaded));
}

void ShardedEvaluator::run(std::size_t index) {
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
    const auto catalogue = catalogue_.snapshot();
    for (auto& [vin, w] : work) {
      try {
        evaluate(shard, *catalogue, vin, w);
      } catch (const std::exception& e) {
        // A rule bug must not stop evaluation of every other vehicle; the frames stay archived
        // and `lantiand replay` shows what was missed.
        spdlog::error("event=rule_evaluation_failed vin={} error=\"{}\"", vin, e.what());
      }
      held_frames_ -= w.frames.size();
      metrics_.backlog_frames.add(-static_cast<std::int64_t>(w.count));
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

void ShardedEvaluator::evaluate(Shard& shard, const Catalogue& catalogue, const std::string& vin,
                                Work& work) {
  ViolationChanges changes{.context = ViolationContext::of(catalogue)};
  const auto it = shard.cursors.find(vin);
  if (it != shard.cursors.end() && work.min_key > it->second.last_key) {
    // In order: continue from the current state, from memory when the frames are held.
    if (work.read_back) {
      fold_archive(catalogue, vin, it->second, 0, false, work.max_key, changes.raised);
    } else {
      fold_memory(catalogue, vin, it->second, work.frames, changes.raised);
    }
    write(changes, vin);
    return;
  }
  // Late data, or the first frame since start: evaluate again from the newest checkpoint at or
  // before the earliest new frame, through everything folded before and handed over now — or, the
  // first time since start, through the whole archive (what an earlier run evaluated included).
  std::optional<std::string> through;
  if (it != shard.cursors.end()) through = std::max(work.max_key, it->second.last_key);
  metrics_.reevaluations.inc();
  Cursor cursor;
  std::int64_t from = std::numeric_limits<std::int64_t>::min();
  if (auto checkpoint = checkpoints_.newest_at_or_before(vin, collection_time_of(work.min_key))) {
    cursor.state = std::move(checkpoint->state);
    from = checkpoint->boundary_unix_s;
  }
  fold_archive(catalogue, vin, cursor, from, true, through, changes.raised);
  changes.reevaluated = ViolationChanges::Reevaluation{vin, from};
  write(changes, vin);
  shard.cursors.insert_or_assign(vin, std::move(cursor));
}

void ShardedEvaluator::checkpoint_before(const std::string& vin, const Cursor& cursor,
                                         std::optional<std::int64_t>& bucket,
                                         std::int64_t collection_unix_s) {
  const auto interval = std::max<std::int64_t>(1, options_.checkpoint_interval.count());
  const auto here = floor_div(collection_unix_s, interval);
  std::string error;
  if ((!bucket || here > *bucket) &&
      !checkpoints_.save(vin, here * interval, cursor.state, options_.retention, error))
    spdlog::error("event=checkpoint_not_stored vin={} error=\"{}\"", vin, error);
  bucket = here;
}

void ShardedEvaluator::fold_archive(const Catalogue& catalogue, const std::string& vin,
                                    Cursor& cursor, std::int64_t from_unix_s, bool rebuilding,
                                    const std::optional<std::string>& through_key,
                                    ViolationSet& raised) {
  const auto interval = std::max<std::int64_t>(1, options_.checkpoint_interval.count());
  const auto* vehicle = catalogue.registry->find(vin);
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
        if (raw_key <= cursor.last_key) return true;              // folded already
        const auto decoded = evidence_of(record);
        metrics_.frames_from_archive.inc();
        // Only frames with evidence move the vehicle on (a time sync is filed under its receive
        // time, which may lie far ahead of the reports it comes with).
        if (!decoded) return true;
        checkpoint_before(vin, cursor, bucket, key.collection_unix_s);
        fold_decoded(engine_, vehicle, *catalogue.zones, key, *decoded, record.received.signature,
                     record.received.rejected, record.received.receive_unix_ms, cursor.state,
                     raised);
        cursor.last_key = std::move(raw_key);
        return true;
      });
}

void ShardedEvaluator::fold_memory(const Catalogue& catalogue, const std::string& vin,
                                   Cursor& cursor, std::vector<StoredFrame>& frames,
                                   ViolationSet& raised) {
  const auto interval = std::max<std::int64_t>(1, options_.checkpoint_interval.count());
  const auto* vehicle = catalogue.registry->find(vin);
  std::sort(frames.begin(), frames.end(),
            [](const StoredFrame& a, const StoredFrame& b) { return a.key < b.key; });
  std::optional<std::int64_t> bucket;
  if (!cursor.last_key.empty()) bucket = floor_div(collection_time_of(cursor.last_key), interval);
  for (auto& frame : frames) {
    const auto key = storage::parse_frame_key(frame.key);
    if (!key) continue;
    checkpoint_before(vin, cursor, bucket, key->collection_unix_s);
    fold_decoded(engine_, vehicle, *catalogue.zones, *key, frame.decoded, frame.signature,
                 frame.rejected, frame.receive_unix_ms, cursor.state, raised);
    cursor.last_key = std::move(frame.key);
  }
}
void ShardedEvaluator::write(const ViolationChanges& changes, std::string_view vin) {
  const auto written = violations_.write(changes);
  if (!written.error.empty()) {
    // Nothing of it is stored; the next re-evaluation of the vehicle (late data, a restart)
    // raises it again, and `lantiand replay` shows what is missing meanwhile.
    spdlog::error("event=violations_not_stored vin={} violations={} error=\"{}\"", vin,
                  changes.raised.size(), written.error);
    return;
  }
  const auto listener = [&] {
    std::lock_guard lock(listener_mutex_);
    return listener_;
  }();
  for (const auto& v : written.added) {
    const auto rule = std::string(v.at("rule").as_string());
    metrics_.violations_raised.inc(rule);
    spdlog::info("event=violation rule={} vin={} id=\"{}\"", rule,
                 std::string(v.at("vin").as_string()), std::string(v.at("id").as_string()));
    if (listener) listener(v);
  }
  metrics_.violations_withdrawn.inc(written.withdrawn.size());
  for (const auto& id : written.withdrawn)
    spdlog::info("event=violation_withdrawn vin={} id=\"{}\"", vin, id);
  metrics_.violations_rereview.inc(written.flagged_for_rereview.size());
  for (const auto& id : written.flagged_for_rereview)
    spdlog::warn("event=violation_rereview vin={} id=\"{}\" reason=\"late data no longer raises "
                 "a reviewed violation\"",
                 vin, id);
}

void ShardedEvaluator::on_violation(std::function<void(const boost::json::object&)> listener) {
  std::lock_guard lock(listener_mutex_);
  listener_ = std::move(listener);
}

void ShardedEvaluator::reload() {
  reload_ = true;
  for (auto& shard : shards_) {
    // Under the shard's mutex, so that a worker about to wait sees the flag or the notification.
    { std::lock_guard lock(shard->mutex); }
    shard->wake.notify_one();
  }
}

void ShardedEvaluator::check_offline(std::int64_t now_unix_s) {
  const auto catalogue = catalogue_.snapshot();
  ViolationChanges changes{.context = ViolationContext::of(*catalogue)};
  for (const auto& [vin, vehicle] : catalogue->registry->records()) {
    const auto v = protocol::make_vin(vin);
    if (options_.owns_vehicle && !options_.owns_vehicle(v)) continue;  // another node's
    const auto latest = store_.latest_state(v);
    const auto key = store_.latest_frame_key(v);
    if (!latest || !key) continue;  // never heard: not a terminal that went silent
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(*latest, ec);
    if (ec || !parsed.is_object() || !parsed.as_object().contains("receive_unix_ms")) continue;
    const auto received_s =
        parsed.as_object().at("receive_unix_ms").to_number<std::int64_t>() / 1000;
    if (auto x = engine_.offline_violation(vehicle, received_s, {frame_ref(*key), -1}, now_unix_s))
      changes.raised.emplace(x->id, std::move(*x));
  }
  // R15: the gate systems of key freight enterprises that went silent, on the same timer.
  if (!options_.owns_vehicle)
    for (auto& x : gate_silence(store_, now_unix_s)) changes.raised.emplace(x.id, std::move(x));
  write(changes, "");
  std::string error;
  if (!checkpoints_.record_offline_check(now_unix_s, error))
    // The next check reads the archive again; replay compares with the time recorded last.
    spdlog::error("event=offline_check_not_recorded error=\"{}\"", error);
}

}  // namespace lantian::evaluation
