// The cluster's pure parts: partitions, their owners, message ids; and the archive's use of the
// log's sequence, which makes a message applied twice one frame.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <random>
#include <set>

#include "cluster/frame_publisher.hpp"
#include "cluster/owner_requests.hpp"
#include "cluster/partition_processor.hpp"
#include "cluster/partitions.hpp"
#include "storage/store.hpp"

namespace lantian::cluster {
namespace {
namespace fs = std::filesystem;

TEST(Partitions, AVinAlwaysFallsInTheSamePartition) {
  // Fixed values: every node, build and machine must agree, or a vehicle's frames would be split.
  EXPECT_EQ(partition_of("LFWDTEST000000001", 16), 9u);
  EXPECT_EQ(partition_of("LZZ5CLSB0NA100002", 16), 4u);
  EXPECT_EQ(partition_of("LZZ5CLSB0NA100002", 1), 0u);
  EXPECT_EQ(partition_of(protocol::make_vin("LZZ5CLSB0NA100002"), 16),
            partition_of("LZZ5CLSB0NA100002", 16));
  EXPECT_EQ(partition_subject("lantian.frames", 3), "lantian.frames.03");
  EXPECT_EQ(partition_subject("lantian.frames", 123), "lantian.frames.123");
}

TEST(Partitions, VehiclesSpreadEvenly) {
  std::vector<int> count(16, 0);
  for (int i = 0; i < 16000; ++i) {
    std::string serial = std::to_string(i);
    const std::string vin = "LZZ5CLSB0NA" + std::string(6 - serial.size(), '0') + serial;
    ++count[partition_of(vin, 16)];
  }
  for (int c : count) {
    EXPECT_GT(c, 850);  // 1000 each on average
    EXPECT_LT(c, 1150);
  }
}

TEST(Partitions, AJoinOrALeaveMovesOnlyThePartitionsConcerned) {
  const std::vector<std::string> two{"proc-1", "proc-2"};
  const std::vector<std::string> three{"proc-1", "proc-2", "proc-3"};
  const auto before = assign_partitions(two, 64);
  const auto after = assign_partitions(three, 64);
  ASSERT_EQ(before.size(), 64u);
  ASSERT_EQ(after.size(), 64u);
  int moved = 0;
  for (unsigned p = 0; p < 64; ++p) {
    if (before.at(p) == after.at(p)) continue;
    EXPECT_EQ(after.at(p), "proc-3") << "partition " << p << " moved between old members";
    ++moved;
  }
  EXPECT_GT(moved, 10);  // about a third
  EXPECT_LT(moved, 32);
  // Every node computes the same owners whatever the order it lists the members in.
  EXPECT_EQ(assign_partitions({"proc-3", "proc-1", "proc-2"}, 64), after);
  // proc-2 leaves: only its partitions move.
  const auto left = assign_partitions({"proc-1", "proc-3"}, 64);
  for (unsigned p = 0; p < 64; ++p) {
    if (after.at(p) != "proc-2") {
      EXPECT_EQ(left.at(p), after.at(p));
    }
  }
  EXPECT_TRUE(assign_partitions({}, 8).empty());
}

TEST(Partitions, NodeNames) {
  EXPECT_TRUE(valid_node_name("proc-1"));
  EXPECT_TRUE(valid_node_name("Lantian_ZZ_01"));
  EXPECT_FALSE(valid_node_name(""));
  EXPECT_FALSE(valid_node_name("host.example.cn"));  // dots separate subject tokens
  EXPECT_FALSE(valid_node_name("a b"));
  EXPECT_FALSE(valid_node_name(std::string(65, 'a')));
}

TEST(Ownership, AGainedPartitionCountsForOfflineChecksOnlyOnceCaughtUp) {
  Ownership ownership(16);
  const auto vin = protocol::make_vin("LZZ5CLSB0NA100002");  // partition 4
  ownership.set(4, true);
  EXPECT_TRUE(ownership.owns_partition(4));
  EXPECT_FALSE(ownership.owns(vin));  // its archive may be days behind the log
  ownership.caught_up(4);
  EXPECT_TRUE(ownership.owns(vin));
  ownership.set(4, false);
  ownership.caught_up(4);  // a worker finishing after the partition went: no effect
  EXPECT_FALSE(ownership.owns(vin));
  EXPECT_FALSE(ownership.owns_partition(4));
  ownership.set(4, true);  // gained again: stale until caught up again
  EXPECT_FALSE(ownership.owns(vin));
  EXPECT_FALSE(ownership.owns(protocol::make_vin("LFWDTEST000000001")));  // partition 9
}

storage::FrameWrite report_write(std::int64_t time_s, std::optional<std::uint64_t> log_sequence) {
  storage::FrameWrite w;
  w.vin = protocol::make_vin("LZZ5CLSB0NA100002");
  w.collection_unix_s = time_s;
  w.identity = storage::FrameWrite::ReportIdentity{time_s, {{0x02, time_s}}};
  w.record.received.receive_unix_ms = time_s * 1000 + 5;
  w.record.raw = {0x23, 0x23, 0x02, 0xFE};
  w.latest = storage::FrameWrite::Latest{0x02, protocol::CommandKind::realtime};
  w.log_sequence = log_sequence;
  return w;
}

TEST(MessageIds, AReportIsIdentifiedByVinTimeAndBlocks) {
  auto w = report_write(1796647402, std::nullopt);
  w.identity->blocks.push_back({0x80, 1796647402});
  EXPECT_EQ(message_id(w), "LZZ5CLSB0NA100002:1796647402:2@1796647402,128@1796647402");
  w.identity.reset();  // not a report, or its signature failed
  EXPECT_EQ(message_id(w), "");
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("lantian-cluster-" + std::to_string(std::random_device{}()))) {}
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<storage::WriteResult> store_all(storage::Store& store,
                                            std::vector<storage::FrameWrite> writes) {
  std::promise<std::vector<storage::WriteResult>> done;
  storage::BatchCompletion completion = [&](std::vector<storage::WriteResult>& r) {
    done.set_value(std::move(r));
  };
  EXPECT_EQ(store.submit_or_notify(writes, completion, nullptr), storage::Submitted::queued);
  return done.get_future().get();
}

TEST(LogSequence, AMessageAppliedTwiceIsOneFrameUnderTheLogsSequence) {
  TempDir dir;
  std::string error;
  auto store = storage::Store::open({.dir = dir.path(), .sync = storage::SyncPolicy::off}, error);
  ASSERT_TRUE(store) << error;
  // A login (no identity) redelivered: the same key both times, one record.
  auto login = report_write(1796647400, 41);
  login.identity.reset();
  login.latest = storage::FrameWrite::Latest{0x01, protocol::CommandKind::login};
  const auto first = store_all(*store, {login});
  const auto again = store_all(*store, {login});
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(first[0].outcome, storage::WriteOutcome::stored);
  EXPECT_EQ(again[0].outcome, storage::WriteOutcome::stored);
  EXPECT_EQ(first[0].frame_key, again[0].frame_key);
  EXPECT_EQ(first[0].frame_key, storage::frame_key(login.vin, 1796647400, 41));
  // A report redelivered: a duplicate by its identity.
  const auto report = store_all(*store, {report_write(1796647402, 42)});
  const auto report_again = store_all(*store, {report_write(1796647402, 42)});
  EXPECT_EQ(report[0].outcome, storage::WriteOutcome::stored);
  EXPECT_EQ(report_again[0].outcome, storage::WriteOutcome::duplicate);
  std::vector<std::uint64_t> sequences;
  store->for_each_frame(std::nullopt, 0, 4'000'000'000, [&](const storage::FrameKey& k, const auto&) {
    sequences.push_back(k.sequence);
    return true;
  });
  EXPECT_EQ(sequences, (std::vector<std::uint64_t>{41, 42}));
  store->close();
}

// An answer larger than a broker message goes in chunks and comes back whole, whatever their
// order; during a handover a second owner's chunks are ignored.
TEST(OwnerRequests, AnAnswerGoesInChunksAndComesBackWhole) {
  constexpr auto size = OwnerRequests::max_chunk;
  std::string answer(size * 2 + 100, '\0');
  for (std::size_t i = 0; i < answer.size(); ++i) answer[i] = static_cast<char>(i * 7);
  const auto chunks = OwnerRequests::chunks(42, answer);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].size(), 12 + size);
  EXPECT_EQ(chunks[1].size(), 12 + size);
  EXPECT_EQ(chunks[2].size(), 12u + 100u);
  EXPECT_EQ(chunks[1].substr(0, 12), std::string("\0\0\0\x2a\0\0\0\x01\0\0\0\x03", 12));

  OwnerRequests::Assembly assembly;
  std::string error;
  ASSERT_TRUE(OwnerRequests::add_chunk(assembly, chunks[2], error)) << error;
  ASSERT_TRUE(OwnerRequests::add_chunk(assembly, OwnerRequests::chunks(7, "other")[0], error));
  ASSERT_TRUE(OwnerRequests::add_chunk(assembly, chunks[0], error)) << error;
  EXPECT_FALSE(assembly.complete());
  ASSERT_TRUE(OwnerRequests::add_chunk(assembly, chunks[1], error)) << error;
  ASSERT_TRUE(assembly.complete());
  EXPECT_EQ(assembly.joined(), answer);

  // An empty answer is one chunk.
  const auto empty = OwnerRequests::chunks(9, "");
  ASSERT_EQ(empty.size(), 1u);
  OwnerRequests::Assembly nothing;
  ASSERT_TRUE(OwnerRequests::add_chunk(nothing, empty[0], error));
  EXPECT_TRUE(nothing.complete());
  EXPECT_EQ(nothing.joined(), "");
}

TEST(OwnerRequests, ARefusalOrABrokenChunkIsAnError) {
  std::string error;
  OwnerRequests::Assembly a;
  EXPECT_FALSE(OwnerRequests::add_chunk(a, "abc", error));
  EXPECT_EQ(error, "an answer chunk shorter than its header");
  // Count 0: the owner refused, and says why.
  OwnerRequests::Assembly b;
  EXPECT_FALSE(OwnerRequests::add_chunk(
      b, std::string("\0\0\0\x05\0\0\0\0\0\0\0\0", 12) + "too busy", error));
  EXPECT_EQ(error, "too busy");
  // An index past the count.
  OwnerRequests::Assembly c;
  EXPECT_FALSE(OwnerRequests::add_chunk(
      c, std::string("\0\0\0\x05\0\0\0\x02\0\0\0\x02", 12) + "x", error));
  EXPECT_EQ(error, "an answer chunk out of its sequence");
}

}  // namespace
}  // namespace lantian::cluster
