#pragma once
// A whole protocol message: header plus typed body, as produced by decode and consumed by encode.

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/beijing_time.hpp"
#include "protocol/blocks.hpp"
#include "protocol/types.hpp"

namespace lantian::protocol {

// Login (0x01, §2.1), 28 bytes.
struct LoginBody {
  BeijingTime time;
  std::uint16_t serial = 0;  // 1..65531, +1 per login, restarts daily
  FixedText<20> iccid{};
  bool operator==(const LoginBody&) const = default;
};

// Logout (0x04, §2.2), 8 bytes.
struct LogoutBody {
  BeijingTime time;
  std::uint16_t serial = 0;  // the serial of the matching login
  bool operator==(const LogoutBody&) const = default;
};

// Time-sync request (0x05 in gb17691/hj1239): an empty data unit.
struct TimeSyncRequestBody {
  bool operator==(const TimeSyncRequestBody&) const = default;
};

// A data unit that is only the platform's time: the time-sync reply, the hj1239 same-command
// replies to login/real-time/resend/logout/removal alarm, and the platform-variant acknowledgement.
struct PlatformTimeBody {
  BeijingTime time;
  bool operator==(const PlatformTimeBody&) const = default;
};

// Removal alarm: hj1239 0x06 (17 bytes) or non-road 0x05 (18 bytes, with `removal_state`).
struct RemovalAlarmBody {
  BeijingTime time;
  std::uint16_t serial = 0;
  Position position;
  std::optional<std::uint8_t> removal_state;  // non-road: 0 = diagnostic data still readable
  bool operator==(const RemovalAlarmBody&) const = default;
};

// SM2 signature as raw big-endian R and S integers of 1..33 bytes each (§5), stored inline so
// that decoding a signed frame allocates nothing for it.
class Signature {
 public:
  static constexpr std::size_t max_part = 33;

  Signature() noexcept = default;
  // A part longer than 33 bytes is not stored (left empty), and encode() refuses it.
  Signature(ByteView r, ByteView s) noexcept {
    assign(r, r_, r_size_);
    assign(s, s_, s_size_);
  }

  [[nodiscard]] ByteView r() const noexcept { return {r_.data(), r_size_}; }
  [[nodiscard]] ByteView s() const noexcept { return {s_.data(), s_size_}; }
  // Both parts hold 1..33 bytes.
  [[nodiscard]] bool well_formed() const noexcept { return r_size_ > 0 && s_size_ > 0; }

  friend bool operator==(const Signature& a, const Signature& b) noexcept {
    return std::ranges::equal(a.r(), b.r()) && std::ranges::equal(a.s(), b.s());
  }

 private:
  static void assign(ByteView from, std::array<std::uint8_t, max_part>& to,
                     std::uint8_t& size) noexcept {
    size = from.size() <= max_part ? static_cast<std::uint8_t>(from.size()) : 0;
    std::copy_n(from.begin(), size, to.begin());
  }

  std::array<std::uint8_t, max_part> r_{};
  std::array<std::uint8_t, max_part> s_{};
  std::uint8_t r_size_ = 0;
  std::uint8_t s_size_ = 0;
};

// Activation (hj1239 0x07, §2.5; the non-road anti-tamper registration uses the same layout).
struct ActivationBody {
  BeijingTime time;
  FixedText<16> chip_id{};
  std::array<std::uint8_t, 64> public_key{};  // X‖Y, no 0x04 prefix
  Vin vin{};
  Signature signature;
  bool operator==(const ActivationBody&) const = default;
};

// Activation reply (0x08).
struct ActivationReplyBody {
  std::uint8_t status = 0x01;  // 0x01 ok, 0x02 failed
  std::uint8_t detail = 0x00;  // 0x00 ok, 0x01 chip already activated, 0x02 VIN error, 0x03 other
  bool operator==(const ActivationReplyBody&) const = default;
};

// Real-time (0x02) or resend (0x03) report (§3). Which members are used follows `layout`:
// gb17691: time, blocks (with serials); hj1239: time, serial, blocks (with times), signature;
// nonroad: time, serial, position, blocks.
struct ReportBody {
  Profile layout = Profile::gb17691;
  BeijingTime time;
  std::uint16_t serial = 0;
  Position position;
  std::vector<Block> blocks;
  std::optional<Signature> signature;
  // Bytes after the last block that could be walked (a block of unknown size); kept verbatim.
  Bytes unparsed_tail;
  bool operator==(const ReportBody&) const = default;
};

// The data unit of a reserved or user-defined command, kept as bytes.
struct RawBody {
  Bytes bytes;
  bool operator==(const RawBody&) const = default;
};

using Body =
    std::variant<std::monostate,  // the body could not be decoded (see the issues)
                 LoginBody, LogoutBody, TimeSyncRequestBody, PlatformTimeBody, RemovalAlarmBody,
                 ActivationBody, ActivationReplyBody, ReportBody, RawBody>;

struct Message {
  Header header;
  Body body;
  bool operator==(const Message&) const = default;
};

// Damage found while decoding a frame: the frame is not what the protocol says. The names are
// those of the JSON `errors`; a tool's exit status follows them.
enum class Issue : std::uint8_t {
  bcc_mismatch,             // the check byte does not match; the frame was decoded anyway
  body_length,              // the data unit has the wrong size for its command
  truncated_block,          // a known block does not fit in what remains of the data unit
  unparsed_tail,            // a block of unknown size ended the walk; the rest is kept raw
  ambiguous_layout,         // `auto` could not tell gb17691 from hj1239
  encrypted_unsupported,    // the body is marked encrypted and is not plaintext
  malformed_tlv,            // a length-prefixed 0x80 block whose items overrun it
  invalid_signature_block,  // an activation signature that is not R-len·R·S-len·S
};
[[nodiscard]] std::string_view to_string(Issue issue) noexcept;

// The protocol as real terminals speak it, where they depart from the text (docs/protocol.md
// decides each): read as documented and noted, never an error. The names are those of the JSON
// `variants`.
enum class Variant : std::uint8_t {
  twc_32_byte,       // an hj1239 0x03 block of 32 bytes, read with the 0x05 layout
  cvn_binary,        // an OBD CVN that is not text (some terminals send 4 binary bytes)
  iupr_ascii_zeros,  // an OBD IUPR of 36 ASCII '0' instead of 18 counters (`iupr` is null)
  invalid_time,      // a time field that is no valid time (all zeros: the clock is not set); null
};
[[nodiscard]] std::string_view to_string(Variant variant) noexcept;

// The result of decoding one complete frame.
struct DecodedFrame {
  Message message;
  std::optional<Profile> profile;  // the profile the body was read with; nullopt if undetermined
  std::uint16_t data_length = 0;
  bool bcc_ok = true;
  std::vector<Issue> issues;  // empty when the whole frame decoded
  std::vector<Variant> variants;  // each variant met, once, in the order of the enum

  [[nodiscard]] bool has(Issue issue) const noexcept;
  [[nodiscard]] bool has(Variant variant) const noexcept;
  [[nodiscard]] CommandKind command_kind() const noexcept;
};

}  // namespace lantian::protocol
