#pragma once
// One measured field of a block (§4): the transmitted integer, whether it is a number at all
// (invalid / abnormal / out of range), and the encoding that turns it into physical units.
//
// A Reading keeps the raw integer and converts on demand. That keeps decoding to "load, classify,
// store 8 bytes" per field (the decoder's hot path), makes every decoded frame re-encode to its
// exact bytes, and still lets a terminal model (the simulator) set physical values: the Reading
// knows its encoding, so set(60.0) stores the nearest raw value.

#include <cstdint>
#include <optional>
#include <string_view>

namespace lantian::protocol {

// Why a measured value is not a number: all-ones = invalid, all-ones − 1 = abnormal, a raw value
// above the field's valid range = out of range.
enum class ValueStatus : std::uint8_t { valid, invalid, abnormal, out_of_range };
[[nodiscard]] std::string_view to_string(ValueStatus status) noexcept;

// physical = raw × num / den + bias. `max_raw`: largest in-range raw value.
struct FieldEncoding {
  std::uint8_t width;  // bytes on the wire: 1, 2 or 4
  std::int32_t num;
  std::int32_t den;
  std::int32_t bias;
  std::uint32_t max_raw;
};

[[nodiscard]] constexpr std::uint32_t all_ones(std::size_t width) noexcept {
  return width >= 4 ? 0xFFFFFFFFu : (1u << (8 * width)) - 1u;
}
// No stated range: every raw below the abnormal marker is in range.
[[nodiscard]] constexpr std::uint32_t markers_only(std::size_t width) noexcept {
  return all_ones(width) - 2;
}

// The encodings of §4 (resolution, offset, valid range), one per kind of field.
enum class FieldKind : std::uint8_t {
  count_byte,          // 1 B, 1, no range
  count_word,          // 2 B, 1, no range
  count_dword,         // 4 B, 1, no range
  speed_kmh,           // 2 B, 1/256 km/h, 0–250.996
  pressure_half_kpa,   // 1 B, 0.5 kPa, 0–125
  torque_pct,          // 1 B, 1 %, −125, −125–125
  rpm_eighth,          // 2 B, 0.125 rpm, 0–8031.875
  flow_twentieth,      // 2 B, 0.05 (L/h, kg/h), 0–3212.75
  nox_ppm,             // 2 B, 0.05 ppm, −200, −200–3012.75
  percent_04,          // 1 B, 0.4 %, 0–100
  temperature_32,      // 2 B, 0.03125 °C, −273, −273–1734.96875
  pressure_tenth_kpa,  // 2 B, 0.1 kPa, 0–6425.5
  temperature_byte,    // 1 B, 1 °C, −40, −40–210
  odometer_km,         // 4 B, 0.1 km
  longitude,           // 4 B, 1e-6 °, 0–180
  latitude,            // 4 B, 1e-6 °, 0–90
  egr_pct,             // 2 B, 0.0025 %
  lambda,              // 2 B, 0.0000305
  o2_volts,            // 1 B, 0.01 V
  tenth_word,          // 2 B, 0.1 (V, %, mg/m³)
  current_a,           // 2 B, 0.1 A, −1000 A
  soc_pct,             // 1 B, 1 %, 0–100
  half_dword,          // 4 B, 0.5 (L)
  hundredth_dword,     // 4 B, 0.01
  hundredth_word,      // 2 B, 0.01 (m⁻¹)
};

inline constexpr FieldEncoding field_encodings[] = {
    {1, 1, 1, 0, markers_only(1)},           // count_byte
    {2, 1, 1, 0, markers_only(2)},           // count_word
    {4, 1, 1, 0, markers_only(4)},           // count_dword
    {2, 1, 256, 0, 64255},                   // speed_kmh
    {1, 1, 2, 0, 250},                       // pressure_half_kpa
    {1, 1, 1, -125, 250},                    // torque_pct
    {2, 1, 8, 0, 64255},                     // rpm_eighth
    {2, 1, 20, 0, 64255},                    // flow_twentieth
    {2, 1, 20, -200, 64255},                 // nox_ppm
    {1, 2, 5, 0, 250},                       // percent_04
    {2, 1, 32, -273, 64255},                 // temperature_32
    {2, 1, 10, 0, 64255},                    // pressure_tenth_kpa
    {1, 1, 1, -40, 250},                     // temperature_byte
    {4, 1, 10, 0, markers_only(4)},          // odometer_km
    {4, 1, 1000000, 0, 180000000},           // longitude
    {4, 1, 1000000, 0, 90000000},            // latitude
    {2, 1, 400, 0, markers_only(2)},         // egr_pct
    {2, 305, 10000000, 0, markers_only(2)},  // lambda
    {1, 1, 100, 0, markers_only(1)},         // o2_volts
    {2, 1, 10, 0, markers_only(2)},          // tenth_word
    {2, 1, 10, -1000, markers_only(2)},      // current_a
    {1, 1, 1, 0, 100},                       // soc_pct
    {4, 1, 2, 0, markers_only(4)},           // half_dword
    {4, 1, 100, 0, markers_only(4)},         // hundredth_dword
    {2, 1, 100, 0, markers_only(2)},         // hundredth_word
};

[[nodiscard]] constexpr const FieldEncoding& encoding_of(FieldKind kind) noexcept {
  return field_encodings[static_cast<std::size_t>(kind)];
}

// Classifies a raw value of `kind` (markers first, then the range).
[[nodiscard]] constexpr ValueStatus classify(const FieldEncoding& e, std::uint32_t raw) noexcept {
  // Both markers lie above every range, so the common case costs one comparison.
  if (raw <= e.max_raw) [[likely]]
    return ValueStatus::valid;
  const std::uint32_t ones = all_ones(e.width);
  if (raw == ones) return ValueStatus::invalid;
  if (raw == ones - 1) return ValueStatus::abnormal;
  return ValueStatus::out_of_range;
}

class Reading {
 public:
  constexpr Reading() noexcept = default;
  // A valid zero raw value of `kind` (what a default-constructed block field holds).
  constexpr explicit Reading(FieldKind kind) noexcept : kind_(kind) {}
  // A raw value as received, classified.
  [[nodiscard]] static constexpr Reading from_raw(FieldKind kind, std::uint32_t raw) noexcept {
    Reading r(kind);
    r.raw_ = raw;
    r.status_ = classify(encoding_of(kind), raw);
    return r;
  }

