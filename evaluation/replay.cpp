#include "evaluation/replay.hpp"

#include <algorithm>
#include <limits>
#include <map>

#include "evaluation/frame_evaluation.hpp"
#include "evaluation/gate_store.hpp"
#include "evaluation/observation_store.hpp"

namespace lantian::evaluation {

ViolationSet evaluate_archive(storage::Store& store, const rules::Engine& engine,
                              const Catalogue& catalogue, const rules::AlertPolicy& alert_policy,
                              std::int64_t from_unix_s, std::int64_t to_unix_s) {
  const auto& registry = *catalogue.registry;
  const auto& zones = *catalogue.zones;
  ViolationSet out;
  std::string current_vin;
  const rules::VehicleRecord* vehicle = nullptr;
  rules::VehicleState state;
  store.for_each_frame(std::nullopt, from_unix_s, to_unix_s,
                       [&](const storage::FrameKey& key, const storage::FrameRecord& r) {
                         if (protocol::as_text(key.vin) != current_vin) {
                           current_vin = std::string(protocol::as_text(key.vin));
                           vehicle = registry.find(current_vin);
                           state = rules::VehicleState();
                         }
                         fold_frame(engine, vehicle, zones, key, r, state, out);
                         return true;
                       });
  // External observations, evaluated after the frames (their violations have ids of their own, or
  // the same per-day id as a frame's R01).
  std::map<std::string, rules::VehicleState> states;
  ObservationStore(store).for_each([&](const rules::Observation& ob) {
    if (ob.at_unix_s < from_unix_s || ob.at_unix_s > to_unix_s) return;
    const auto* found = rules::find_vehicle(registry, ob).vehicle;
    if (!found) return;
    for (auto& v : rules::evaluate_observation(engine, states[found->vin], *found, ob, zones))
      out.emplace(v.id, std::move(v));
  });
  // Gate records, as the live path judges them.
  ViolationSet gates;
  evaluate_gate_records(stored_gate_records(store, from_unix_s, to_unix_s),
                        GateRules{&engine, &alert_policy}, catalogue, enterprises_by_id(store),
                        AlertStore(store).calendar(), gates);
  for (auto& [id, v] : gates) out.emplace(id, std::move(v));
  return out;
}

std::vector<rules::Violation> offline_episodes(const storage::Store& store,
                                               const rules::Engine& engine,
                                               const rules::VehicleRecord& vehicle,
                                               std::int64_t now_unix_s) {
  std::vector<std::pair<std::int64_t, std::string>> arrivals;  // (receive time, frame ref)
  store.for_each_frame(protocol::make_vin(vehicle.vin), std::numeric_limits<std::int64_t>::min(),
                       std::numeric_limits<std::int64_t>::max(),
                       [&](const storage::FrameKey& key, const storage::FrameRecord& r) {
                         arrivals.emplace_back(r.received.receive_unix_ms / 1000,
                                               frame_ref(storage::frame_key(
                                                   key.vin, key.collection_unix_s, key.sequence)));
                         return true;
                       });
  std::sort(arrivals.begin(), arrivals.end());
  std::vector<rules::Violation> out;
  for (std::size_t i = 0; i < arrivals.size(); ++i) {
    const auto until = i + 1 < arrivals.size() ? arrivals[i + 1].first : now_unix_s;
    if (auto v =
            engine.offline_violation(vehicle, arrivals[i].first, {arrivals[i].second, -1}, until))
      out.push_back(std::move(*v));
  }
  return out;
}

}  // namespace lantian::evaluation
