#include "evaluation/gate_store.hpp"

#include <boost/json.hpp>
#include <set>
#include <sstream>

#include "evaluation/catalogue_store.hpp"
#include "evaluation/violation_store.hpp"
#include "protocol/beijing_time.hpp"
#include "storage/keys.hpp"

namespace lantian::evaluation {
namespace json = boost::json;
using storage::Family;

namespace {

constexpr std::size_t days_kept = 14;  // of activity, for R15's 7-day look-back

std::string record_key(const std::string& enterprise, const std::string& id) {
  return "r|" + enterprise + "|" + id;
}
std::string time_prefix(const std::string& enterprise) {
  return "t|" + enterprise + "|";
}
std::string time_key(const std::string& enterprise, std::int64_t unix_s, const std::string& id) {
  auto key = time_prefix(enterprise);
  storage::append_time(key, unix_s);
  return key + id;
}
std::string activity_key(const std::string& enterprise) {
  return "a|" + enterprise;
}

struct Activity {
  std::int64_t last_unix_s = 0;
  std::set<std::int64_t> days;
};

Activity parse_activity(const std::optional<std::string>& value) {
  Activity a;
  if (!value) return a;
  std::istringstream in(*value);
  std::string field;
  bool first = true;
  while (std::getline(in, field, ',')) {
    try {
      const auto n = std::stoll(field);
      if (first)
        a.last_unix_s = n;
      else
        a.days.insert(n);
    } catch (const std::exception&) {
      return {};  // not a value this version wrote
    }
    first = false;
  }
  return a;
}

std::string activity_text(const Activity& a) {
  std::string out = std::to_string(a.last_unix_s);
  for (const auto d : a.days) out += "," + std::to_string(d);
  return out;
}

}  // namespace

std::optional<rules::GateEvent> GateEventStore::get(const std::string& enterprise,
                                                    const std::string& id) const {
  const auto value = store_.get(Family::gate_events, record_key(enterprise, id));
  return value ? rules::gate_event_from_json_text(*value) : std::nullopt;
}

void GateEventStore::for_each(const std::string& enterprise, std::int64_t from_unix_s,
                              std::int64_t to_unix_s,
                              const std::function<bool(const rules::GateEvent&)>& fn) const {
  const auto prefix = time_prefix(enterprise);
  const auto end = time_key(enterprise, to_unix_s, "");
  store_.for_each(
      Family::gate_events, prefix,
      [&](const std::string& key, const std::string&) {
        if (key >= end) return false;
        const auto id = key.substr(prefix.size() + 8);
        if (const auto e = get(enterprise, id)) return fn(*e);
        return true;
      },
      time_key(enterprise, from_unix_s, ""));
}

std::map<std::string, rules::GateActivity> GateEventStore::activity() const {
  std::map<std::string, rules::GateActivity> out;
  store_.for_each(Family::gate_events, "a|", [&](const std::string& key, const std::string& value) {
    const auto a = parse_activity(value);
    const auto last_day = protocol::beijing_day_number(a.last_unix_s);
    rules::GateActivity g;
    g.last_record_unix_s = a.last_unix_s;
    for (const auto d : a.days)
      if (d <= last_day && d > last_day - 7) ++g.active_days;
    out.emplace(key.substr(2), g);
    return true;
  });
  return out;
}

bool AlertStore::add(const rules::PollutionAlert& alert, std::string& error,
                     rules::PollutionAlert* existing) {
  if (store_.insert_if_absent(Family::pollution_alerts, alert.id,
                              json::serialize(rules::to_json(alert)), error))
    return true;
  if (error.empty() && existing)
    if (auto stored = get(alert.id)) *existing = std::move(*stored);
  return false;
}

AlertStore::Ended AlertStore::end(const std::string& id, std::int64_t at_unix_s,
                                  std::string& error, rules::PollutionAlert* updated) {
  auto result = Ended::not_found;
  const bool written = store_.update(
      Family::pollution_alerts, id,
      [&](const std::optional<std::string>& current,
          std::vector<storage::RecordEdit>&) -> std::optional<std::string> {
        if (!current) return std::nullopt;
        auto alert = rules::alert_from_json(*current);
        if (!alert) return std::nullopt;
        if (at_unix_s >= alert->end_unix_s()) {
          result = Ended::already_over;
          if (updated) *updated = *alert;
          return std::nullopt;
        }
        alert->ended_unix_s = std::max(at_unix_s, alert->from_unix_s);
        result = Ended::ended;
        if (updated) *updated = *alert;
        return json::serialize(rules::to_json(*alert));
      },
      error);
  return written ? result : Ended::failed;
}

std::optional<rules::PollutionAlert> AlertStore::get(const std::string& id) const {
  const auto value = store_.get(Family::pollution_alerts, id);
  return value ? rules::alert_from_json(*value) : std::nullopt;
}

rules::AlertCalendar AlertStore::calendar() const {
  std::vector<rules::PollutionAlert> alerts;
  store_.for_each(Family::pollution_alerts, "", [&](const std::string&, const std::string& v) {
    if (auto a = rules::alert_from_json(v)) alerts.push_back(std::move(*a));
    return true;
  });
  return rules::AlertCalendar(std::move(alerts));
}

GateEventsStored store_gate_events(storage::Store& store, const GateRules& with,
                                   const Catalogue& catalogue,
                                   const std::vector<rules::GateEvent>& events) {
  GateEventsStored out;
  const auto enterprises = enterprises_by_id(store);
  const auto& registry = *catalogue.registry;

  // 1. The records, attributed, in one batch: a known id keeps its stored form.
  std::vector<rules::GateEvent> judged;  // the stored form of every record, in the given order
  const bool written = store.apply_locked(
      [&](std::vector<storage::RecordEdit>& edits) {
        std::map<std::string, Activity> activity;  // enterprises touched, as they will be
        std::set<std::string> in_batch;             // keys added by this batch
        for (const auto& given : events) {
          if (!enterprises.count(given.enterprise_id)) {
            ++out.unknown_enterprise;
            out.refused.emplace_back(given.id, "no enterprise " + given.enterprise_id +
                                                   " in the enterprise list");
            continue;
          }
          const auto key = record_key(given.enterprise_id, given.id);
          if (in_batch.count(key)) {
            ++out.known;  // the same id twice in one batch: the first one stands
            continue;
          }
          if (const auto stored = store.get(Family::gate_events, key)) {
            ++out.known;
            if (auto e = rules::gate_event_from_json_text(*stored)) {
              judged.push_back(std::move(*e));
            }
            continue;
          }
          rules::GateEvent e = given;
          // By VIN when the gate read one, else (or when that VIN is unknown: a misread) by plate.
          const auto* by_vin = e.vin.empty() ? nullptr : registry.find(e.vin);
          const auto match =
              by_vin ? rules::PlateMatch{by_vin, {}} : registry.find_by_plate(e.plate, e.plate_color);
          if (match.vehicle)
            e.matched_vin = match.vehicle->vin;
          else
            e.unmatched_reason = e.vin.empty() ? match.unmatched_reason
                                               : "VIN " + e.vin + " is not registered; " +
                                                     match.unmatched_reason;
          edits.push_back({Family::gate_events, key, json::serialize(rules::to_json(e))});
          edits.push_back({Family::gate_events, time_key(e.enterprise_id, e.at_unix_s, e.id),
                           std::string()});
          auto [it, fresh] = activity.try_emplace(e.enterprise_id);
          if (fresh) it->second = parse_activity(store.get(Family::gate_events,
                                                           activity_key(e.enterprise_id)));
          auto& a = it->second;
          a.last_unix_s = std::max(a.last_unix_s, e.at_unix_s);
          a.days.insert(protocol::beijing_day_number(e.at_unix_s));
          while (a.days.size() > days_kept) a.days.erase(a.days.begin());
          in_batch.insert(key);
          ++out.added;
          if (!match.vehicle) ++out.unmatched;
          judged.push_back(std::move(e));
        }
        for (const auto& [enterprise, a] : activity)
          edits.push_back({Family::gate_events, activity_key(enterprise), activity_text(a)});
      },
      out.error);
  if (!written) {
    out.added = out.unmatched = 0;
    return out;
  }

  // 2. The rules, over the stored forms.
  ViolationChanges changes{.context = ViolationContext::of(catalogue, /*from_frames=*/false)};
  evaluate_gate_records(std::move(judged), with, catalogue, enterprises,
                        AlertStore(store).calendar(), changes.raised);
  if (changes.raised.empty()) return out;
  auto violations = ViolationStore(store).write(changes);
  if (!violations.error.empty()) {
    out.error = std::move(violations.error);
    return out;
  }
  out.raised = violations.added.size();
  out.violations = std::move(violations.added);
  return out;
}

void evaluate_gate_records(std::vector<rules::GateEvent> records, const GateRules& with,
                           const Catalogue& catalogue,
                           const std::map<std::string, rules::Enterprise>& enterprises,
                           const rules::AlertCalendar& alerts, ViolationSet& out) {
  std::stable_sort(records.begin(), records.end(),
                   [](const auto& a, const auto& b) { return a.at_unix_s < b.at_unix_s; });
  const auto& registry = *catalogue.registry;
  std::map<std::string, rules::GateVehicleState> states;
  for (const auto& e : records) {
    const auto enterprise = enterprises.find(e.enterprise_id);
    if (enterprise == enterprises.end()) continue;
    const auto* vehicle = e.matched_vin.empty() ? nullptr : registry.find(e.matched_vin);
    const rules::GateJudgement judgement{vehicle, &enterprise->second, &alerts, with.policy,
                                         catalogue.zones.get()};
    auto& state = states[rules::gate_vehicle_key(e, vehicle)];
    for (auto& v : rules::evaluate_gate_event(*with.engine, state, e, judgement))
      out.insert_or_assign(v.id, std::move(v));
  }
}

std::vector<rules::GateEvent> stored_gate_records(storage::Store& store, std::int64_t from_unix_s,
                                                  std::int64_t to_unix_s) {
  std::vector<rules::GateEvent> out;
  store.for_each(Family::gate_events, "r|", [&](const std::string&, const std::string& value) {
    if (auto e = rules::gate_event_from_json_text(value))
      if (e->at_unix_s >= from_unix_s && e->at_unix_s <= to_unix_s) out.push_back(std::move(*e));
    return true;
  });
  return out;
}

std::map<std::string, rules::Enterprise> enterprises_by_id(storage::Store& store) {
  std::map<std::string, rules::Enterprise> out;
  for (auto& e : CatalogueStore(store).enterprises()) out.emplace(e.id, std::move(e));
  return out;
}

std::vector<rules::Violation> gate_silence(storage::Store& store, std::int64_t now_unix_s) {
  return rules::gate_silence(CatalogueStore(store).enterprises(), GateEventStore(store).activity(),
                             now_unix_s);
}

}  // namespace lantian::evaluation
