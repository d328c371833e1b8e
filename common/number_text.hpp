#pragma once
// Whole numbers written as text, as the command lines and configuration files give them.

#include <charconv>
#include <string_view>

namespace lantian::common {

// The whole of `text` is a number of type T (no sign for unsigned types, no spaces, no suffix).
template <class T>
[[nodiscard]] bool parse_number(std::string_view text, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace lantian::common
