#pragma once
// `lantiand backup DIR`: a copy of a data directory that a server can be started on (docs/
// operations.md): DIR/db, a consistent RocksDB checkpoint of the archive taken while it is in use,
// and DIR/certs, the development certificates when the data directory holds them (their CA signed
// the terminals' certificates). DIR must not exist; it is made by the process holding the archive:
// the running server when there is one, the command itself otherwise.

#include <filesystem>
#include <string>

#include "storage/store.hpp"

namespace lantian::server {

struct BackupWritten {
  std::filesystem::path dir;
  bool certs = false;  // DIR/certs was copied
};

// False with `error` set (and nothing left in `dir`) on failure.
[[nodiscard]] bool write_backup(storage::Store& store, const std::filesystem::path& data_dir,
                                const std::filesystem::path& dir, BackupWritten& written,
                                std::string& error);

}  // namespace lantian::server
