#pragma once
// The stored violations and their indexes — the only code that knows these layouts. The changes of
// one evaluation (new violations, newer evidence, withdrawals) are one atomic, synced batch, as is
// each review, over the `violations` family (id → JSON), the `violation_index` family (the
// listings, newest first) and the `rule_state` family's withdrawal index:
//   i|VIN|time · id   each vehicle's violations by the collection time of the sample that raised
//                     them (8 bytes big-endian, Unix seconds + 2^63; empty value)
//
// violation_index keys, all ending in desc(time) · id so that every listing is newest first and a
// cursor is a position valid in any of them:
//   a|            every violation
//   v|VIN|        one vehicle's         c|CITY|   one city's
//   z|ZONE|       one zone's            r|RULE|   one rule's
//   s|STATUS|     by review status      e|ENTERPRISE|  one enterprise's (gate rules)
// Each entry's value summarises the record (rule, city, zone, status, severity, suspect,
// withdrawn), so filters are checked on the index and only matching records are read.
// desc(time) is the big-endian complement of the evidence time (Unix seconds + 2^63).
//
// Thread-safety: all members may be called from any thread. Every read-modify-write reads and
// writes under the store's record lock (Store::update), so a review and a rule update of the same
// violation never lose each other.

#include <array>
#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "evaluation/catalogue.hpp"
#include "rules/engine.hpp"
#include "storage/store.hpp"

namespace lantian::evaluation {

// Violations by id; a later one with the same id replaces the earlier (R01's newest last evidence).
using ViolationSet = std::map<std::string, rules::Violation>;

// What a token may see: violations of these cities or zones (both empty: everything).
struct Jurisdiction {
  std::set<std::string> cities, zones;
  [[nodiscard]] bool unrestricted() const { return cities.empty() && zones.empty(); }
  // A stored violation (its JSON) is visible.
  [[nodiscard]] bool allows(const boost::json::object& violation) const;
};

struct ViolationQuery {
  std::string rule, status, severity, city, zone, vin, enterprise;  // empty: any
  std::string county;  // empty: any (checked on the record: listings are not indexed by county)
  // empty: any. A plate without a registered vehicle (a truck seen only at gates), checked on the
  // record: registered plates are turned into `vin` by the caller.
  std::string plate;
  std::optional<bool> suspect;
  std::int64_t from_unix_s = std::numeric_limits<std::int64_t>::min();
  std::int64_t to_unix_s = std::numeric_limits<std::int64_t>::max();
  std::optional<std::array<double, 4>> bbox;  // min lon, min lat, max lon, max lat
  bool include_withdrawn = false;
  std::string cursor;                // next_cursor of the previous page; empty: the newest
  std::size_t limit = 100;           // 1…1000
  std::size_t max_scanned = 200000;  // index entries read per page at most
};

struct ViolationPage {
  std::vector<boost::json::object> items;
  std::string next_cursor;    // empty: no more
  bool scan_limited = false;  // stopped at max_scanned: next_cursor continues the scan
};

// Stamped on each violation when first stored, for listing and jurisdiction: its city and county
// are the administrative areas containing the position of its evidence; without a position (or
// with no areas loaded) the city is its zone's, else the one its vehicle is registered in.
struct ViolationContext {
  const rules::Registry* registry = nullptr;
  const rules::ZoneIndex* zones = nullptr;
  // Raised by evaluating the vehicle's frames (indexed for withdrawal), not by an observation.
  bool from_frames = true;
  const rules::AreaIndex* areas = nullptr;  // nullptr or empty: no areas loaded