  // Takes a received raw value and its classification, keeping the kind (the decoder's hot path:
  // a block's readings are constructed with their kinds, so decoding writes only what changes).
  constexpr void assign(std::uint32_t raw, ValueStatus status) noexcept {
    raw_ = raw;
    status_ = status;
  }

  [[nodiscard]] constexpr std::uint32_t raw() const noexcept { return raw_; }
  [[nodiscard]] constexpr ValueStatus status() const noexcept { return status_; }
  [[nodiscard]] constexpr FieldKind kind() const noexcept { return kind_; }
  [[nodiscard]] constexpr bool ok() const noexcept { return status_ == ValueStatus::valid; }

  // The physical value; requires ok(). Computed as one integer numerator and a single division,
  // so it is the double nearest the decimal value (0.3, not 0.30000000000000004).
  [[nodiscard]] double value() const noexcept {
    const FieldEncoding& e = encoding_of(kind_);
    const std::int64_t numerator = std::int64_t{raw_} * e.num + std::int64_t{e.bias} * e.den;
    return static_cast<double>(numerator) / e.den;
  }
  [[nodiscard]] std::optional<double> get() const noexcept {
    return ok() ? std::optional<double>(value()) : std::nullopt;
  }

  // Sets a physical value: rounded to the field's resolution and clamped to its valid range.
  void set(double physical) noexcept;
  // Marks the value invalid or abnormal (the marker raw of the field's width).
  void mark(ValueStatus status) noexcept;

  // Equal when they carry the same raw value (and so the same status).
  friend constexpr bool operator==(const Reading& a, const Reading& b) noexcept {
    return a.raw_ == b.raw_ && a.status_ == b.status_;
  }

 private:
  std::uint32_t raw_ = 0;
  ValueStatus status_ = ValueStatus::valid;
  FieldKind kind_ = FieldKind::count_dword;
};

}  // namespace lantian::protocol
