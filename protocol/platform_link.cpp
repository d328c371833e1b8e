#include "protocol/platform_link.hpp"

#include <algorithm>

#include "protocol/framer.hpp"

namespace lantian::protocol {
namespace {

constexpr std::size_t vin_offset_platform = 4;

void fixed_text(ByteWriter& w, std::string_view text, std::size_t size) {
  const auto n = std::min(text.size(), size);
  w.bytes(ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), n));
  for (std::size_t i = n; i < size; ++i) w.u8(0);
}

std::string trimmed_text(ByteView field) {
  std::string text(field.begin(), field.end());
  while (!text.empty() && (text.back() == '\0' || text.back() == ' ')) text.pop_back();
  return text;
}

Bytes platform_frame(std::uint8_t command, const Vin& code, const Bytes& data) {
  Bytes out;
  out.reserve(frame_overhead + data.size());
  ByteWriter w(out);
  w.u8(start_byte(StartMarker::hashes));
  w.u8(start_byte(StartMarker::hashes));
  w.u8(command);
  w.u8(ack_flag::command);
  w.bytes(code);
  w.u8(0x01);  // no encryption
  w.u16(static_cast<std::uint16_t>(data.size()));
  w.bytes(data);
  out.push_back(xor_checksum(ByteView(out).subspan(2)));
  return out;
}

}  // namespace

Bytes make_platform_login(const Vin& platform_code, const PlatformLogin& login,
                          std::uint8_t command) {
  Bytes data;
  ByteWriter w(data);
  w.bytes(login.time.raw);
  w.u16(login.serial);
  fixed_text(w, login.user, platform_user_length);
  fixed_text(w, login.password, platform_password_length);
  w.u8(login.encryption_rule);
  return platform_frame(command, platform_code, data);
}

Bytes make_platform_logout(const Vin& platform_code, BeijingTime time, std::uint16_t serial,
                           std::uint8_t command) {
  Bytes data;
  ByteWriter w(data);
  w.bytes(time.raw);
  w.u16(serial);
  return platform_frame(command, platform_code, data);
}

bool is_platform_request(ByteView frame, std::uint8_t command) noexcept {
  return frame.size() >= frame_overhead && frame[2] == command && frame[3] == ack_flag::command;
}

std::optional<PlatformLogin> parse_platform_login(ByteView frame) noexcept {
  if (frame.size() != frame_overhead + platform_login_data_length) return std::nullopt;
  const auto data = frame.subspan(header_size, platform_login_data_length);
  PlatformLogin login;
  std::copy_n(data.begin(), 6, login.time.raw.begin());
  login.serial = static_cast<std::uint16_t>(data[6] << 8 | data[7]);
  login.user = trimmed_text(data.subspan(8, platform_user_length));
  login.password = trimmed_text(data.subspan(8 + platform_user_length, platform_password_length));
  login.encryption_rule = data[8 + platform_user_length + platform_password_length];
  return login;
}

Bytes to_platform_variant(ByteView frame) {
  if (frame.size() < frame_overhead) return {};
  Bytes out(frame.begin(), frame.end());
  const std::uint8_t b3 = frame[3];
  const bool platform = b3 == ack_flag::success || b3 == ack_flag::error ||
                        b3 == ack_flag::vin_duplicate || b3 == ack_flag::command;
  if (!platform) {
    // Terminal variant: VIN at 3..19, software version at 20 — the VIN moves one byte on and
    // takes the software version's place.
    std::copy_n(frame.begin() + 3, 17, out.begin() + vin_offset_platform);
  }
  out[3] = ack_flag::command;
  out.back() = xor_checksum(ByteView(out).subspan(2, out.size() - 3));
  return out;
}

}  // namespace lantian::protocol
