#include "storage/store.hpp"

#include <pthread.h>
#include <sys/statvfs.h>

#include <cstdarg>
#include <cstdio>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <boost/json.hpp>
#include <algorithm>
#include <iterator>
#include <set>
#include <sstream>

#include "storage/wal_salvage.hpp"
#include <unordered_map>

#include "protocol/beijing_time.hpp"
#include "protocol/json.hpp"

namespace lantian::storage {
namespace {

constexpr const char* cf_frames = "raw_frames";
constexpr const char* cf_blocks = "block_index";  // legacy idempotency keys: read, never written
constexpr const char* cf_reports = "report_index";
constexpr const char* cf_latest = "latest_state";
constexpr const char* cf_meta = "meta";
// Reserved for the rules and API layers, created now so that the layout is stable.
constexpr const char* reserved_cfs[] = {"violations", "violation_index", "registry",
                                        "zones",      "observations",    "permits",
                                        "audit",      "tokens",          "rule_state",
                                        "terminal_keys", "areas",          "legal_holds",
                                        "enterprises",   "gate_events",     "pollution_alerts",
                                        "forward_log",   "forwarding",      "violation_changes",
                                        "subscribers",   "cluster"};
constexpr const char* next_sequence_key = "next_sequence";
// latest_state: VIN → one record per vehicle, rewritten once per batch that has its frames:
//   0x02 · archive key length (8, big-endian) · archive key of its last frame
//        · state length (8) · its latest-state JSON · its last fix JSON (empty: never had one)
// Archives written before kept three records: VIN → the JSON, VIN · 0x01 "key" → the archive key,
// VIN · 0x01 "fix" → the fix JSON. They are still read (a record that begins with '{' is that
// layout); the first batch of a vehicle replaces them by the single record.
constexpr char latest_layout = '\x02';
constexpr const char* legacy_fix_suffix =
    "\x01"
    "fix";
constexpr const char* legacy_key_suffix =
    "\x01"
    "key";

struct LatestRecord {
  std::string_view frame_key, state_json, fix_json;
};

std::string encode_latest(std::string_view frame_key, std::string_view state_json,
                          std::string_view fix_json) {
  std::string value;
  value.reserve(17 + frame_key.size() + state_json.size() + fix_json.size());
  value += latest_layout;
  append_u64(value, frame_key.size());
  value += frame_key;
  append_u64(value, state_json.size());
  value += state_json;
  value += fix_json;
  return value;
}

// nullopt: not the single-record layout (a legacy JSON value, or damaged).
std::optional<LatestRecord> decode_latest(std::string_view value) {
  if (value.size() < 17 || value[0] != latest_layout) return std::nullopt;
  value.remove_prefix(1);
  const auto key_size = read_u64(value);
  value.remove_prefix(8);
  if (key_size > value.size() - 8) return std::nullopt;
  LatestRecord record;
  record.frame_key = value.substr(0, key_size);
  value.remove_prefix(key_size);
  const auto state_size = read_u64(value);
  value.remove_prefix(8);
  if (state_size > value.size()) return std::nullopt;
  record.state_json = value.substr(0, state_size);
  record.fix_json = value.substr(state_size);
  return record;
}

// latest_state: VIN · 0x02 · Beijing day (8, big-endian) marks a day with a stored frame.
std::string day_key(const std::string& vin_key, std::int64_t day) {
  std::string key = vin_key + '\x02';
  append_time(key, day);
  return key;
}
std::int64_t beijing_day(std::int64_t unix_s) {
  const std::int64_t local = unix_s + protocol::beijing_utc_offset_seconds;
  return local / 86400 - (local % 86400 < 0 ? 1 : 0);
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Drops raw frames and idempotency keys whose receive time is older than the retention — except a
// frame under a legal hold (evidence of a violation), asked of the store once it is open (until
// then, and after close begins, nothing old is dropped).
class RetentionFilter final : public rocksdb::CompactionFilter {
 public:
  RetentionFilter(std::chrono::hours retention, bool frames)
      : retention_(retention), frames_(frames) {}
  void attach(const Store* store) { store_.store(store); }
  bool Filter(int, const rocksdb::Slice& key, const rocksdb::Slice& value, std::string*,
              bool*) const override {
    std::int64_t received_ms = 0;
    if (frames_) {
      auto record = decode_record(
          ByteView(reinterpret_cast<const std::uint8_t*>(value.data()), value.size()));
      if (!record) return false;  // never drop what cannot be read
      received_ms = record->received.receive_unix_ms;
    } else {
      // block_index values are the receive time; report_index values begin with it.
      if (value.size() < 8) return false;
      received_ms = static_cast<std::int64_t>(read_u64(std::string_view(value.data(), 8)));
    }
    const auto cutoff =
        now_unix_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(retention_).count();
    if (received_ms >= cutoff) return false;
    if (!frames_) return true;
    const Store* store = store_.load();
    return store && !store->is_held(std::string_view(key.data(), key.size()));
  }
  const char* Name() const override { return "lantian.retention"; }

 private:
  std::chrono::hours retention_;
  bool frames_;
  std::atomic<const Store*> store_{nullptr};
};

// Hard-links (or copies) the WAL files of `dir` into a new directory beside it, named in `kept`;
// returns the kept files in WAL order.
std::vector<std::filesystem::path> preserve_wals(const std::filesystem::path& dir,
                                                 std::string& kept) {
  namespace fs = std::filesystem;
  std::vector<fs::path> wals;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".log") wals.push_back(entry.path());
  std::sort(wals.begin(), wals.end());  // zero-padded numbers: name order is WAL order
  const fs::path into = fs::absolute(dir).parent_path() /
                        ("wal-preserved-" + std::to_string(now_unix_ms()));
  fs::create_directories(into, ec);
  std::vector<fs::path> out;
  for (const auto& wal : wals) {
    const auto target = into / wal.filename();
    fs::create_hard_link(wal, target, ec);
    if (ec) fs::copy_file(wal, target, ec);
    if (!ec) out.push_back(target);
  }
  kept = into.string();
  return out;
}

// Every WAL file in `dir` has its copy among `preserved` (so the originals may go).
bool preserved_all_wals(const std::filesystem::path& dir,
                        const std::vector<std::filesystem::path>& preserved) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".log" &&
        std::none_of(preserved.begin(), preserved.end(), [&](const std::filesystem::path& p) {
          return p.filename() == entry.path().filename() &&
                 std::filesystem::file_size(p, ec) == entry.file_size();
        }))
      return false;
  return !ec;
}

