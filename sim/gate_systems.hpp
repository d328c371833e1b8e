#pragma once
// Simulated gate systems (门禁) of key freight enterprises: for the days before a run, the trucks of
// the fleet (and trucks that are not registered, with their papers) entering and leaving the
// enterprises of an enterprise list, written as the JSON Lines `lantiand import-gate-events` reads
// — with the violations they should raise (R01 at a gate, R14 during the given alerts, R15 for
// gate systems silent since), worked out from the plan and the policy table.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "rules/enterprises.hpp"
#include "rules/pollution_alerts.hpp"
#include "rules/zones.hpp"
#include "sim/expectations.hpp"
#include "sim/fleet.hpp"

namespace lantian::sim {

struct GatePlanOptions {
  std::int64_t first_day_unix_s = 0;  // Beijing midnight of the first day with records
  int days = 7;
  std::uint64_t seed = 1;
  double visit_probability = 0.3;    // per fleet truck and day: it visits one enterprise
  int unregistered_per_day = 3;      // per enterprise and day: trucks not in the registry
  std::int64_t phase_out_unix_s = 0;  // R01
  std::int64_t now_unix_s = 0;        // when the server checks R15 (its start)
};

struct SimGateRecord {
  std::string json;  // one line of the JSON Lines file
  std::int64_t at_unix_s = 0;
};

struct GatePlan {
  std::vector<SimGateRecord> records;  // in time order
  std::vector<ExpectedViolation> expected;
};

// Plans the gate records of `enterprises` whose gates lie outside every zone (a gate inside one
// would also raise zone rules); deterministic for a given seed. `alerts` and `policy` decide R14.
[[nodiscard]] GatePlan plan_gate_records(const std::vector<VehicleSpec>& fleet,
                                         const std::vector<rules::Enterprise>& enterprises,
                                         const rules::AlertCalendar& alerts,
                                         const rules::AlertPolicy& policy,
                                         const rules::ZoneIndex* zones,
                                         const GatePlanOptions& options);

void write_gate_records(const GatePlan& plan, std::ostream& out);

}  // namespace lantian::sim
