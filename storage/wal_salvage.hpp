#pragma once
// Reading RocksDB write-ahead logs (the log format of RocksDB 7: 32 KiB blocks of records with a
// masked CRC32C, a length and a type; each whole record a WriteBatch) independently of RocksDB,
// to salvage what its recovery drops.
//
// RocksDB's point-in-time recovery stops at the first damaged record of a WAL and discards
// everything after it — for an evidence archive, acknowledged reports. Store::open preserves the
// WAL files before such a recovery and then re-applies, with this reader, every intact batch
// after the damage (docs/storage.md, "A damaged WAL").

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lantian::storage {

struct WalBatch {
  std::uint64_t sequence = 0;  // the batch's first sequence number
  std::uint32_t count = 0;     // operations in it (each takes one sequence number)
  std::string rep;             // the WriteBatch as RocksDB wrote it (rocksdb::WriteBatch(rep))
};

struct WalScan {
  std::vector<WalBatch> batches;  // every intact batch, in file order
  // Byte ranges skipped as damaged (a checksum or length that does not hold), "offset+length".
  std::vector<std::string> damaged;
  std::uint64_t damaged_bytes = 0;
  bool read_error = false;
};

// Scans one WAL file. After a damaged record it resumes at the next whole, checksummed record
// (RocksDB's own reader drops the rest of the block); a fragmented record missing a piece is
// dropped whole. Never throws.
[[nodiscard]] WalScan scan_wal(const std::filesystem::path& file);

// The masked CRC32C RocksDB stores in a record header over `type` and `payload` (for tests that
// write WAL bytes).
[[nodiscard]] std::uint32_t wal_record_crc(std::uint8_t type, const std::string& payload);

}  // namespace lantian::storage
