#include "server/rule_options.hpp"

#include <charconv>
#include <variant>

#include "common/number_text.hpp"
#include "common/time_text.hpp"

namespace lantian::server {
namespace po = boost::program_options;
using rules::EngineConfig;

namespace {

// One threshold: its option, the field it sets, the smallest value that makes sense, and what it
// means (the help text; the unit is in the name).
struct Threshold {
  const char* option;
  std::variant<double EngineConfig::*, std::int64_t EngineConfig::*, int EngineConfig::*> field;
  double minimum;
  const char* meaning;
};

// clang-format off
const Threshold thresholds[] = {
  {"zone-consecutive-fixes", &EngineConfig::consecutive_fixes, 1, "R02, R03: fixes in a row inside a zone before it counts"},
  {"r03-min-rpm", &EngineConfig::r03_min_rpm, 0, "R03: engine speed above which a machine is working"},
  {"r04-consecutive", &EngineConfig::r04_consecutive, 1, "R04: smoke samples in a row above the limit"},
  {"r04-min-coolant-c", &EngineConfig::r04_min_coolant_c, -40, "R04: coolant temperature from which smoke counts"},
  {"r04-coolant-max-age-s", &EngineConfig::r04_coolant_max_age_s, 0, "R04: how recent that coolant reading must be"},
  {"vehicle-k-limit", &EngineConfig::vehicle_k_limit, 0, "R04: on-road smoke limit k (m-1, GB 3847)"},
  {"r06-invalid-for-s", &EngineConfig::r06_invalid_for_s, 1, "R06: position invalid while the engine runs for this long"},
  {"r08-consecutive", &EngineConfig::r08_consecutive, 1, "R08: OBD blocks in a row with the MIL on"},
  {"r09-empty-pct", &EngineConfig::r09_empty_pct, 0, "R09: reagent level counted as empty"},
  {"r09-empty-for-s", &EngineConfig::r09_empty_for_s, 1, "R09: empty while running for this long"},
  {"r12-future-s", &EngineConfig::r12_future_s, 0, "R12: collection time this far ahead of arrival"},
  {"r12-max-speed-kmh", &EngineConfig::r12_max_speed_kmh, 1, "R12: speed implied by two fixes above this"},
  {"r07-min-coolant-c", &EngineConfig::r07_min_coolant_c, -40, "R07 valid window: coolant temperature"},
  {"r07-min-scr-inlet-c", &EngineConfig::r07_min_scr_inlet_c, -273, "R07 valid window: SCR inlet temperature"},
  {"r07-min-rpm", &EngineConfig::r07_min_rpm, 0, "R07 valid window: engine speed"},
  {"r07-min-torque-pct", &EngineConfig::r07_min_torque_pct, -125, "R07 valid window: net torque"},
  {"r07-mean-limit-ppm", &EngineConfig::r07_mean_limit_ppm, 0, "R07: downstream NOx mean limit"},
  {"r07-mean-window-s", &EngineConfig::r07_mean_window_s, 10, "R07: the mean's window"},
  {"r07-min-conversion", &EngineConfig::r07_min_conversion, 0, "R07: SCR conversion below this counts"},
  {"r07-low-conversion-s", &EngineConfig::r07_low_conversion_s, 1, "R07: low conversion cumulated in a day"},
  {"r10-nox-flat-s", &EngineConfig::r10_nox_flat_s, 1, "R10: downstream NOx invalid or constant while running"},
  {"r11-offline-s", &EngineConfig::r11_offline_s, 1, "R11: no frame received for this long"},
  {"r11-gap-s", &EngineConfig::r11_gap_s, 1, "R11: a gap inside a trip this long"},
  {"r11-fill-within-s", &EngineConfig::r11_fill_within_s, 0, "R11: unless a resend fills it within this"},
  {"episode-gap-s", &EngineConfig::episode_gap_s, 60, "a silence this long ends every visit, streak and window"},
};
// clang-format on

std::string shortest(double v) {
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, v);
  return std::string(text, end);
}

std::string default_text(const Threshold& t) {
  static const EngineConfig defaults;
  return std::visit(
      [](auto member) {
        const auto value = defaults.*member;
        if constexpr (std::is_same_v<decltype(value), const double>)
          return shortest(value);
        else
          return std::to_string(value);
      },
      t.field);
}

std::string joined(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

}  // namespace

void add_rule_options(po::options_description& options) {
  static const EngineConfig defaults;
  auto add = options.add_options();
  add("phase-out", po::value<std::string>()->default_value("2026-01-01"),
      "R01: 国三 trucks are flagged from this Beijing date on");
  add("r01-categories", po::value<std::string>()->default_value(joined(defaults.r01_categories)),
      "R01: the vehicle categories the phase-out covers (comma-separated)");
  for (const auto& t : thresholds)
    add(t.option, po::value<std::string>()->default_value(default_text(t)), t.meaning);
}

void read_rule_options(const po::variables_map& vm, EngineConfig& config,
                       std::vector<std::string>& problems) {
  if (vm.count("phase-out")) {
    if (const auto t = common::parse_time(vm["phase-out"].as<std::string>()))
      config.phase_out_unix_s = *t;
    else
      problems.push_back("--phase-out must be a date (YYYY-MM-DD)");
  }
  if (vm.count("r01-categories")) {
    std::set<std::string> categories;
    const auto text = vm["r01-categories"].as<std::string>();
    for (std::size_t at = 0; at <= text.size();) {
      const auto comma = std::min(text.find(',', at), text.size());
      const auto item = text.substr(at, comma - at);
      if (!item.empty()) categories.insert(item);
      at = comma + 1;
    }
    if (categories.empty())
      problems.push_back("--r01-categories must name at least one category (N1,N2,N3)");
    else
      config.r01_categories = std::move(categories);
  }
  for (const auto& t : thresholds) {
    if (!vm.count(t.option)) continue;
    const auto text = vm[t.option].as<std::string>();
    std::visit(
        [&](auto member) {
          using Value = std::remove_reference_t<decltype(config.*member)>;
          Value value{};
          if (!common::parse_number(text, value) || static_cast<double>(value) < t.minimum) {
            problems.push_back(std::string("--") + t.option + " must be a number of at least " +
                               shortest(t.minimum) + ", not '" + text + "'");
            return;
          }
          config.*member = value;
        },
        t.field);
  }
}

}  // namespace lantian::server
