#pragma once
// Typed information blocks of real-time (0x02) and resend (0x03) reports (§4), in physical units.
// Each block keeps enough of the transmitted bytes (raw markers, text bytes, reserved bits) that
// encoding it again reproduces the original bytes exactly.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/beijing_time.hpp"
#include "protocol/bytes.hpp"
#include "protocol/types.hpp"

namespace lantian::protocol {

namespace block_type {
inline constexpr std::uint8_t obd = 0x01;  // non-road: emission-control diagnostic (ECD)
inline constexpr std::uint8_t stream = 0x02;
inline constexpr std::uint8_t twc = 0x03;  // hj1239: three-way catalyst, no NOx sensor
inline constexpr std::uint8_t hybrid = 0x04;
inline constexpr std::uint8_t twc_nox = 0x05;  // hj1239: three-way catalyst with NOx sensor
inline constexpr std::uint8_t supplementary = 0x80;
inline constexpr std::uint8_t smoke = 0x81;
}  // namespace block_type

inline constexpr std::uint8_t invalid_byte = 0xFE;  // marker used by the byte-coded OBD/ECD fields

// 0x01 OBD information (§4.1), 96 + 4·N bytes.
struct ObdBlock {
  std::uint8_t protocol = 0;    // 0 ISO 15765, 1 ISO 27145, 2 SAE J1939, 0xFE invalid
  std::uint8_t mil = 0;         // 0 off, 1 on, 0xFE invalid
  std::uint16_t support = 0;    // bitmap, bit set = monitor supported
  std::uint16_t readiness = 0;  // bitmap, bit set = monitor not complete
  Vin vin{};                    // as reported by the ECU
  FixedText<18> calid{};
  FixedText<18> cvn{};
  std::array<std::uint8_t, 36> iupr_raw{};  // 18 WORDs, or 36 ASCII '0' from some terminals
  std::uint8_t dtc_count = 0;               // raw; above 253 (0xFE invalid) no list follows
  std::vector<std::uint32_t> dtcs;

