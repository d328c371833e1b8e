#pragma once
// `lantiand export`: the archive read back without the API, as JSON Lines — each stored frame in
// the decoded-frame JSON (docs/decode-json.md) plus a "received" object (arrival time, peer,
// listener, connection) and the raw bytes as hex.

#include <ostream>

#include "server/config.hpp"

namespace lantian::server {

// Returns the process exit status (0, or 1 with the reason on `errors`).
int run_export(const Config& config, const ExportQuery& query, std::ostream& out,
               std::ostream& errors);

}  // namespace lantian::server
