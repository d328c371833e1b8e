#include "sim/vehicle_model.hpp"

#include <algorithm>
#include <cmath>

namespace lantian::sim {
namespace {

LonLat along(LonLat a, LonLat b, double fraction) {
  return {a.lon + (b.lon - a.lon) * fraction, a.lat + (b.lat - a.lat) * fraction};
}

// First-order approach of `value` to `target` with time constant `tau_s` over one second.
double approach(double value, double target, double tau_s) {
  return value + (target - value) / tau_s;
}

}  // namespace

VehicleModel::VehicleModel(const VehicleSpec& spec, std::int64_t start_unix_s)
    : spec_(spec), rng_(spec.seed), now_(start_unix_s) {
  has_scr_ = spec.stage != "CN3" && spec.stage != "NR2" && spec.stage != "NR3";
  std::uniform_real_distribution<double> u(0, 1);
  reagent_pct_ = 40 + 50 * u(rng_);
  fuel_pct_ = 30 + 60 * u(rng_);
  odometer_km_ = 20'000 + 300'000 * u(rng_);
  coolant_c_ = 78 + 8 * u(rng_);
  if (!spec.stops.empty()) {
    leg_ = rng_() % spec.stops.size();
    const auto& a = spec.stops[leg_];
    const auto& b = spec.stops[(leg_ + 1) % spec.stops.size()];
    progress_m_ = distance_m(a, b) * u(rng_) * 0.8;
    cruise_ms_ = (68 + 17 * u(rng_)) / 3.6;
    speed_ms_ = cruise_ms_;
    if (spec.fault != Fault::none) {
      // A faulty truck starts a leg (20 km or more) at cruising speed: a quarter of an hour of
      // driving shows its fault before the first stop turns the engine off.
      progress_m_ = 0;
    }
    if (spec.target_zone) {
      // A banned-zone truck starts at its delivery inside the zone (the second stop), parked.
      leg_ = 1;
      progress_m_ = 0;
      speed_ms_ = 0;
      parked_s_ = 600 + static_cast<int>(rng_() % 1200);
    }
  }
  cycle_s_ = static_cast<int>(rng_() % 3600);
}

double VehicleModel::noise(double amplitude) {
  return std::uniform_real_distribution<double>(-amplitude, amplitude)(rng_);
}

SimSample VehicleModel::next() {
  SimSample s;
  s.unix_s = now_++;
  if (is_machine(spec_.role))
    step_machine(s);
  else
    step_truck(s);
  s.coolant_c = coolant_c_;
  s.fuel_level_pct = fuel_pct_;
  s.odometer_km = odometer_km_;
  s.barometric_kpa = 100 + noise(0.5);
  apply_fault(s);
  ++samples_;
  return s;
}

void VehicleModel::apply_fault(SimSample& s) {
  switch (spec_.fault) {
    case Fault::none:
    case Fault::obd_vin_mismatch:  // in the OBD block (TerminalFrames)
      break;
    case Fault::no_fix:
      s.fix_valid = false;
      break;
    case Fault::scr_failure:
      if (s.engine_on()) s.nox_downstream_ppm = std::max(s.nox_downstream_ppm, 560 + noise(40));
      break;
    case Fault::mil_on:
      s.mil = true;
      break;
    case Fault::reagent_empty:
      if (s.reagent_pct) s.reagent_pct = 1.5 + noise(0.2);
      break;
    case Fault::position_jump:
      // About 18 km east from one second to the next, and the rest of the run shifted so (its
      // trips were planned clear of the zones before the shift; a 国六 truck is banned from none).
      if (samples_ >= 120) s.position.lon += 0.2;
      break;
  }
}

void VehicleModel::step_truck(SimSample& s) {
  const auto& stops = spec_.stops;
  const LonLat a = stops[leg_], b = stops[(leg_ + 1) % stops.size()];
  const double length = std::max(1.0, distance_m(a, b));
  if (parked_s_ > 0) {
    // Parked at a stop, engine off.
    --parked_s_;
    s.position = a;
    step_thermal(s, 0);
    return;
  }
  // Target speed: cruising, a traffic slowdown, or slowing for the stop ahead.
  const double remaining = length - progress_m_;
  if (slowdown_s_ > 0) {
    --slowdown_s_;
  } else if (std::uniform_int_distribution<int>(0, 599)(rng_) == 0) {
    slowdown_s_ = std::uniform_int_distribution<int>(30, 150)(rng_);
  }
  double target = slowdown_s_ > 0 ? 25 / 3.6 : cruise_ms_;
  if (remaining < 3000) target = std::min(target, 40 / 3.6);
  if (remaining < 300) target = std::min(target, 12 / 3.6);
  const double before = speed_ms_;
  speed_ms_ = target > speed_ms_ ? std::min(target, speed_ms_ + 0.6) : std::max(target, speed_ms_ - 1.2);
  speed_ms_ = std::max(speed_ms_, 1.0);
  const double accel = speed_ms_ - before;
  progress_m_ += speed_ms_;
  odometer_km_ += speed_ms_ / 1000;
  if (progress_m_ >= length) {
    // Arrived: park for 10–30 minutes, then the next leg.
    leg_ = (leg_ + 1) % stops.size();
    progress_m_ = 0;
    parked_s_ = std::uniform_int_distribution<int>(600, 1800)(rng_);
    speed_ms_ = 0;
    s.position = b;
  } else {
    s.position = along(a, b, progress_m_ / length);
  }
  // GPS noise of a few metres.
  s.position.lon += noise(0.00003);
  s.position.lat += noise(0.00003);
  s.speed_kmh = speed_ms_ * 3.6;
  s.engine_rpm = std::clamp(620 + s.speed_kmh * 15 + noise(25), 600.0, 2100.0);
  const double load = std::clamp(28 + accel * 45 + noise(6), 5.0, 95.0);
  step_thermal(s, load);
}

void VehicleModel::step_machine(SimSample& s) {
  // 50 minutes of digging (a 20 s bucket cycle), then 10 minutes idling, around the clock.
  cycle_s_ = (cycle_s_ + 1) % 3600;
  const bool digging = cycle_s_ < 3000;
  const double phase = std::sin(2 * std::numbers::pi * (cycle_s_ % 20) / 20.0);
  const double load = digging ? std::clamp(55 + 30 * phase + noise(5), 10.0, 98.0) : 8 + noise(2);
  s.engine_rpm = digging ? 1750 + 150 * phase + noise(20) : 850 + noise(15);
  // The machine moves about its site on its tracks (≤ 1 m/s, within 30 m), plus GPS noise.
  east_m_ = std::clamp(east_m_ + noise(0.7), -30.0, 30.0);
  north_m_ = std::clamp(north_m_ + noise(0.7), -30.0, 30.0);
  constexpr double metres_per_degree = 111'320.0;
  s.position = {spec_.site.lon + (east_m_ + noise(2)) / (metres_per_degree *
                                                         std::cos(spec_.site.lat * std::numbers::pi / 180)),
                spec_.site.lat + (north_m_ + noise(2)) / metres_per_degree};
  step_thermal(s, load);
  if (spec_.role == Role::black_smoke_machine && coolant_c_ >= 72)
    s.smoke_k_m1 = 2.6 + 0.6 * load / 100 + noise(0.1);  // far above every GB 36886 class
}

// Engine, fuel and after-treatment values for a running engine at `load` % net torque (0: off).
void VehicleModel::step_thermal(SimSample& s, double load) {
  const bool on = s.engine_rpm > 0;
  coolant_c_ = on ? approach(coolant_c_, 86, 300) : approach(coolant_c_, 25, 2400);
  scr_c_ = on ? approach(scr_c_, 200 + load * 2.6, 120) : approach(scr_c_, 25, 1200);
  if (!on) return;
  s.net_torque_pct = load;
  s.friction_torque_pct = 6 + noise(1);
  s.fuel_rate_lph = std::max(0.5, 1.5 + s.engine_rpm * load / 2800 + noise(0.3));
  s.intake_air_kgph = s.engine_rpm * 0.35 + load * 4 + noise(5);
  fuel_pct_ = std::max(5.0, fuel_pct_ - s.fuel_rate_lph / 3600 / 6);  // a 600 L tank
  if (fuel_pct_ < 15) fuel_pct_ = 95;                                 // refuelled
  s.nox_upstream_ppm = std::clamp(180 + load * 7 + noise(25), 50.0, 1500.0);
  if (has_scr_) {
    // SCR: ≥ 90 % conversion once warm; reagent used in proportion.
    const double conversion = scr_c_ >= 220 ? 0.93 + noise(0.03) : 0.2 + noise(0.05);
    s.nox_downstream_ppm = std::max(1.0, s.nox_upstream_ppm * (1 - conversion));
    reagent_pct_ = std::max(10.0, reagent_pct_ - 0.0002 * load / 50);
    if (reagent_pct_ <= 10.5) reagent_pct_ = 90;  // refilled
    s.reagent_pct = reagent_pct_;
    s.scr_inlet_c = scr_c_ + noise(2);
    s.scr_outlet_c = scr_c_ - 15 + noise(2);
    s.dpf_dp_kpa = 2 + load / 20 + noise(0.3);
  } else {
    s.nox_downstream_ppm = s.nox_upstream_ppm * (0.97 + noise(0.02));
  }
}

}  // namespace lantian::sim