// RocksDB's info log, handed to StoreOptions::diagnostics (or stderr) instead of its LOG file.
class DiagnosticsLogger final : public rocksdb::Logger {
 public:
  explicit DiagnosticsLogger(std::function<void(int, std::string_view)> sink)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL), sink_(std::move(sink)) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    const int ours = level <= rocksdb::InfoLogLevel::DEBUG_LEVEL  ? 0
                     : level == rocksdb::InfoLogLevel::INFO_LEVEL ? 1
                     : level == rocksdb::InfoLogLevel::WARN_LEVEL ? 2
                                                                  : 3;
    if (!sink_ && ours < 2) return;
    char line[1024];
    const int n = std::vsnprintf(line, sizeof line, format, ap);
    if (n < 0) return;
    const std::string_view text(line, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof line - 1));
    if (sink_)
      sink_(ours, text);
    else
      std::fprintf(stderr, "rocksdb: %.*s\n", static_cast<int>(text.size()), text.data());
  }

 private:
  std::function<void(int, std::string_view)> sink_;
};

rocksdb::ColumnFamilyOptions family_options(const rocksdb::CompactionFilter* filter, bool bloom) {
  rocksdb::ColumnFamilyOptions cf;
  const auto supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType t) {
    return std::find(supported.begin(), supported.end(), t) != supported.end();
  };
  cf.compression =
      has(rocksdb::kLZ4Compression) ? rocksdb::kLZ4Compression : rocksdb::kSnappyCompression;
  if (has(rocksdb::kZSTD)) cf.bottommost_compression = rocksdb::kZSTD;
  cf.compaction_filter = filter;
  if (bloom) {
    // The idempotency lookups are mostly for keys that do not exist yet: a bloom filter answers
    // them without reading data blocks.
    rocksdb::BlockBasedTableOptions table;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    // ... and the memtable, where the recent entries a resend would find live.
    cf.memtable_whole_key_filtering = true;
    cf.memtable_prefix_bloom_size_ratio = 0.05;
  }
  return cf;
}

// Keys that begin with the VIN and, per vehicle, mostly arrive in time order: the memtable keeps a
// hint per VIN and inserts next to that vehicle's previous key instead of searching the skip list
// from its head (the writer's largest cost with many vehicles interleaved).
rocksdb::ColumnFamilyOptions by_vehicle(rocksdb::ColumnFamilyOptions cf) {
  cf.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(vin_size));
  return cf;
}

std::string u64_value(std::uint64_t v) {
  std::string s;
  append_u64(s, v);
  return s;
}

rocksdb::Slice slice(const Bytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace

std::optional<SyncPolicy> parse_sync_policy(std::string_view text) noexcept {
  if (text == "always") return SyncPolicy::always;
  if (text == "interval") return SyncPolicy::interval;
  if (text == "off") return SyncPolicy::off;
  return std::nullopt;
}

std::string_view to_string(SyncPolicy policy) noexcept {
  switch (policy) {
    case SyncPolicy::always:
      return "always";
    case SyncPolicy::interval:
      return "interval";
    case SyncPolicy::off:
      return "off";
  }
  return "always";
}

std::unique_ptr<Store> Store::open(const StoreOptions& options, std::string& error) {
  std::unique_ptr<Store> store(new Store());
  store->options_ = options;
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);

  if (options.retention) {
    // Compaction filters must outlive the database: the store owns both.
    store->frames_filter_ = std::make_unique<RetentionFilter>(*options.retention, true);
    store->blocks_filter_ = std::make_unique<RetentionFilter>(*options.retention, false);
  }

  rocksdb::DBOptions db;
  if (options.env) db.env = options.env.get();
  db.info_log = std::make_shared<DiagnosticsLogger>(options.diagnostics);
  db.create_if_missing = true;
  db.create_missing_column_families = true;
  // After a crash the WAL's last record may be cut short: recover every whole record before it
  // and open (the frames in it were never acknowledged, since their sync had not returned). Damage
  // anywhere else is not a crash's: see below. Stated here because the archive's promise rests on
  // it.
  db.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  db.max_background_jobs = 2;
  // One thread writes the frames: its batches are inserted by that thread, and so can use the
  // per-vehicle insert hints (which concurrent memtable writes ignore).
  db.allow_concurrent_memtable_write = false;
  db.bytes_per_sync = 1 << 20;

  std::vector<rocksdb::ColumnFamilyDescriptor> families{
      {rocksdb::kDefaultColumnFamilyName, family_options(nullptr, false)},
      {cf_frames, by_vehicle(family_options(store->frames_filter_.get(), false))},
      {cf_blocks, family_options(store->blocks_filter_.get(), true)},
      {cf_latest, family_options(nullptr, false)},
      {cf_meta, family_options(nullptr, false)},
      {cf_reports, by_vehicle(family_options(store->blocks_filter_.get(), true))},
  };
  for (const char* name : reserved_cfs) families.push_back({name, family_options(nullptr, false)});
  // Families created by later versions are opened too (RocksDB requires all of them).
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db, options.dir.string(), &existing).ok())
    for (const auto& name : existing)
      if (std::none_of(families.begin(), families.end(), [&](auto& f) { return f.name == name; }))
        families.push_back({name, family_options(nullptr, false)});

  rocksdb::DB* raw = nullptr;
  auto status = rocksdb::DB::Open(db, options.dir.string(), families, &store->handles_, &raw);
  std::vector<std::filesystem::path> preserved;
  if (status.IsCorruption()) {
    // A WAL damaged before its end (a bad disk, a stray write): RocksDB can only open by dropping
    // everything after the damage. Keep the WAL files first, open so, then re-apply every intact
    // batch after the damage from the kept copy (salvage_wals).
    store->recovery_.damaged = true;
    store->recovery_.rocksdb_error = status.ToString();
    preserved = preserve_wals(options.dir, store->recovery_.preserved_dir);
    db.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
    status = rocksdb::DB::Open(db, options.dir.string(), families, &store->handles_, &raw);
    if (status.IsCorruption() && preserved_all_wals(options.dir, preserved)) {
      // A family flushed writes from after the damage to its files already ("SST file is ahead
      // of WALs"): RocksDB refuses to stop at the damage (and its skip-any mode fails on some
      // damage too). Open on the files alone, without the WALs — every copy is kept — and
      // re-apply every intact batch of the copies in order: writes are puts and deletes, so
      // replaying what a family had flushed already leaves it as it was.
      store->recovery_.replayed_from_copies = true;
      store->recovery_.rocksdb_error += "; then " + status.ToString();
      std::error_code removed;
      for (const auto& entry : std::filesystem::directory_iterator(options.dir, removed))
        if (entry.path().extension() == ".log") std::filesystem::remove(entry.path(), removed);
      db.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
      status = rocksdb::DB::Open(db, options.dir.string(), families, &store->handles_, &raw);
    }
  }
  if (!status.ok()) {
    error = "cannot open the database in " + options.dir.string() + ": " + status.ToString();
    return nullptr;
  }
  store->db_.reset(raw);
  store->frames_ = store->handles_[1];
  store->blocks_ = store->handles_[2];
  store->latest_ = store->handles_[3];
  store->meta_ = store->handles_[4];
  store->reports_ = store->handles_[5];
  store->map_families(families);
  // Before anything reads the archive's state (the next sequence, the legacy index).
  if (store->recovery_.damaged) store->salvage_wals(preserved, options.diagnostics);
  {
    // An archive written before report_index keeps its block keys: while any are left, a report
    // not found in report_index is looked up block by block there too.
    std::unique_ptr<rocksdb::Iterator> it(store->db_->NewIterator(rocksdb::ReadOptions(), store->blocks_));
    it->SeekToFirst();
    store->legacy_block_index_ = it->Valid();
  }

  // Each writer keeps the next sequence it may hand out (`next_sequence`, `next_sequence.N`) in its
  // batches; the largest of them is above every sequence ever stored.
  store->for_each_meta(next_sequence_key, [&](const std::string& value) {
    if (value.size() == 8) store->next_sequence_ = std::max(store->next_sequence_.load(), read_u64(value));
  });
  // The change log continues above its last record.
  if (const auto changes = store->families_.find(Family::violation_changes);
      changes != store->families_.end()) {
    std::unique_ptr<rocksdb::Iterator> it(
        store->db_->NewIterator(rocksdb::ReadOptions(), changes->second));
    it->SeekToLast();
    if (it->Valid() && it->key().size() == 8)
      store->change_sequence_ = read_u64(std::string_view(it->key().data(), 8));
  }
  if (store->frames_filter_)
    static_cast<RetentionFilter*>(store->frames_filter_.get())->attach(store.get());
  store->start_writers();
  return store;
}

