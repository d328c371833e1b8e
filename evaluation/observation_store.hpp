#pragma once
// External observations (rules/observations.hpp) as stored — the only code that knows the
// observations family: id → the observation (JSON, rules/records_json). An id is stored once.

#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "evaluation/catalogue.hpp"
#include "rules/engine.hpp"
#include "rules/observations.hpp"
#include "storage/store.hpp"

namespace lantian::evaluation {

class ObservationStore {
 public:
  explicit ObservationStore(storage::Store& store) : store_(store) {}
  // Stores `observation` unless its id is known: false with `error` empty when it was, with
  // `error` set on a storage error. Synced on return.
  [[nodiscard]] bool add_if_new(const rules::Observation& observation, std::string& error);
  // The stored observation `id`, as JSON text.
  [[nodiscard]] std::optional<std::string> get(const std::string& id) const;
  // Every stored observation that can be read, in id order.
  void for_each(const std::function<void(const rules::Observation&)>& fn) const;

 private:
  storage::Store& store_;
};

// Stores new external observations (by id; known ones are skipped) and evaluates them against
// `catalogue`: sightings count for R01, smoke checks make R05. Each vehicle's observations are
// evaluated in the order given, from a fresh state (they are independent of the frames' state);
// each one's violations are stored in one batch with it evaluated.
struct ObservationsStored {
  std::size_t added = 0, known = 0, unmatched = 0, raised = 0;
  std::vector<boost::json::object> violations;  // the new ones, as stored
  std::string error;                            // a storage error stopped it
};
ObservationsStored store_observations(storage::Store& store, const rules::Engine& engine,
                                      const Catalogue& catalogue,
                                      const std::vector<rules::Observation>& observations);

}  // namespace lantian::evaluation
