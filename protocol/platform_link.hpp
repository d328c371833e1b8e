#pragma once
// The platform-to-platform link (docs/protocol.md §8): how a platform logs in to the receiving
// platform above it, logs out, and forwards its terminals' frames in the platform header variant.
//
// Platform login and logout follow GB/T 32960.3 as the public implementations of the link speak
// it: command 0x05, data unit time[6] · login serial WORD · user name[12] · password[20] ·
// encryption rule BYTE (41 bytes); command 0x06, data unit time[6] · the login's serial WORD. The
// VIN slot carries the sending platform's 17-character code. Both codes collide with terminal
// commands (time sync, HJ removal alarm): only the platform header variant with the request ack
// flag (0xFE) makes them link commands, and both are configuration (PlatformLinkCodes).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/beijing_time.hpp"
#include "protocol/bytes.hpp"
#include "protocol/types.hpp"

namespace lantian::protocol {

struct PlatformLinkCodes {
  std::uint8_t login = 0x05;
  std::uint8_t logout = 0x06;
};

inline constexpr std::size_t platform_login_data_length = 41;
inline constexpr std::size_t platform_user_length = 12;
inline constexpr std::size_t platform_password_length = 20;

struct PlatformLogin {
  BeijingTime time;
  std::uint16_t serial = 0;
  std::string user, password;  // without the NUL/space padding of their fixed fields
  std::uint8_t encryption_rule = 0x01;
};

// The login and logout a forwarding platform sends. `user` and `password` are cut to their fixed
// fields (12 and 20 bytes) and padded with NULs.
[[nodiscard]] Bytes make_platform_login(const Vin& platform_code, const PlatformLogin& login,
                                        std::uint8_t command = PlatformLinkCodes{}.login);
[[nodiscard]] Bytes make_platform_logout(const Vin& platform_code, BeijingTime time,
                                         std::uint16_t serial,
                                         std::uint8_t command = PlatformLinkCodes{}.logout);

// Whether `frame` (a whole, checked frame) is a platform-variant request with command `command`.
[[nodiscard]] bool is_platform_request(ByteView frame, std::uint8_t command) noexcept;

// The login carried by a platform login frame's data unit; nullopt when it is not 41 bytes.
[[nodiscard]] std::optional<PlatformLogin> parse_platform_login(ByteView frame) noexcept;

// `frame` (a whole stored frame, either header variant) as the platform variant sends it upward:
// the ack flag 0xFE (a request) in byte 3, the VIN after it, no software-version byte, the BCC
// computed again. Start marker, command, encryption byte, length and data unit are the stored
// bytes, so a signature over the data unit stays valid. Empty when `frame` is not a frame.
[[nodiscard]] Bytes to_platform_variant(ByteView frame);

}  // namespace lantian::protocol
