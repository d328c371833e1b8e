#pragma once
// The frames a simulated terminal sends, built with the protocol encoder: login (serial +1 per
// login, restarting each Beijing day), logout, time sync, and reports of the samples of the last
// 10 seconds in the vehicle's format —
//   hj1239   one real-time (or resend) frame of 10 timed data-stream blocks, and an OBD block
//            when asked; signed (SM2/SM3) when the vehicle has a signer;
//   gb17691  one frame per sample (its blocks carry no time), the OBD block in the first;
//   nonroad  one frame per sample (one block per frame), a smoke-meter frame after each sample
//            that has a smoke reading, and an ECD frame when asked.

#include <cstdint>
#include <span>
#include <vector>

#include "protocol/bytes.hpp"
#include "sim/fleet.hpp"
#include "sim/vehicle_model.hpp"

namespace lantian::sim {

class TerminalFrames {
 public:
  explicit TerminalFrames(const VehicleSpec& spec);

  [[nodiscard]] protocol::Bytes login(std::int64_t unix_s);
  [[nodiscard]] protocol::Bytes logout(std::int64_t unix_s) const;
  [[nodiscard]] protocol::Bytes time_sync_request() const;
  // Appends the report frames of `samples` (command realtime or resend) to `out`, one entry per
  // frame.
  void reports(std::span<const SimSample> samples, std::uint8_t command, bool with_obd,
               std::vector<protocol::Bytes>& out);
  // A copy of `frame` with its check byte corrupted (the server must drop it, not answer it).
  [[nodiscard]] static protocol::Bytes corrupted(const protocol::Bytes& frame);
  // The same report as a resend (command 0x03, check byte recomputed): what a terminal sends for
  // a report that went unanswered. The data unit — the ack log's identity — is unchanged.
  [[nodiscard]] static protocol::Bytes as_resend(protocol::Bytes frame);

 private:
  const VehicleSpec& spec_;
  std::uint16_t login_serial_ = 0;
  std::int64_t login_day_ = -1;
  std::uint16_t info_serial_ = 0;
};

// The data unit of a terminal-variant frame (after the 24-byte header, before the check byte):
// what identifies a report whether it came as real-time or as resend.
[[nodiscard]] protocol::ByteView data_unit(protocol::ByteView frame) noexcept;

}  // namespace lantian::sim
