#pragma once
// Internal to protocol/: the field tables that drive decoding, encoding and JSON rendering of the
// fixed-layout blocks, so that each field's offset, width, resolution, offset and range is written
// once (§4). Not part of the public interface.

#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "protocol/blocks.hpp"

namespace lantian::protocol::detail {

// physical = raw × num / den + bias; raws above `max_raw` are out of range. The all-ones and
// all-ones − 1 raws of the field's width are the invalid and abnormal markers.
template <class Owner>
struct ScalarField {
  std::string_view name;
  Reading Owner::*member;
  std::uint8_t offset;
  std::uint8_t width;
  std::int32_t num;
  std::int32_t den;
  std::int32_t bias;
  std::uint32_t max_raw;
};

inline constexpr std::uint32_t all_ones(std::size_t width) noexcept {
  return width >= 4 ? 0xFFFFFFFFu : (1u << (8 * width)) - 1u;
}
// Markers only: every raw below the abnormal marker is in range.
inline constexpr std::uint32_t no_limit(std::size_t width) noexcept { return all_ones(width) - 2; }

template <class Owner>
[[gnu::always_inline]] inline Reading decode_scalar(const ScalarField<Owner>& f, std::uint32_t raw) noexcept {
  const std::uint32_t ones = all_ones(f.width);
  if (raw == ones) return {0, raw, ValueStatus::invalid};
  if (raw == ones - 1) return {0, raw, ValueStatus::abnormal};
  if (raw > f.max_raw) return {0, raw, ValueStatus::out_of_range};
  // One integer numerator and a single division keep the result correctly rounded (0.3, not
  // 0.30000000000000004).
  const std::int64_t numerator = std::int64_t{raw} * f.num + std::int64_t{f.bias} * f.den;
  return {static_cast<double>(numerator) / f.den, raw, ValueStatus::valid};
}

template <class Owner>
std::uint32_t encode_scalar(const ScalarField<Owner>& f, const Reading& r) noexcept {
  const std::uint32_t ones = all_ones(f.width);
  switch (r.status) {
    case ValueStatus::invalid: return ones;
    case ValueStatus::abnormal: return ones - 1;
    case ValueStatus::out_of_range: return r.raw;
    case ValueStatus::valid: break;
  }
  const double raw = std::round((r.value - f.bias) * f.den / f.num);
  if (!(raw >= 0)) return 0;
  if (raw > f.max_raw) return f.max_raw;
  return static_cast<std::uint32_t>(raw);
}

template <std::size_t Width>
inline std::uint32_t load_be_n(const std::uint8_t* p) noexcept {
  if constexpr (Width == 1) return p[0];
  else if constexpr (Width == 2) return std::uint32_t{p[0]} << 8 | p[1];
  else return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

template <const auto& Fields, std::size_t I, class Target>
[[gnu::always_inline]] inline void decode_field(const std::uint8_t* body, Target& out) noexcept {
  constexpr auto f = Fields[I];
  out.*f.member = decode_scalar(f, load_be_n<f.width>(body + f.offset));
}

// Decodes every field of the table `Fields` from `body` into `out`. The table is a template
// argument so that each field's width, resolution and range are constants in the generated code:
// this is the decoder's hot loop (17 fields per sample, 10 samples per frame).
template <const auto& Fields, class Target>
inline void decode_fields(const std::uint8_t* body, Target& out) noexcept {
  constexpr std::size_t n = std::tuple_size_v<std::remove_cvref_t<decltype(Fields)>>;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (decode_field<Fields, I>(body, out), ...);
  }(std::make_index_sequence<n>{});
}

template <class Owner, std::size_t N>
void encode_fields(const std::array<ScalarField<Owner>, N>& fields,
                   const std::type_identity_t<Owner>& in, std::uint8_t* body) noexcept {
  for (const auto& f : fields) {
    const std::uint32_t raw = encode_scalar(f, in.*f.member);
    for (std::size_t i = 0; i < f.width; ++i)
      body[i + f.offset] = static_cast<std::uint8_t>(raw >> (8 * (f.width - 1 - i)));
  }
}

using E = EngineReadings;
// §4.2 bytes 0–8, shared by every data stream.
inline constexpr std::array<ScalarField<E>, 6> engine_fields{{
    {"speed_kmh", &E::speed_kmh, 0, 2, 1, 256, 0, 64255},
    {"barometric_kpa", &E::barometric_kpa, 2, 1, 1, 2, 0, 250},
    {"net_torque_pct", &E::net_torque_pct, 3, 1, 1, 1, -125, 250},
    {"friction_torque_pct", &E::friction_torque_pct, 4, 1, 1, 1, -125, 250},
    {"engine_rpm", &E::engine_rpm, 5, 2, 1, 8, 0, 64255},
    {"fuel_rate_lph", &E::fuel_rate_lph, 7, 2, 1, 20, 0, 64255},
}};

using D = DieselReadings;
// §4.2 bytes 9–23, shared by the on-road and non-road diesel data streams.
inline constexpr std::array<ScalarField<D>, 9> diesel_fields{{
    {"nox_upstream_ppm", &D::nox_upstream_ppm, 9, 2, 1, 20, -200, 64255},
    {"nox_downstream_ppm", &D::nox_downstream_ppm, 11, 2, 1, 20, -200, 64255},
    {"reagent_level_pct", &D::reagent_level_pct, 13, 1, 2, 5, 0, 250},
    {"intake_air_kgph", &D::intake_air_kgph, 14, 2, 1, 20, 0, 64255},
    {"scr_inlet_temp_c", &D::scr_inlet_temp_c, 16, 2, 1, 32, -273, 64255},
    {"scr_outlet_temp_c", &D::scr_outlet_temp_c, 18, 2, 1, 32, -273, 64255},
    {"dpf_dp_kpa", &D::dpf_dp_kpa, 20, 2, 1, 10, 0, 64255},
    {"coolant_temp_c", &D::coolant_temp_c, 22, 1, 1, 1, -40, 250},
    {"fuel_level_pct", &D::fuel_level_pct, 23, 1, 2, 5, 0, 250},
}};

inline constexpr std::size_t stream_size = 37;
inline constexpr std::size_t stream_position_offset = 24;
inline constexpr std::array<ScalarField<StreamBlock>, 1> stream_tail_fields{{
    {"odometer_km", &StreamBlock::odometer_km, 33, 4, 1, 10, 0, no_limit(4)},
}};

inline constexpr std::size_t machine_stream_size = 28;
inline constexpr std::array<ScalarField<MachineStreamBlock>, 2> machine_stream_tail_fields{{
    {"egr_actual_pct", &MachineStreamBlock::egr_actual_pct, 24, 2, 1, 400, 0, no_limit(2)},
    {"egr_commanded_pct", &MachineStreamBlock::egr_commanded_pct, 26, 2, 1, 400, 0, no_limit(2)},
}};

using C = CatalystBlock;
// §4.3: 0x03 (30 bytes) and 0x05 (32 bytes). Both open with engine_fields; the 0x05 layout inserts
// the downstream NOx WORD at offset 12, which moves everything after it by two bytes.
inline constexpr std::size_t catalyst_size = 30;
inline constexpr std::size_t catalyst_nox_size = 32;
inline constexpr std::size_t catalyst_nox_shift = 2;
inline constexpr std::array<ScalarField<C>, 2> catalyst_o2_fields{{
    {"o2_upstream_lambda", &C::o2_upstream_lambda, 9, 2, 305, 10000000, 0, no_limit(2)},
    {"o2_downstream_v", &C::o2_downstream_v, 11, 1, 1, 100, 0, no_limit(1)},
}};
inline constexpr std::array<ScalarField<C>, 1> catalyst_nox_fields{{
    {"nox_downstream_ppm", &C::nox_downstream_ppm, 12, 2, 1, 20, -200, 64255},
}};
// Offsets of the 30-byte layout; add catalyst_nox_shift for the 32-byte one.
inline constexpr std::array<ScalarField<C>, 3> catalyst_rest_fields{{
    {"intake_air_kgph", &C::intake_air_kgph, 12, 2, 1, 20, 0, 64255},
    {"coolant_temp_c", &C::coolant_temp_c, 14, 1, 1, 1, -40, 250},
    {"catalyst_temp_c", &C::catalyst_temp_c, 15, 2, 1, 32, -273, 64255},
}};
inline constexpr std::size_t catalyst_position_offset = 17;
inline constexpr std::array<ScalarField<C>, 1> catalyst_tail_fields{{
    {"odometer_km", &C::odometer_km, 26, 4, 1, 10, 0, no_limit(4)},
}};

using H = HybridBlock;
inline constexpr std::size_t hybrid_size = 8;
inline constexpr std::array<ScalarField<H>, 5> hybrid_fields{{
    {"motor_rpm", &H::motor_rpm, 0, 2, 1, 1, 0, no_limit(2)},
    {"motor_load_pct", &H::motor_load_pct, 2, 1, 1, 1, 0, no_limit(1)},
    {"battery_v", &H::battery_v, 3, 2, 1, 10, 0, no_limit(2)},
    {"battery_a", &H::battery_a, 5, 2, 1, 10, -1000, no_limit(2)},
    {"soc_pct", &H::soc_pct, 7, 1, 1, 1, 0, 100},
}};

using S = SupplementaryBlock;
inline constexpr std::size_t supplementary_size = 17;
inline constexpr std::array<ScalarField<S>, 7> supplementary_fields{{
    {"torque_mode", &S::torque_mode, 0, 1, 1, 1, 0, no_limit(1)},
    {"accelerator_pct", &S::accelerator_pct, 1, 1, 2, 5, 0, 250},
    {"total_fuel_l", &S::total_fuel_l, 2, 4, 1, 2, 0, no_limit(4)},
    {"urea_tank_temp_c", &S::urea_tank_temp_c, 6, 1, 1, 1, -40, 250},
    {"urea_injection", &S::urea_injection, 7, 4, 1, 100, 0, no_limit(4)},
    {"urea_total", &S::urea_total, 11, 4, 1, 1, 0, no_limit(4)},
    {"dpf_exhaust_temp_c", &S::dpf_exhaust_temp_c, 15, 2, 1, 32, -273, 64255},
}};

using K = SmokeBlock;
inline constexpr std::size_t smoke_size = 18;
inline constexpr std::array<ScalarField<K>, 9> smoke_fields{{
    {"exhaust_temp_c", &K::exhaust_temp_c, 0, 2, 1, 1, 0, no_limit(2)},
    {"fault_code", &K::fault_code, 2, 2, 1, 1, 0, no_limit(2)},
    {"back_pressure_kpa", &K::back_pressure_kpa, 4, 2, 1, 1, 0, no_limit(2)},
    {"k_m1", &K::k_m1, 6, 2, 1, 100, 0, no_limit(2)},
    {"opacity_pct", &K::opacity_pct, 8, 2, 1, 10, 0, no_limit(2)},
    {"pm_mg_m3", &K::pm_mg_m3, 10, 2, 1, 10, 0, no_limit(2)},
    {"k_alarm", &K::k_alarm, 12, 2, 1, 1, 0, no_limit(2)},
    {"back_pressure_alarm", &K::back_pressure_alarm, 14, 2, 1, 1, 0, no_limit(2)},
    {"nox_ppm", &K::nox_ppm, 16, 2, 1, 1, 0, no_limit(2)},
}};

// Position: status byte, longitude DWORD, latitude DWORD (§4.7); 9 bytes.
inline constexpr std::size_t position_size = 9;
inline constexpr std::array<ScalarField<Position>, 2> position_fields{{
    {"lon", &Position::longitude, 1, 4, 1, 1000000, 0, 180000000},
    {"lat", &Position::latitude, 5, 4, 1, 1000000, 0, 90000000},
}};

inline void decode_position(const std::uint8_t* p, Position& pos) noexcept {
  pos.status = p[0];
  decode_fields<position_fields>(p, pos);
}

inline void encode_position(const Position& pos, std::uint8_t* p) noexcept {
  p[0] = pos.status;
  encode_fields(position_fields, pos, p);
}

}  // namespace lantian::protocol::detail
