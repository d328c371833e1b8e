#pragma once
// The rule engine (rules.md): a pure step function over one vehicle's state and one observation
// (a sample taken from a decoded frame), returning the violations it raises. No I/O: the server
// feeds it, the archive can be replayed through it, and tests drive it directly.
//
// Implemented rules: R01 (国三 truck operating after the phase-out date), R02 (banned stage inside
// a truck restriction zone), R03 (banned machinery working inside a 禁用区), R04 (black smoke from
// the on-board smoke meter), R06 (position invalid while working), R07 (NOx high), R08 (MIL on),
// R09 (reagent empty), R10 (tamper signs: OBD VIN, CVN/CALID changes, removal alarm, downstream
// NOx invalid or constant while running), R11 (a gap inside a trip that no timely resend filled;
// the offline part is a function of receive times, offline_violation), R12 (data quality:
// collection time in the future, an impossible implied speed). Every threshold is
// configuration; every violation records the thresholds, the zone version and the stage source it
// used, and has a deterministic id, so the same evidence never produces two violations.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "protocol/signature.hpp"
#include "protocol/message.hpp"
#include "rules/registry.hpp"
#include "rules/zones.hpp"

namespace lantian::rules {

struct EngineConfig {
  std::int64_t phase_out_unix_s = 1767196800;  // 2026-01-01 00:00 Beijing (R01)
  std::set<std::string> r01_categories = {"N1", "N2", "N3"};  // every diesel truck
  int consecutive_fixes = 2;  // R02, R03
  double r03_min_rpm = 500;   // working, not carried on a trailer
  int r04_consecutive = 3;
  double r04_min_coolant_c = 70;
  std::int64_t r04_coolant_max_age_s =
      600;                               // a coolant reading this recent counts for a smoke sample
  double vehicle_k_limit = 0.7;          // GB 3847 limit b, m⁻¹
  std::int64_t r06_invalid_for_s = 600;  // position invalid while the engine runs
  int r08_consecutive = 2;               // OBD blocks with the MIL on
  double r09_empty_pct = 2.4;            // reagent level counted as empty
  std::int64_t r09_empty_for_s = 600;
  std::int64_t r12_future_s = 600;  // collection time ahead of receive time
  double r12_max_speed_kmh = 200;   // implied by consecutive fixes
  // R07: the valid window and its limits.
  double r07_min_coolant_c = 70, r07_min_scr_inlet_c = 250, r07_min_rpm = 600,
         r07_min_torque_pct = 10;
  double r07_mean_limit_ppm = 500;
  std::int64_t r07_mean_window_s = 300;
  double r07_min_conversion = 0.5;
  std::int64_t r07_low_conversion_s = 1800;    // cumulated in a Beijing day
  std::int64_t r10_nox_flat_s = 1800;          // downstream NOx invalid or constant while running
  std::int64_t r11_offline_s = 72 * 3600;      // no frame received for this long
  std::int64_t r11_gap_s = 600;                // a gap inside a trip …
  std::int64_t r11_fill_within_s = 7 * 86400;  // … that no resend received within this fills
  // A silence longer than this between a vehicle's samples ends every episode in progress (a zone
  // visit, a smoke or MIL streak, invalid position, empty reagent, the NOx windows): none of them
  // carries across it. The longest episode window above (R10's 1800 s).
  std::int64_t episode_gap_s = 1800;
};

// Where a sample came from, for the evidence.
struct SampleRef {
  std::string frame_key;  // hex of the archive key, or any id the caller uses
  int block = -1;         // block index within the frame, -1 for the report header
};

// Evidence from outside the terminals' frames: an external observation ("observation:ID") or a
// gate record ("gate:ENTERPRISE/ID"). It stands on its own: a re-evaluation of the frames neither
// drops nor withdraws it.
[[nodiscard]] inline bool is_external_evidence(std::string_view ref) noexcept {
  return ref.starts_with("observation:") || ref.starts_with("gate:");
}

// One point in time of one vehicle, normalised from a decoded frame.
struct Sample {
  std::int64_t at_unix_s = 0;
  std::optional<double> lon, lat;  // set only for a valid fix
  std::optional<double> speed_kmh, engine_rpm, coolant_c;
  std::optional<double> smoke_k_m1;  // from a 0x81 block
  bool position_invalid = false;     // a position was sent but the fix is invalid
  std::optional<double> reagent_pct;
  std::optional<double> nox_up_ppm, nox_down_ppm, scr_inlet_c, net_torque_pct;
  // From an OBD block: MIL, and the ECU's VIN, CVN and CALID as sent.
  std::optional<int> mil;
  std::string obd_vin, cvn, calid;
  bool removal_alarm = false;
  bool nox_channel = false;  // a data-stream sample, which carries downstream NOx (valid or not)
  bool nonroad = false;      // from a non-road frame: the VIN is a machine code (no check digit)
  std::optional<std::int64_t> received_unix_s;  // when the frame arrived (set by the caller)
  SampleRef ref;
};

// The samples of a decoded real-time or resend frame (one per data-stream, catalyst or smoke block;
// non-road frames take the position of their header), in collection-time order.
[[nodiscard]] std::vector<Sample> samples_of(const protocol::DecodedFrame& frame,
                                             const std::string& frame_key);

enum class Severity { low, medium, high };

struct Violation {
  std::string id;  // deterministic: rule, VIN and the evidence that opened it
  std::string rule;
  std::string vin;
  Severity severity = Severity::high;
  bool suspect = false;        // rests on an inferred stage
  std::int64_t at_unix_s = 0;  // the evidence's time
  // Collection time of the sample whose evaluation raised it: the archive position from which a
  // re-evaluation reproduces it (at_unix_s may be earlier, e.g. the start of a zone visit).
  std::int64_t raised_at_unix_s = 0;
  std::optional<double> lon, lat;  // where it was seen (a valid fix of its evidence), if known
  std::string zone_id;
  int zone_version = 0;
  std::string stage;  // and its source
  std::string stage_source;
  std::map<std::string, double> thresholds;  // the limits it was judged by
  std::map<std::string, double> measured;    // what was measured against them
  std::string limit_class;                   // GB 36886 smoke class used (R04, R05): I, II, III
  std::vector<SampleRef> evidence;
  std::vector<std::int64_t> evidence_times;
  // Gate records (rules/gate_events.hpp): the enterprise whose gate saw it; the city and plate
  // when the vehicle is not in the registry (else they come from the position or the registry);
  // and what a reviewer needs besides numbers (a declared stage, the alert in force).
  std::string enterprise_id, city, plate;
  std::map<std::string, std::string> details;
};

// Per-vehicle memory between samples.
// Plain data, so that it can be checkpointed (records_json.hpp) and restored.
struct VehicleState {
  std::int64_t r01_last_day = -1;  // Beijing day number of the last R01
  SampleRef r01_first_ref;         // the day's first evidence (the last one comes with each sample)
  std::int64_t r01_first_at = 0;
  std::optional<double> r01_first_lon, r01_first_lat;
  struct ZoneVisit {
    int consecutive = 0;
    bool reported = false;
    std::vector<SampleRef> refs;
    std::vector<std::int64_t> times;
  };
  std::map<std::string, ZoneVisit> visits;  // zone id → current visit
  int smoke_streak = 0;
  std::vector<SampleRef> smoke_refs;
  std::vector<std::int64_t> smoke_times;
  std::optional<double> last_coolant_c;
  std::int64_t last_coolant_at = 0;
  std::optional<std::int64_t> invalid_since;  // R06
  bool r06_reported = false;
  int mil_streak = 0;  // R08
  std::int64_t mil_first = 0;
  std::optional<std::int64_t> empty_since;  // R09
  bool r09_reported = false;
  std::string last_cvn, last_calid;          // R10
  std::optional<double> last_lon, last_lat;  // R12
  std::int64_t last_fix_at = 0;
  std::deque<std::pair<std::int64_t, double>> nox_window;  // R07: (time, downstream NOx)
  std::int64_t nox_day = -1, nox_last_valid_at = 0, low_conversion_s = 0;
  bool nox_mean_reported = false, conversion_reported = false;
  // R10: downstream NOx invalid (no value) or stuck at one value while the engine runs.
  std::optional<std::int64_t> nox_flat_since;
  std::int64_t nox_flat_last_at = 0;  // a gap longer than r11_gap_s starts a new episode
  std::optional<double> nox_flat_value;  // nullopt: the reading was invalid
  bool nox_flat_reported = false;
  SampleRef nox_flat_ref;
  // R11: the last timely engine sample, and the gaps inside trips still waiting for a resend.
  std::int64_t trip_last_at = 0;
  bool trip_last_running = false;
  SampleRef trip_last_ref;
  struct Gap {
    std::int64_t from = 0, to = 0;
    SampleRef before, after;
  };
  std::deque<Gap> pending_gaps;   // at most max_pending_gaps, oldest first
  std::int64_t r12_vin_day = -1;  // R12: the last Beijing day a malformed VIN was flagged
  std::int64_t last_sample_at = 0;  // collection time of the last sample evaluated (0: none)
  static constexpr std::size_t max_pending_gaps = 64;
};

class Engine {
 public:
  explicit Engine(EngineConfig config = {}) : config_(std::move(config)) {}
  // Evaluates one sample of `vehicle` (nullptr when it is not in the registry: nothing is flagged).
  [[nodiscard]] std::vector<Violation> step(VehicleState& state, const VehicleRecord* vehicle,
                                            const Sample& sample, const ZoneIndex& zones) const;
  // A sample of a VIN that is not in the registry: R12's VIN check (malformed, or a failing check
  // digit on a road vehicle's frame), once per day; and R13 when it is a machine's (a non-road
  // frame) working inside an active 禁用区, where machines must be registered (编码登记).
  [[nodiscard]] std::vector<Violation> step_unregistered(VehicleState& state, std::string_view vin,
                                                         const Sample& sample,
                                                         const ZoneIndex& zones) const;
  // R10 for a report whose signature failed (invalid, or missing for a vehicle with a key) at
  // `at_unix_s`, frame `frame_ref`: one violation per vehicle, verdict and Beijing day, whose
  // evidence is the first such frame. nullopt for a verdict that is not a failure.
  [[nodiscard]] std::optional<Violation> signature_violation(const VehicleRecord& vehicle,
                                                             protocol::SignatureCheck check,
                                                             std::int64_t at_unix_s,
                                                             const std::string& frame_ref) const;
  // A sighting by a gate, camera or roadside check (position optional): evidence for R01 (a truck
  // seen is a truck on the road), and — with a position — for R02 (a truck of a banned stage inside
  // an active restriction zone without a permit) and R03 (a machine of a banned stage seen
  // `working` inside an active 禁用区). Most old trucks and machines carry no terminal: a sighting
  // is often the only evidence. One zone violation per sighting and zone, id
  // `RULE|VIN|ZONE|observation:ID` (from `sample.ref`).
  [[nodiscard]] std::vector<Violation> step_sighting(VehicleState& state,
                                                     const VehicleRecord& vehicle,
                                                     const Sample& sample, const ZoneIndex& zones,
                                                     bool working) const;
  // The zones where `v` may not be at `at_unix_s` (lon, lat): for a vehicle the active truck
  // restriction zones banning its stage where it holds no permit, for a machine the active
  // 禁用区 banning its stage; none inside an exempt corridor that applies.
  // A machine of unknown stage (registered without one, or not registered: stage nullopt) is
  // banned from every active 禁用区 that applies to it: it cannot show it may work there (R13).
  [[nodiscard]] std::vector<const Zone*> banned_zones_at(const VehicleRecord& v, double lon,
                                                         double lat, std::int64_t at_unix_s,
                                                         const ZoneIndex& zones) const;
  // The rule a zone violation of `v` falls under: R02 (vehicle), R03 (machine of a banned stage),
  // R13 (machine not registered, or of unknown stage).
  [[nodiscard]] static std::string zone_rule(const VehicleRecord& v);
  // The GB 36886 smoke limit (k, m⁻¹) for a machine of `power_kw` under `smoke_class`.
  [[nodiscard]] static double machine_k_limit(const std::string& smoke_class,
                                              std::optional<double> power_kw);
  // R11 offline: the terminal of `vehicle` sent nothing after `last_received_unix_s` (its frame
  // `last_frame`) until `until_unix_s` (the next frame's arrival, or now). One violation per
  // silence, identified by the last frame's arrival, so checking again (or replaying) finds the
  // same one.
  [[nodiscard]] std::optional<Violation> offline_violation(const VehicleRecord& vehicle,
                                                           std::int64_t last_received_unix_s,
                                                           const SampleRef& last_frame,
                                                           std::int64_t until_unix_s) const;

