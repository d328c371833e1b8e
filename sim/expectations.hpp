#pragma once
// The violations a scenario should produce, worked out from the samples a terminal actually
// generated and the plan's own terms, written as JSON Lines next to the run: what an operator (or
// a test) compares with `lantiand violations` afterwards.
//
// Only the rules a role is built to trigger are predicted — R01 (国三 truck moving, once per
// Beijing day), R02/R03/R13 (inside a zone that bans the vehicle — R13: a machine of unknown stage
// in any 禁用区 — at least two consecutive fixes, once per visit), R04 (smoke above the machine's GB 36886 limit for three consecutive warm samples,
// once per streak) — using the deployment's zones and the rule thresholds of docs/rules.md. Every
// other rule should stay silent for simulated vehicles: their values are plausible by design.

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "rules/zones.hpp"
#include "sim/fleet.hpp"
#include "sim/vehicle_model.hpp"

namespace lantian::sim {

struct ExpectedViolation {
  std::string rule, vin, zone;   // zone: R02/R03/R13 only
  std::int64_t at_unix_s = 0;    // the time of the evidence that opens it
  // Gate rules: a truck that is not registered is known by its plate (vin empty); R15 is about an
  // enterprise (vin and plate empty).
  std::string plate, enterprise;
  auto operator<=>(const ExpectedViolation&) const = default;
};

class Expectations {
 public:
  // `zones` may be null (then no zone rule is predicted); `phase_out_unix_s`: R01's start.
  Expectations(const VehicleSpec& spec, const rules::ZoneIndex* zones,
               std::int64_t phase_out_unix_s);
  // Every sample the terminal generated, in collection-time order.
  void observe(const SimSample& sample);
  [[nodiscard]] const std::vector<ExpectedViolation>& violations() const noexcept { return out_; }

 private:
  const VehicleSpec& spec_;
  const rules::ZoneIndex* zones_;
  std::int64_t phase_out_;
  std::optional<rules::Stage> stage_;
  std::set<std::int64_t> r01_days_;
  std::map<std::string, int> visits_;  // zone → consecutive fixes inside (reported at 2)
  int smoke_streak_ = 0;
  std::optional<double> last_coolant_;
  std::int64_t last_coolant_at_ = 0;
  std::vector<ExpectedViolation> out_;
};

// One JSON object per line: {"rule","vin","zone"?,"plate"?,"enterprise"?,"at","at_unix_s"} — at:
// the time of the evidence that opens the violation (ISO 8601, Beijing time), as the stored
// violation's `time`.
void write_expected(const std::vector<ExpectedViolation>& violations, std::ostream& out);

}  // namespace lantian::sim
