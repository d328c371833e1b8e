#pragma once
// The commands around the rules: import the registry and zone versions, list violations, and
// replay the archive to prove the violation set is reproducible. The commands that change
// something (imports, alert, backup) go through the running server when one answers on its admin
// socket (admin_client.hpp) — the change takes effect at once, and is audited — and open the
// archive for writing themselves when none runs (RocksDB allows one writer). Listing and replay
// open the archive read-only, server or not. Each returns the process exit status and writes its
// report to `out` / `errors`.

#include <ostream>

#include "server/config.hpp"

namespace lantian::server {

int run_import_registry(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
int run_import_zones(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
int run_import_areas(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
// Stores permits (通行证) that exempt a vehicle from R02 in one zone.
int run_import_permits(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
// Stores key freight enterprises (rules/enterprises.hpp): every valid row, the rejected ones
// reported by line; exit status 1 when any row was rejected.
int run_import_enterprises(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
// Stores new observations (by id; known ones are skipped) and evaluates them (R01 sightings, R05).
int run_import_observations(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
// Stores new gate records (by enterprise and id; known ones are kept) and evaluates them (R01, R14,
// R16); records of enterprises not in the list are refused.
int run_import_gate_events(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
// Declares a heavy-pollution alert, lifts one, or lists them (AlertRequest).
int run_alert(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
// Writes a consistent copy of the data directory into a new directory (server/backup.hpp).
int run_backup(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
int run_list_violations(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);
// Exit 0 when replaying reproduces exactly the stored violations of the range, 1 otherwise.
int run_replay(const ParsedCommandLine& cl, std::ostream& out, std::ostream& errors);

}  // namespace lantian::server