void Store::for_each_meta(const std::string& prefix,
                          const std::function<void(const std::string&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    fn(it->value().ToString());
}

void Store::start_writers() {
  const std::size_t count = std::max<std::size_t>(1, options_.writers);
  for (std::size_t i = 0; i < count; ++i) lanes_.push_back(std::make_unique<Lane>());
  for (std::size_t i = 0; i < count; ++i)
    lanes_[i]->thread = std::thread([this, i] {
      const auto name = "lt-writer-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      run_lane(i);
    });
}

std::unique_ptr<Store> Store::open_read_only(const std::filesystem::path& dir, std::string& error) {
  std::unique_ptr<Store> store(new Store());
  store->read_only_ = true;
  rocksdb::DBOptions db;
  db.info_log = std::make_shared<DiagnosticsLogger>(nullptr);  // never writes into a running archive
  std::vector<std::string> names;
  auto status = rocksdb::DB::ListColumnFamilies(db, dir.string(), &names);
  if (!status.ok()) {
    error = "no database in " + dir.string() + ": " + status.ToString();
    return nullptr;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& n : names) families.push_back({n, rocksdb::ColumnFamilyOptions()});
  rocksdb::DB* raw = nullptr;
  status = rocksdb::DB::OpenForReadOnly(db, dir.string(), families, &store->handles_, &raw);
  if (!status.ok()) {
    error = "cannot open the database in " + dir.string() + ": " + status.ToString();
    return nullptr;
  }
  store->db_.reset(raw);
  store->map_families(families);
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == cf_frames) store->frames_ = store->handles_[i];
    if (names[i] == cf_blocks) store->blocks_ = store->handles_[i];
    if (names[i] == cf_reports) store->reports_ = store->handles_[i];
    if (names[i] == cf_latest) store->latest_ = store->handles_[i];
    if (names[i] == cf_meta) store->meta_ = store->handles_[i];
  }
  if (!store->frames_ || !store->latest_) {
    error = dir.string() + " is not a Lantian database";
    return nullptr;
  }
  return store;
}

Store::~Store() {
  close();
}

// The results of one submission, completed when its last frame's fate is known.
struct Store::Submission {
  std::vector<WriteResult> results;
  std::atomic<std::size_t> left{0};
  BatchCompletion done;
};

bool Store::try_submit(FrameWrite&& write, WriteCompletion done) {
  std::vector<FrameWrite> writes;
  writes.push_back(std::move(write));
  BatchCompletion batch = [done = std::move(done)](std::vector<WriteResult>& results) {
    done(results[0].outcome, results[0].frame_key);
  };
  if (submit_or_notify(writes, batch, nullptr) == Submitted::queued) return true;
  write = std::move(writes[0]);  // not taken
  return false;
}

Store::Submitted Store::submit_or_notify(std::vector<FrameWrite>& writes, BatchCompletion& done,
                                         std::function<void()> on_room) {
  if (writes.empty()) return Submitted::queued;
  std::shared_lock gate(submit_gate_);
  if (closing_ || read_only_) return Submitted::closed;
  {
    std::lock_guard lock(room_mutex_);
    if (queued_ > 0 && queued_ + writes.size() > options_.queue_capacity) {
      if (on_room) room_waiters_.push_back(std::move(on_room));
      return Submitted::full;
    }
    queued_ += writes.size();
  }
  auto submission = std::make_shared<Submission>();
  submission->results.resize(writes.size());
  submission->left = writes.size();
  submission->done = std::move(done);
  // One vehicle's frames always go to the same writer, in order.
  const auto lane_of = [&](const FrameWrite& w) {
    return std::hash<std::string_view>{}(protocol::as_text(w.vin)) % lanes_.size();
  };
  std::size_t first = 0;
  while (first < writes.size()) {
    const auto lane = lane_of(writes[first]);
    std::size_t end = first + 1;
    while (end < writes.size() && lane_of(writes[end]) == lane) ++end;
    {
      std::lock_guard lock(lanes_[lane]->mutex);
      for (std::size_t i = first; i < end; ++i)
        lanes_[lane]->queue.push_back({std::move(writes[i]), submission, i, {}, false});
    }
    lanes_[lane]->wake.notify_one();
    first = end;
  }
  writes.clear();
  return Submitted::queued;
}

