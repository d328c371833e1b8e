#include "sim/terminal_frames.hpp"

#include <algorithm>
#include <stdexcept>

#include "protocol/encode.hpp"
#include "protocol/framer.hpp"
#include "protocol/message.hpp"

namespace lantian::sim {
using namespace protocol;
namespace {

template <std::size_t N>
FixedText<N> text(std::string_view value, char pad) {
  FixedText<N> out;
  out.fill(static_cast<std::uint8_t>(pad));
  std::copy_n(value.begin(), std::min(N, value.size()), out.begin());
  return out;
}

void set_or_invalid(Reading& reading, const std::optional<double>& value) {
  if (value)
    reading.set(*value);
  else
    reading.mark(ValueStatus::invalid);
}

// The values every diesel data stream carries (vehicle 0x02 and non-road 0x02 alike).
void fill_diesel(DieselReadings& b, const SimSample& s) {
  b.speed_kmh.set(s.speed_kmh);
  b.barometric_kpa.set(s.barometric_kpa);
  b.net_torque_pct.set(s.net_torque_pct);
  b.friction_torque_pct.set(s.friction_torque_pct);
  b.engine_rpm.set(s.engine_rpm);
  b.fuel_rate_lph.set(s.fuel_rate_lph);
  b.nox_upstream_ppm.set(s.nox_upstream_ppm);
  b.nox_downstream_ppm.set(s.nox_downstream_ppm);
  set_or_invalid(b.reagent_level_pct, s.reagent_pct);
  b.intake_air_kgph.set(s.intake_air_kgph);
  set_or_invalid(b.scr_inlet_temp_c, s.scr_inlet_c);
  set_or_invalid(b.scr_outlet_temp_c, s.scr_outlet_c);
  set_or_invalid(b.dpf_dp_kpa, s.dpf_dp_kpa);
  b.coolant_temp_c.set(s.coolant_c);
  b.fuel_level_pct.set(s.fuel_level_pct);
}

StreamBlock stream_of(const SimSample& s) {
  StreamBlock b;
  fill_diesel(b, s);
  if (!s.fix_valid) b.position.status |= 0x01;  // no valid fix: the coordinates sent are flagged
  b.position.longitude.set(s.position.lon);
  b.position.latitude.set(s.position.lat);
  b.odometer_km.set(s.odometer_km);
  return b;
}

MachineStreamBlock machine_stream_of(const SimSample& s) {
  MachineStreamBlock b;
  fill_diesel(b, s);  // a machine's speed is 0 (the model sets none)
  b.egr_actual_pct.mark(ValueStatus::invalid);
  b.egr_commanded_pct.mark(ValueStatus::invalid);
  return b;
}

Bytes encoded(std::uint8_t command, const Vin& vin, Body body) {
  Message m;
  m.header.command = command;
  m.header.vin = vin;
  m.body = std::move(body);
  auto bytes = encode(m);
  // Every body built here is within the protocol's sizes: failing is a programming error.
  if (!bytes) throw std::logic_error("simulator frame does not encode: " + bytes.error().message());
  return std::move(*bytes);
}

}  // namespace

TerminalFrames::TerminalFrames(const VehicleSpec& spec) : spec_(spec) {}

Bytes TerminalFrames::login(std::int64_t unix_s) {
  const std::int64_t day = (unix_s + 8 * 3600) / 86400;
  if (day != login_day_) {
    login_day_ = day;
    login_serial_ = 0;
  }
  login_serial_ = static_cast<std::uint16_t>(login_serial_ % 65531 + 1);
  LoginBody b{BeijingTime::from_unix_seconds(unix_s), login_serial_,
              text<20>("8986" + std::to_string(10'000'000'000'000'000ULL + spec_.index), '0')};
  return encoded(command::login, make_vin(spec_.vin), b);
}

Bytes TerminalFrames::logout(std::int64_t unix_s) const {
  return encoded(command::logout, make_vin(spec_.vin),
                 LogoutBody{BeijingTime::from_unix_seconds(unix_s), login_serial_});
}

Bytes TerminalFrames::time_sync_request() const {
  return encoded(command::time_sync, make_vin(spec_.vin), TimeSyncRequestBody{});
}

void TerminalFrames::reports(std::span<const SimSample> samples, std::uint8_t command,
                             bool with_obd, std::vector<Bytes>& out) {
  if (samples.empty()) return;
  const Vin vin = make_vin(spec_.vin);
  auto next_serial = [&] {
    info_serial_ = static_cast<std::uint16_t>(info_serial_ + 1);
    return info_serial_;
  };
  // A faulty truck's ECU may report another vehicle's VIN (a well-formed one of the sample
  // registry's): an ECU swapped in from elsewhere.
  const Vin obd_vin =
      spec_.fault == Fault::obd_vin_mismatch ? make_vin("LZZJ5ACA5AF110265") : vin;
  auto obd_block = [&](BeijingTime t) {
    ObdBlock o;
    o.protocol = 2;  // SAE J1939
    o.mil = samples[0].mil ? 1 : 0;
    o.support = 0x0FE5;
    o.vin = obd_vin;
    o.calid = text<18>("SIMCAL" + spec_.stage, '0');
    o.cvn = text<18>("5A3C9E01", '0');
    o.iupr_raw.fill(0);
    Block b;
    b.type = block_type::obd;
    b.time = t;
    b.payload = o;
    return b;
  };

  if (spec_.profile == Profile::hj1239) {
    ReportBody r;
    r.layout = Profile::hj1239;
    r.time = BeijingTime::from_unix_seconds(samples.back().unix_s);
    r.serial = next_serial();
    if (with_obd) r.blocks.push_back(obd_block(BeijingTime::from_unix_seconds(samples[0].unix_s)));
    for (const auto& s : samples) {
      Block b;
      b.type = block_type::stream;
      b.time = BeijingTime::from_unix_seconds(s.unix_s);
      b.payload = stream_of(s);
      r.blocks.push_back(std::move(b));
    }
    Bytes unsigned_frame = encoded(command, vin, r);
    if (!spec_.signer) {
      out.push_back(std::move(unsigned_frame));
      return;
    }
    // Signed: the whole data unit before the signature (§5).
    r.signature = spec_.signer->sign(data_unit(unsigned_frame));
    out.push_back(encoded(command, vin, std::move(r)));
    return;
  }

  for (std::size_t i = 0; i < samples.size(); ++i) {
    const SimSample& s = samples[i];
    const BeijingTime t = BeijingTime::from_unix_seconds(s.unix_s);
    ReportBody r;
    r.layout = spec_.profile;
    r.time = t;
    if (spec_.profile == Profile::gb17691) {
      if (with_obd && i == 0) {
        r.blocks.push_back(obd_block(t));
        r.blocks.back().serial = next_serial();
      }
      Block b;
      b.type = block_type::stream;
      b.serial = next_serial();
      b.payload = stream_of(s);
      r.blocks.push_back(std::move(b));
      out.push_back(encoded(command, vin, std::move(r)));
      continue;
    }
    // Non-road: the position in the report header, one block per frame.
    r.position.longitude.set(s.position.lon);
    r.position.latitude.set(s.position.lat);
    auto one = [&](Block b) {
      ReportBody each = r;
      each.serial = next_serial();
      each.blocks.push_back(std::move(b));
      out.push_back(encoded(command, vin, std::move(each)));
    };
    if (with_obd && i == 0) {
      Block b;
      b.type = block_type::obd;
      b.payload = EcdBlock{};
      one(std::move(b));
    }
    Block stream;
    stream.type = block_type::stream;
    stream.payload = machine_stream_of(s);
    one(std::move(stream));
    if (s.smoke_k_m1) {
      SmokeBlock k;
      k.k_m1.set(*s.smoke_k_m1);
      k.exhaust_temp_c.set(380 + s.net_torque_pct);
      k.opacity_pct.set(std::min(99.0, *s.smoke_k_m1 * 25));
      k.pm_mg_m3.set(*s.smoke_k_m1 * 40);
      k.nox_ppm.set(s.nox_downstream_ppm);
      Block b;
      b.type = block_type::smoke;
      b.payload = k;
      one(std::move(b));
    }
  }
}

Bytes TerminalFrames::corrupted(const Bytes& frame) {
  Bytes bad = frame;
  bad.back() = static_cast<std::uint8_t>(bad.back() ^ 0x5A);
  return bad;
}

Bytes TerminalFrames::as_resend(Bytes frame) {
  if (frame.size() > 25 && frame[2] == command::realtime) {
    frame[2] = command::resend;
    frame.back() = xor_checksum(ByteView(frame).subspan(2, frame.size() - 3));
  }
  return frame;
}

ByteView data_unit(ByteView frame) noexcept {
  constexpr std::size_t header = 24;
  if (frame.size() < header + 1) return {};
  return frame.subspan(header, frame.size() - header - 1);
}

}  // namespace lantian::sim
