// The archive: group-committed writes, idempotency, read-back of the exact bytes, latest state,
// persistence across reopen, read-only access, retention.

#include "storage/store.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>

#include <rocksdb/db.h>

#include "protocol/decode.hpp"
#include "test_support.hpp"

namespace lantian::storage {
namespace {
namespace fs = std::filesystem;
using protocol::testing::corpus_frame;

class TempDir {
 public:
  TempDir()
      : path_(fs::temp_directory_path() /
              ("lantian-store-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))) {
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

std::unique_ptr<Store> open_store(const fs::path& dir, SyncPolicy sync = SyncPolicy::always) {
  std::string error;
  auto store = Store::open({.dir = dir, .sync = sync}, error);
  EXPECT_TRUE(store) << error;
  return store;
}

FrameWrite write_of(const std::string& name, std::int64_t receive_ms = 1767225600000) {
  const auto& f = corpus_frame(name);
  auto decoded = protocol::decode_frame(f.bytes, f.options);
  EXPECT_TRUE(decoded.has_value());
  return make_frame_write(
      *decoded, f.bytes,
      {receive_ms, 42, "tcp://127.0.0.1:0?profile=auto", "127.0.0.1:50000", decoded->profile});
}

// Opens the archive in `dir` with RocksDB itself (the store closed) and calls `fn`, to write what
// older versions wrote. `family(name)` is a column family's handle.
using FamilyOf = std::function<rocksdb::ColumnFamilyHandle*(const std::string&)>;
void with_raw_archive(const std::filesystem::path& dir,
                      const std::function<void(rocksdb::DB&, const FamilyOf&)>& fn) {
  rocksdb::DBOptions options;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(options, dir.string(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& n : names) families.push_back({n, rocksdb::ColumnFamilyOptions()});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir.string(), families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  fn(*db, [&](const std::string& name) {
    return handles[static_cast<std::size_t>(std::find(names.begin(), names.end(), name) -
                                            names.begin())];
  });
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
}

WriteOutcome submit_and_wait(Store& store, FrameWrite w) {
  std::promise<WriteOutcome> done;
  auto result = done.get_future();
  EXPECT_TRUE(store.try_submit(std::move(w),
                               [&](WriteOutcome o, const std::string&) { done.set_value(o); }));
  return result.get();
}

std::vector<FrameRecord> all_frames(const Store& store,
                                    std::optional<protocol::Vin> vin = std::nullopt) {
  std::vector<FrameRecord> out;
  store.for_each_frame(vin, INT64_MIN / 2, INT64_MAX / 2,
                       [&](const FrameKey&, const FrameRecord& r) {
                         out.push_back(r);
                         return true;
                       });
  return out;
}

TEST(FrameRecord, RoundTripsAndRejectsTruncatedValues) {
  FrameRecord r{{1767225600123, 7, "tls://0.0.0.0:7700?profile=hj1239", "10.0.0.1:1234",
                 protocol::Profile::hj1239},
                corpus_frame("e1-login").bytes};
  const Bytes value = encode_record(r);
  auto back = decode_record(value);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, r);
  for (std::size_t n = 0; n < value.size(); ++n)
    EXPECT_FALSE(decode_record(ByteView(value).first(n)).has_value()) << n;

  // The signature verdict and the rejected flag travel in one byte after the profile.
  r.received.signature = protocol::SignatureCheck::invalid;
  r.received.rejected = true;
  const Bytes flagged = encode_record(r);
  EXPECT_EQ(flagged[18], 0x83);
  EXPECT_EQ(decode_record(flagged).value(), r);
  Bytes unknown_verdict = flagged;
  unknown_verdict[18] = 0x05;
  EXPECT_FALSE(decode_record(unknown_verdict).has_value());

  // Version 1 (no verdict byte), as archives written before verification hold it: unverified.
  Bytes v1 = value;
  v1[0] = 1;
  v1.erase(v1.begin() + 18);
  const auto old = decode_record(v1);
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->received.signature, protocol::SignatureCheck::unverified);
  EXPECT_FALSE(old->received.rejected);
  EXPECT_EQ(old->raw, r.raw);
}

TEST(Keys, SortByVinThenCollectionTimeThenArrival) {
  const auto a = protocol::make_vin("LGAX2BG40N1000001"),
             b = protocol::make_vin("LGAX2BG40N1000002");
  EXPECT_LT(frame_key(a, 100, 9), frame_key(a, 101, 1));
  EXPECT_LT(frame_key(a, 100, 1), frame_key(a, 100, 2));
  EXPECT_LT(frame_key(a, 4'000'000'000, 1), frame_key(b, 0, 1));
  EXPECT_LT(frame_key(a, -5, 1), frame_key(a, 5, 1));
  const auto parsed = parse_frame_key(frame_key(a, 1767225600, 77));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->vin, a);
  EXPECT_EQ(parsed->collection_unix_s, 1767225600);
  EXPECT_EQ(parsed->sequence, 77u);
  EXPECT_FALSE(parse_frame_key("short").has_value());
}

TEST(Store, StoresTheExactBytesWithTheirArrival) {
  TempDir dir;
  auto store = open_store(dir.path());
  EXPECT_EQ(submit_and_wait(*store, write_of("e1-login")), WriteOutcome::stored);
  EXPECT_EQ(submit_and_wait(*store, write_of("e3-hj1239-realtime-signed")), WriteOutcome::stored);
  const auto frames = all_frames(*store);
  ASSERT_EQ(frames.size(), 2u);
  // Same VIN: the login (08:30:00) sorts before the real-time frame (08:30:10).
  EXPECT_EQ(frames[0].raw, corpus_frame("e1-login").bytes);
  EXPECT_EQ(frames[1].raw, corpus_frame("e3-hj1239-realtime-signed").bytes);
  EXPECT_EQ(frames[1].received.connection_id, 42u);
  EXPECT_EQ(frames[1].received.peer, "127.0.0.1:50000");
  EXPECT_EQ(frames[1].received.profile, protocol::Profile::hj1239);
  const auto stats = store->stats();
  EXPECT_EQ(stats.frames_stored, 2u);
  EXPECT_EQ(stats.duplicates, 0u);
}

TEST(Store, ResentBlocksAreAcknowledgedButStoredOnce) {
  TempDir dir;
  auto store = open_store(dir.path());
  EXPECT_EQ(submit_and_wait(*store, write_of("c02-hj1239-10-samples-signed-tildes")),
            WriteOutcome::stored);
  EXPECT_EQ(submit_and_wait(*store, write_of("c02-hj1239-10-samples-signed-tildes", 1767225700000)),
            WriteOutcome::duplicate);
  EXPECT_EQ(all_frames(*store).size(), 1u);
  EXPECT_EQ(store->stats().duplicates, 1u);

  // Two copies in the same batch: one stored, one duplicate.
  std::promise<WriteOutcome> a, b;
  ASSERT_TRUE(store->try_submit(write_of("c03-hj1239-10-samples-unsigned"),
                                [&](WriteOutcome o, const std::string&) { a.set_value(o); }));
  ASSERT_TRUE(store->try_submit(write_of("c03-hj1239-10-samples-unsigned"),
                                [&](WriteOutcome o, const std::string&) { b.set_value(o); }));
  const auto first = a.get_future().get(), second = b.get_future().get();
  EXPECT_EQ(std::min(first, second), WriteOutcome::stored);
  EXPECT_EQ(std::max(first, second), WriteOutcome::duplicate);
  EXPECT_EQ(all_frames(*store).size(), 2u);
}

// One idempotency entry per VIN and report time lists every block stored under it (§6 of
// docs/protocol.md): a report whose blocks are all listed is a duplicate, one that adds a block is
// stored and widens the entry.
TEST(Store, AReportThatAddsBlocksIsStoredAndItsCopiesAreNot) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto with_blocks = [](std::vector<BlockId> blocks) {
    auto w = write_of("c03-hj1239-10-samples-unsigned");
    w.identity->blocks = std::move(blocks);
    return w;
  };
  const auto report = write_of("c03-hj1239-10-samples-unsigned");
  ASSERT_TRUE(report.identity.has_value());
  EXPECT_EQ(report.identity->blocks.size(), 10u);
  const auto t = report.identity->report_unix_s;
  const BlockId a{0x02, t}, b{0x02, t + 1}, c{0x02, t + 2};
  EXPECT_EQ(submit_and_wait(*store, with_blocks({a, b})), WriteOutcome::stored);
  EXPECT_EQ(submit_and_wait(*store, with_blocks({a, b, c})), WriteOutcome::stored);
  EXPECT_EQ(submit_and_wait(*store, with_blocks({b})), WriteOutcome::duplicate);
  EXPECT_EQ(submit_and_wait(*store, with_blocks({c})), WriteOutcome::duplicate);
  EXPECT_EQ(submit_and_wait(*store, with_blocks({a, c})), WriteOutcome::duplicate);
  EXPECT_EQ(submit_and_wait(*store, with_blocks({BlockId{0x80, t}})), WriteOutcome::stored);
  EXPECT_EQ(all_frames(*store).size(), 3u);
  EXPECT_EQ(store->stats().duplicates, 3u);
  // The entry's value: receive time, then the blocks sorted (9 bytes each).
  std::int64_t receive_ms = 0;
  std::vector<BlockId> blocks;
  ASSERT_TRUE(decode_report_entry(encode_report_entry(1767225600000, {a, b, c}), receive_ms, blocks));
  EXPECT_EQ(receive_ms, 1767225600000);
  EXPECT_EQ(blocks, (std::vector<BlockId>{a, b, c}));
  EXPECT_FALSE(decode_report_entry(std::string(12, '\0'), receive_ms, blocks));
}

// Archives written with one idempotency key per block keep deduplicating what they hold.
TEST(Store, PerBlockKeysOfAnOlderArchiveStillRecogniseResends) {
  TempDir dir;
  open_store(dir.path())->close();
  const auto report = write_of("c02-hj1239-10-samples-signed-tildes");
  // Write the older layout's keys straight into block_index.
  with_raw_archive(dir.path(), [&](rocksdb::DB& db, const FamilyOf& family) {
    for (const auto& block : report.identity->blocks)
      ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), family("block_index"),
                         block_key(report.vin, block.type, block.collection_unix_s),
                         std::string(8, '\0'))
                      .ok());
  });
  auto store = open_store(dir.path());
  EXPECT_EQ(submit_and_wait(*store, write_of("c02-hj1239-10-samples-signed-tildes")),
            WriteOutcome::duplicate);
  // A report with one block the old index lacks is stored.
  auto wider = write_of("c02-hj1239-10-samples-signed-tildes");
  wider.identity->blocks.push_back({0x80, wider.identity->report_unix_s});
  std::sort(wider.identity->blocks.begin(), wider.identity->blocks.end());
  EXPECT_EQ(submit_and_wait(*store, std::move(wider)), WriteOutcome::stored);
  EXPECT_EQ(all_frames(*store).size(), 1u);
}

// Archives that kept a vehicle's latest state as three records are still read, and the vehicle's
// next batch — without a position — keeps the fix it had.
TEST(Store, LatestStateOfAnOlderArchiveIsReadAndItsFixKept) {
  TempDir dir;
  open_store(dir.path())->close();
  const std::string text = "LGAX2BG40N1000001";
  with_raw_archive(dir.path(), [&](rocksdb::DB& db, const FamilyOf& family) {
    auto* latest = family("latest_state");
    ASSERT_TRUE(db.Put({}, latest, text, R"({"command_name":"realtime"})").ok());
    ASSERT_TRUE(db.Put({}, latest, text + "\x01key", "older-key").ok());
    ASSERT_TRUE(db.Put({}, latest, text + "\x01" "fix", R"({"lon":113.6})").ok());
  });
  auto store = open_store(dir.path());
  const auto vin = protocol::make_vin(text);
  EXPECT_EQ(store->latest_state(vin), R"({"command_name":"realtime"})");
  EXPECT_EQ(store->latest_frame_key(vin), "older-key");
  EXPECT_EQ(store->last_fix(vin), R"({"lon":113.6})");
  EXPECT_EQ(submit_and_wait(*store, write_of("e4-logout")), WriteOutcome::stored);
  EXPECT_EQ(boost::json::parse(store->latest_state(vin).value()).at("command_name").as_string(),
            "logout");
  EXPECT_EQ(parse_frame_key(store->latest_frame_key(vin).value())->collection_unix_s, 1716199200);
  EXPECT_EQ(store->last_fix(vin), R"({"lon":113.6})");
  EXPECT_FALSE(store->last_fix(protocol::make_vin("NOSUCHVIN00000000")).has_value());
}

// A writer that is behind tells a waiting submitter when there is room again; nothing polls.
TEST(Store, AFullQueueNotifiesWhenThereIsRoom) {
  TempDir dir;
  std::string error;
  auto store = Store::open({.dir = dir.path(), .sync = SyncPolicy::always, .queue_capacity = 1},
                           error);
  ASSERT_TRUE(store) << error;
  constexpr int total = 200;
  std::mutex mutex;
  std::condition_variable cv;
  int completed = 0, notified = 0;
  for (int i = 0; i < total; ++i) {
    std::vector<FrameWrite> writes;
    writes.push_back(write_of("e1-login"));
    BatchCompletion done = [&](std::vector<WriteResult>& results) {
      EXPECT_EQ(results.size(), 1u);
      EXPECT_EQ(results[0].outcome, WriteOutcome::stored);
      std::lock_guard lock(mutex);
      ++completed;
      cv.notify_all();
    };
    for (;;) {
      bool room = false;
      const auto r = store->submit_or_notify(writes, done, [&] {
        std::lock_guard lock(mutex);
        room = true;
        ++notified;
        cv.notify_all();
      });
      if (r == Store::Submitted::queued) break;
      ASSERT_EQ(r, Store::Submitted::full);
      ASSERT_EQ(writes.size(), 1u);  // not taken
      std::unique_lock lock(mutex);
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return room; }));
    }
  }
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return completed == total; }));
  }
  EXPECT_EQ(store->stats().frames_stored, static_cast<std::uint64_t>(total));
  store->close();
  std::vector<FrameWrite> late;
  late.push_back(write_of("e1-login"));
  BatchCompletion ignored = [](std::vector<WriteResult>&) {};
  EXPECT_EQ(store->submit_or_notify(late, ignored, [] {}), Store::Submitted::closed);
  EXPECT_EQ(late.size(), 1u);
}