  // The 18 IUPR counters, or nullopt when the terminal sent ASCII '0's instead.
  [[nodiscard]] std::optional<std::array<std::uint16_t, 18>> iupr() const noexcept;
  bool operator==(const ObdBlock&) const = default;
};

// Non-road 0x01 emission-control diagnostic (§4.6): 3 + 4·N bytes.
struct EcdBlock {
  std::uint8_t protocol = 0;  // 0 ISO 15765, 1 ISO 27145, 2 SAE J1939, 3 ISO 15031, 0xFE invalid
  std::uint8_t warning_lamp = 0;  // 0 off, 1 on, 2 blinking
  std::uint8_t dtc_count = 0;     // raw; above 253 no list follows
  std::vector<std::uint32_t> dtcs;
  bool operator==(const EcdBlock&) const = default;
};

// The engine values that open every data stream (diesel and three-way catalyst): §4.2 bytes 0–8.
struct EngineReadings {
  Reading speed_kmh{FieldKind::speed_kmh};
  Reading barometric_kpa{FieldKind::pressure_half_kpa};
  Reading net_torque_pct{FieldKind::torque_pct};
  Reading friction_torque_pct{FieldKind::torque_pct};
  Reading engine_rpm{FieldKind::rpm_eighth};
  Reading fuel_rate_lph{FieldKind::flow_twentieth};
  bool operator==(const EngineReadings&) const = default;
};

// The engine and after-treatment values that open both the on-road (0x02) and the non-road (0x02)
// data streams: the first 24 bytes of §4.2.
struct DieselReadings : EngineReadings {
  Reading nox_upstream_ppm{FieldKind::nox_ppm};
  Reading nox_downstream_ppm{FieldKind::nox_ppm};
  Reading reagent_level_pct{FieldKind::percent_04};
  Reading intake_air_kgph{FieldKind::flow_twentieth};
  Reading scr_inlet_temp_c{FieldKind::temperature_32};
  Reading scr_outlet_temp_c{FieldKind::temperature_32};
  Reading dpf_dp_kpa{FieldKind::pressure_tenth_kpa};
  Reading coolant_temp_c{FieldKind::temperature_byte};
  Reading fuel_level_pct{FieldKind::percent_04};
  bool operator==(const DieselReadings&) const = default;
};

// 0x02 diesel data stream (§4.2), 37 bytes.
struct StreamBlock : DieselReadings {
  Position position;
  Reading odometer_km{FieldKind::odometer_km};
  bool operator==(const StreamBlock&) const = default;
};

// Non-road 0x02 data stream (§4.6), 28 bytes: no position (it is in the report header).
struct MachineStreamBlock : DieselReadings {
  Reading egr_actual_pct{FieldKind::egr_pct};
  Reading egr_commanded_pct{FieldKind::egr_pct};
  bool operator==(const MachineStreamBlock&) const = default;
};

// hj1239 0x03 (30 bytes) and 0x05 (32 bytes, with downstream NOx) three-way-catalyst streams.
struct CatalystBlock : EngineReadings {
  // True for the 32-byte layout: always for 0x05, and for the OEM 0x03 variant (§4.3 Decision).
  bool with_nox = false;
  Reading o2_upstream_lambda{FieldKind::lambda};
  Reading o2_downstream_v{FieldKind::o2_volts};
  Reading nox_downstream_ppm{FieldKind::nox_ppm};
  Reading intake_air_kgph{FieldKind::flow_twentieth};
  Reading coolant_temp_c{FieldKind::temperature_byte};
  Reading catalyst_temp_c{FieldKind::temperature_32};
  Position position;
  Reading odometer_km{FieldKind::odometer_km};
  bool operator==(const CatalystBlock&) const = default;
};

// hj1239 0x04 hybrid (§4.3), 8 bytes.
struct HybridBlock {
  Reading motor_rpm{FieldKind::count_word};
  Reading motor_load_pct{FieldKind::count_byte};
  Reading battery_v{FieldKind::tenth_word};
  Reading battery_a{FieldKind::current_a};
  Reading soc_pct{FieldKind::soc_pct};
  bool operator==(const HybridBlock&) const = default;
};

// 0x80 supplementary data stream (§4.4), fixed 17-byte form.
struct SupplementaryBlock {
  Reading torque_mode{FieldKind::count_byte};
  Reading accelerator_pct{FieldKind::percent_04};
  Reading total_fuel_l{FieldKind::half_dword};
  Reading urea_tank_temp_c{FieldKind::temperature_byte};
  Reading urea_injection{FieldKind::hundredth_dword};
  Reading urea_total{FieldKind::count_dword};
  Reading dpf_exhaust_temp_c{FieldKind::temperature_32};
  bool operator==(const SupplementaryBlock&) const = default;
};

// 0x80 in its length-prefixed OEM form: WORD length, then items of 2-byte id, 1-byte length, value.
struct TlvItem {
  std::uint16_t id = 0;
  Bytes value;  // at most 255 bytes
  bool operator==(const TlvItem&) const = default;
};
struct SupplementaryTlvBlock {
  std::vector<TlvItem> items;
  bool operator==(const SupplementaryTlvBlock&) const = default;
};

// 0x81 smoke-meter block (§4.5), 18 bytes.
struct SmokeBlock {
  Reading exhaust_temp_c{FieldKind::count_word};
  Reading fault_code{FieldKind::count_word};
  Reading back_pressure_kpa{FieldKind::count_word};
  Reading k_m1{FieldKind::hundredth_word};
  Reading opacity_pct{FieldKind::tenth_word};
  Reading pm_mg_m3{FieldKind::tenth_word};
  Reading k_alarm{FieldKind::count_word};
  Reading back_pressure_alarm{FieldKind::count_word};
  Reading nox_ppm{FieldKind::count_word};
  bool operator==(const SmokeBlock&) const = default;
};

// Any other block: user-defined types of known size, or the unparsed rest of a data unit.
struct OpaqueBlock {
  std::string
      name;  // the terminal model's name for a configured user-defined type; empty otherwise
  Bytes raw;
  bool operator==(const OpaqueBlock&) const = default;
};

// HybridBlock comes first only because it is the cheapest to default-construct.
using BlockPayload =
    std::variant<HybridBlock, ObdBlock, EcdBlock, StreamBlock, MachineStreamBlock, CatalystBlock,
                 SupplementaryBlock, SupplementaryTlvBlock, SmokeBlock, OpaqueBlock>;

// One information block of a report. `serial` is set in the gb17691 layout (type · serial · body),
// `time` in the hj1239 layout (type · collection time · body); non-road blocks have neither.
struct Block {
  std::uint8_t type = 0;
  std::uint16_t serial = 0;
  BeijingTime time;
  BlockPayload payload;
  bool operator==(const Block&) const = default;
};

// The `type_name` of decode-json.md for a block.
[[nodiscard]] std::string_view type_name(const Block& block) noexcept;

}  // namespace lantian::protocol
