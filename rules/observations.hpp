#pragma once
// External observations (rules.md, input 5): roadside or site smoke measurements (Ringelmann level
// or opacimeter k) and sightings of a plate or VIN by a gate (门禁), camera or roadside check. They
// reach the engine beside the terminals' frames: sightings count as "seen moving" for R01 (国三
// trucks seldom carry a terminal), smoke measurements make R05.

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "rules/engine.hpp"

namespace lantian::rules {

struct Observation {
  enum class Kind { smoke, sighting };
  std::string id;  // unique per source; the idempotency key
  Kind kind = Kind::sighting;
  std::string vin, plate;  // at least one
  std::string plate_color;  // a colour code (plate_color_code); empty when the source gives none
  std::int64_t at_unix_s = 0;
  std::optional<double> lon, lat;
  std::optional<int> ringelmann;  // smoke: level 0–5
  std::optional<double> k_m1;     // smoke: opacimeter
  bool working = false;           // a machine seen working (engine on, at work), not parked
  std::string site, image_ref, source;
  // Set when stored: why no registered vehicle was attributed (then it raises nothing).
  std::string unmatched_reason;
};

struct ObservationImport {
  std::vector<Observation> observations;
  std::vector<RejectedRow> rejected;
};

// JSON Lines, one observation per line:
//   {"id": "…", "kind": "smoke" | "sighting", "vin" | "plate": "…", "plate_color": "yellow",
//    "time": "2026-03-01T23:00:00+08:00" (or Unix seconds), "lon": …, "lat": …, "ringelmann": 2,
//    "k_m1": 1.2, "working": true, "site": "…", "image_ref": "…", "source": "…"}
// Every rejected line is reported with its number and reasons; a field not in this list is a
// reason (named), never silently dropped.
[[nodiscard]] ObservationImport import_observations_jsonl(std::istream& in);
// The same for the stored form, which also carries "unmatched" (the reason set when stored).
[[nodiscard]] ObservationImport import_stored_observations_jsonl(std::istream& in);

// The registered vehicle an observation is about: by VIN, else by plate number and colour
// (Registry::find_by_plate); otherwise why it is nobody.
[[nodiscard]] PlateMatch find_vehicle(const Registry& registry, const Observation& observation);

// Evaluates one observation of `vehicle` (resolved by VIN or plate by the caller).
[[nodiscard]] std::vector<Violation> evaluate_observation(const Engine& engine, VehicleState& state,
                                                          const VehicleRecord& vehicle,
                                                          const Observation& observation,
                                                          const ZoneIndex& zones);

}  // namespace lantian::rules