// One read's frames are one submission: one completion, each frame's result in its place, even
// when the frames belong to vehicles of different writers.
TEST(Store, ASubmissionAcrossWritersCompletesOnceWithEveryResultInPlace) {
  TempDir dir;
  std::string error;
  auto store = Store::open({.dir = dir.path(), .writers = 4}, error);
  ASSERT_TRUE(store) << error;
  std::vector<FrameWrite> writes;
  for (int i = 0; i < 12; ++i) {
    auto w = write_of("e1-login");
    w.vin = protocol::make_vin("LGAX2BG40N10000" + std::to_string(10 + i));
    writes.push_back(std::move(w));
  }
  writes.push_back(write_of("c03-hj1239-10-samples-unsigned"));
  writes.push_back(write_of("c03-hj1239-10-samples-unsigned"));  // its copy
  std::promise<std::vector<WriteResult>> done;
  int calls = 0;
  BatchCompletion completion = [&](std::vector<WriteResult>& results) {
    ++calls;
    done.set_value(results);
  };
  ASSERT_EQ(store->submit_or_notify(writes, completion, nullptr), Store::Submitted::queued);
  EXPECT_TRUE(writes.empty());
  const auto results = done.get_future().get();
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(results.size(), 14u);
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(results[i].outcome, WriteOutcome::stored) << i;
    const auto key = parse_frame_key(results[i].frame_key);
    ASSERT_TRUE(key) << i;
    EXPECT_EQ(protocol::as_text(key->vin), "LGAX2BG40N10000" + std::to_string(10 + i));
  }
  EXPECT_EQ(results[12].outcome, WriteOutcome::stored);
  EXPECT_EQ(results[13].outcome, WriteOutcome::duplicate);
  EXPECT_TRUE(results[13].frame_key.empty());
  EXPECT_EQ(all_frames(*store).size(), 13u);
}

