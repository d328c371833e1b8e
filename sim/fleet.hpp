#pragma once
// The simulated fleet: a scenario (how many vehicles of each role, which protocol, where the zones
// are) turned into one specification per terminal — identity, registry row, and the plan its
// motion model follows. Planning is deterministic for a given scenario and seed, so every
// simulator process (and every run) derives the same fleet.
//
// Roles and what the server should make of them (docs/simulator.md):
//   guo6_truck          国六 N3 truck on trips between Henan cities, away from every zone → nothing
//   guo3_truck          国三 N3 truck on the same kind of trips → R01 once per Beijing day it moves
//   banned_zone_truck   国四 N3 truck whose trips pass through a truck restriction zone → R02 per
//                       visit while the zone is active and bans 国四
//   machine             非道路国四 excavator working at a site outside every zone → nothing
//   black_smoke_machine 非道路国三 excavator with a smoke meter reading above every limit → R04
//   banned_zone_machine 非道路国二 excavator working inside a machinery ban zone → R03
//   guo3_light_truck    国三 N1 light truck (blue plate) on trips away from every zone → R01 once per
//                       Beijing day it moves (the phase-out covers every diesel truck)
//   unknown_stage_zone_machine  excavator registered without an emission stage, working inside a
//                       machinery ban zone → R13 per visit (it cannot show it may work there)
//   faulty_truck        国六 N3 truck away from every zone whose terminal or after-treatment shows
//                       one fault (Fault, in turn along the role's trucks) → R06, R07, R08, R09,
//                       R10 or R12; `--expected-out` does not predict these

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/types.hpp"
#include "sim/sm2_signer.hpp"
#include "rules/zones.hpp"

namespace lantian::sim {

enum class Role {
  guo6_truck,
  guo3_truck,
  banned_zone_truck,
  machine,
  black_smoke_machine,
  banned_zone_machine,
  guo3_light_truck,
  unknown_stage_zone_machine,
  faulty_truck
};
// What is wrong with a faulty truck, and the rule it shows (docs/rules.md).
enum class Fault {
  none,
  no_fix,            // R06: the engine runs, the GNSS never has a fix
  scr_failure,       // R07: downstream NOx above 500 ppm (the SCR converts nothing)
  mil_on,            // R08: the malfunction lamp on in every OBD block
  reagent_empty,     // R09: the reagent tank at 1.5 %
  obd_vin_mismatch,  // R10: the ECU reports another vehicle's VIN (an ECU swapped in)
  position_jump      // R12: after two minutes the position jumps 20 km in a second
};
[[nodiscard]] std::string_view to_string(Fault fault) noexcept;
[[nodiscard]] std::string_view to_string(Role role) noexcept;
[[nodiscard]] bool is_machine(Role role) noexcept;

struct Scenario {
  // Vehicles of each role.
  std::size_t guo6_trucks = 0, guo3_trucks = 0, banned_zone_trucks = 0;
  std::size_t machines = 0, black_smoke_machines = 0, banned_zone_machines = 0;
  std::size_t guo3_light_trucks = 0, unknown_stage_zone_machines = 0, faulty_trucks = 0;
  // The protocol of the trucks (gb17691 or hj1239); machines always speak the non-road format.
  protocol::Profile truck_profile = protocol::Profile::hj1239;
  std::uint64_t seed = 1;
  // Coverage gaps: the chance, per 10 s of driving, that a truck loses the network for 1–5 minutes
  // (samples are kept and resent as 0x03 afterwards).
  double gap_probability = 0;
  // The chance, per frame written, of one extra corrupted frame (bad check byte) before it.
  double malformed_probability = 0;
  // hj1239 trucks sign their reports (SM2/SM3, a key of their own in the registry CSV).
  bool sign = false;

  [[nodiscard]] std::size_t total() const noexcept {
    return guo6_trucks + guo3_trucks + banned_zone_trucks + machines + black_smoke_machines +
           banned_zone_machines + guo3_light_trucks + unknown_stage_zone_machines + faulty_trucks;
  }
};

// Reads a scenario file: `key = value` lines (# comments), keys as the Scenario members
// (guo3_trucks = 20, truck_profile = hj1239, …). On failure returns nullopt and says why.
[[nodiscard]] std::optional<Scenario> parse_scenario(std::istream& in, std::string& error);
// The named presets: "mixed" (a mix of every role whose violations --expected-out predicts),
// "demo" (mixed with 6 faulty trucks per 100 besides: every rule a terminal can break), "guo6"
// (only clean trucks: load tests).
[[nodiscard]] std::optional<Scenario> preset_scenario(std::string_view name, std::size_t vehicles);

struct LonLat {
  double lon = 0, lat = 0;
};

struct VehicleSpec {
  std::size_t index = 0;  // position in the fleet
  Role role = Role::guo6_truck;
  std::string vin;  // a VIN with a valid check digit, or a machine's 17-character code
  std::string plate, plate_color, stage, category, registration_code;  // stage empty: unknown
  double rated_power_kw = 0;
  protocol::Profile profile = protocol::Profile::hj1239;
  std::uint64_t seed = 0;         // the vehicle's own random stream
  std::vector<LonLat> stops;     // trucks: the places its trips go between, in order (cyclic)
  LonLat site;                    // machines: where it works
  std::optional<std::string> target_zone;  // banned-zone roles: the zone the plan goes into
  Fault fault = Fault::none;                 // faulty trucks
  std::string chip_id;                       // 16 characters (signing terminals)
  std::shared_ptr<const Sm2Signer> signer;   // hj1239 terminals that sign their reports
};

// Gives every hj1239 truck of the fleet its SM2 key pair (derived from its VIN: the same in every
// run) and a chip id (scenario `sign`); false when OpenSSL cannot make keys.
[[nodiscard]] bool attach_signers(std::vector<VehicleSpec>& fleet, const std::string& user_id);

// Plans the fleet. `zones` (may be null) are the deployment's zones: trucks' trips and machines'
// sites avoid every zone except the one a banned-zone role is sent into. Banned-zone roles need a
// zone that bans them; without one, planning fails with a reason.
[[nodiscard]] std::optional<std::vector<VehicleSpec>> plan_fleet(const Scenario& scenario,
                                                                 const rules::ZoneIndex* zones,
                                                                 std::string& error);

// The registry CSV (docs/rules.md columns) of the fleet, for `lantiand import-registry`.
void write_registry_csv(const std::vector<VehicleSpec>& fleet, std::ostream& out);

// Distance in metres between two WGS-84 points (haversine).
[[nodiscard]] double distance_m(LonLat a, LonLat b) noexcept;

}  // namespace lantian::sim