rocksdb::Status Store::commit(rocksdb::WriteBatch& batch) {
  // The lanes write one at a time (RocksDB sees one frame writer, whose memtable inserts use the
  // per-VIN hints), without sync; then one WAL sync makes every batch written before it durable.
  // A lane whose batch a sync that began after it covered does not sync again: under load one
  // fsync answers the batches of every lane (group commit).
  std::uint64_t mine = 0;
  {
    std::lock_guard lock(commit_mutex_);
    if (auto status = db_->Write(rocksdb::WriteOptions(), &batch); !status.ok()) {
      wal_unusable_ = true;
      return status;
    }
    mine = ++batches_written_;
  }
  if (options_.sync != SyncPolicy::always) return rocksdb::Status::OK();
  std::lock_guard lock(sync_mutex_);
  if (batches_synced_ >= mine) return rocksdb::Status::OK();
  if (wal_unusable_) return rocksdb::Status::IOError("the WAL is unusable since a failed write");
  const std::uint64_t target = batches_written_.load();
  const auto start = std::chrono::steady_clock::now();
  auto status = db_->SyncWAL();
  if (!status.ok()) wal_unusable_ = true;
  {
    std::lock_guard latencies(mutex_);
    sync_latencies_.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start));
  }
  if (status.ok()) batches_synced_ = target;
  return status;
}

void Store::complete(Pending& p, WriteOutcome outcome, const std::string& key) {
  auto& s = *p.submission;
  s.results[p.index] = {outcome, key};
  if (s.left.fetch_sub(1) == 1) s.done(s.results);
  p.submission.reset();
}

void Store::taken(std::size_t frames) {
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard lock(room_mutex_);
    queued_ -= frames;
    if (queued_ < options_.queue_capacity || closing_) waiters.swap(room_waiters_);
  }
  for (auto& waiter : waiters) waiter();
}

void Store::on_availability_change(std::function<void(bool)> listener) {
  std::lock_guard lock(availability_mutex_);
  availability_listener_ = std::move(listener);
}

void Store::tell_availability(bool available) {
  // Held during the call, so that a replaced listener is never called afterwards.
  std::lock_guard lock(availability_mutex_);
  if (availability_listener_) availability_listener_(available);
}

bool Store::checkpoint(const std::filesystem::path& dir, std::string& error) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    error = "the backup directory " + dir.string() + " exists already (a backup goes into a new one)";
    return false;
  }
  if (!db_) {
    error = "the archive is closed";
    return false;
  }
  rocksdb::Checkpoint* raw = nullptr;
  auto status = rocksdb::Checkpoint::Create(db_.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: the memtables are flushed first, so the copy needs no WAL replay to
  // hold the newest writes (RocksDB copies the live WAL as well, synced).
  if (status.ok()) status = checkpoint->CreateCheckpoint(dir.string(), /*log_size_for_flush=*/0);
  if (!status.ok()) {
    error = "checkpoint into " + dir.string() + " failed: " + status.ToString();
    std::filesystem::remove_all(dir, ec);
    return false;
  }
  return true;
}

void Store::close() {
  if (closed_.exchange(true) || !db_) return;
  {
    std::unique_lock gate(submit_gate_);
    closing_ = true;
  }
  for (auto& lane : lanes_) {
    { std::lock_guard lock(lane->mutex); }  // a writer about to wait sees closing_ or the wake-up
    lane->wake.notify_one();
  }
  for (auto& lane : lanes_)
    if (lane->thread.joinable()) lane->thread.join();
  taken(0);  // submitters still waiting for room find the store closed
  // After a failed write RocksDB's WAL writer is unusable (syncing it aborts in builds with
  // assertions): what was stored is already durable, so close without touching it.
  if (!read_only_ && available_) {
    db_->SyncWAL();
    rocksdb::FlushOptions flush;
    db_->Flush(flush, handles_);
  }
  // Compactions (whose retention filter reads the legal holds) end before the handles go.
  if (frames_filter_) static_cast<RetentionFilter*>(frames_filter_.get())->attach(nullptr);
  rocksdb::CancelAllBackgroundWork(db_.get(), /*wait=*/true);
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  db_->Close();
  std::lock_guard lock(mutex_);
  db_.reset();
}

