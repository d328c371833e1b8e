#include "rules/vehicle_identity.hpp"

#include <array>

namespace lantian::rules {
namespace {

int transliterate(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  static constexpr std::string_view letters = "ABCDEFGHJKLMNPRSTUVWXYZ";
  static constexpr std::array<int, 23> values = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4,
                                                 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9};
  const auto at = letters.find(c);
  return at == std::string_view::npos ? -1 : values[at];
}

constexpr std::array<int, 17> weights = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};

}  // namespace

bool vin_well_formed(std::string_view vin) noexcept {
  if (vin.size() != 17) return false;
  for (char c : vin)
    if (transliterate(c) < 0) return false;
  return true;
}

std::optional<char> vin_check_digit(std::string_view vin) noexcept {
  if (!vin_well_formed(vin)) return std::nullopt;
  int sum = 0;
  for (std::size_t i = 0; i < 17; ++i) sum += transliterate(vin[i]) * weights[i];
  const int r = sum % 11;
  return r == 10 ? 'X' : static_cast<char>('0' + r);
}

bool vin_valid(std::string_view vin) noexcept {
  const auto check = vin_check_digit(vin);
  return check && vin[8] == *check;
}

std::optional<int> vin_model_year(std::string_view vin, int latest_year) noexcept {
  if (!vin_well_formed(vin)) return std::nullopt;
  static constexpr std::string_view codes =
      "ABCDEFGHJKLMNPRSTVWXY123456789";  // 1980/2010 … 2009/2039
  const auto at = codes.find(vin[9]);
  if (at == std::string_view::npos) return std::nullopt;
  int year = 1980 + static_cast<int>(at);
  while (year + 30 <= latest_year) year += 30;
  return year;
}

std::string_view to_string(Stage stage) noexcept {
  static constexpr std::array<std::string_view, 12> names = {
      "CN1", "CN2", "CN3", "CN4", "CN5", "CN6a", "CN6b", "NR0", "NR1", "NR2", "NR3", "NR4"};
  return names[static_cast<std::size_t>(stage)];
}

bool is_machine_stage(Stage stage) noexcept {
  return stage >= Stage::NR0;
}

std::optional<Stage> parse_stage(std::string_view text, bool machine) noexcept {
  for (int i = 0; i <= static_cast<int>(Stage::NR4); ++i) {
    const auto s = static_cast<Stage>(i);
    if (text == to_string(s)) return s;
  }
  if (text == "CN6A") return Stage::CN6a;
  if (text == "CN6B") return Stage::CN6b;
  // Chinese labels: optional 非道路 prefix, 国, then the stage in Chinese, Roman or Arabic
  // numerals, and for 国六 an optional a/b.
  std::string_view rest = text;
  bool machine_label = machine;
  for (std::string_view prefix : {std::string_view("非道路"), std::string_view("非道")})
    if (rest.starts_with(prefix)) {
      rest.remove_prefix(prefix.size());
      machine_label = true;
    }
  if (!rest.starts_with("国")) return std::nullopt;
  rest.remove_prefix(std::string_view("国").size());
  struct Numeral {
    std::string_view text;
    int number;
  };
  static constexpr Numeral numerals[] = {
      {"一", 1}, {"二", 2}, {"三", 3}, {"四", 4}, {"五", 5}, {"六", 6}, {"Ⅰ", 1}, {"Ⅱ", 2},
      {"Ⅲ", 3},  {"Ⅳ", 4},  {"Ⅴ", 5},  {"Ⅵ", 6},  {"VI", 6}, {"IV", 4}, {"V", 5}, {"III", 3},
      {"II", 2}, {"I", 1},  {"1", 1},  {"2", 2},  {"3", 3},  {"4", 4},  {"5", 5}, {"6", 6},
      {"零", 0}, {"0", 0}};
  for (const auto& n : numerals) {
    if (!rest.starts_with(n.text)) continue;
    std::string_view suffix = rest.substr(n.text.size());
    if (machine_label) {
      if (!suffix.empty() || n.number > 4) return std::nullopt;
      return static_cast<Stage>(static_cast<int>(Stage::NR0) + n.number);
    }
    if (n.number == 0) return std::nullopt;  // no on-road stage 0
    if (n.number < 6) {
      if (!suffix.empty()) return std::nullopt;
      return static_cast<Stage>(n.number - 1);
    }
    if (suffix == "a" || suffix == "A") return Stage::CN6a;
    if (suffix == "b" || suffix == "B" || suffix.empty())
      return suffix.empty() ? Stage::CN6a : Stage::CN6b;
    return std::nullopt;
  }
  return std::nullopt;
}

bool stage_at_most(Stage stage, Stage limit) noexcept {
  return is_machine_stage(stage) == is_machine_stage(limit) && stage <= limit;
}

std::optional<InferredStage> infer_stage(std::string_view vin, int latest_year) noexcept {
  const auto year = vin_model_year(vin, latest_year);
  if (!year) return std::nullopt;
  if (*year <= 2012) return InferredStage::at_most_cn3;
  if (*year <= 2014) return InferredStage::ambiguous;
  return InferredStage::after_cn3;
}

}  // namespace lantian::rules
