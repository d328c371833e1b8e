#pragma once
// A RocksDB file system that behaves like a full disk on demand: while `full` is set, creating a
// file and every write, flush and sync of an open file fail with NoSpace — as ENOSPC does. Reads
// keep working. Used to test how the store and the server react to a write failure, and that they
// recover when the disk has room again.

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <memory>

namespace lantian::testing {

class FailingFileSystem : public rocksdb::FileSystemWrapper {
 public:
  FailingFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  static const char* kClassName() { return "FailingFileSystem"; }
  const char* Name() const override { return kClassName(); }

  std::atomic<bool> full{false};

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    if (full) return no_space();
    return failing(target()->NewWritableFile(name, options, result, dbg), result);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    if (full) return no_space();
    return failing(target()->ReopenWritableFile(name, options, result, dbg), result);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
    if (full) return no_space();
    return failing(target()->ReuseWritableFile(name, old_name, options, result, dbg), result);
  }

  // The Env to hand to StoreOptions::env.
  static std::pair<std::shared_ptr<FailingFileSystem>, std::shared_ptr<rocksdb::Env>> make() {
    auto fs = std::make_shared<FailingFileSystem>();
    std::shared_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
    return {fs, env};
  }

 private:
  static rocksdb::IOStatus no_space() { return rocksdb::IOStatus::NoSpace("injected: disk full"); }
  // A file the base file system opened, wrapped so that it fails while the disk is full.
  rocksdb::IOStatus failing(rocksdb::IOStatus opened,
                            std::unique_ptr<rocksdb::FSWritableFile>* result) {
    if (opened.ok()) *result = std::make_unique<File>(std::move(*result), full);
    return opened;
  }

  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> file, const std::atomic<bool>& full)
        : FSWritableFileOwnerWrapper(std::move(file)), full_(full) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      return full_ ? no_space() : target()->Append(data, options, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      return full_ ? no_space() : target()->Append(data, options, info, dbg);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override {
      return full_ ? no_space() : target()->PositionedAppend(data, offset, options, dbg);
    }
    rocksdb::IOStatus Flush(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
      return full_ ? no_space() : target()->Flush(options, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
      return full_ ? no_space() : target()->Sync(options, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
      return full_ ? no_space() : target()->Fsync(options, dbg);
    }

   private:
    const std::atomic<bool>& full_;
  };
};

}  // namespace lantian::testing
