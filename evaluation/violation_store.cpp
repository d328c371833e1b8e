#include "evaluation/violation_store.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "evaluation/clock.hpp"
#include "protocol/beijing_time.hpp"
#include "protocol/json.hpp"
#include "rules/records_json.hpp"

namespace lantian::evaluation {
namespace json = boost::json;
namespace {

constexpr std::uint64_t time_bias = std::uint64_t{1} << 63;  // storage::append_time's

// desc(time) · id: newest first (the complement of storage::append_time's bytes).
std::string position(std::int64_t unix_s, const std::string& id) {
  std::string key;
  storage::append_u64(key, ~(static_cast<std::uint64_t>(unix_s) + time_bias));
  return key + id;
}
std::int64_t time_of_position(std::string_view pos) {
  return static_cast<std::int64_t>(~storage::read_u64(pos) - time_bias);
}

// Each vehicle's violations by the collection time of the sample that raised them.
std::string raised_prefix(const std::string& vin) {
  return "i|" + vin + "|";
}
std::string raised_key(const std::string& vin, std::int64_t raised_unix_s, const std::string& id) {
  std::string key = raised_prefix(vin);
  storage::append_time(key, raised_unix_s);
  return key + id;
}

std::string text(const json::object& o, const char* field) {
  const auto* v = o.if_contains(field);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
std::int64_t integer(const json::object& o, const char* field) {
  const auto* v = o.if_contains(field);
  return v && v->is_number() ? v->to_number<std::int64_t>() : 0;
}

// What every index entry carries, so that listings filter (and statistics count) without reading
// the records: rule, city, zone, status, severity, suspect (0/1), withdrawn (0/1), tab-separated.
struct Summary {
  std::string_view rule, city, zone, status, severity;
  bool suspect = false, withdrawn = false;
};
std::string summary_of(const json::object& v) {
  const auto* suspect = v.if_contains("suspect");
  return text(v, "rule") + '\t' + text(v, "city") + '\t' + text(v, "zone_id") + '\t' +
         text(v, "status") + '\t' + text(v, "severity") + '\t' +
         (suspect && suspect->is_bool() && suspect->as_bool() ? "1" : "0") + '\t' +
         (v.contains("withdrawn") ? "1" : "0");
}
std::optional<Summary> parse_summary(std::string_view value) {
  std::string_view field[7];
  for (int i = 0; i < 7; ++i) {
    const auto tab = value.find('\t');
    if ((tab == std::string_view::npos) != (i == 6)) return std::nullopt;
    field[i] = value.substr(0, tab);
    value = tab == std::string_view::npos ? std::string_view() : value.substr(tab + 1);
  }
  return Summary{field[0], field[1],        field[2],       field[3],
                 field[4], field[5] == "1", field[6] == "1"};
}

// The index entries of a stored violation.
std::vector<std::pair<std::string, std::string>> index_entries(const json::object& v) {
  const auto id = text(v, "id");
  const auto pos = position(integer(v, "unix_s"), id);
  const auto city = text(v, "city"), zone = text(v, "zone_id");
  const auto summary = summary_of(v);
  const auto vin = text(v, "vin"), enterprise = text(v, "enterprise_id");
  std::vector<std::pair<std::string, std::string>> out{
      {"a|" + pos, summary},
      {"r|" + text(v, "rule") + "|" + pos, summary},
      {"s|" + text(v, "status") + "|" + pos, summary}};
  // R15 is about an enterprise; a plate-only gate record has no VIN either.
  if (!vin.empty()) out.emplace_back("v|" + vin + "|" + pos, summary);
  if (!city.empty()) out.emplace_back("c|" + city + "|" + pos, summary);
  if (!zone.empty()) out.emplace_back("z|" + zone + "|" + pos, summary);
  if (!enterprise.empty()) out.emplace_back("e|" + enterprise + "|" + pos, summary);
  return out;
}

// The query's filters that the summary answers.
bool summary_matches(const Summary& s, const ViolationQuery& q, const Jurisdiction& j) {
  if ((!q.rule.empty() && s.rule != q.rule) || (!q.city.empty() && s.city != q.city) ||
      (!q.zone.empty() && s.zone != q.zone) || (!q.status.empty() && s.status != q.status) ||
      (!q.severity.empty() && s.severity != q.severity) || (q.suspect && s.suspect != *q.suspect) ||
      (!q.include_withdrawn && s.withdrawn))
    return false;
  return j.unrestricted() || (!j.cities.empty() && j.cities.count(std::string(s.city))) ||
         (!j.zones.empty() && j.zones.count(std::string(s.zone)));
}

// The legal holds of a stored violation: one per archive frame its evidence refers to — its
// current evidence and the evidence each review decided on (evidence from observations and gate
// records is kept anyway: retention never touches their families).
// One change of a violation in the change log, with the violation as it is after the change:
// what enforcement systems receive (docs/forwarding.md). Inside apply_locked only.
void log_change(storage::Store& store, std::string_view event, const std::string& id,
                const json::object& v, std::vector<storage::RecordEdit>& edits) {
  const auto sequence = store.next_change_sequence();
  std::string key;
  storage::append_u64(key, sequence);
  const json::object change{{"sequence", sequence},
                            {"version", sequence},
                            {"event", event},
                            {"id", id},
                            {"unix_ms", now_unix_ms()},
                            {"violation", v}};
  edits.push_back({storage::Family::violation_changes, std::move(key), json::serialize(change)});
}

void hold_evidence(const json::object& v, bool hold, std::vector<storage::RecordEdit>& edits) {
  std::set<std::string> keys;
  const auto collect = [&](const json::value* evidence) {
    if (!evidence || !evidence->is_array()) return;
    for (const auto& e : evidence->as_array()) {
      if (!e.is_object()) continue;
      const auto raw = protocol::from_hex(text(e.as_object(), "frame_key"));
      if (raw && raw->size() == storage::frame_key_size) keys.emplace(raw->begin(), raw->end());
    }
  };
  collect(v.if_contains("evidence"));
  if (const auto* review = v.if_contains("review"); review && review->is_object())
    collect(review->as_object().if_contains("evidence"));
  if (const auto* history = v.if_contains("review_history"); history && history->is_array())
    for (const auto& r : history->as_array())
      if (r.is_object()) collect(r.as_object().if_contains("evidence"));
  const auto id = text(v, "id");
  for (const auto& key : keys)
    edits.push_back({storage::Family::legal_holds, storage::legal_hold_key(key, id),
                     hold ? std::optional<std::string>(std::string()) : std::nullopt});
}

void add_index(const json::object& v, std::vector<storage::RecordEdit>& edits) {
  for (auto& [key, value] : index_entries(v))
    edits.push_back({storage::Family::violation_index, std::move(key), std::move(value)});
}
void remove_index(const json::object& v, std::vector<storage::RecordEdit>& edits) {
  for (auto& [key, value] : index_entries(v))
    edits.push_back({storage::Family::violation_index, std::move(key), std::nullopt});
}

std::optional<json::object> parse_object(const std::string& text_value) {
  boost::system::error_code ec;
  auto v = json::parse(text_value, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

// An existing violation updated with a new evaluation of the same evidence: review fields, the
// detection time and evidence from observations stay. nullopt when nothing changed.
std::optional<json::object> merged(json::object old, const rules::Violation& v) {
  auto fresh = rules::to_json(v, 0);
  // External evidence (gate records, observations) comes in batches, each evaluated on its own: a
  // batch's R01 of a day knows only its own records. It adds its evidence to what is stored (a
  // terminal's frames included: they stay evidence, and held) and moves the opening (time,
  // position) only to an earlier one.
  const bool external_only =
      std::all_of(v.evidence.begin(), v.evidence.end(),
                  [](const rules::SampleRef& r) { return rules::is_external_evidence(r.frame_key); });
  if (external_only && old.contains("evidence") && old["evidence"].is_array()) {
    const bool earlier = v.at_unix_s < integer(old, "unix_s");
    json::array evidence = earlier ? fresh["evidence"].as_array() : old["evidence"].as_array();
    for (const auto& e : (earlier ? old : fresh)["evidence"].as_array())
      if (std::find(evidence.begin(), evidence.end(), e) == evidence.end()) evidence.push_back(e);
    if (!earlier)
      for (const char* field : {"time", "unix_s", "raised_unix_s", "lon", "lat"})
        if (const auto* was = old.if_contains(field)) fresh[field] = *was;
    fresh["evidence"] = std::move(evidence);
  }
  auto& evidence = fresh["evidence"].as_array();
  if (const auto* before = old.if_contains("evidence"); before && before->is_array())
    for (const auto& e : before->as_array())
      if (e.is_object() && rules::is_external_evidence(text(e.as_object(), "frame_key")) &&
          std::find(evidence.begin(), evidence.end(), e) == evidence.end())
        evidence.push_back(e);
  bool changed = old.erase("withdrawn") > 0;
  for (const char* field : {"evidence", "time", "unix_s", "raised_unix_s", "thresholds", "measured",
                            "limit_class", "lon", "lat"}) {
    const auto* was = old.if_contains(field);
    if (!was || *was != fresh[field]) {
      old[field] = fresh[field];
      changed = true;
    }
  }
  // A gate record joining a vehicle's violation of the day names its enterprise.
  if (!v.enterprise_id.empty() && !old.contains("enterprise_id")) {
    old["enterprise_id"] = v.enterprise_id;
    changed = true;
  }
  if (!changed) return std::nullopt;
  return old;
}

bool matches(const json::object& v, const ViolationQuery& q) {
  auto same = [&](const std::string& wanted, const char* field) {
    return wanted.empty() || text(v, field) == wanted;
  };
  if (!same(q.rule, "rule") || !same(q.status, "status") || !same(q.severity, "severity") ||
      !same(q.city, "city") || !same(q.county, "county") || !same(q.zone, "zone_id") ||
      !same(q.vin, "vin") || !same(q.enterprise, "enterprise_id") || !same(q.plate, "plate"))
    return false;
  if (q.suspect) {
    const auto* s = v.if_contains("suspect");
    if (!s || !s->is_bool() || s->as_bool() != *q.suspect) return false;
  }
  if (!q.include_withdrawn && v.contains("withdrawn")) return false;
  if (q.bbox) {
    const auto* lon = v.if_contains("lon");
    const auto* lat = v.if_contains("lat");
    if (!lon || !lat || !lon->is_number() || !lat->is_number()) return false;
    const double x = lon->to_number<double>(), y = lat->to_number<double>();
    const auto& b = *q.bbox;
    if (x < b[0] || y < b[1] || x > b[2] || y > b[3]) return false;
  }
  return true;
}

}  // namespace

bool Jurisdiction::allows(const json::object& v) const {
  if (unrestricted()) return true;
  return (!cities.empty() && cities.count(text(v, "city"))) ||
         (!zones.empty() && zones.count(text(v, "zone_id")));
}

ViolationStore::ViolationStore(storage::Store& store) : store_(store) {}

namespace {

// A new evaluation of `v` against the stored record `current`: the record to store (nullopt: it is
// unchanged), with its index edits in `edits`. A new one is stamped with where it belongs.
std::optional<json::object> recorded(const rules::Violation& v,
                                     const std::optional<std::string>& current,
                                     const ViolationContext& ctx,
                                     std::vector<storage::RecordEdit>& edits) {
  std::optional<json::object> now;
  std::optional<json::object> before = current ? parse_object(*current) : std::nullopt;
  if (!before) {
    now = rules::to_json(v, now_unix_ms());
    // Where it belongs: the city the rule named (a gate's enterprise), else where it happened (the
    // areas containing its evidence's position), else its zone's city, else where the vehicle is
    // registered.
    std::string city = v.city, plate = v.plate;
    rules::Place place;
    if (ctx.areas && v.lon && v.lat) place = ctx.areas->locate(*v.lon, *v.lat);
    if (place.city && city.empty()) city = place.city->jurisdiction;
    if (city.empty() && !v.zone_id.empty() && ctx.zones)
      if (const auto* z = ctx.zones->find(v.zone_id)) city = z->city;
    if (ctx.registry)
      if (const auto* r = ctx.registry->find(v.vin)) {
        if (plate.empty()) plate = r->plate;
        if (city.empty()) city = rules::registration_city(*r);
      }
    (*now)["city"] = city;
    (*now)["plate"] = plate;
    if (place.city) (*now)["city_adcode"] = place.city->adcode;
    if (place.county) {
      (*now)["county"] = place.county->name;
      (*now)["county_adcode"] = place.county->adcode;
    }
    if (ctx.areas && !ctx.areas->empty()) (*now)["area_version"] = ctx.areas->version();
  } else {
    now = merged(*before, v);
    if (!now) return std::nullopt;
    remove_index(*before, edits);  // the evidence time may have moved
    if (!before->contains("withdrawn")) hold_evidence(*before, false, edits);  // … and the frames
  }
  add_index(*now, edits);
  hold_evidence(*now, true, edits);  // after the releases: a frame still referred to stays held
  if (ctx.from_frames)
    edits.push_back(
        {storage::Family::rule_state, raised_key(v.vin, v.raised_at_unix_s, v.id), std::string()});
  return now;
}

constexpr const char* no_longer_raised_reason =
    "evaluating the vehicle again with late data no longer raises it";

// The stored record `current`, which a re-evaluation no longer raises: marked withdrawn, or —
// once a reviewer decided on it — kept as it is and flagged for re-review (`flagged` set): late
// data, signed or not, never undoes a reviewer's decision by itself. nullopt: it stays as it is.
// Index edits in `edits`.
std::optional<json::object> no_longer_raised(const std::optional<std::string>& current,
                                             std::vector<storage::RecordEdit>& edits,
                                             bool& flagged) {
  flagged = false;
  auto v = current ? parse_object(*current) : std::nullopt;
  if (!v || v->contains("withdrawn")) return std::nullopt;
  // An observation or a gate record (a sighting's R01 of the same day) still stands on its own.
  if (const auto* evidence = v->if_contains("evidence"); evidence && evidence->is_array())
    for (const auto& e : evidence->as_array())
      if (e.is_object() && rules::is_external_evidence(text(e.as_object(), "frame_key")))
        return std::nullopt;
  if (v->contains("review")) {
    if (v->contains("rereview")) return std::nullopt;
    (*v)["rereview"] = {{"unix_ms", now_unix_ms()}, {"reason", no_longer_raised_reason}};
    flagged = true;
    return v;
  }
  (*v)["withdrawn"] = {{"unix_ms", now_unix_ms()}, {"reason", no_longer_raised_reason}};
  add_index(*v, edits);  // marks the statistics entry
  hold_evidence(*v, false, edits);  // no longer evidence: retention may drop its frames
  return v;
}

}  // namespace

ViolationsWritten ViolationStore::write(const ViolationChanges& changes) {
  ViolationsWritten out;
  if (changes.raised.empty() && !changes.reevaluated) return out;
  std::vector<json::object> added;
  std::vector<std::string> withdrawn_ids, rereview_ids;
  // Store::apply_locked holds the store's record lock while the batch is built: every record read
  // here is still the stored one when the batch is written (a review waits, then sees the result).
  const bool ok = store_.apply_locked(
      [&](std::vector<storage::RecordEdit>& edits) {
        added.clear();
        withdrawn_ids.clear();
        rereview_ids.clear();
        edits.clear();
        for (const auto& [id, v] : changes.raised) {
          const auto current = store_.get(storage::Family::violations, id);
          if (auto now = recorded(v, current, changes.context, edits)) {
            edits.push_back({storage::Family::violations, id, json::serialize(*now)});
            // New, or withdrawn before and raised again by later data: enforcement hears of it.
            bool was_withdrawn = false;
            if (current && !now->contains("withdrawn") &&
                current->find("\"withdrawn\"") != std::string::npos)
              if (const auto before = parse_object(*current)) was_withdrawn = before->contains("withdrawn");
            if (!current || was_withdrawn)
              log_change(store_, "violation.raised", id, *now, edits);
            else if (log_every_change_)
              log_change(store_, "violation.updated", id, *now, edits);
            if (!current) added.push_back(std::move(*now));
          }
        }
        if (changes.reevaluated) {
          const auto& [vin, from_unix_s] = *changes.reevaluated;
          const auto prefix = raised_prefix(vin);
          std::set<std::string> stale;
          store_.for_each(
              storage::Family::rule_state, prefix,
              [&](const std::string& key, const std::string&) {
                auto id = key.substr(prefix.size() + 8);
                if (!changes.raised.count(id) && !id.starts_with("R11|" + vin + "|offline|"))
                  stale.insert(std::move(id));
                return true;
              },
              from_unix_s == std::numeric_limits<std::int64_t>::min()
                  ? std::string()
                  : raised_key(vin, from_unix_s, ""));
          for (const auto& id : stale) {
            bool flagged = false;
            if (auto v = no_longer_raised(store_.get(storage::Family::violations, id), edits,
                                          flagged)) {
              edits.push_back({storage::Family::violations, id, json::serialize(*v)});
              if (!flagged || log_every_change_)
                log_change(store_, flagged ? "violation.rereview" : "violation.withdrawn", id, *v,
                           edits);
              (flagged ? rereview_ids : withdrawn_ids).push_back(id);
            }
          }
        }
      },
      out.error);
  if (!ok) return out;
  out.added = std::move(added);
  out.withdrawn = std::move(withdrawn_ids);
  out.flagged_for_rereview = std::move(rereview_ids);
  return out;
}

ViolationsWritten ViolationStore::record(const ViolationSet& raised, const ViolationContext& ctx) {
  return write({raised, ctx, std::nullopt});
}

ViolationStore::ReviewResult ViolationStore::review(const std::string& id,
                                                    const std::string& decision,
                                                    const std::string& comment,
                                                    const std::string& reviewer,
                                                    json::object* updated) {
  auto result = ReviewResult::not_found;
  std::string error;
  const bool ok = store_.update(
      storage::Family::violations, id,
      [&](const std::optional<std::string>& current,
          std::vector<storage::RecordEdit>& also) -> std::optional<std::string> {
        auto v = current ? parse_object(*current) : std::nullopt;
        if (!v) return std::nullopt;
        if (v->contains("withdrawn")) {
          result = ReviewResult::withdrawn;
          return std::nullopt;
        }
        remove_index(*v, also);  // the status index and every summary change
        if (const auto* found = v->if_contains("review"); found && found->is_object()) {
          const json::value previous = *found;     // a copy: inserting below may move the object's
          auto& history = (*v)["review_history"];  // elements, and `found` with them
          if (!history.is_array()) history.emplace_array();
          history.as_array().push_back(previous);
        }
        (*v)["status"] = decision;
        // The evidence decided on stays with the decision (and held), whatever later data brings.
        json::value evidence = v->contains("evidence") ? v->at("evidence") : json::array();
        (*v)["review"] = {{"decision", decision},
                          {"comment", comment},
                          {"by", reviewer},
                          {"unix_ms", now_unix_ms()},
                          {"evidence", std::move(evidence)}};
        if (const auto* flag = v->if_contains("rereview")) {
          (*v)["review"].as_object()["rereview"] = *flag;  // what this decision answered
          v->erase("rereview");
        }
        result = ReviewResult::reviewed;
        add_index(*v, also);
        log_change(store_, "violation.reviewed", id, *v, also);
        if (updated) *updated = *v;
        return json::serialize(*v);
      },
      error);
  return ok ? result : ReviewResult::failed;
}

namespace {

// How many review decisions a record carries: its review and those in its history.
std::size_t decisions(const json::object& v) {
  std::size_t n = v.contains("review") ? 1 : 0;
  if (const auto* history = v.if_contains("review_history"); history && history->is_array())
    n += history->as_array().size();
  return n;
}

}  // namespace

bool ViolationStore::is_record(const json::object& violation) {
  return !text(violation, "id").empty() && !text(violation, "rule").empty();
}

bool ViolationStore::apply_replicated(const std::vector<json::object>& violations,
                                      const std::vector<storage::RecordEdit>& also,
                                      std::string& error) {
  // The last record of each id: an earlier one in the same batch would be read back as "current"
  // from the archive, not from this batch, and leave its index entries behind.
  std::map<std::string, const json::object*> last;
  for (const auto& v : violations) {
    if (!is_record(v)) {
      error = "not a violation record (no id or rule)";
      return false;
    }
    last[text(v, "id")] = &v;
  }
  return store_.apply_locked(
      [&](std::vector<storage::RecordEdit>& edits) {
        edits.clear();
        for (const auto& [id, record] : last) {
          json::object v = *record;
          const auto current = store_.get(storage::Family::violations, id);
          if (const auto before = current ? parse_object(*current) : std::nullopt) {
            remove_index(*before, edits);
            if (!before->contains("withdrawn")) hold_evidence(*before, false, edits);
            // Reviews only add to a record; one that has fewer decisions than this node holds is
            // a late rule change (from a partition's previous owner): it keeps the decisions.
            if (decisions(*before) > decisions(v))
              for (const char* field : {"review", "review_history", "status"})
                if (const auto* kept = before->if_contains(field)) v[field] = *kept;
          }
          add_index(v, edits);
          if (!v.contains("withdrawn")) hold_evidence(v, true, edits);
          // Raised from a vehicle's frames: indexed for withdrawal, so that this node withdraws it
          // should it own the vehicle one day and no longer raise it.
          bool from_frames = false;
          if (const auto* evidence = v.if_contains("evidence"); evidence && evidence->is_array())
            for (const auto& e : evidence->as_array())
              if (e.is_object() && !rules::is_external_evidence(text(e.as_object(), "frame_key")))
                from_frames = true;
          if (const auto vin = text(v, "vin"); from_frames && !vin.empty())
            edits.push_back({storage::Family::rule_state,
                             raised_key(vin, integer(v, "raised_unix_s"), id), std::string()});
          edits.push_back({storage::Family::violations, id, json::serialize(v)});
        }
        edits.insert(edits.end(), also.begin(), also.end());
      },
      error);
}

std::optional<json::object> ViolationStore::get(const std::string& id) const {
  const auto value = store_.get(storage::Family::violations, id);
  return value ? parse_object(*value) : std::nullopt;
}

void ViolationStore::for_each(
    const std::string& rule,
    const std::function<bool(const std::string& id, const json::object&)>& fn) const {
  // Ids begin with the rule: "R02|VIN|…".
  store_.for_each(storage::Family::violations, rule.empty() ? std::string() : rule + "|",
                  [&](const std::string& id, const std::string& value) {
                    const auto v = parse_object(value);
                    return !v || fn(id, *v);
                  });
}

std::optional<std::size_t> ViolationStore::hold_stored_evidence(std::string& error) {
  static const std::string done_key = "h|holds_written";
  if (store_.get(storage::Family::rule_state, done_key)) return 0;
  std::size_t held = 0;
  std::vector<storage::RecordEdit> edits;
  bool ok = true;
  const auto flush = [&] {
    ok = ok && (edits.empty() || store_.apply(edits, storage::Durability::synced, error));
    edits.clear();
  };
  store_.for_each(storage::Family::violations, "", [&](const std::string&, const std::string& value) {
    const auto v = parse_object(value);
    if (v && !v->contains("withdrawn")) {
      hold_evidence(*v, true, edits);
      ++held;
    }
    if (edits.size() >= 10000) flush();
    return ok;
  });
  edits.push_back({storage::Family::rule_state, done_key, std::to_string(now_unix_ms())});
  flush();
  if (!ok) return std::nullopt;
  return held;
}

bool ViolationStore::valid_cursor(const std::string& cursor) {
  if (cursor.size() < 18 || cursor.size() % 2) return false;
  return std::all_of(cursor.begin(), cursor.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

ViolationPage ViolationStore::list(const ViolationQuery& q,
                                   const Jurisdiction& jurisdiction) const {
  // The narrowest index the query (or the jurisdiction) allows.
  std::string prefix = "a|";
  if (!q.vin.empty())
    prefix = "v|" + q.vin + "|";
  else if (!q.enterprise.empty())
    prefix = "e|" + q.enterprise + "|";
  else if (!q.zone.empty())
    prefix = "z|" + q.zone + "|";
  else if (!q.city.empty())
    prefix = "c|" + q.city + "|";
  else if (jurisdiction.zones.empty() && jurisdiction.cities.size() == 1)
    prefix = "c|" + *jurisdiction.cities.begin() + "|";
  else if (jurisdiction.cities.empty() && jurisdiction.zones.size() == 1)
    prefix = "z|" + *jurisdiction.zones.begin() + "|";
  else if (!q.status.empty() && q.status != "open")  // reviewed ones are few
    prefix = "s|" + q.status + "|";
  else if (!q.rule.empty())
    prefix = "r|" + q.rule + "|";

  std::string start = prefix;
  if (q.to_unix_s != std::numeric_limits<std::int64_t>::max())
    start = prefix + position(q.to_unix_s, "");
  std::string after;  // the cursor's position: strictly after it
  if (!q.cursor.empty() && valid_cursor(q.cursor)) {
    after = prefix;
    for (std::size_t i = 0; i < q.cursor.size(); i += 2)
      after.push_back(static_cast<char>(std::stoi(q.cursor.substr(i, 2), nullptr, 16)));
    start = std::max(start, after);
  }
  ViolationPage page;
  std::size_t scanned = 0;
  std::string last;
  store_.for_each(
      storage::Family::violation_index, prefix,
      [&](const std::string& key, const std::string& value) {
        if (!after.empty() && key <= after) return true;
        const std::string_view pos = std::string_view(key).substr(prefix.size());
        if (pos.size() < 8) return true;
        if (time_of_position(pos) < q.from_unix_s) return false;  // older than the range
        last = key;
        if (++scanned > q.max_scanned) {
          page.scan_limited = true;
          return false;
        }
        if (const auto summary = parse_summary(value);
            summary && !summary_matches(*summary, q, jurisdiction))
          return true;  // decided without reading the record
        const auto v = get(std::string(pos.substr(8)));
        if (!v || !matches(*v, q) || !jurisdiction.allows(*v)) return true;
        page.items.push_back(*v);
        return page.items.size() < q.limit;
      },
      start);
  if ((page.items.size() == q.limit || page.scan_limited) && !last.empty()) {
    const std::string_view position = std::string_view(last).substr(prefix.size());
    page.next_cursor = protocol::to_hex(protocol::ByteView(
        reinterpret_cast<const std::uint8_t*>(position.data()), position.size()));
  }
  return page;
}

std::vector<ViolationStore::DailyCount> ViolationStore::daily_counts(
    std::int64_t from_unix_s, std::int64_t to_unix_s, const Jurisdiction& jurisdiction) const {
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> counts;
  store_.for_each(
      storage::Family::violation_index, "a|",
      [&](const std::string& key, const std::string& value) {
        if (key.size() < 10) return true;
        const auto at = time_of_position(std::string_view(key).substr(2));
        if (at < from_unix_s) return false;
        const auto summary = parse_summary(value);
        if (!summary || summary->withdrawn) return true;
        const std::string rule(summary->rule), city(summary->city), zone(summary->zone);
        if (!jurisdiction.unrestricted() && !jurisdiction.cities.count(city) &&
            !jurisdiction.zones.count(zone))
          return true;
        const auto day =
            protocol::BeijingTime::from_unix_seconds(at).iso8601().value_or("").substr(0, 10);
        ++counts[{day, rule, city}];
        return true;
      },
      to_unix_s == std::numeric_limits<std::int64_t>::max() ? std::string()
                                                            : "a|" + position(to_unix_s, ""));
  std::vector<DailyCount> out;
  for (const auto& [k, n] : counts)
    out.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), n});
  return out;
}

}  // namespace lantian::evaluation