  [[nodiscard]] const EngineConfig& config() const noexcept { return config_; }

 private:
  void r01(VehicleState&, const VehicleRecord&, const Sample&, std::vector<Violation>&) const;
  void zone_rules(VehicleState&, const VehicleRecord&, const Sample&, const ZoneIndex&,
                  std::vector<Violation>&) const;
  void r04(VehicleState&, const VehicleRecord&, const Sample&, const ZoneIndex&,
           std::vector<Violation>&) const;
  void r06_r09(VehicleState&, const VehicleRecord&, const Sample&, std::vector<Violation>&) const;
  void r08_r10(VehicleState&, const VehicleRecord&, const Sample&, std::vector<Violation>&) const;
  void r07(VehicleState&, const VehicleRecord&, const Sample&, std::vector<Violation>&) const;
  void r12(VehicleState&, const VehicleRecord&, const Sample&, std::vector<Violation>&) const;
  void r10_nox_flat(VehicleState&, const VehicleRecord&, const Sample&,
                    std::vector<Violation>&) const;
  void r11_gaps(VehicleState&, const VehicleRecord&, const Sample&, std::vector<Violation>&) const;
  static void end_episodes(VehicleState& state);
  [[nodiscard]] Violation make(const std::string& rule, Severity severity, const VehicleRecord& v,
                               const Sample& s, const std::string& id_suffix) const;
  EngineConfig config_;
};

[[nodiscard]] std::string_view to_string(Severity severity) noexcept;

}  // namespace lantian::rules
