#pragma once
// Gate records and heavy-pollution alerts as stored — the only code that knows these families:
//   gate_events       r|ENTERPRISE|ID          → the record (JSON, rules/gate_events), stored once
//                     t|ENTERPRISE|TIME|ID     → empty: each enterprise's records by time (TIME 8
//                                                bytes big-endian, Unix seconds + 2^63)
//                     a|ENTERPRISE             → "LAST_UNIX_S,DAY,DAY,…": the newest record's time
//                                                and the Beijing days of the last 14 with records
//   pollution_alerts  ALERT_ID                 → the alert (JSON, rules/pollution_alerts)
// Writes are synced on return. Thread-safe as storage::Store is.

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "evaluation/catalogue.hpp"
#include "evaluation/violation_store.hpp"
#include "rules/engine.hpp"
#include "rules/gate_events.hpp"
#include "rules/pollution_alerts.hpp"
#include "storage/store.hpp"

namespace lantian::evaluation {

class GateEventStore {
 public:
  explicit GateEventStore(storage::Store& store) : store_(store) {}
  [[nodiscard]] std::optional<rules::GateEvent> get(const std::string& enterprise,
                                                    const std::string& id) const;
  // The records of `enterprise` with time in [from, to), in time order, until `fn` returns false.
  void for_each(const std::string& enterprise, std::int64_t from_unix_s, std::int64_t to_unix_s,
                const std::function<bool(const rules::GateEvent&)>& fn) const;
  // Each enterprise's newest record and active days, for R15 (rules::gate_silence).
  [[nodiscard]] std::map<std::string, rules::GateActivity> activity() const;

 private:
  storage::Store& store_;
};

class AlertStore {
 public:
  explicit AlertStore(storage::Store& store) : store_(store) {}
  // Stores a new alert: false with `error` empty when one with its id (city, start, level) is
  // stored already (`existing` set to it), with `error` set on a storage error.
  [[nodiscard]] bool add(const rules::PollutionAlert& alert, std::string& error,
                         rules::PollutionAlert* existing = nullptr);
  enum class Ended { ended, not_found, already_over, failed };
  // Lifts alert `id` at `at_unix_s` (it is then in force until that time). `updated` gets the
  // alert as it is afterwards.
  Ended end(const std::string& id, std::int64_t at_unix_s, std::string& error,
            rules::PollutionAlert* updated = nullptr);
  [[nodiscard]] std::optional<rules::PollutionAlert> get(const std::string& id) const;
  // Every stored alert.
  [[nodiscard]] rules::AlertCalendar calendar() const;

 private:
  storage::Store& store_;
};

// What gate records are judged with besides the catalogue.
struct GateRules {
  const rules::Engine* engine = nullptr;
  const rules::AlertPolicy* policy = nullptr;
};

struct GateEventsStored {
  std::size_t added = 0, known = 0, unmatched = 0, raised = 0;
  std::size_t unknown_enterprise = 0;  // refused: no such enterprise in the list (not stored)
  std::vector<boost::json::object> violations;  // the new ones, as stored
  std::vector<std::pair<std::string, std::string>> refused;  // (record id, reason)
  std::string error;  // a storage error stopped it: nothing after the first write is certain
};

// Stores the new gate records of `events` (by enterprise and id; a known one is kept as it was),
// each attributed to a registered vehicle by VIN or (plate, colour) and kept even when none
// matches, then evaluates them — new and known alike, from their stored form, so that a batch
// sent again after a failure raises what the first attempt could not store — against the
// catalogue, the enterprises, the stored alerts and `rules.policy`. The records are written in
// one synced batch, then their violations in another. A record of an enterprise not in the list
// is refused (never stored: its gate and city are unknown).
GateEventsStored store_gate_events(storage::Store& store, const GateRules& rules,
                                   const Catalogue& catalogue,
                                   const std::vector<rules::GateEvent>& events);

// Evaluates stored gate records (their stored form: attributed when stored), in time order per
// vehicle, each vehicle from a fresh state, into `out` (a later form of the same id replaces the
// earlier). Records of enterprises not in `enterprises` are skipped. Reads nothing.
void evaluate_gate_records(std::vector<rules::GateEvent> records, const GateRules& rules,
                           const Catalogue& catalogue,
                           const std::map<std::string, rules::Enterprise>& enterprises,
                           const rules::AlertCalendar& alerts, ViolationSet& out);
// Every stored gate record with time in [from, to], for replay.
[[nodiscard]] std::vector<rules::GateEvent> stored_gate_records(storage::Store& store,
                                                                std::int64_t from_unix_s,
                                                                std::int64_t to_unix_s);
// The enterprise list by id.
[[nodiscard]] std::map<std::string, rules::Enterprise> enterprises_by_id(storage::Store& store);

// R15 as of `now_unix_s` (rules::gate_silence over the stored enterprises and their gate
// activity): the violations to write, with the R11 offline check that runs on the same timer.
[[nodiscard]] std::vector<rules::Violation> gate_silence(storage::Store& store,
                                                         std::int64_t now_unix_s);

}  // namespace lantian::evaluation
