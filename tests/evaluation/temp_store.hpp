#pragma once
// A store in a fresh temporary directory, removed with it.

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "storage/store.hpp"

namespace lantian::evaluation::testing {

class TempStore {
 public:
  TempStore()
      : dir_(std::filesystem::temp_directory_path() /
             ("lantian-evaluation-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter_++))) {
    std::filesystem::remove_all(dir_);
    std::string error;
    store_ = storage::Store::open({.dir = dir_, .sync = storage::SyncPolicy::off}, error);
    if (!store_) throw std::runtime_error(error);
  }
  ~TempStore() {
    store_->close();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  storage::Store& operator*() { return *store_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<storage::Store> store_;
};

}  // namespace lantian::evaluation::testing
