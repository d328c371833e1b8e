#pragma once
// `lantiand token create|list|revoke`: manage API tokens from the command line. Create and revoke
// go through the running server's admin socket when one answers (admin_client.hpp), into the
// archive otherwise; list reads the archive read-only.

#include <ostream>

#include "server/config.hpp"

namespace lantian::server::api {

// Prints the new token's secret (once) and its id; exit status.
int run_token_create(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
int run_token_list(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
int run_token_revoke(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);

}  // namespace lantian::server::api