  [[nodiscard]] static ViolationContext of(const Catalogue& catalogue, bool from_frames = true) {
    return {catalogue.registry.get(), catalogue.zones.get(), from_frames, catalogue.areas.get()};
  }
};

// What one evaluation changes: written together, or not at all.
struct ViolationChanges {
  // Stored when new, updated when changed (newer evidence; a withdrawn one raised again loses its
  // mark), keeping status, review and observation evidence.
  ViolationSet raised;
  ViolationContext context;
  // A vehicle evaluated again from `from_unix_s`: its stored violations raised since then that
  // `raised` no longer contains are marked withdrawn (except R11 offline, which no frame evaluation
  // raises, and a violation an observation still stands for) — or, when a reviewer has decided on
  // one, kept with its decision and flagged `rereview` (never withdrawn automatically).
  struct Reevaluation {
    std::string vin;
    std::int64_t from_unix_s = std::numeric_limits<std::int64_t>::min();
  };
  std::optional<Reevaluation> reevaluated;
};

struct ViolationsWritten {
  std::vector<boost::json::object> added;  // the new violations, as stored
  std::vector<std::string> withdrawn;      // ids marked withdrawn
  // ids a reviewer decided on that the re-evaluation no longer raises: kept, flagged `rereview`
  std::vector<std::string> flagged_for_rereview;
  std::string error;                       // non-empty: nothing was written
};

class ViolationStore {
 public:
  explicit ViolationStore(storage::Store& store);

  // Writes `changes` in one synced batch; on return the violations it reports are durable.
  ViolationsWritten write(const ViolationChanges& changes);
  // write() of `raised` alone.
  ViolationsWritten record(const ViolationSet& raised, const ViolationContext& ctx);

  enum class ReviewResult { reviewed, not_found, withdrawn, failed };
  // A reviewer's decision ("confirmed" or "dismissed") with a comment and the evidence it was
  // made on. The previous decision, if any, moves to `review_history`; a `rereview` flag is
  // answered (kept in the decision).
  ReviewResult review(const std::string& id, const std::string& decision,
                      const std::string& comment, const std::string& reviewer,
                      boost::json::object* updated = nullptr);

  [[nodiscard]] std::optional<boost::json::object> get(const std::string& id) const;
  // Every stored violation (of `rule`, "R01" … "R12", when not empty) in id order, until `fn`
  // returns false.
  void for_each(
      const std::string& rule,
      const std::function<bool(const std::string& id, const boost::json::object&)>& fn) const;
  // A page of violations matching `query` and visible under `jurisdiction`, newest first.
  [[nodiscard]] ViolationPage list(const ViolationQuery& query,
                                   const Jurisdiction& jurisdiction) const;
  // Violations per Beijing day, rule and city with evidence time in [from, to].
  struct DailyCount {
    std::string day, rule, city;
    std::uint64_t count = 0;
  };
  [[nodiscard]] std::vector<DailyCount> daily_counts(std::int64_t from_unix_s,
                                                     std::int64_t to_unix_s,
                                                     const Jurisdiction& jurisdiction) const;

  // Legal holds (storage legal_holds family): every archive frame the evidence of a violation not
  // withdrawn refers to is held, so retention never drops it; write() keeps them as violations
  // are raised, updated and withdrawn. This writes the holds of violations stored before holds
  // existed, once per archive (a marker records it): the number of violations held, 0 when done
  // before. nullopt with `error` when a write failed.
  std::optional<std::size_t> hold_stored_evidence(std::string& error);

  // Logs every change of a record in the change log, not only those enforcement systems hear of
  // (raised, withdrawn, reviewed): also "violation.updated" (newer evidence) and
  // "violation.rereview" (flagged for re-review). A cluster's nodes publish their log to each
  // other (cluster/violation_replicator.hpp), so every change must be in it. Set before use.
  void log_every_change(bool on) noexcept { log_every_change_ = on; }

  // Stores `violations` as other nodes of a cluster stored them (each a record after one of their
  // changes, in the order they were made): each replaces this node's record of the same id (the
  // last in the list when an id comes twice), with its index entries, legal holds and withdrawal
  // index — one synced batch with the edits in `also` (the applier's position). Reviews are never
  // taken away: a record with fewer review decisions than the stored one (a late rule change of a
  // partition's previous owner) keeps the stored review, history and status. None is logged:
  // they are not this node's changes. False with `error` when one is no violation record
  // (is_record; nothing is written) or the write failed.
  bool apply_replicated(const std::vector<boost::json::object>& violations,
                        const std::vector<storage::RecordEdit>& also, std::string& error);
  // A record apply_replicated takes: an object with an id and a rule.
  [[nodiscard]] static bool is_record(const boost::json::object& violation);

  // Parses a cursor; false when it is not one this store made.
  [[nodiscard]] static bool valid_cursor(const std::string& cursor);

 private:
  storage::Store& store_;
  bool log_every_change_ = false;
};

}  // namespace lantian::evaluation