// Every writer keeps its own high-water mark of sequences: whatever number of writers stored the
// frames, a reopened archive continues above all of them.
TEST(Store, SequencesContinueAboveEveryWritersFrames) {
  TempDir dir;
  std::string error;
  {
    auto store = Store::open({.dir = dir.path(), .writers = 3}, error);
    ASSERT_TRUE(store) << error;
    for (int i = 0; i < 30; ++i) {
      auto w = write_of("e1-login");
      w.vin = protocol::make_vin("LGAX2BG40N10000" + std::to_string(10 + i));
      EXPECT_EQ(submit_and_wait(*store, std::move(w)), WriteOutcome::stored);
    }
  }
  auto store = Store::open({.dir = dir.path(), .writers = 1}, error);
  ASSERT_TRUE(store) << error;
  std::promise<std::string> key;
  ASSERT_TRUE(store->try_submit(write_of("e4-logout"), [&](WriteOutcome, const std::string& k) {
    key.set_value(k);
  }));
  EXPECT_EQ(parse_frame_key(key.get_future().get())->sequence, 31u);
}

TEST(Store, LatestStateWithinOneBatchIsTheLastArrival) {
  TempDir dir;
  auto store = open_store(dir.path());
  // Queued back to back (usually one batch): the logout arrives last, the real-time frame has the
  // only position.
  std::promise<void> a, b;
  ASSERT_TRUE(store->try_submit(write_of("e2-gb17691-realtime"),
                                [&](WriteOutcome, const std::string&) { a.set_value(); }));
  ASSERT_TRUE(store->try_submit(write_of("e4-logout", 1767225601000),
                                [&](WriteOutcome, const std::string&) { b.set_value(); }));
  a.get_future().get();
  b.get_future().get();
  const auto vin = protocol::make_vin("LGAX2BG40N1000001");
  const auto latest = boost::json::parse(store->latest_state(vin).value());
  EXPECT_EQ(latest.at("command_name").as_string(), "logout");
  const auto fix = boost::json::parse(store->last_fix(vin).value());
  EXPECT_EQ(fix.at("time").as_string(), "2024-05-20T08:30:10+08:00");
  // Both frames' Beijing day (2024-05-20) counts once.
  EXPECT_EQ(store->online_days(vin, 19863, 19863), 1);
  const auto key = store->latest_frame_key(vin);
  ASSERT_TRUE(key);
  EXPECT_EQ(parse_frame_key(*key)->collection_unix_s, 1716199200);  // the logout's 18:00:00
}

