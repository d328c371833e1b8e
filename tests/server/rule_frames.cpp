#include "rule_frames.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "protocol/encode.hpp"
#include "server/rules_commands.hpp"

namespace lantian::server::testing::frames {
using namespace protocol;

BeijingTime bj(int y, int mo, int d, int h, int mi, int s) {
  return BeijingTime::from_fields(y, mo, d, h, mi, s);
}

Bytes frame(std::uint8_t command, const std::string& vin, Body body) {
  Message m;
  m.header.command = command;
  m.header.vin = make_vin(vin);
  m.body = std::move(body);
  auto bytes = encode(m);
  EXPECT_TRUE(bytes.has_value());
  return bytes ? *bytes : Bytes{};
}

Bytes login(const std::string& vin, BeijingTime t) {
  LoginBody b{t, 1, {}};
  const std::string iccid = "89860000000000000001";
  std::copy(iccid.begin(), iccid.end(), b.iccid.begin());
  return frame(command::login, vin, b);
}

Bytes truck_sample(const std::string& vin, Profile layout, BeijingTime t, double lon, double lat,
                   std::uint8_t command) {
  StreamBlock s;
  s.speed_kmh.set(40);
  s.engine_rpm.set(1300);
  s.coolant_temp_c.set(85);
  s.reagent_level_pct.set(60);
  s.position.longitude.set(lon);
  s.position.latitude.set(lat);
  ReportBody r;
  r.layout = layout;
  r.time = t;
  r.serial = 1;
  Block b;
  b.type = block_type::stream;
  b.serial = 1;
  if (layout == Profile::hj1239) b.time = t;
  b.payload = s;
  r.blocks.push_back(b);
  return frame(command, vin, r);
}

Bytes machine_sample(const std::string& vin, BeijingTime t, double lon, double lat,
                     std::optional<double> smoke_k) {
  ReportBody r;
  r.layout = Profile::nonroad;
  r.time = t;
  r.serial = 2;
  r.position.longitude.set(lon);
  r.position.latitude.set(lat);
  Block b;
  if (smoke_k) {
    SmokeBlock k;
    k.k_m1.set(*smoke_k);
    k.exhaust_temp_c.set(420);
    b.type = block_type::smoke;
    b.payload = k;
  } else {
    MachineStreamBlock m;
    m.engine_rpm.set(1200);
    m.coolant_temp_c.set(85);
    b.type = block_type::stream;
    b.payload = m;
  }
  r.blocks.push_back(b);
  return frame(command::realtime, vin, r);
}

Bytes cat(std::initializer_list<Bytes> frames) {
  Bytes out;
  for (const auto& f : frames) out.insert(out.end(), f.begin(), f.end());
  return out;
}

ParsedCommandLine command(std::vector<const char*> args) {
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

std::string import_samples(const std::filesystem::path& data_dir) {
  const std::string data = data_dir.string();
  const std::string registry = std::string(LANTIAN_SAMPLES_DIR) + "/registry-sample.csv";
  const std::string zones = std::string(LANTIAN_SAMPLES_DIR) + "/zones-henan-sample.geojson";
  std::ostringstream out, err;
  EXPECT_EQ(run_import_registry(command({"lantiand", "import-registry", "--data-dir", data.c_str(),
                                         registry.c_str()}),
                                out, err),
            0)
      << err.str();
  EXPECT_EQ(run_import_zones(
                command({"lantiand", "import-zones", "--data-dir", data.c_str(), zones.c_str()}),
                out, err),
            0)
      << err.str();
  return out.str();
}

}  // namespace lantian::server::testing::frames