void Store::run_lane(std::size_t index) {
  Lane& lane = *lanes_[index];
  // The first writer also tries to recover the archive after a fault.
  const bool recovers = index == 0;
  // Completions of batches written without sync, waiting for the next WAL sync (interval policy).
  std::vector<Pending> unsynced;
  auto last_sync = std::chrono::steady_clock::now();
  auto sync_unsynced = [&] {
    const auto start = std::chrono::steady_clock::now();
    bool ok = false;
    {
      std::lock_guard lock(sync_mutex_);
      // After another lane's failed sync the WAL writer must not be synced again.
      ok = !wal_unusable_ && db_->SyncWAL().ok();
      if (!ok) wal_unusable_ = true;
    }
    last_sync = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mutex_);
      sync_latencies_.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(last_sync - start));
    }
    if (!ok) mark_fault("WAL sync failed");
    for (auto& p : unsynced) {
      if (!ok) ++write_failures_;
      const std::string key = p.key;
      complete(p, !ok ? WriteOutcome::failed
                      : p.duplicate ? WriteOutcome::duplicate : WriteOutcome::stored,
               ok && !p.duplicate ? key : std::string());
    }
    unsynced.clear();
  };
  auto last_recovery = std::chrono::steady_clock::now();

  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock lock(lane.mutex);
      const auto ready = [&] { return closing_.load() || !lane.queue.empty(); };
      // The first writer also wakes when the archive becomes unavailable, to start recovering.
      const auto ready_or_fault = [&] { return ready() || (recovers && !available_); };
      if (!available_ && recovers)
        lane.wake.wait_until(lock, last_recovery + options_.recovery_interval, ready);
      else if (unsynced.empty())
        lane.wake.wait(lock, ready_or_fault);
      else
        lane.wake.wait_until(lock, last_sync + options_.sync_interval, ready_or_fault);
      const std::size_t n = std::min(lane.queue.size(), options_.max_batch);
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(lane.queue.front()));
        lane.queue.pop_front();
      }
      if (batch.empty() && closing_) break;
    }
    if (!batch.empty()) taken(batch.size());
    if (available_ && !batch.empty() && !options_.discard_frames) check_free_space();
    if (recovers && !available_ &&
        std::chrono::steady_clock::now() - last_recovery >= options_.recovery_interval) {
      last_recovery = std::chrono::steady_clock::now();
      if (try_recover()) tell_availability(true);
    }
    if (!available_) {
      // Failing at once: the callers stop acknowledging and close, rather than wait on a disk
      // that cannot take the data.
      write_failures_ += batch.size();
      for (auto& p : batch) complete(p, WriteOutcome::failed, {});
      batch.clear();
    }
    if (!batch.empty()) write_batch(index, batch);
    for (auto& p : batch) unsynced.push_back(std::move(p));
    if (!unsynced.empty() &&
        (options_.sync != SyncPolicy::interval ||
         std::chrono::steady_clock::now() - last_sync >= options_.sync_interval)) {
      if (options_.sync == SyncPolicy::interval) {
        sync_unsynced();
      } else {
        for (auto& p : unsynced) {
          const std::string key = p.key;
          complete(p, p.duplicate ? WriteOutcome::duplicate : WriteOutcome::stored,
                   p.duplicate ? std::string() : key);
        }
        unsynced.clear();
      }
    }
    // Everything this lane wrote is durable (or failed): the forward log may be read past it.
    if (unsynced.empty() && options_.forward_log) {
      std::lock_guard lock(sequence_mutex_);
      lane.in_flight_from = std::numeric_limits<std::uint64_t>::max();
    }
  }
  if (!unsynced.empty()) sync_unsynced();
}

std::uint64_t Store::stable_sequence() const {
  std::lock_guard lock(sequence_mutex_);
  std::uint64_t stable = next_sequence_.load();
  for (const auto& lane : lanes_) stable = std::min(stable, lane->in_flight_from);
  return stable;
}

// Writes one batch of one lane. On return every entry of `batch` whose outcome is already known
// (duplicate, failed) has been completed and removed; the rest are written (durable if the
// policy is always).
void Store::write_batch(std::size_t lane, std::vector<Pending>& batch) {
  if (options_.discard_frames) {
    for (auto& p : batch) p.key = frame_key(p.write.vin, p.write.collection_unix_s, next_sequence_++);
    frames_stored_ += batch.size();
    ++batches_;
    return;
  }
  rocksdb::ColumnFamilyHandle* forward_log = nullptr;
  if (options_.forward_log) {
    forward_log = families_.at(Family::forward_log);
    // Every sequence this batch hands out is at or above this: a reader of the forward log stops
    // below it until the batch is durable or failed (stable_sequence()).
    std::lock_guard lock(sequence_mutex_);
    auto& from = lanes_[lane]->in_flight_from;
    from = std::min(from, next_sequence_.load());
  }
  rocksdb::WriteBatch wb;
  // Idempotency entries touched by this batch (key → receive time, blocks), written once at the end.
  struct Entry {
    std::int64_t receive_unix_ms = 0;
    std::vector<BlockId> blocks;
    bool changed = false;
  };
  std::unordered_map<std::string, Entry> entries;
  // The vehicles' newest state, written once per vehicle per batch (arrival order decides).
  struct Latest {
    std::size_t frame = 0;           // index in `written` of the newest with a latest state
    std::optional<std::size_t> fix;  // ... and of the newest with a position
  };
  std::unordered_map<std::string, Latest> latest;
  std::set<std::pair<std::string, std::int64_t>> days;  // (VIN key, Beijing day) with a frame
  std::vector<Pending> written, in_batch_duplicates;
  written.reserve(batch.size());
  rocksdb::ReadOptions read;
  std::string value;
  std::uint64_t last_sequence = 0;
  for (auto& p : batch) {
    FrameWrite& w = p.write;
    if (w.identity) {
      const auto key = report_key(w.vin, w.identity->report_unix_s);
      auto [it, fresh_in_batch] = entries.try_emplace(key);
      Entry& entry = it->second;
      if (fresh_in_batch &&
          (!db_->Get(read, reports_, key, &value).ok() ||
           !decode_report_entry(value, entry.receive_unix_ms, entry.blocks)))
        entry = Entry{w.record.received.receive_unix_ms, {}, false};
      std::vector<BlockId> merged;
      merged.reserve(entry.blocks.size() + w.identity->blocks.size());
      std::set_union(entry.blocks.begin(), entry.blocks.end(), w.identity->blocks.begin(),
                     w.identity->blocks.end(), std::back_inserter(merged));
      bool duplicate = merged.size() == entry.blocks.size();
      if (!duplicate && legacy_block_index_) {
        // Every block this entry lacks may still be in the older per-block index.
        duplicate = std::all_of(w.identity->blocks.begin(), w.identity->blocks.end(),
                                [&](const BlockId& b) {
                                  return std::binary_search(entry.blocks.begin(),
                                                            entry.blocks.end(), b) ||
                                         db_->Get(read, blocks_,
                                                  block_key(w.vin, b.type, b.collection_unix_s),
                                                  &value)
                                             .ok();
                                });
      }
      if (duplicate) {
        ++duplicates_;
        // A copy of a report earlier in this batch is answered only once that one is durable.
        if (entry.changed)
          in_batch_duplicates.push_back(std::move(p));
        else
          complete(p, WriteOutcome::duplicate, {});
        continue;
      }
      entry.blocks = std::move(merged);
      entry.changed = true;
    }
    const Bytes record = encode_record(w.record);
    // A frame from the replicated log keeps the log's sequence: applied again, it lands on the
    // same key (FrameWrite::log_sequence).
    const std::uint64_t sequence = w.log_sequence ? *w.log_sequence : next_sequence_++;
    last_sequence = std::max(last_sequence, sequence);
    p.key = frame_key(w.vin, w.collection_unix_s, sequence);
    wb.Put(frames_, p.key, slice(record));
    // Every accepted report goes upward (a rejected one has no latest state: evidence only).
    if (forward_log && w.latest &&
        (w.latest->kind == protocol::CommandKind::realtime ||
         w.latest->kind == protocol::CommandKind::resend))
      wb.Put(forward_log, u64_value(sequence), p.key);
    // A rejected frame (no latest state) is evidence only: it does not make the vehicle's last
    // frame, position or online day.
    if (w.latest) {
      const std::string vin = vin_prefix(w.vin);
      auto& l = latest[vin];
      l.frame = written.size();
      if (w.fix) l.fix = written.size();
      days.emplace(vin, beijing_day(w.collection_unix_s));
    }
    written.push_back(std::move(p));
  }
  for (const auto& [key, entry] : entries)
    if (entry.changed) wb.Put(reports_, key, encode_report_entry(entry.receive_unix_ms, entry.blocks));
  for (const auto& [vin, l] : latest) {
    const auto& newest = written[l.frame];
    // Without a fix in this batch the vehicle keeps the one it had.
    const std::string fix = l.fix ? last_fix_json(written[*l.fix].write) : stored_fix(vin);
    wb.Put(latest_, vin, encode_latest(newest.key, latest_state_json(newest.write), fix));
  }
  // A day marker is written once per vehicle and day (the lane remembers the last one it wrote;
  // after a restart it is written again, which changes nothing).
  auto& marked = lanes_[lane]->marked_day;
  for (const auto& [vin, day] : days) {
    auto [it, fresh] = marked.try_emplace(vin, day);
    if (!fresh && it->second == day) continue;
    it->second = day;
    wb.Put(latest_, day_key(vin, day), std::string_view());
  }
  batch.clear();
  if (written.empty()) return;
  // This writer's own high-water mark: above every sequence it stored (see Store::open).
  std::string sequence_key = next_sequence_key;
  if (lane > 0) sequence_key += "." + std::to_string(lane);
  wb.Put(meta_, sequence_key, u64_value(last_sequence + 1));

  const auto status = commit(wb);
  ++batches_;
  if (!status.ok()) {
    mark_fault(status.ToString());
    write_failures_ += written.size() + in_batch_duplicates.size();
    for (auto& p : written) complete(p, WriteOutcome::failed, {});
    for (auto& p : in_batch_duplicates) complete(p, WriteOutcome::failed, {});
    return;
  }
  frames_stored_ += written.size();
  if (options_.sync != SyncPolicy::interval)
    for (auto& p : in_batch_duplicates) complete(p, WriteOutcome::duplicate, {});
  else
    // Under the interval policy the copy waits for the sync with the report it repeats.
    for (auto& p : in_batch_duplicates) {
      p.duplicate = true;
      written.push_back(std::move(p));
    }
  batch = std::move(written);
}

