#pragma once
// Evaluation of the archive as a whole, from nothing: what `lantiand replay` compares the stored
// violations with.

#include <cstdint>
#include <vector>

#include "evaluation/catalogue.hpp"
#include "evaluation/violation_store.hpp"
#include "rules/engine.hpp"
#include "rules/pollution_alerts.hpp"
#include "storage/store.hpp"

namespace lantian::evaluation {

// Runs `engine` over every stored frame from `from` to `to` (collection time) in key order — per
// vehicle, in collection-time order, each vehicle from a fresh state — then over the external
// observations and the gate records (with the stored alerts and `alert_policy`), and returns the
// violations. R11 offline and R15 are not among them (they depend on when the checks ran; see
// offline_episodes). Reads only.
ViolationSet evaluate_archive(storage::Store& store, const rules::Engine& engine,
                              const Catalogue& catalogue, const rules::AlertPolicy& alert_policy,
                              std::int64_t from_unix_s, std::int64_t to_unix_s);

// R11 offline episodes of `vehicle` found in the archive: every pair of consecutively received
// frames further apart than the limit, and the silence from the last one until `now_unix_s`.
std::vector<rules::Violation> offline_episodes(const storage::Store& store,
                                               const rules::Engine& engine,
                                               const rules::VehicleRecord& vehicle,
                                               std::int64_t now_unix_s);

}  // namespace lantian::evaluation
