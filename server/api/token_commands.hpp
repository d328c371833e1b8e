#pragma once
// `lantiand token create|list|revoke`: manage API tokens from the command line (the server must be
// stopped: RocksDB has one writer; a running server's admins use POST /api/v1/tokens instead).

#include <ostream>

#include "server/config.hpp"

namespace lantian::server::api {

// Prints the new token's secret (once) and its id; exit status.
int run_token_create(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
int run_token_list(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
int run_token_revoke(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);

}  // namespace lantian::server::api
