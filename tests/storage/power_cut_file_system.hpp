#pragma once
// A RocksDB file system that can lose power, the way RocksDB's own fault-injection tests model it:
// it remembers, for every file written through it, how many bytes were appended and how many of
// them a Sync or Fsync made durable. `cut()` is the moment the power goes: from then on every
// write and sync fails (nothing more reaches the disk). `drop_unsynced()`, called once nothing
// writes any more, leaves the disk as it would be after the restart: each file keeps only what was
// synced, and a file created but never synced is gone.
//
// What it does not model: directory fsyncs (a synced file's name is taken to survive, a deleted
// file to stay deleted) and bytes torn inside a sync. A page cache survives kill -9, so only this
// shows whether an acknowledgement waited for its sync.

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace lantian::testing {

class PowerCutFileSystem : public rocksdb::FileSystemWrapper {
 public:
  PowerCutFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  static const char* kClassName() { return "PowerCutFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // The Env to hand to StoreOptions::env.
  static std::pair<std::shared_ptr<PowerCutFileSystem>, std::shared_ptr<rocksdb::Env>> make() {
    auto fs = std::make_shared<PowerCutFileSystem>();
    std::shared_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
    return {fs, env};
  }

  // The power goes: every later write, sync or new file fails.
  void cut() { cut_ = true; }

  // After the cut, with no writer left: truncates every file written since it was created (or
  // reopened) to its synced length and deletes those never synced. Returns how many bytes were
  // dropped.
  std::uint64_t drop_unsynced() {
    std::lock_guard lock(mutex_);
    std::uint64_t dropped = 0;
    for (const auto& [name, state] : files_) {
      std::error_code ec;
      const auto size = std::filesystem::file_size(name, ec);
      if (ec) continue;  // deleted meanwhile
      if (!state->ever_synced) {
        dropped += size;
        std::filesystem::remove(name, ec);
      } else if (size > state->synced) {
        dropped += size - state->synced;
        if (::truncate(name.c_str(), static_cast<off_t>(state->synced)) != 0) dropped = ~0ull;
      }
    }
    files_.clear();
    return dropped;
  }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    if (cut_) return power_off();
    return track(name, 0, target()->NewWritableFile(name, options, result, dbg), result);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    if (cut_) return power_off();
    std::error_code ec;
    const auto existing = std::filesystem::file_size(name, ec);
    return track(name, ec ? 0 : existing, target()->ReopenWritableFile(name, options, result, dbg),
                 result);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
    if (cut_) return power_off();
    forget(old_name);
    return track(name, 0, target()->ReuseWritableFile(name, old_name, options, result, dbg),
                 result);
  }
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    if (cut_) return power_off();
    auto status = target()->RenameFile(from, to, options, dbg);
    if (status.ok()) {
      std::lock_guard lock(mutex_);
      files_.erase(to);
      if (auto node = files_.extract(from)) {
        node.key() = to;
        files_.insert(std::move(node));
      }
    }
    return status;
  }
  rocksdb::IOStatus DeleteFile(const std::string& name, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    if (cut_) return power_off();
    auto status = target()->DeleteFile(name, options, dbg);
    if (status.ok()) forget(name);
    return status;
  }

 private:
  struct FileState {
    std::atomic<std::uint64_t> appended{0}, synced{0};
    std::atomic<bool> ever_synced{false};
  };

  static rocksdb::IOStatus power_off() { return rocksdb::IOStatus::IOError("injected: power cut"); }

  rocksdb::IOStatus track(const std::string& name, std::uint64_t durable_size,
                          rocksdb::IOStatus opened,
                          std::unique_ptr<rocksdb::FSWritableFile>* result) {
    if (!opened.ok()) return opened;
    auto state = std::make_shared<FileState>();
    state->appended = durable_size;
    state->synced = durable_size;
    state->ever_synced = durable_size > 0;  // a reopened file's bytes were there before
    {
      std::lock_guard lock(mutex_);
      files_[name] = state;
    }
    *result = std::make_unique<File>(std::move(*result), std::move(state), cut_);
    return opened;
  }
  void forget(const std::string& name) {
    std::lock_guard lock(mutex_);
    files_.erase(name);
  }

  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> file, std::shared_ptr<FileState> state,
         const std::atomic<bool>& cut)
        : FSWritableFileOwnerWrapper(std::move(file)), state_(std::move(state)), cut_(cut) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      if (cut_) return power_off();
      return appended(target()->Append(data, options, dbg), data.size());
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      if (cut_) return power_off();
      return appended(target()->Append(data, options, info, dbg), data.size());
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override {
      if (cut_) return power_off();
      auto status = target()->PositionedAppend(data, offset, options, dbg);
      if (status.ok() && offset + data.size() > state_->appended)
        state_->appended = offset + data.size();
      return status;
    }
    rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
      if (cut_) return power_off();
      auto status = target()->Truncate(size, options, dbg);
      if (status.ok()) {
        state_->appended = size;
        if (state_->synced > size) state_->synced = size;
      }
      return status;
    }
    rocksdb::IOStatus Flush(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
      if (cut_) return power_off();
      return target()->Flush(options, dbg);  // to the OS, not to the disk
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
      if (cut_) return power_off();
      return synced(state_->appended.load(), target()->Sync(options, dbg));
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
      if (cut_) return power_off();
      return synced(state_->appended.load(), target()->Fsync(options, dbg));
    }
    rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& options,
                                rocksdb::IODebugContext* dbg) override {
      if (cut_) return power_off();
      return target()->RangeSync(offset, nbytes, options, dbg);  // starts writeback; no promise
    }
    rocksdb::IOStatus Close(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
      if (cut_) return rocksdb::IOStatus::OK();  // the descriptor goes; nothing more is written
      return target()->Close(options, dbg);
    }

   private:
    rocksdb::IOStatus appended(rocksdb::IOStatus status, std::size_t n) {
      if (status.ok()) state_->appended += n;
      return status;
    }
    // What was appended before the sync began is durable once it returns.
    rocksdb::IOStatus synced(std::uint64_t before, rocksdb::IOStatus status) {
      if (status.ok()) {
        if (before > state_->synced) state_->synced = before;
        state_->ever_synced = true;
      }
      return status;
    }
    std::shared_ptr<FileState> state_;
    const std::atomic<bool>& cut_;
  };

  std::atomic<bool> cut_{false};
  std::mutex mutex_;  // guards files_
  std::map<std::string, std::shared_ptr<FileState>> files_;
};

}  // namespace lantian::testing
