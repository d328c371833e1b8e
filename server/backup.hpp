#pragma once
// `lantiand backup DIR`: a copy of a data directory that a server can be started on (docs/
// operations.md): DIR/db, a consistent RocksDB checkpoint of the archive taken while it is in use,
// and DIR/certs, the development certificates when the data directory holds them (their CA signed
// the terminals' certificates). The command makes DIR (new, mode 0750), so that it is where the
// operator sees it; the process holding the archive — the running server, or the command itself
// when none runs — fills it.

#include <filesystem>
#include <string>

#include "storage/store.hpp"

namespace lantian::server {

struct BackupWritten {
  std::filesystem::path dir;
  bool certs = false;  // DIR/certs was copied
};

// Fills `dir`, an existing empty directory, and syncs what it wrote (files, directories, and
// `dir`'s entry in its parent). False with `error` set on failure, `dir` emptied again.
[[nodiscard]] bool write_backup(storage::Store& store, const std::filesystem::path& data_dir,
                                const std::filesystem::path& dir, BackupWritten& written,
                                std::string& error);

}  // namespace lantian::server
