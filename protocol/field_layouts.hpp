#pragma once
// Internal to protocol/: the field tables that drive decoding, encoding and JSON rendering of the
// fixed-layout blocks, so that each field's offset and encoding is written once (§4). Not part of
// the public interface.

#include <array>
#include <cstdint>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "protocol/blocks.hpp"

namespace lantian::protocol::detail {

template <class Owner>
struct ScalarField {
  std::string_view name;
  Reading Owner::*member;
  std::uint8_t offset;
  FieldKind kind;
};

template <std::size_t Width>
[[gnu::always_inline]] inline std::uint32_t load_be_n(const std::uint8_t* p) noexcept {
  if constexpr (Width == 1)
    return p[0];
  else if constexpr (Width == 2)
    return std::uint32_t{p[0]} << 8 | p[1];
  else
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

// The member's kind is already f.kind (blocks construct their readings with their kinds), so only
// the raw value and its status are written.
template <const auto& Fields, std::size_t I, class Target>
[[gnu::always_inline]] inline void decode_field(const std::uint8_t* body, Target& out) noexcept {
  constexpr auto f = Fields[I];
  constexpr FieldEncoding encoding = encoding_of(f.kind);
  const std::uint32_t raw = load_be_n<encoding.width>(body + f.offset);
  (out.*f.member).assign(raw, classify(encoding, raw));
}

// Decodes every field of the table `Fields` from `body` into `out`. The table is a template
// argument so that each field's width and range are constants in the generated code: this is the
// decoder's hot loop (19 fields per sample, 10 samples per frame).
template <const auto& Fields, class Target>
inline void decode_fields(const std::uint8_t* body, Target& out) noexcept {
  constexpr std::size_t n = std::tuple_size_v<std::remove_cvref_t<decltype(Fields)>>;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (decode_field<Fields, I>(body, out), ...);
  }
  (std::make_index_sequence<n>{});
}

// Writes the raw value of every field of `fields` into `body` (which has room for the block).
template <class Owner, std::size_t N>
void encode_fields(const std::array<ScalarField<Owner>, N>& fields,
                   const std::type_identity_t<Owner>& in, std::uint8_t* body) noexcept {
  for (const auto& f : fields) {
    const std::uint32_t raw = (in.*f.member).raw();
    const std::size_t width = encoding_of(f.kind).width;
    for (std::size_t i = 0; i < width; ++i)
      body[f.offset + i] = static_cast<std::uint8_t>(raw >> (8 * (width - 1 - i)));
  }
}

using K = FieldKind;

using E = EngineReadings;
// §4.2 bytes 0–8, shared by every data stream.
inline constexpr std::array<ScalarField<E>, 6> engine_fields{{
    {"speed_kmh", &E::speed_kmh, 0, K::speed_kmh},
    {"barometric_kpa", &E::barometric_kpa, 2, K::pressure_half_kpa},
    {"net_torque_pct", &E::net_torque_pct, 3, K::torque_pct},
    {"friction_torque_pct", &E::friction_torque_pct, 4, K::torque_pct},
    {"engine_rpm", &E::engine_rpm, 5, K::rpm_eighth},
    {"fuel_rate_lph", &E::fuel_rate_lph, 7, K::flow_twentieth},
}};

using D = DieselReadings;
// §4.2 bytes 9–23, shared by the on-road and non-road diesel data streams.
inline constexpr std::array<ScalarField<D>, 9> diesel_fields{{
    {"nox_upstream_ppm", &D::nox_upstream_ppm, 9, K::nox_ppm},
    {"nox_downstream_ppm", &D::nox_downstream_ppm, 11, K::nox_ppm},
    {"reagent_level_pct", &D::reagent_level_pct, 13, K::percent_04},
    {"intake_air_kgph", &D::intake_air_kgph, 14, K::flow_twentieth},
    {"scr_inlet_temp_c", &D::scr_inlet_temp_c, 16, K::temperature_32},
    {"scr_outlet_temp_c", &D::scr_outlet_temp_c, 18, K::temperature_32},
    {"dpf_dp_kpa", &D::dpf_dp_kpa, 20, K::pressure_tenth_kpa},
    {"coolant_temp_c", &D::coolant_temp_c, 22, K::temperature_byte},
    {"fuel_level_pct", &D::fuel_level_pct, 23, K::percent_04},
}};

inline constexpr std::size_t stream_size = 37;
inline constexpr std::size_t stream_position_offset = 24;
inline constexpr std::array<ScalarField<StreamBlock>, 1> stream_tail_fields{{
    {"odometer_km", &StreamBlock::odometer_km, 33, K::odometer_km},
}};

inline constexpr std::size_t machine_stream_size = 28;
inline constexpr std::array<ScalarField<MachineStreamBlock>, 2> machine_stream_tail_fields{{
    {"egr_actual_pct", &MachineStreamBlock::egr_actual_pct, 24, K::egr_pct},
    {"egr_commanded_pct", &MachineStreamBlock::egr_commanded_pct, 26, K::egr_pct},
}};

using C = CatalystBlock;
// §4.3: 0x03 (30 bytes) and 0x05 (32 bytes). Both open with engine_fields; the 0x05 layout inserts
// the downstream NOx WORD at offset 12, which moves everything after it by two bytes.
inline constexpr std::size_t catalyst_size = 30;
inline constexpr std::size_t catalyst_nox_size = 32;
inline constexpr std::size_t catalyst_nox_shift = 2;
inline constexpr std::array<ScalarField<C>, 2> catalyst_o2_fields{{
    {"o2_upstream_lambda", &C::o2_upstream_lambda, 9, K::lambda},
    {"o2_downstream_v", &C::o2_downstream_v, 11, K::o2_volts},
}};
inline constexpr std::array<ScalarField<C>, 1> catalyst_nox_fields{{
    {"nox_downstream_ppm", &C::nox_downstream_ppm, 12, K::nox_ppm},
}};
// Offsets of the 30-byte layout; add catalyst_nox_shift for the 32-byte one.
inline constexpr std::array<ScalarField<C>, 3> catalyst_rest_fields{{
    {"intake_air_kgph", &C::intake_air_kgph, 12, K::flow_twentieth},
    {"coolant_temp_c", &C::coolant_temp_c, 14, K::temperature_byte},
    {"catalyst_temp_c", &C::catalyst_temp_c, 15, K::temperature_32},
}};
inline constexpr std::size_t catalyst_position_offset = 17;
inline constexpr std::array<ScalarField<C>, 1> catalyst_tail_fields{{
    {"odometer_km", &C::odometer_km, 26, K::odometer_km},
}};

using H = HybridBlock;
inline constexpr std::size_t hybrid_size = 8;
inline constexpr std::array<ScalarField<H>, 5> hybrid_fields{{
    {"motor_rpm", &H::motor_rpm, 0, K::count_word},
    {"motor_load_pct", &H::motor_load_pct, 2, K::count_byte},
    {"battery_v", &H::battery_v, 3, K::tenth_word},
    {"battery_a", &H::battery_a, 5, K::current_a},
    {"soc_pct", &H::soc_pct, 7, K::soc_pct},
}};

using S = SupplementaryBlock;
inline constexpr std::size_t supplementary_size = 17;
inline constexpr std::array<ScalarField<S>, 7> supplementary_fields{{
    {"torque_mode", &S::torque_mode, 0, K::count_byte},
    {"accelerator_pct", &S::accelerator_pct, 1, K::percent_04},
    {"total_fuel_l", &S::total_fuel_l, 2, K::half_dword},
    {"urea_tank_temp_c", &S::urea_tank_temp_c, 6, K::temperature_byte},
    {"urea_injection", &S::urea_injection, 7, K::hundredth_dword},
    {"urea_total", &S::urea_total, 11, K::count_dword},
    {"dpf_exhaust_temp_c", &S::dpf_exhaust_temp_c, 15, K::temperature_32},
}};

using M = SmokeBlock;
inline constexpr std::size_t smoke_size = 18;
inline constexpr std::array<ScalarField<M>, 9> smoke_fields{{
    {"exhaust_temp_c", &M::exhaust_temp_c, 0, K::count_word},
    {"fault_code", &M::fault_code, 2, K::count_word},
    {"back_pressure_kpa", &M::back_pressure_kpa, 4, K::count_word},
    {"k_m1", &M::k_m1, 6, K::hundredth_word},
    {"opacity_pct", &M::opacity_pct, 8, K::tenth_word},
    {"pm_mg_m3", &M::pm_mg_m3, 10, K::tenth_word},
    {"k_alarm", &M::k_alarm, 12, K::count_word},
    {"back_pressure_alarm", &M::back_pressure_alarm, 14, K::count_word},
    {"nox_ppm", &M::nox_ppm, 16, K::count_word},
}};

// Position: status byte, longitude DWORD, latitude DWORD (§4.7); 9 bytes.
inline constexpr std::size_t position_size = 9;
inline constexpr std::array<ScalarField<Position>, 2> position_fields{{
    {"lon", &Position::longitude, 1, K::longitude},
    {"lat", &Position::latitude, 5, K::latitude},
}};

inline void decode_position(const std::uint8_t* p, Position& pos) noexcept {
  pos.status = p[0];
  decode_fields<position_fields>(p, pos);
}

inline void encode_position(const Position& pos, std::uint8_t* p) noexcept {
  p[0] = pos.status;
  encode_fields(position_fields, pos, p);
}

// ---------------------------------------------------------------------------------------------
// Each fixed-layout block described once, in wire order, as its field tables and its position.
// Decoding, encoding and the JSON rendering all walk this description, so a layout is never
// written twice. A visitor provides:
//   template <const auto& Fields> void fields(std::size_t shift);  // offsets moved by `shift`
//   void position(std::size_t offset);                              // the 9-byte position
// (CatalystBlock::with_nox must be set before a decoder walks it.)

template <class V>
void describe(const StreamBlock&, V& v) {
  v.template fields<engine_fields>(0);
  v.template fields<diesel_fields>(0);
  v.position(stream_position_offset);
  v.template fields<stream_tail_fields>(0);
}

template <class V>
void describe(const MachineStreamBlock&, V& v) {
  v.template fields<engine_fields>(0);
  v.template fields<diesel_fields>(0);
  v.template fields<machine_stream_tail_fields>(0);
}

template <class V>
void describe(const CatalystBlock& c, V& v) {
  const std::size_t shift = c.with_nox ? catalyst_nox_shift : 0;
  v.template fields<engine_fields>(0);
  v.template fields<catalyst_o2_fields>(0);
  if (c.with_nox) v.template fields<catalyst_nox_fields>(0);
  v.template fields<catalyst_rest_fields>(shift);
  v.position(shift + catalyst_position_offset);
  v.template fields<catalyst_tail_fields>(shift);
}

template <class V>
void describe(const HybridBlock&, V& v) {
  v.template fields<hybrid_fields>(0);
}
template <class V>
void describe(const SupplementaryBlock&, V& v) {
  v.template fields<supplementary_fields>(0);
}
template <class V>
void describe(const SmokeBlock&, V& v) {
  v.template fields<smoke_fields>(0);
}

inline constexpr std::size_t wire_size(const StreamBlock&) noexcept {
  return stream_size;
}
inline constexpr std::size_t wire_size(const MachineStreamBlock&) noexcept {
  return machine_stream_size;
}
inline constexpr std::size_t wire_size(const CatalystBlock& c) noexcept {
  return c.with_nox ? catalyst_nox_size : catalyst_size;
}
inline constexpr std::size_t wire_size(const HybridBlock&) noexcept {
  return hybrid_size;
}
inline constexpr std::size_t wire_size(const SupplementaryBlock&) noexcept {
  return supplementary_size;
}
inline constexpr std::size_t wire_size(const SmokeBlock&) noexcept {
  return smoke_size;
}

template <class Block>
struct LayoutDecoder {
  const std::uint8_t* p;
  Block& b;
  template <const auto& Fields>
  void fields(std::size_t shift) noexcept {
    decode_fields<Fields>(p + shift, b);
  }
  void position(std::size_t offset) noexcept { decode_position(p + offset, b.position); }
};

template <class Block>
struct LayoutEncoder {
  std::uint8_t* p;
  const Block& b;
  template <const auto& Fields>
  void fields(std::size_t shift) noexcept {
    encode_fields(Fields, b, p + shift);
  }
  void position(std::size_t offset) noexcept { encode_position(b.position, p + offset); }
};

// Decodes `body` (wire_size(block) bytes) into `block`.
template <class Block>
inline void decode_layout(const std::uint8_t* body, Block& block) noexcept {
  LayoutDecoder<Block> v{body, block};
  describe(block, v);
}

// Writes `block` into `body` (wire_size(block) bytes).
template <class Block>
inline void encode_layout(const Block& block, std::uint8_t* body) noexcept {
  LayoutEncoder<Block> v{body, block};
  describe(block, v);
}

}  // namespace lantian::protocol::detail
