#include "server/backup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <system_error>

namespace lantian::server {

namespace fs = std::filesystem;

namespace {

// fsync of one file or directory; false when it cannot be opened or synced.
bool sync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

bool write_backup(storage::Store& store, const fs::path& data_dir, const fs::path& dir,
                  BackupWritten& written, std::string& error) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec)) {
    error = "the backup directory " + dir.string() + " is not an empty directory";
    return false;
  }
  auto fail = [&](std::string why) {
    error = std::move(why);
    for (const auto& entry : fs::directory_iterator(dir, ec)) fs::remove_all(entry.path(), ec);
    return false;
  };
  // RocksDB syncs the checkpoint's files and its directory itself.
  if (!store.checkpoint(dir / "db", error)) return fail(error);
  written = {dir, false};
  if (const auto certs = data_dir / "certs"; fs::is_directory(certs, ec)) {
    fs::copy(certs, dir / "certs", fs::copy_options::recursive, ec);
    if (ec) return fail("cannot copy " + certs.string() + ": " + ec.message());
    for (const auto& entry : fs::recursive_directory_iterator(dir / "certs", ec))
      if (!sync_path(entry.path())) return fail("cannot sync " + entry.path().string());
    if (!sync_path(dir / "certs")) return fail("cannot sync " + (dir / "certs").string());
    written.certs = true;
  }
  if (!sync_path(dir) || !sync_path(dir.parent_path()))
    return fail("cannot sync " + dir.string() + " and its parent directory");
  return true;
}

}  // namespace lantian::server
