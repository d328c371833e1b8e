#pragma once
// Frames and commands for the rule tests that drive a server: terminals' logins and samples built
// with the protocol encoder, and lantiand command lines.

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "protocol/beijing_time.hpp"
#include "protocol/bytes.hpp"
#include "protocol/message.hpp"
#include "server/config.hpp"

namespace lantian::server::testing::frames {

protocol::BeijingTime bj(int y, int mo, int d, int h, int mi, int s);
protocol::Bytes frame(std::uint8_t command, const std::string& vin, protocol::Body body);
protocol::Bytes login(const std::string& vin, protocol::BeijingTime t);
// A gb17691 or hj1239 real-time (or, with command::resend, resend) frame with one data-stream
// sample of a truck driving at 40 km/h (reagent 60 %).
protocol::Bytes truck_sample(const std::string& vin, protocol::Profile layout,
                             protocol::BeijingTime t, double lon, double lat,
                             std::uint8_t command = protocol::command::realtime);
// A non-road real-time frame: the header's position, and a working data stream or a smoke block.
protocol::Bytes machine_sample(const std::string& vin, protocol::BeijingTime t, double lon,
                               double lat, std::optional<double> smoke_k);
protocol::Bytes cat(std::initializer_list<protocol::Bytes> frames);
ParsedCommandLine command(std::vector<const char*> args);
// Imports the sample registry and zones into `data_dir` with the lantiand commands (failing the
// test if either fails) and returns what they printed.
std::string import_samples(const std::filesystem::path& data_dir);

}  // namespace lantian::server::testing::frames
