#pragma once
// Gate records (门禁记录): every truck a key freight enterprise's gate system lets in or out
// (rules/enterprises.hpp), sent by the gate systems through the API or back-filled from JSON Lines.
// Most 国三 trucks carry no terminal, so a gate record is often the only evidence that one still
// operates. A record is kept as evidence whether or not the vehicle is registered.
//
// The rules on them (docs/rules.md): R01 (a 国三-or-older diesel truck after the phase-out, the
// enterprise named), R14 (a truck let through during a heavy-pollution alert against the policy
// table), R16 (a declared stage that contradicts the registry, for review). R15 (a gate system
// silent for a day) is about the enterprise, not a record: see gate_silence().
// Pure functions: no storage here.

#include <boost/json/object.hpp>
#include <cstdint>
#include <istream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rules/engine.hpp"
#include "rules/enterprises.hpp"
#include "rules/pollution_alerts.hpp"

namespace lantian::rules {

struct GateEvent {
  std::string id;             // unique within its enterprise: the idempotency key
  std::string enterprise_id;  // Enterprise::id
  std::string gate;           // Gate::id (its position, when the enterprise list gives one)
  std::int64_t at_unix_s = 0;
  bool entering = true;                 // direction: in (true) or out
  std::string plate, plate_color;       // plate normalised (normalise_plate), colour code or empty
  std::string vin;                      // when the gate reads it (or the 随车清单 gives it)
  std::optional<Stage> declared_stage;  // from the 随车清单 or 行驶证
  std::string declared_fuel;            // diesel, gas, petrol, electric, hydrogen, hybrid
  std::string cargo;
  bool bulk = false;  // bulk material (大宗物料): counted against the clean-transport share
  std::optional<double> weight_t;
  std::string image_ref;
  // Set when stored: the registered vehicle it was attributed to, or why none.
  std::string matched_vin, unmatched_reason;
};

struct GateEventImport {
  std::vector<GateEvent> events;
  std::vector<RejectedRow> rejected;  // line (1-based) or, from the API, index + 1
};

// One record from JSON:
//   {"id": "…", "enterprise": "…", "gate": "east", "time": "2026-03-01T08:00:00+08:00",
//    "direction": "in" | "out", "plate": "豫A12345", "plate_color": "yellow", "vin": "…",
//    "declared_stage": "CN3" | "国三", "declared_fuel": "diesel", "cargo": "铁矿石", "bulk": true,
//    "weight_t": 31.5, "image_ref": "…"}
// id, enterprise, gate, time, direction and plate are required. Every problem is a reason; a field
// not in this list is one (named). `stored_form` also takes "matched_vin" and "unmatched".
// A record dated after `latest_unix_s` (the caller's now plus a little clock skew) is refused: a gate
// system must not be able to date records in the future (it would hide its silence from R15).
[[nodiscard]] std::optional<GateEvent> gate_event_from_json(
    const boost::json::object& o, std::vector<std::string>& reasons, bool stored_form = false,
    std::int64_t latest_unix_s = std::numeric_limits<std::int64_t>::max());
// JSON Lines, one record a line (lantiand import-gate-events): rejected lines with their numbers,
// counted from `first_line`. At most `max_records` lines are read (0: all), so that a large file
// can be taken slice by slice.
[[nodiscard]] GateEventImport import_gate_events_jsonl(
    std::istream& in, std::int64_t latest_unix_s = std::numeric_limits<std::int64_t>::max(),
    std::size_t max_lines = 0, std::size_t first_line = 1);
[[nodiscard]] boost::json::object to_json(const GateEvent& event);
[[nodiscard]] std::optional<GateEvent> gate_event_from_json_text(std::string_view text);

// The evidence reference of a record: "gate:ENTERPRISE/ID".
[[nodiscard]] std::string gate_evidence_ref(const GateEvent& event);

// What a gate record is judged with: the registered vehicle it was attributed to (nullptr when
// none: then its declared stage and fuel are used, and what is raised is `suspect`), its enterprise,
// the alerts, the policy table and the zones.
struct GateJudgement {
  const VehicleRecord* vehicle = nullptr;
  const Enterprise* enterprise = nullptr;  // never null
  const AlertCalendar* alerts = nullptr;   // never null
  const AlertPolicy* policy = nullptr;     // never null
  const ZoneIndex* zones = nullptr;        // never null
};

// The truck of a record as the rules judge it: the registered vehicle's stage and fuel, or (not
// registered, or registered without a stage) what its papers declare, then `suspect`.
struct GateTruck {
  std::optional<Stage> stage;
  std::string fuel, source;  // source: registry, inferred, declared (empty: stage unknown)
  bool suspect = false;
  bool heavy = true;  // a registered N3, or an unregistered truck (its category is unknown)
};
[[nodiscard]] GateTruck gate_truck(const GateEvent& event, const VehicleRecord* vehicle);

// The alert a record breaks, and the oldest stage it allowed: an alert in force in the
// enterprise's city, a heavy truck of known stage, not new energy, older than the policy table
// allows for the enterprise's grade at that level. nullopt when it breaks none (R14's condition).
struct AlertBreach {
  const PollutionAlert* alert = nullptr;
  Stage allowed = Stage::CN5;
};
[[nodiscard]] std::optional<AlertBreach> alert_breach(const GateEvent& event,
                                                      const GateJudgement& with,
                                                      const GateTruck& truck);

// A vehicle's memory across the gate records of one batch (gate_vehicle_key): R01 and R14 are one
// per vehicle per day (and per enterprise for R14), keeping the day's first and last evidence.
struct GateVehicleState {
  VehicleState engine;  // R01 (and the zone rules, for a gate inside a zone) of a registered one
  struct FirstOfDay {
    std::int64_t day = -1;
    SampleRef ref;
    std::int64_t at_unix_s = 0;
  };
  std::map<std::string, FirstOfDay> r14;  // enterprise id → the day's first record
};

// Evaluates one gate record.
[[nodiscard]] std::vector<Violation> evaluate_gate_event(const Engine& engine,
                                                         GateVehicleState& state,
                                                         const GateEvent& event,
                                                         const GateJudgement& with);

// The key a vehicle's gate rules are kept under: its registered VIN, else "PLATE/COLOUR" (a VIN the
// gate read that is not registered may be a misread: it is kept in the details, not used as key).
[[nodiscard]] std::string gate_vehicle_key(const GateEvent& event,
                                           const VehicleRecord* vehicle);

// R15: gate systems gone silent. `last_record` maps enterprise id → the time of its newest gate
// record and `active_days` → on how many of the 7 Beijing days before that it sent records. An
// enterprise that sent records on at least `min_active_days` of those days and none for a whole
// Beijing day since is raised (low), once per silence (id R15|ENTERPRISE|date of the last record).
struct GateActivity {
  std::int64_t last_record_unix_s = 0;
  int active_days = 0;  // of the 7 Beijing days up to and including the last record's
};
[[nodiscard]] std::vector<Violation> gate_silence(
    const std::vector<Enterprise>& enterprises,
    const std::map<std::string, GateActivity>& activity, std::int64_t now_unix_s,
    int min_active_days = 3);

}  // namespace lantian::rules