TEST(Store, LatestStateAndLastFix) {
  TempDir dir;
  auto store = open_store(dir.path());
  submit_and_wait(*store, write_of("e2-gb17691-realtime"));
  submit_and_wait(*store, write_of("e4-logout", 1767225601000));
  const auto vin = protocol::make_vin("LGAX2BG40N1000001");
  const auto latest = boost::json::parse(store->latest_state(vin).value());
  EXPECT_EQ(latest.at("command_name").as_string(), "logout");
  EXPECT_EQ(latest.at("collection_time").as_string(), "2024-05-20T18:00:00+08:00");
  EXPECT_EQ(latest.at("receive_unix_ms").as_int64(), 1767225601000);
  const auto fix = boost::json::parse(store->last_fix(vin).value());  // from the real-time frame
  EXPECT_EQ(fix.at("lon").as_double(), 116.397128);
  EXPECT_EQ(fix.at("lat").as_double(), 39.916527);
  EXPECT_EQ(fix.at("time").as_string(), "2024-05-20T08:30:10+08:00");
  EXPECT_FALSE(store->latest_state(protocol::make_vin("NOSUCHVIN00000000")).has_value());
}

TEST(Store, PersistsAcrossReopenAndKeepsTheSequence) {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    submit_and_wait(*store, write_of("e1-login"));
    submit_and_wait(*store, write_of("e1-login"));  // not a report: stored again, its own key
  }
  auto store = open_store(dir.path());
  submit_and_wait(*store, write_of("e1-login"));
  std::vector<std::uint64_t> sequences;
  store->for_each_frame(std::nullopt, 0, INT64_MAX / 2, [&](const FrameKey& k, const FrameRecord&) {
    sequences.push_back(k.sequence);
    return true;
  });
  EXPECT_EQ(sequences, (std::vector<std::uint64_t>{1, 2, 3}));
  // The resend index survived too.
  submit_and_wait(*store, write_of("c02-hj1239-10-samples-signed-tildes"));
  store->close();
  store = open_store(dir.path());
  EXPECT_EQ(submit_and_wait(*store, write_of("c02-hj1239-10-samples-signed-tildes")),
            WriteOutcome::duplicate);
}

