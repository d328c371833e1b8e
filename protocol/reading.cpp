#include "protocol/reading.hpp"

#include <cmath>

namespace lantian::protocol {

std::string_view to_string(ValueStatus status) noexcept {
  switch (status) {
    case ValueStatus::valid:
      return "valid";
    case ValueStatus::invalid:
      return "invalid";
    case ValueStatus::abnormal:
      return "abnormal";
    case ValueStatus::out_of_range:
      return "out_of_range";
  }
  return "invalid";
}

void Reading::set(double physical) noexcept {
  const FieldEncoding& e = encoding_of(kind_);
  const double raw = std::round((physical - e.bias) * e.den / e.num);
  raw_ = !(raw >= 0) ? 0 : raw > e.max_raw ? e.max_raw : static_cast<std::uint32_t>(raw);
  status_ = ValueStatus::valid;
}

void Reading::mark(ValueStatus status) noexcept {
  const std::uint32_t ones = all_ones(encoding_of(kind_).width);
  if (status == ValueStatus::invalid) raw_ = ones;
  if (status == ValueStatus::abnormal) raw_ = ones - 1;
  if (status == ValueStatus::out_of_range) raw_ = encoding_of(kind_).max_raw + 1;
  if (status == ValueStatus::valid && raw_ > encoding_of(kind_).max_raw) raw_ = 0;
  status_ = status;
}

}  // namespace lantian::protocol
