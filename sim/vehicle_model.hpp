#pragma once
// What a simulated terminal measures, second by second: trucks driving trips between their stops
// (speed, engine, SCR, NOx, reagent, fuel along the way; parked with the engine off at each stop)
// and machines working at their site (dig and idle cycles; a black-smoke machine's smoke meter).
// Values stay inside the plausible ranges of their fields, move smoothly, and never repeat exactly
// (a real sensor's noise), so the rules see ordinary data except where the role says otherwise.

#include <cstdint>
#include <optional>
#include <random>

#include "sim/fleet.hpp"

namespace lantian::sim {

// One 1 Hz sample, physical units. Optional values are ones this vehicle has no sensor for.
struct SimSample {
  std::int64_t unix_s = 0;
  LonLat position;
  double speed_kmh = 0, engine_rpm = 0, net_torque_pct = 0, friction_torque_pct = 0;
  double fuel_rate_lph = 0, intake_air_kgph = 0, coolant_c = 0, fuel_level_pct = 0;
  double odometer_km = 0, barometric_kpa = 100, nox_upstream_ppm = 0, nox_downstream_ppm = 0;
  std::optional<double> reagent_pct, scr_inlet_c, scr_outlet_c, dpf_dp_kpa;
  std::optional<double> smoke_k_m1;  // machines with a smoke meter, while the engine is warm
  bool fix_valid = true;             // the GNSS has a fix
  bool mil = false;                  // the malfunction indicator lamp is on
  [[nodiscard]] bool engine_on() const noexcept { return engine_rpm > 0; }
};

class VehicleModel {
 public:
  // The vehicle's state at `start_unix_s`: somewhere on one of its trips (trucks) or working
  // (machines), chosen from the vehicle's own seed.
  VehicleModel(const VehicleSpec& spec, std::int64_t start_unix_s);
  // The sample of the next second.
  SimSample next();

 private:
  void step_truck(SimSample& s);
  void step_machine(SimSample& s);
  void step_thermal(SimSample& s, double load);
  void apply_fault(SimSample& s);
  [[nodiscard]] double noise(double amplitude);

  const VehicleSpec& spec_;
  std::mt19937_64 rng_;
  std::int64_t now_;
  bool has_scr_;
  // Truck trip state.
  std::size_t leg_ = 0;     // driving from stops[leg_] to stops[leg_ + 1]
  double progress_m_ = 0;   // along the leg
  double speed_ms_ = 0;
  double cruise_ms_ = 0;
  int slowdown_s_ = 0;      // seconds left of a traffic slowdown
  int parked_s_ = 0;        // seconds left parked at a stop (engine off)
  // Machine cycle state.
  int cycle_s_ = 0;
  double east_m_ = 0, north_m_ = 0;  // where about its site
  std::int64_t samples_ = 0;  // taken so far
  // Shared engine and after-treatment state.
  double coolant_c_ = 80, scr_c_ = 280, reagent_pct_ = 60, fuel_pct_ = 70, odometer_km_ = 0;
};

}  // namespace lantian::sim
