#pragma once
// The embedded archive (RocksDB). Column families (docs/storage.md):
//   raw_frames    frame_key → FrameRecord      the lossless archive and the evidence
//   report_index  VIN · report time → blocks   idempotency: one entry per report time
//   block_index   block_key → receive time     the per-block keys of older archives (read only)
//   latest_state  VIN → last frame, last fix    each vehicle's latest state, one record; day markers
//   meta          name → value                 the arrival sequence
//   violations, registry, zones, areas, observations, permits   the rules' records (docs/rules.md)
//   enterprises                                      key freight enterprises (docs/enterprises.md)
//   violation_index                             listings of violations, newest first
//   rule_state                                  the rule worker's checkpoints, violations by raise
//   terminal_keys VIN → JSON                    SM2 keys terminals registered by activation
//   legal_holds   frame_key · holder → empty    frames evidence refers to: retention keeps them
//   time audit, tokens                               reserved for the API
//
// Writes: any thread calls submit_or_notify() (or try_submit()); each writer thread (one per lane,
// vehicles assigned by VIN hash) batches its pending writes into one RocksDB WriteBatch and makes
// it durable according to the sync policy — one WAL sync covers the batches of every lane (group
// commit) — then calls the completions: only then may the caller acknowledge the frames. The queue is bounded: a full queue refuses the submission and tells the
// caller when there is room (back-pressure).
//
// Thread-safety: try_submit(), reads and stats may be called from any thread; close() once.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "protocol/errors.hpp"
#include "protocol/message.hpp"
#include "storage/frame_record.hpp"
#include "storage/frame_submitter.hpp"
#include "storage/frame_write.hpp"
#include "storage/keys.hpp"

namespace rocksdb {
class DB;
class IOStatus;
class Env;
class ColumnFamilyHandle;
struct ColumnFamilyDescriptor;
class Status;
class WriteBatch;
class CompactionFilter;
}  // namespace rocksdb

