#pragma once
// What rules are evaluated against besides the frames: the registry (vehicles and their permits)
// and the newest zone and area versions — an immutable snapshot, replaced whole when an operator uploads a
// new registry, permits or zones. Whoever needs it (a session choosing a vehicle's profile, a
// shard evaluating a vehicle, an API request) takes one snapshot and uses it for the whole
// operation, so that a registry and a zone version of different uploads never meet.

#include <memory>
#include <mutex>

#include "rules/areas.hpp"
#include "rules/registry.hpp"
#include "rules/zones.hpp"

namespace lantian::evaluation {

struct Catalogue {
  std::shared_ptr<const rules::Registry> registry;  // never null
  std::shared_ptr<const rules::ZoneIndex> zones;    // never null; version 0: none uploaded
  std::shared_ptr<const rules::AreaIndex> areas;    // never null; version 0: none uploaded
  [[nodiscard]] int zone_version() const noexcept { return zones->version(); }
};
using CatalogueSnapshot = std::shared_ptr<const Catalogue>;

// The catalogue in use. Thread-safe: snapshot() from any thread, replace() from any thread.
class CurrentCatalogue {
 public:
  explicit CurrentCatalogue(Catalogue initial);
  [[nodiscard]] CatalogueSnapshot snapshot() const;
  void replace(Catalogue next);

 private:
  mutable std::mutex mutex_;
  CatalogueSnapshot current_;
};

}  // namespace lantian::evaluation
