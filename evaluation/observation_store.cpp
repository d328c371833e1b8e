#include "evaluation/observation_store.hpp"

#include <boost/json.hpp>
#include <map>

#include "evaluation/violation_store.hpp"
#include "rules/records_json.hpp"

namespace lantian::evaluation {

bool ObservationStore::add_if_new(const rules::Observation& observation, std::string& error) {
  return store_.insert_if_absent(storage::Family::observations, observation.id,
                                 boost::json::serialize(rules::to_json(observation)), error);
}

std::optional<std::string> ObservationStore::get(const std::string& id) const {
  return store_.get(storage::Family::observations, id);
}

void ObservationStore::for_each(const std::function<void(const rules::Observation&)>& fn) const {
  store_.for_each(storage::Family::observations, "",
                  [&](const std::string&, const std::string& value) {
                    if (const auto observation = rules::observation_from_json(value))
                      fn(*observation);
                    return true;
                  });
}

ObservationsStored store_observations(storage::Store& store, const rules::Engine& engine,
                                      const Catalogue& catalogue,
                                      const std::vector<rules::Observation>& observations) {
  ObservationsStored out;
  ObservationStore stored(store);
  ViolationStore violations(store);
  const auto& registry = *catalogue.registry;
  std::map<std::string, rules::VehicleState> states;
  for (const auto& given : observations) {
    // Attributed before it is stored, so that an unmatched one is kept with its reason.
    const auto match = rules::find_vehicle(registry, given);
    rules::Observation ob = given;
    ob.unmatched_reason = match.unmatched_reason;
    if (!stored.add_if_new(ob, out.error)) {
      if (!out.error.empty()) return out;
      ++out.known;
      continue;
    }
    ++out.added;
    const auto* vehicle = match.vehicle;
    if (!vehicle) {
      ++out.unmatched;
      continue;
    }
    ViolationChanges changes{
        .context = ViolationContext::of(catalogue, /*from_frames=*/false)};
    for (auto& v :
         rules::evaluate_observation(engine, states[vehicle->vin], *vehicle, ob, *catalogue.zones))
      changes.raised.insert_or_assign(v.id, std::move(v));
    auto written = violations.write(changes);
    if (!written.error.empty()) {
      out.error = std::move(written.error);
      return out;
    }
    for (auto& v : written.added) {
      ++out.raised;
      out.violations.push_back(std::move(v));
    }
  }
  return out;
}

}  // namespace lantian::evaluation