void Store::mark_fault(const std::string& status) {
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    changed = available_.exchange(false);
    if (changed) ++faults_;
    fault_ = status;
  }
  if (!changed) return;
  tell_availability(false);
  // The first writer tries to recover: wake it, whatever it was waiting for.
  if (!lanes_.empty()) {
    { std::lock_guard lock(lanes_[0]->mutex); }
    lanes_[0]->wake.notify_one();
  }
}

std::uint64_t Store::free_bytes() const {
  if (options_.free_bytes) return options_.free_bytes();
  struct statvfs fs {};
  if (::statvfs(options_.dir.c_str(), &fs) != 0) return std::numeric_limits<std::uint64_t>::max();
  return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
}

void Store::check_free_space() {
  if (options_.min_free_bytes == 0) return;
  const auto free = free_bytes();
  if (free >= options_.min_free_bytes) return;
  space_fault_ = true;
  mark_fault("disk full: " + std::to_string(free >> 20) + " MiB free in " + options_.dir.string() +
             ", below the reserve of " + std::to_string(options_.min_free_bytes >> 20) + " MiB");
}

bool Store::try_recover() {
  if (space_fault_) {
    // Nothing failed inside RocksDB: writing resumes once there is room again.
    if (free_bytes() < options_.min_free_bytes) return false;
    space_fault_ = false;
    std::lock_guard lock(mutex_);
    fault_.clear();
    available_ = true;
    return true;
  }
  // A resume attempt while the disk still fails turns RocksDB's error into one it never resumes
  // from: first show, through the same file system, that a file can be written and synced.
  if (const auto probed = probe_disk(); !probed.ok()) {
    std::lock_guard lock(mutex_);
    fault_ = "disk probe: " + probed.ToString();
    return false;
  }
  // A failed WAL write leaves RocksDB in a background-error state that refuses every write until
  // DB::Resume() succeeds, and the WAL file it failed on unusable: a flush of every family moves
  // the data to tables and the writes to a new WAL. A synced probe then shows the disk takes
  // writes again.
  if (const auto resumed = db_->Resume(); !resumed.ok()) {
    std::lock_guard lock(mutex_);
    fault_ = "resume: " + resumed.ToString();
    return false;
  }
  rocksdb::FlushOptions flush;
  flush.allow_write_stall = true;
  if (const auto flushed = db_->Flush(flush, handles_); !flushed.ok()) {
    std::lock_guard lock(mutex_);
    fault_ = "flush: " + flushed.ToString();
    return false;
  }
  wal_unusable_ = false;  // resumed: writes go to a new WAL
  rocksdb::WriteOptions probe;
  probe.sync = options_.sync != SyncPolicy::off;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  if (const auto status = db_->Put(probe, meta_, "probe_unix_ms", u64_value(static_cast<std::uint64_t>(now)));
      !status.ok()) {
    std::lock_guard lock(mutex_);
    fault_ = "probe: " + status.ToString();
    return false;
  }
  std::lock_guard lock(mutex_);
  fault_.clear();
  available_ = true;
  return true;
}

rocksdb::IOStatus Store::probe_disk() const {
  auto* env = options_.env ? options_.env.get() : rocksdb::Env::Default();
  const auto fs = env->GetFileSystem();
  const std::string path = (options_.dir / "write-probe").string();
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOOptions io;
  auto status = fs->NewWritableFile(path, rocksdb::FileOptions(), &file, nullptr);
  if (status.ok()) status = file->Append(rocksdb::Slice(std::string(4096, '\0')), io, nullptr);
  if (status.ok()) status = file->Sync(io, nullptr);
  if (file) {
    const auto closed = file->Close(io, nullptr);
    if (status.ok()) status = closed;
  }
  fs->DeleteFile(path, io, nullptr).PermitUncheckedError();
  return status;
}

