#pragma once
// Vehicle identification (rules.md): VIN validity with the ISO 3779 check digit, the model year
// from position 10, and the emission stages with their Chinese labels and inference from the model
// year.

#include <optional>
#include <string>
#include <string_view>

namespace lantian::rules {

// 17 characters of 0-9 A-Z without I, O, Q.
[[nodiscard]] bool vin_well_formed(std::string_view vin) noexcept;
// The check digit ('0'–'9' or 'X') a well-formed VIN should carry at position 9.
[[nodiscard]] std::optional<char> vin_check_digit(std::string_view vin) noexcept;
// Well formed and its position 9 is the check digit.
[[nodiscard]] bool vin_valid(std::string_view vin) noexcept;
// The model year of position 10 (A=2010 … T=2026, 1–9 = 2001–2009, the 30-year cycle resolved to
// the latest year not after `latest_year`, i.e. next year).
[[nodiscard]] std::optional<int> vin_model_year(std::string_view vin, int latest_year) noexcept;

// China's emission stages: on-road CN1…CN6b (国一…国六b), non-road NR1…NR4 (非道路国一…国四).
// NR0: a machine from before non-road stage I (非道路国零, pre-stage-I), which the plan's "基本淘汰第一
// 阶段以下" tracks. Stages are kept by name wherever they are stored, never by this enum's number.
enum class Stage { CN1, CN2, CN3, CN4, CN5, CN6a, CN6b, NR0, NR1, NR2, NR3, NR4 };
[[nodiscard]] std::string_view to_string(Stage stage) noexcept;
[[nodiscard]] bool is_machine_stage(Stage stage) noexcept;
// Parses "CN3", "NR2", "NR0", "国三", "国Ⅲ", "国3", "国六a", "国VIb", "非道路国二", "非道路国零", …;
// (零 / 0 only for machines: there is no on-road stage 0); a Chinese label
// without a machine prefix means a machine stage when `machine` is true.
[[nodiscard]] std::optional<Stage> parse_stage(std::string_view text, bool machine) noexcept;
// Stages compare by their order within the same family (CN or NR).
[[nodiscard]] bool stage_at_most(Stage stage, Stage limit) noexcept;

// What the model year says about a heavy diesel vehicle's stage when the registry does not know.
enum class InferredStage {
  at_most_cn3,  // model year ≤ 2012: suspected ≤ 国三
  ambiguous,    // 2013–2014: not flagged
  after_cn3,    // 2015 and later
};
[[nodiscard]] std::optional<InferredStage> infer_stage(std::string_view vin,
                                                       int latest_year) noexcept;

}  // namespace lantian::rules
