#pragma once
// Every number of the rule catalogue (rules::EngineConfig, docs/rules.md) as a command-line and
// configuration-file option, with the catalogue's defaults. The server, `replay` and
// `import-observations` read the same options, so a replay judges with the numbers the server used.

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>
#include <string>
#include <vector>

#include "rules/engine.hpp"

namespace lantian::server {

// Adds --phase-out, --r01-categories and one option per threshold (--r07-mean-limit-ppm, …).
void add_rule_options(boost::program_options::options_description& options);

// Reads them into `config`; a value that is not a number, or out of its range, is a problem
// (named with its option) and leaves the default.
void read_rule_options(const boost::program_options::variables_map& vm, rules::EngineConfig& config,
                       std::vector<std::string>& problems);

}  // namespace lantian::server
