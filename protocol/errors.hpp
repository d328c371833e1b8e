#pragma once
// Errors of the protocol library, as boost::system error codes (errors are values on the data
// path; nothing here throws).

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <type_traits>

namespace lantian::protocol {

enum class FrameError {
  too_short = 1,      // fewer bytes than a frame header and check byte
  bad_start,          // the first two bytes are not "##" or "~~"
  length_mismatch,    // the byte count differs from 25 + the data-unit length in the header
  body_too_long,      // an encoded data unit would exceed 65531 bytes
  nothing_to_encode,  // a message without a body
  field_too_long,     // a variable-size field exceeds what its length byte can say
};

[[nodiscard]] const boost::system::error_category& frame_error_category() noexcept;
[[nodiscard]] inline boost::system::error_code make_error_code(FrameError e) noexcept {
  return {static_cast<int>(e), frame_error_category()};
}

template <class T>
using Result = boost::system::result<T>;

}  // namespace lantian::protocol

template <>
struct boost::system::is_error_code_enum<lantian::protocol::FrameError> : std::true_type {};
