#pragma once
// After a run: did the server keep its promises? Two checks an operator (and the tests) run on
// the files a run leaves behind.
//
//   check_acked       every report the server acknowledged is in `lantiand export` output (by VIN
//                     and the SHA-256 of its data unit, so a resend of a stored report matches)
//   check_violations  every violation the scenario predicted is stored (not withdrawn), and no
//                     other violation was raised for the simulated vehicles

#include <cstddef>
#include <istream>
#include <string>
#include <vector>

namespace lantian::sim {

struct AckedCheck {
  std::size_t acknowledged = 0, stored = 0;
  std::vector<std::string> missing;  // ack-log lines not found in the export
};
// `acked`: the ack log (--acked-out); `exported`: `lantiand export` JSON Lines.
[[nodiscard]] AckedCheck check_acked(std::istream& acked, std::istream& exported);

struct ViolationsCheck {
  std::size_t expected = 0, found = 0;
  std::vector<std::string> missing;     // "rule vin [zone] @unix_s" predicted, not stored
  std::vector<std::string> unexpected;  // stored for a vehicle of the run, not predicted
};
// `expected`: --expected-out; `stored`: `lantiand violations` JSON Lines. Violations are compared
// as (rule, VIN, zone, time of the opening evidence: `at_unix_s` against the stored `unix_s`) —
// so each predicted day, visit and streak must be there; withdrawn ones do not count. Only vehicles that occur in `fleet_vins`
// (the registry the run wrote) can be unexpected; empty: every stored violation is considered.
[[nodiscard]] ViolationsCheck check_violations(std::istream& expected, std::istream& stored,
                                               const std::vector<std::string>& fleet_vins);

}  // namespace lantian::sim