std::string Store::fault() const {
  std::lock_guard lock(mutex_);
  return fault_;
}

void Store::for_each_frame(
    const std::optional<protocol::Vin>& vin, std::int64_t from_unix_s, std::int64_t to_unix_s,
    const std::function<bool(const FrameKey&, const FrameRecord&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), frames_));
  const std::string prefix = vin ? vin_prefix(*vin) : std::string();
  if (vin)
    it->Seek(frame_key(*vin, from_unix_s, 0));
  else
    it->SeekToFirst();
  for (; it->Valid(); it->Next()) {
    const auto key = it->key();
    if (vin && !key.starts_with(prefix)) break;
    const auto parsed = parse_frame_key(std::string_view(key.data(), key.size()));
    if (!parsed) continue;
    if (parsed->collection_unix_s < from_unix_s) continue;
    if (parsed->collection_unix_s > to_unix_s) {
      if (vin) break;
      continue;
    }
    const auto value = it->value();
    auto record =
        decode_record(ByteView(reinterpret_cast<const std::uint8_t*>(value.data()), value.size()));
    if (!record) continue;
    if (!fn(*parsed, *record)) break;
  }
}

std::optional<std::string> Store::latest_state(const protocol::Vin& vin) const {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), latest_, vin_prefix(vin), &value).ok()) return std::nullopt;
  if (const auto record = decode_latest(value)) return std::string(record->state_json);
  return value;  // the legacy layout: the JSON itself
}

std::optional<std::string> Store::last_fix(const protocol::Vin& vin) const {
  auto fix = stored_fix(vin_prefix(vin));
  if (fix.empty()) return std::nullopt;
  return fix;
}

std::string Store::stored_fix(const std::string& vin_key) const {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), latest_, vin_key, &value).ok()) return {};
  if (const auto record = decode_latest(value)) return std::string(record->fix_json);
  if (!db_->Get(rocksdb::ReadOptions(), latest_, vin_key + legacy_fix_suffix, &value).ok())
    return {};
  return value;
}

std::int64_t Store::online_days(const protocol::Vin& vin, std::int64_t first_day,
                                std::int64_t last_day) const {
  const std::string vin_key = vin_prefix(vin);
  const std::string end = day_key(vin_key, last_day);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), latest_));
  std::int64_t days = 0;
  for (it->Seek(day_key(vin_key, first_day)); it->Valid() && it->key().ToString() <= end;
       it->Next())
    ++days;
  return days;
}

std::optional<std::string> Store::latest_frame_key(const protocol::Vin& vin) const {
  const std::string vin_key = vin_prefix(vin);
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), latest_, vin_key, &value).ok()) return std::nullopt;
  if (const auto record = decode_latest(value)) return std::string(record->frame_key);
  if (db_->Get(rocksdb::ReadOptions(), latest_, vin_key + legacy_key_suffix, &value).ok())
    return value;
  return std::nullopt;
}

void Store::map_families(const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors) {
  static const std::pair<Family, const char*> names[] = {
      {Family::violations, "violations"},
      {Family::registry, "registry"},
      {Family::zones, "zones"},
      {Family::observations, "observations"},
      {Family::permits, "permits"},
      {Family::audit, "audit"},
      {Family::tokens, "tokens"},
      {Family::rule_state, "rule_state"},
      {Family::violation_index, "violation_index"},
      {Family::terminal_keys, "terminal_keys"},
      {Family::areas, "areas"},
      {Family::legal_holds, "legal_holds"},
      {Family::enterprises, "enterprises"},
      {Family::gate_events, "gate_events"},
      {Family::pollution_alerts, "pollution_alerts"},
      {Family::forward_log, "forward_log"},
      {Family::forwarding, "forwarding"},
      {Family::violation_changes, "violation_changes"},
      {Family::subscribers, "subscribers"},
      {Family::cluster, "cluster"}};
  for (std::size_t i = 0; i < descriptors.size(); ++i)
    for (const auto& [family, name] : names)
      if (descriptors[i].name == name) families_[family] = handles_[i];
}

bool Store::put(Family family, const std::string& key, const std::string& value,
                std::string& error) {
  const auto it = families_.find(family);
  if (it == families_.end() || read_only_) {
    error = "the database is read-only or lacks this family";
    return false;
  }
  rocksdb::WriteOptions options;
  options.sync = options_.sync != SyncPolicy::off;
  const auto status = db_->Put(options, it->second, key, value);
  if (!status.ok()) error = status.ToString();
  return status.ok();
}

bool Store::apply(const std::vector<RecordEdit>& edits, Durability durability, std::string& error) {
  if (read_only_) {
    error = "the database is read-only";
    return false;
  }
  rocksdb::WriteBatch batch;
  for (const auto& edit : edits) {
    const auto it = families_.find(edit.family);
    if (it == families_.end()) {
      error = "the database lacks a family";
      return false;
    }
    const auto status = edit.value ? batch.Put(it->second, edit.key, *edit.value)
                                   : batch.Delete(it->second, edit.key);
    if (!status.ok()) {
      error = status.ToString();
      return false;
    }
  }
  rocksdb::WriteOptions options;
  options.sync = durability == Durability::synced && options_.sync != SyncPolicy::off;
  const auto status = db_->Write(options, &batch);
  if (!status.ok()) {
    wal_unusable_ = true;  // the record writes share the frames' WAL
    error = status.ToString();
  }
  return status.ok();
}

bool Store::delete_range(Family family, const std::string& begin, const std::string& end,
                         std::string& error) {
  if (read_only_) {
    error = "the database is read-only";
    return false;
  }
  const auto it = families_.find(family);
  if (it == families_.end()) {
    error = "the database lacks a family";
    return false;
  }
  rocksdb::WriteOptions options;
  options.sync = options_.sync != SyncPolicy::off;
  const auto status = db_->DeleteRange(options, it->second, begin, end);
  if (!status.ok()) error = status.ToString();
  return status.ok();
}

bool Store::apply_locked(const Build& build, std::string& error) {
  std::lock_guard lock(family_write_mutex_);
  std::vector<RecordEdit> edits;
  build(edits);
  return edits.empty() || apply(edits, Durability::synced, error);
}

bool Store::update(Family family, const std::string& key, const Change& change,
                   std::string& error) {
  return apply_locked(
      [&](std::vector<RecordEdit>& edits) {
        if (auto value = change(get(family, key), edits))
          edits.insert(edits.begin(), RecordEdit{family, key, std::move(*value)});
      },
      error);
}

