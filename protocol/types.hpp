#pragma once
// Vocabulary of the remote emission terminal protocol (GB 17691-2018 Annex Q, HJ 1239, the
// non-road "非四" format and the platform-to-platform header variant): profiles, commands, the
// frame header, measured values with their invalid/abnormal/out-of-range status, and positions.

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "protocol/reading.hpp"

namespace lantian::protocol {

// Which standard a connection speaks. It decides the real-time body layout and what command 0x05
// means (time sync, or the non-road removal alarm).
enum class Profile : std::uint8_t { gb17691, hj1239, nonroad };

[[nodiscard]] std::string_view to_string(Profile profile) noexcept;
// Parses "gb17691", "hj1239" or "nonroad"; "auto" and anything else give nullopt.
[[nodiscard]] std::optional<Profile> parse_profile(std::string_view text) noexcept;

namespace command {
inline constexpr std::uint8_t login = 0x01;
inline constexpr std::uint8_t realtime = 0x02;
inline constexpr std::uint8_t resend = 0x03;
inline constexpr std::uint8_t logout = 0x04;
inline constexpr std::uint8_t time_sync = 0x05;         // non-road: removal alarm
inline constexpr std::uint8_t hj_removal_alarm = 0x06;  // hj1239 only
inline constexpr std::uint8_t activation = 0x07;        // hj1239; non-road anti-tamper registration
inline constexpr std::uint8_t activation_reply = 0x08;  // hj1239; non-road registration reply
inline constexpr std::uint8_t nonroad_removal_alarm = 0x05;
inline constexpr std::uint8_t first_user_defined = 0x80;  // 0x80–0xFE
}  // namespace command

// What a command byte means under a profile (§2).
enum class CommandKind : std::uint8_t {
  login,
  realtime,
  resend,
  logout,
  time_sync,
  removal_alarm,
  activation,
  activation_reply,
  user_defined,
  reserved,
};

[[nodiscard]] CommandKind classify_command(std::uint8_t command, Profile profile) noexcept;
// The `command_name` of decode-json.md.
[[nodiscard]] std::string_view to_string(CommandKind kind) noexcept;

enum class StartMarker : std::uint8_t {
  hashes,  // "##" (0x23 0x23), the standard
  tildes,  // "~~" (0x7E 0x7E), sent by some HJ 1239 terminals
};
[[nodiscard]] std::uint8_t start_byte(StartMarker marker) noexcept;

// Terminal variant: start, command, VIN, software version, encryption, length.
// Platform variant: start, command, ack flag, VIN, encryption, length (no software version).
enum class HeaderVariant : std::uint8_t { terminal, platform };

namespace ack_flag {
inline constexpr std::uint8_t success = 0x01;
inline constexpr std::uint8_t error = 0x02;
inline constexpr std::uint8_t vin_duplicate = 0x03;
inline constexpr std::uint8_t command = 0xFE;  // a request
}  // namespace ack_flag

// Fixed-width text (VIN, ICCID, CALID, CVN, chip id) kept byte for byte; rendering decides whether
// it is printable ASCII or shown as hex.
template <std::size_t N>
using FixedText = std::array<std::uint8_t, N>;
using Vin = FixedText<17>;

[[nodiscard]] Vin make_vin(std::string_view text) noexcept;  // pads/truncates to 17 bytes
// A byte of printable ASCII (0x20–0x7E).
[[nodiscard]] constexpr bool printable_ascii(std::uint8_t c) noexcept {
  return c >= 0x20 && c <= 0x7E;
}
// Whether text holds a C0 control character or DEL: what no short text field (a label, a note, a
// gate record's plate) may carry, since such text reaches logs and operators' terminals.
[[nodiscard]] constexpr bool has_control_character(std::string_view text) noexcept {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
  });
}
// Whether a VIN (or a machine's 17-character code) is all upper-case letters and digits, the
// alphabet both use: what a terminal may log in as.
template <std::size_t N>
[[nodiscard]] constexpr bool is_vin_alphabet(const FixedText<N>& text) noexcept {
  return std::all_of(text.begin(), text.end(), [](std::uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
  });
}

// Whether fixed-width text is all printable ASCII (rendered as text, else as hex).
template <std::size_t N>
[[nodiscard]] constexpr bool is_printable(const FixedText<N>& text) noexcept {
  return std::all_of(text.begin(), text.end(), printable_ascii);
}
template <std::size_t N>
[[nodiscard]] std::string_view as_text(const FixedText<N>& text) noexcept {
  return {reinterpret_cast<const char*>(text.data()), N};
}

inline constexpr std::size_t header_size = 24;     // start … data-unit length
inline constexpr std::size_t frame_overhead = 25;  // header + BCC
inline constexpr std::size_t max_data_length = 65531;

struct Header {
  StartMarker start = StartMarker::hashes;
  HeaderVariant variant = HeaderVariant::terminal;
  std::uint8_t command = 0;
  std::uint8_t ack_flag = ack_flag::command;  // platform variant only
  std::uint8_t software_version = 1;          // terminal variant only
  Vin vin{};
  std::uint8_t encryption = 0x01;  // 0x01 none; other values are recorded, see §1.2

  bool operator==(const Header&) const = default;
};

// Position status byte and coordinates (§4.7). The status byte is kept whole (reserved bits too).
struct Position {
  std::uint8_t status = 0;                  // bit 0: 1 = no valid fix; bit 1: south; bit 2: west
  Reading longitude{FieldKind::longitude};  // |degrees|, 0–180
  Reading latitude{FieldKind::latitude};    // |degrees|, 0–90

  [[nodiscard]] bool fix_valid() const noexcept { return (status & 0x01) == 0; }
  [[nodiscard]] bool south() const noexcept { return (status & 0x02) != 0; }
  [[nodiscard]] bool west() const noexcept { return (status & 0x04) != 0; }
  // Signed WGS-84 degrees (south and west negative); nullopt when the coordinate is not valid.
  [[nodiscard]] std::optional<double> lon_deg() const noexcept;
  [[nodiscard]] std::optional<double> lat_deg() const noexcept;

  bool operator==(const Position&) const = default;
};

}  // namespace lantian::protocol