TEST(Store, ReadOnlyOpenSeesCommittedFramesWhileOpenForWriting) {
  TempDir dir;
  auto store = open_store(dir.path());
  submit_and_wait(*store, write_of("e2-gb17691-realtime"));
  std::string error;
  auto reader = Store::open_read_only(dir.path(), error);
  ASSERT_TRUE(reader) << error;
  EXPECT_EQ(all_frames(*reader, protocol::make_vin("LGAX2BG40N1000001")).size(), 1u);
  EXPECT_TRUE(all_frames(*reader, protocol::make_vin("ABCDE12345FGH6789")).empty());
  EXPECT_FALSE(reader->try_submit(write_of("e1-login"), [](WriteOutcome, const std::string&) {}));
  EXPECT_FALSE(Store::open_read_only(dir.path() / "missing", error));
  EXPECT_NE(error.find("no database"), std::string::npos);
}

TEST(Store, TimeRangeSelectsByCollectionTime) {
  TempDir dir;
  auto store = open_store(dir.path());
  submit_and_wait(*store, write_of("e1-login"));   // 2024-05-20 08:30:00 +08
  submit_and_wait(*store, write_of("e4-logout"));  // 2024-05-20 18:00:00 +08
  const auto vin = protocol::make_vin("LGAX2BG40N1000001");
  std::size_t n = 0;
  store->for_each_frame(vin, 1716165000, 1716165000, [&](const FrameKey& k, const FrameRecord&) {
    EXPECT_EQ(k.collection_unix_s, 1716165000);
    ++n;
    return true;
  });
  EXPECT_EQ(n, 1u);
}