bool Store::insert_if_absent(Family family, const std::string& key, const std::string& value,
                             std::string& error) {
  std::lock_guard lock(family_write_mutex_);
  if (get(family, key)) return false;
  return put(family, key, value, error);
}

std::optional<std::string> Store::get(Family family, const std::string& key) const {
  const auto it = families_.find(family);
  std::string value;
  if (it != families_.end() && db_->Get(rocksdb::ReadOptions(), it->second, key, &value).ok())
    return value;
  return std::nullopt;
}

void Store::for_each(Family family, const std::string& prefix,
                     const std::function<bool(const std::string&, const std::string&)>& fn,
                     const std::string& start) const {
  const auto it = families_.find(family);
  if (it == families_.end()) return;
  std::unique_ptr<rocksdb::Iterator> iter(db_->NewIterator(rocksdb::ReadOptions(), it->second));
  for (iter->Seek(std::max(prefix, start)); iter->Valid() && iter->key().starts_with(prefix);
       iter->Next())
    if (!fn(iter->key().ToString(), iter->value().ToString())) break;
}

void Store::salvage_wals(const std::vector<std::filesystem::path>& wals,
                         const std::function<void(int, std::string_view)>& diagnostics) {
  const auto recovered = db_->GetLatestSequenceNumber();
  std::uint64_t next = recovered + 1;  // the first sequence number not recovered
  std::optional<std::uint64_t> first_salvaged;
  // Written unsynced, then one sync at the end: a WAL of 100 MB holds ~10^5 batches.
  const rocksdb::WriteOptions unsynced;
  std::optional<std::uint64_t> expected;  // the sequence after the last intact batch
  std::uint64_t missing = 0;  // sequence numbers no intact batch carries: in the damaged bytes
  for (const auto& wal : wals) {
    auto scan = scan_wal(wal);
    recovery_.damaged_bytes += scan.damaged_bytes;
    for (const auto& range : scan.damaged)
      recovery_.damaged_ranges.push_back(wal.filename().string() + "@" + range);
    for (auto& batch : scan.batches) {
      if (expected && batch.sequence > *expected) missing += batch.sequence - *expected;
      expected = std::max(expected.value_or(0),
                          batch.sequence + std::max<std::uint32_t>(batch.count, 1));
      // Recovered already (or an older copy), unless the store opened without its WALs.
      if (!recovery_.replayed_from_copies && batch.sequence < next) continue;
      rocksdb::WriteBatch b(std::move(batch.rep));
      if (!db_->Write(unsynced, &b).ok()) {
        ++recovery_.batches_failed;
        continue;
      }
      if (!first_salvaged) first_salvaged = batch.sequence;
      ++recovery_.batches_salvaged;
      next = batch.sequence + std::max<std::uint32_t>(batch.count, 1);
    }
  }
  // Writes (one sequence number each) between what RocksDB recovered and the first intact batch
  // after the damage: lost with the damaged bytes. Unknown (0) when nothing followed the damage.
  if (recovery_.batches_salvaged > 0 && !db_->FlushWAL(true).ok()) ++recovery_.batches_failed;
  recovery_.writes_lost = recovery_.replayed_from_copies ? missing
                          : first_salvaged                ? *first_salvaged - (recovered + 1)
                                                          : 0;
  std::ostringstream line;
  line << "event=wal_corruption preserved=" << recovery_.preserved_dir
       << " damaged_bytes=" << recovery_.damaged_bytes << " damaged=";
  for (std::size_t i = 0; i < recovery_.damaged_ranges.size(); ++i)
    line << (i ? "," : "") << recovery_.damaged_ranges[i];
  line << " recovered_to_sequence=" << recovered << " batches_salvaged="
       << recovery_.batches_salvaged << " batches_failed=" << recovery_.batches_failed
       << " writes_lost=" << recovery_.writes_lost
       << (recovery_.replayed_from_copies ? " replayed=all_intact_batches_from_copies" : "")
       << (first_salvaged ? "" : " note=\"nothing intact followed the damage\"");
  if (diagnostics)
    diagnostics(3, line.str());
  else
    std::fprintf(stderr, "%s\n", line.str().c_str());
}

bool Store::is_held(std::string_view frame_key) const {
  const auto family = families_.find(Family::legal_holds);
  if (family == families_.end()) return true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family->second));
  const rocksdb::Slice prefix(frame_key.data(), frame_key.size());
  it->Seek(prefix);
  if (!it->status().ok()) return true;
  return it->Valid() && it->key().starts_with(prefix);
}

std::optional<FrameRecord> Store::frame(const std::string& frame_key) const {
  bool read_failed = false;
  return frame(frame_key, read_failed);
}

std::optional<std::string> Store::last_key(Family family) const {
  const auto it = families_.find(family);
  if (it == families_.end()) return std::nullopt;
  std::unique_ptr<rocksdb::Iterator> iter(db_->NewIterator(rocksdb::ReadOptions(), it->second));
  iter->SeekToLast();
  if (!iter->Valid()) return std::nullopt;
  return iter->key().ToString();
}

std::optional<FrameRecord> Store::frame(const std::string& frame_key, bool& read_failed) const {
  std::string value;
  const auto status = db_->Get(rocksdb::ReadOptions(), frames_, frame_key, &value);
  read_failed = !status.ok() && !status.IsNotFound();
  if (!status.ok()) return std::nullopt;
  auto record =
      decode_record(ByteView(reinterpret_cast<const std::uint8_t*>(value.data()), value.size()));
  if (!record) return std::nullopt;
  return *record;
}

void Store::compact() {
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  db_->CompactRange(options, frames_, nullptr, nullptr);
  db_->CompactRange(options, blocks_, nullptr, nullptr);
  db_->CompactRange(options, reports_, nullptr, nullptr);
}

StoreStats Store::stats() const {
  StoreStats s{frames_stored_.load(), duplicates_.load(), batches_.load(), write_failures_.load(),
               faults_.load(), 0};
  std::lock_guard lock(room_mutex_);
  s.queue_depth = queued_;
  return s;
}

std::vector<std::chrono::microseconds> Store::take_sync_latencies() {
  std::lock_guard lock(mutex_);
  return std::exchange(sync_latencies_, {});
}

}  // namespace lantian::storage
