#pragma once
// JSON forms of the rules' records, as the archive keeps them and the tools print them.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <istream>
#include <vector>
#include <optional>
#include <string>
#include <string_view>

#include "rules/engine.hpp"
#include "rules/observations.hpp"
#include "rules/registry.hpp"

namespace lantian::rules {

// A time as the JSON feeds give it: ISO 8601 in Beijing time ("2026-03-01T23:00:00+08:00", the
// offset optional but only +08:00) or Unix seconds. nullopt for anything else or a year outside
// 2000–2255.
[[nodiscard]] std::optional<std::int64_t> unix_seconds_from_json(const boost::json::value& v);

// Reads JSON Lines (the feeds' import form): calls `fn(line number, object)` for each line that
// is a JSON object; blank lines are skipped; any other line is added to `rejected` ("not a JSON
// object"). Lines are numbered from `first_line` (a slice of a larger file).
void for_each_json_line(std::istream& in, std::vector<RejectedRow>& rejected,
                        const std::function<void(std::size_t, const boost::json::object&)>& fn,
                        std::size_t first_line = 1);

[[nodiscard]] boost::json::object to_json(const VehicleRecord& record);
[[nodiscard]] std::optional<VehicleRecord> vehicle_from_json(std::string_view text);

// A violation as stored: its fields plus `status` ("open" when new), `detected_unix_ms`, and the
// evidence as frame references with their times.
[[nodiscard]] boost::json::object to_json(const Violation& violation,
                                          std::int64_t detected_unix_ms);

// A vehicle's rule state, for checkpoints. from_json returns nullopt for text that is not a state
// written by to_json_text (a checkpoint of an older layout is simply not used).
[[nodiscard]] std::string to_json_text(const VehicleState& state);
[[nodiscard]] std::optional<VehicleState> vehicle_state_from_json(std::string_view text);

// An observation in the JSON Lines form import_observations_jsonl reads.
[[nodiscard]] boost::json::object to_json(const Observation& observation);
[[nodiscard]] std::optional<Observation> observation_from_json(std::string_view text);

}  // namespace lantian::rules