TEST(Store, EveryPolicyCompletesAndStores) {
  for (auto policy : {SyncPolicy::always, SyncPolicy::interval, SyncPolicy::off}) {
    TempDir dir;
    auto store = open_store(dir.path(), policy);
    std::vector<std::future<WriteOutcome>> results;
    std::vector<std::promise<WriteOutcome>> promises(50);
    for (auto& p : promises) {
      results.push_back(p.get_future());
      ASSERT_TRUE(store->try_submit(write_of("e1-login"),
                                    [&p](WriteOutcome o, const std::string&) { p.set_value(o); }));
    }
    for (auto& r : results) EXPECT_EQ(r.get(), WriteOutcome::stored) << to_string(policy);
    EXPECT_EQ(all_frames(*store).size(), 50u);
  }
  EXPECT_EQ(parse_sync_policy("interval"), SyncPolicy::interval);
  EXPECT_FALSE(parse_sync_policy("sometimes").has_value());
}

// The benchmark reference (performance.md P1): frames are numbered and completed as stored, and
// nothing reaches the archive — not even their idempotency keys.
TEST(Store, DiscardingSinkCompletesWithKeysAndStoresNothing) {
  TempDir dir;
  std::string error;
  auto store = Store::open({.dir = dir.path(), .discard_frames = true}, error);
  ASSERT_TRUE(store) << error;
  std::vector<std::string> keys;
  for (int i = 0; i < 3; ++i) {
    std::promise<std::string> done;
    auto key = done.get_future();
    ASSERT_TRUE(store->try_submit(write_of("c02-hj1239-10-samples-signed-tildes"),
                                  [&](WriteOutcome o, const std::string& k) {
                                    EXPECT_EQ(o, WriteOutcome::stored);
                                    done.set_value(k);
                                  }));
    keys.push_back(key.get());
  }
  EXPECT_NE(keys[0], keys[1]);  // each numbered, even the same frame again
  EXPECT_EQ(parse_frame_key(keys[2])->sequence, parse_frame_key(keys[0])->sequence + 2);
  EXPECT_TRUE(all_frames(*store).empty());
  EXPECT_EQ(store->stats().frames_stored, 3u);
  EXPECT_EQ(store->stats().duplicates, 0u);
}

