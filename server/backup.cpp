#include "server/backup.hpp"

#include <system_error>

namespace lantian::server {

namespace fs = std::filesystem;

bool write_backup(storage::Store& store, const fs::path& data_dir, const fs::path& dir,
                  BackupWritten& written, std::string& error) {
  std::error_code ec;
  if (dir.empty() || fs::exists(dir, ec)) {
    error = "the backup directory " + dir.string() + " exists already (a backup goes into a new one)";
    return false;
  }
  if (!fs::create_directories(dir, ec) || ec) {
    error = "cannot make " + dir.string() + ": " + ec.message();
    return false;
  }
  auto fail = [&](std::string why) {
    error = std::move(why);
    fs::remove_all(dir, ec);
    return false;
  };
  if (!store.checkpoint(dir / "db", error)) return fail(error);
  written = {dir, false};
  if (const auto certs = data_dir / "certs"; fs::is_directory(certs, ec)) {
    fs::copy(certs, dir / "certs", fs::copy_options::recursive, ec);
    if (ec) return fail("cannot copy " + certs.string() + ": " + ec.message());
    written.certs = true;
  }
  return true;
}

}  // namespace lantian::server