namespace lantian::storage {

enum class SyncPolicy {
  always,    // fsync the WAL for every batch before completing it (the default)
  interval,  // fsync the WAL at most every sync_interval; completions wait for that fsync
  off,       // no fsync (tests, benchmarks' references): survives a process crash, not a power cut
};
[[nodiscard]] std::optional<SyncPolicy> parse_sync_policy(std::string_view text) noexcept;
[[nodiscard]] std::string_view to_string(SyncPolicy policy) noexcept;

struct StoreOptions {
  std::filesystem::path dir = "data";
  SyncPolicy sync = SyncPolicy::always;
  std::chrono::milliseconds sync_interval{10};
  // Raw frames (and their idempotency keys) older than this, by receive time, are dropped during
  // compaction. nullopt keeps everything.
  std::optional<std::chrono::hours> retention;
  std::size_t max_batch = 2000;        // frames per WriteBatch
  std::size_t queue_capacity = 20000;  // frames waiting for the writers
  // Writer threads, each taking the vehicles whose VIN hashes to it (one vehicle's frames always
  // meet one writer, in order). One WAL sync covers the batches of every writer (commit()).
  std::size_t writers = 2;
  // Benchmark reference only: frames are numbered and completed as stored without being written
  // (the "null sink" of performance.md P1). Nothing reaches the archive; never use it in service.
  bool discard_frames = false;
  // Each accepted report (real-time, resend) also gets a forward_log record, arrival sequence →
  // frame key, in its batch: what the upstream forwarders read (set while any is configured).
  bool forward_log = false;
  // Frames are not written while the disk holding the archive has less free space than this (0:
  // no reserve): the store becomes unavailable before RocksDB ever meets a full disk — a failed
  // WAL write is only recoverable by a restart — and available again when there is room.
  std::uint64_t min_free_bytes = 256ull << 20;
  // Free bytes on the archive's disk; nullptr is statvfs(dir). Tests simulate a filling disk.
  std::function<std::uint64_t()> free_bytes;
  // After a failed write, how often the writer tries to recover (see Store::available()).
  std::chrono::milliseconds recovery_interval{1000};
  // The environment RocksDB does its I/O through; nullptr is the default. Tests inject faults
  // (a full disk, failing writes) through it.
  std::shared_ptr<rocksdb::Env> env;
  // Where RocksDB's own diagnostics go (level: 0 debug … 3 error and worse, one line of text):
  // never to a LOG file in the data directory, whose failed write (a read-only or full disk) would
  // abort the process. nullptr: warnings and errors to stderr.
  std::function<void(int level, std::string_view line)> diagnostics;
};

// Runs once the write's fate is known; `frame_key` is the archive key of a stored frame (empty for
// duplicates and failures).
using WriteCompletion = std::function<void(WriteOutcome, const std::string& frame_key)>;

// The families kept for the rule engine and the API: small, low-rate records written directly (and
// synced) rather than through the frame writer.
enum class Family {
  violations,
  violation_index,
  registry,
  zones,
  observations,
  permits,
  audit,
  tokens,
  rule_state,
  terminal_keys,
  areas,
  legal_holds,
  enterprises,
  gate_events,
  pollution_alerts,
  forward_log,  // arrival sequence (8) → frame key: the reports to forward upward (StoreOptions)
  forwarding,   // the forwarders' cursors and set-aside reports (forwarding/forward_store.hpp)
  // sequence (8) → one change of a violation (raised, reviewed, withdrawn), in commit order: what
  // is shared with enforcement systems (evaluation/violation_store.hpp, sharing/)
  violation_changes,
  subscribers,  // enforcement systems violations are delivered to, and their cursors (sharing/)
  // a cluster's processor node: p|PARTITION → the last log sequence it applied (cluster/)
  cluster
};

// One change of a record: a put, or a delete when `value` is empty.
struct RecordEdit {
  Family family;
  std::string key;
  std::optional<std::string> value;
};
enum class Durability {
  synced,    // on disk on return (under SyncPolicy off: in the WAL only)
  unsynced,  // in the WAL; survives a process crash, may be lost on a power cut
};

struct StoreStats {
  std::uint64_t frames_stored = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t batches = 0;
  std::uint64_t write_failures = 0;
  std::uint64_t faults = 0;  // times the archive became unavailable
  std::size_t queue_depth = 0;
};

// What opening the archive found in its WAL (docs/storage.md, "A damaged WAL").
struct WalRecovery {
  bool damaged = false;  // a WAL was damaged before its end: RocksDB alone would have dropped data
  std::string rocksdb_error;   // what RocksDB reported
  std::string preserved_dir;   // the WAL files as found, kept for the operator
  std::vector<std::string> damaged_ranges;  // "FILE@OFFSET+LENGTH"
  std::uint64_t damaged_bytes = 0;
  std::uint64_t batches_salvaged = 0;  // intact batches after the damage, applied again
  // A family had already flushed writes from after the damage, so RocksDB refused to stop there
  // ("SST file is ahead of WALs"): the store opened without the WAL files and applied every
  // intact batch of the kept copies again, in order (batches_salvaged counts them all).
  bool replayed_from_copies = false;
  std::uint64_t batches_failed = 0;
  std::uint64_t writes_lost = 0;  // writes in the damaged bytes (0: unknown, nothing followed)
};

class Store final : public FrameSubmitter {
 public:
  // Opens (creating if missing) the database in options.dir and starts the writer thread. On
  // failure returns nullptr and says why in `error`.
  static std::unique_ptr<Store> open(const StoreOptions& options, std::string& error);
  // Opens an existing database for reading only (no writer; safe while a server runs on it).
  static std::unique_ptr<Store> open_read_only(const std::filesystem::path& dir,
                                               std::string& error);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Queues a write; `done` runs on a writer thread once the write is durable (or failed, or found
  // to be a duplicate). Returns false, without taking ownership, when the queue is full or closed.
  [[nodiscard]] bool try_submit(FrameWrite&& write, WriteCompletion done);
  using Submitted = storage::Submitted;
  // Queues `writes` (a connection's frames of one read) with one completion, which runs once, on a
  // writer thread, when the fate of every one of them is known: `results[i]` is writes[i]'s. When
  // the queue is full, `on_room` is kept instead and called once, on a writer thread, as soon as a
  // writer has taken frames off the queue (or the store closes): the caller waits for that rather
  // than polling. Nothing is taken from `writes` or `done` unless queued. A batch larger than the
  // whole queue is taken when the queue is empty.
  [[nodiscard]] Submitted submit_or_notify(std::vector<FrameWrite>& writes, BatchCompletion& done,
                                           std::function<void()> on_room) override;
  // Called on the writer thread whenever available() changes, with its new value; nullptr stops
  // the calls (a listener is never called after it has been replaced). It must not block.
  void on_availability_change(std::function<void(bool available)> listener) override;

  // False while the archive cannot write: its disk is below the free-space reserve, or a frame
  // write failed (I/O error, a full disk reached despite the reserve). Meanwhile every submitted
  // frame fails at once — nothing is reported stored that is not. Every recovery_interval the
  // writer checks again: free space back above the reserve ends a space fault; after a failed
  // write it first writes and syncs a probe file through the same file system, and only when that
  // works resumes RocksDB (DB::Resume, a flush to a new WAL, a synced probe record). RocksDB 7.8
  // may refuse to resume after a failed WAL write; then the store stays unavailable until the
  // process restarts (docs/security.md).
  [[nodiscard]] bool available() const noexcept override { return available_.load(); }
  // Why it is unavailable (RocksDB's status), empty while available.
  [[nodiscard]] std::string fault() const override;
  // Free bytes on the archive's disk now, and the reserve below which frames are not written
  // (StoreOptions::min_free_bytes): other writers (the audit log) keep clear of the reserve.
  [[nodiscard]] std::uint64_t free_bytes() const;
  [[nodiscard]] std::uint64_t min_free_bytes() const noexcept { return options_.min_free_bytes; }

  // Writes everything queued, makes it durable, stops the writer and closes the database.
  void close();

  // Writes a consistent copy of the archive as it is now into `dir`, which must not exist yet,
  // while the archive stays in use (a RocksDB checkpoint: the table files hard-linked when `dir`
  // is on the same file system, copied otherwise, and the live WAL copied, all synced). Every
  // frame acknowledged before the call is in the copy. The copy opens as an archive of its own
  // (docs/operations.md, restore). False with `error` set on failure; a partial `dir` is removed.
  [[nodiscard]] bool checkpoint(const std::filesystem::path& dir, std::string& error);

  // Calls `fn` for every stored frame of `vin` (all vehicles when nullopt) whose collection time is
  // in [from, to], in key order, until it returns false.
  void for_each_frame(const std::optional<protocol::Vin>& vin, std::int64_t from_unix_s,
                      std::int64_t to_unix_s,
                      const std::function<bool(const FrameKey&, const FrameRecord&)>& fn) const;
  [[nodiscard]] std::optional<std::string> latest_state(const protocol::Vin& vin) const;
  [[nodiscard]] std::optional<std::string> last_fix(const protocol::Vin& vin) const;
  // Beijing days in [first_day, last_day] (days since 1970-01-01 in Beijing time) on which the
  // vehicle sent at least one stored frame, by collection time — for the daily online rate.
  [[nodiscard]] std::int64_t online_days(const protocol::Vin& vin, std::int64_t first_day,
                                         std::int64_t last_day) const;
  // Archive key of the vehicle's most recently received frame.
  [[nodiscard]] std::optional<std::string> latest_frame_key(const protocol::Vin& vin) const;

  // Records of the other families. put() and insert_if_absent() are durable (synced) on return;
  // insert_if_absent() returns false when the key exists (the value is left as it was). Errors
  // return false with `error` set.
  [[nodiscard]] bool put(Family family, const std::string& key, const std::string& value, std::string& error);
  [[nodiscard]] bool insert_if_absent(Family family, const std::string& key, const std::string& value,
                        std::string& error);
  // Applies `edits` atomically (all or none).
  [[nodiscard]] bool apply(const std::vector<RecordEdit>& edits, Durability durability, std::string& error);
  // Read-modify-write of one record, atomic with respect to the other update(),
  // insert_if_absent() and apply_locked() calls: `change` gets the current value (nullopt when
  // absent) and returns the new one, or nullopt to leave it; it may add edits of other records to
  // `also`, written in the same batch. Returns false on a write error (`error` set).
  using Change = std::function<std::optional<std::string>(const std::optional<std::string>& current,
                                                          std::vector<RecordEdit>& also)>;
  [[nodiscard]] bool update(Family family, const std::string& key, const Change& change, std::string& error);
  // The same lock for a batch of several records: `build` reads what it needs (get, for_each) and
  // adds its edits; they are written in one synced batch (nothing when it adds none). Returns
  // false on a write error (`error` set).
  using Build = std::function<void(std::vector<RecordEdit>& edits)>;
  [[nodiscard]] bool apply_locked(const Build& build, std::string& error);
  // Deletes every record of `family` whose key is in [begin, end), durably (a range tombstone:
  // one write whatever the number of records). Not for the frame archive (retention does that).
  [[nodiscard]] bool delete_range(Family family, const std::string& begin, const std::string& end,
                                  std::string& error);
  [[nodiscard]] std::optional<std::string> get(Family family, const std::string& key) const;
  // Calls `fn(key, value)` for every record whose key starts with `prefix`, in key order, until it
  // returns false. With `start`, begins at the first key ≥ start instead.
  void for_each(Family family, const std::string& prefix,
                const std::function<bool(const std::string&, const std::string&)>& fn,
                const std::string& start = {}) const;
  // A frame by its archive key.
  [[nodiscard]] std::optional<FrameRecord> frame(const std::string& frame_key) const;
  // The same; `read_failed` tells a failed read (try again later) from a frame that is not there
  // or cannot be decoded (never will be).
  [[nodiscard]] std::optional<FrameRecord> frame(const std::string& frame_key,
                                                 bool& read_failed) const;
  // The greatest key of a family (nullopt: empty or unreadable).
  [[nodiscard]] std::optional<std::string> last_key(Family family) const;

  // What opening found in the WAL (damaged: false when it was whole or only its tail was cut).
  [[nodiscard]] const WalRecovery& wal_recovery() const noexcept { return recovery_; }
  // A frame `frame_key` (raw bytes) is under a legal hold: some record of the legal_holds family
  // begins with it (storage::legal_hold_key). Retention never drops such a frame. True when the
  // holds cannot be read (never drop what may be evidence).
  [[nodiscard]] bool is_held(std::string_view frame_key) const;
  // Every arrival sequence below this is final: durable, or never to be written (failed). The
  // forward log is read below it only, so that a reader never passes a sequence a lane is still
  // writing or syncing (lanes commit in their own order).
  [[nodiscard]] std::uint64_t stable_sequence() const;
  // The next sequence of the violation_changes family (above every record in it). Call it only
  // inside apply_locked's build, whose lock makes the order of these sequences the order in which
  // their batches are written.
  [[nodiscard]] std::uint64_t next_change_sequence() noexcept { return ++change_sequence_; }
  // The last sequence handed out (a new reader of the change log starts after it).
  [[nodiscard]] std::uint64_t last_change_sequence() const noexcept { return change_sequence_; }
  // Runs a full compaction of the frame archive now (retention is applied during compactions).
  void compact();

  [[nodiscard]] StoreStats stats() const;
  // Durations of the last WAL syncs (for the fsync-latency histogram), drained by the caller.
  std::vector<std::chrono::microseconds> take_sync_latencies();

 private:
  struct Submission;  // one submit_or_notify call: its results and completion
  struct Pending {
    FrameWrite write;
    std::shared_ptr<Submission> submission;
    std::size_t index = 0;   // in the submission
    std::string key;         // set once the writer has given the frame its key
    bool duplicate = false;  // a copy of a report in the same batch, completed with it
  };
  // One writer thread and the vehicles that hash to it.
  struct Lane {
    std::mutex mutex;  // guards queue
    std::condition_variable wake;
    std::deque<Pending> queue;
    std::thread thread;
    // The writer's own: the last Beijing day marked per vehicle (VIN key), so that a day marker
    // is written once per day rather than once per batch.
    std::unordered_map<std::string, std::int64_t> marked_day;
    // The lowest arrival sequence this lane may still make durable (max: none); sequence_mutex_.
    std::uint64_t in_flight_from = std::numeric_limits<std::uint64_t>::max();
  };
  Store() = default;
  void map_families(const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors);
  // Re-applies every intact batch of the kept `wals` after what recovery kept (all of them, in
  // order, when replayed_from_copies), then syncs once; fills recovery_.
  void salvage_wals(const std::vector<std::filesystem::path>& wals,
                    const std::function<void(int, std::string_view)>& diagnostics);
  WalRecovery recovery_;
  void start_writers();
  // Calls `fn` with the value of every meta record whose key starts with `prefix`.
  void for_each_meta(const std::string& prefix,
                     const std::function<void(const std::string&)>& fn) const;
  void run_lane(std::size_t index);
  void write_batch(std::size_t lane, std::vector<Pending>& batch);
  // The last fix JSON stored for a vehicle (its VIN key); empty when none.
  [[nodiscard]] std::string stored_fix(const std::string& vin_key) const;
  // Writes a lane's batch and, under SyncPolicy::always, makes it durable (grouped WAL sync).
  rocksdb::Status commit(rocksdb::WriteBatch& batch);
  static void complete(Pending& p, WriteOutcome outcome, const std::string& key);
  void taken(std::size_t frames);  // frames left the queues: room for waiting submitters
  void mark_fault(const std::string& status);  // writer threads
  void tell_availability(bool available);      // writer threads, no lock held
  void check_free_space();                     // writer threads
  bool try_recover();                          // the first writer
  [[nodiscard]] rocksdb::IOStatus probe_disk() const;

  StoreOptions options_;
  std::unique_ptr<rocksdb::CompactionFilter> frames_filter_, blocks_filter_;  // outlive db_
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* frames_ = nullptr;
  rocksdb::ColumnFamilyHandle* blocks_ = nullptr;
  rocksdb::ColumnFamilyHandle* latest_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* reports_ = nullptr;
  bool legacy_block_index_ = false;  // block_index holds keys of an older archive
  std::map<Family, rocksdb::ColumnFamilyHandle*> families_;
  std::mutex family_write_mutex_;  // serialises insert_if_absent's read-then-write
  bool read_only_ = false;

  std::vector<std::unique_ptr<Lane>> lanes_;
  // Held shared while a submission is queued, exclusively to close: nothing is queued after the
  // writers were told to finish.
  std::shared_mutex submit_gate_;
  std::atomic<bool> closing_{false};  // set under submit_gate_ held exclusively
  std::atomic<bool> closed_{false};
  std::atomic<std::uint64_t> next_sequence_{1};
  mutable std::mutex sequence_mutex_;  // guards the lanes' in_flight_from (stable_sequence())
  std::atomic<std::uint64_t> change_sequence_{0};  // the last violation_changes sequence
  mutable std::mutex room_mutex_;                          // guards queued_ and room_waiters_
  std::size_t queued_ = 0;                                 // frames in all lanes' queues
  std::vector<std::function<void()>> room_waiters_;
  std::mutex commit_mutex_;  // one frame batch written at a time (see commit())
  std::atomic<std::uint64_t> batches_written_{0};
  std::mutex sync_mutex_;  // one WAL sync call at a time; guards batches_synced_
  // A WAL write or sync failed: RocksDB's WAL writer is unusable until DB::Resume() (syncing it
  // aborts in builds with assertions, as Debian's librocksdb is), so no lane syncs it until
  // try_recover() has resumed. Set right after the failed call; a sync another lane began in the
  // instant between a failing write and this flag can still meet the assertion.
  std::atomic<bool> wal_unusable_{false};
  std::uint64_t batches_synced_ = 0;
  mutable std::mutex mutex_;                               // guards the two below
  std::vector<std::chrono::microseconds> sync_latencies_;
  std::string fault_;
  std::mutex availability_mutex_;  // guards availability_listener_, held while calling it
  std::function<void(bool)> availability_listener_;

  std::atomic<std::uint64_t> frames_stored_{0}, duplicates_{0}, batches_{0}, write_failures_{0},
      faults_{0};
  std::atomic<bool> available_{true};
  std::atomic<bool> space_fault_{false};  // the fault is the free-space reserve
};

}  // namespace lantian::storage