TEST(Store, RetentionDropsOldFramesAtCompaction) {
  TempDir dir;
  std::string error;
  auto store = Store::open({.dir = dir.path(), .retention = std::chrono::hours(24)}, error);
  ASSERT_TRUE(store) << error;
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  submit_and_wait(*store, write_of("e1-login", now_ms - 48 * 3600 * 1000));
  submit_and_wait(*store, write_of("e4-logout", now_ms));
  store->compact();
  const auto frames = all_frames(*store);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].raw, corpus_frame("e4-logout").bytes);
}

// Evidence is never deleted: a frame a violation refers to stays past the retention until its
// hold is released, then goes at the next compaction.
TEST(Store, RetentionKeepsAFrameUnderALegalHold) {
  TempDir dir;
  std::string error;
  auto store = Store::open({.dir = dir.path(), .retention = std::chrono::hours(24)}, error);
  ASSERT_TRUE(store) << error;
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const auto old_ms = now_ms - 48 * 3600 * 1000;
  submit_and_wait(*store, write_of("e1-login", old_ms));
  submit_and_wait(*store, write_of("e3-hj1239-realtime-signed", old_ms));
  const auto before = all_frames(*store);
  ASSERT_EQ(before.size(), 2u);
  std::vector<std::string> keys;
  store->for_each_frame(std::nullopt, INT64_MIN / 2, INT64_MAX / 2,
                        [&](const FrameKey& key, const FrameRecord&) {
                          keys.push_back(frame_key(key.vin, key.collection_unix_s, key.sequence));
                          return true;
                        });
  ASSERT_EQ(keys.size(), 2u);
  const auto hold = legal_hold_key(keys[1], "R10|LFWADRJF011002346|1");
  ASSERT_TRUE(store->put(Family::legal_holds, hold, "", error)) << error;
  EXPECT_FALSE(store->is_held(keys[0]));
  EXPECT_TRUE(store->is_held(keys[1]));

  store->compact();
  auto frames = all_frames(*store);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].raw, corpus_frame("e3-hj1239-realtime-signed").bytes);

  ASSERT_TRUE(store->apply({{Family::legal_holds, hold, std::nullopt}}, Durability::synced, error))
      << error;
  store->compact();
  EXPECT_TRUE(all_frames(*store).empty());
}

// RocksDB's diagnostics go to the caller, never to a LOG file in the data directory: a failing LOG
// write (a read-only or immutable directory) aborted the process inside RocksDB.
TEST(Store, RocksDbDiagnosticsGoToTheCallerNotALogFile) {
  TempDir dir;
  std::string error;
  std::vector<std::pair<int, std::string>> lines;
  std::mutex mutex;
  auto store = Store::open({.dir = dir.path(),
                            .diagnostics =
                                [&](int level, std::string_view line) {
                                  std::lock_guard lock(mutex);
                                  lines.emplace_back(level, std::string(line));
                                }},
                           error);
  ASSERT_TRUE(store) << error;
  submit_and_wait(*store, write_of("e1-login"));
  store->compact();
  store->close();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "LOG"));
  std::lock_guard lock(mutex);
  EXPECT_FALSE(lines.empty());  // RocksDB reports its options and compactions at open and after
  for (const auto& [level, line] : lines) {
    EXPECT_GE(level, 0);
    EXPECT_LE(level, 3);
    EXPECT_FALSE(line.empty());
  }
}

TEST(Store, RefusesWritesAfterClose) {
  TempDir dir;
  auto store = open_store(dir.path());
  store->close();
  EXPECT_FALSE(store->try_submit(write_of("e1-login"), [](WriteOutcome, const std::string&) {}));
}

}  // namespace
}  // namespace lantian::storage
