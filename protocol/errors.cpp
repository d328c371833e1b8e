#include "protocol/errors.hpp"

#include <string>

namespace lantian::protocol {
namespace {
class FrameErrorCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "lantian.protocol"; }
  std::string message(int code) const override {
    switch (static_cast<FrameError>(code)) {
      case FrameError::too_short:
        return "frame shorter than its 25-byte header and check byte";
      case FrameError::bad_start:
        return "frame does not start with \"##\" or \"~~\"";
      case FrameError::length_mismatch:
        return "frame size differs from 25 + the data-unit length in its header";
      case FrameError::body_too_long:
        return "data unit longer than 65531 bytes";
      case FrameError::nothing_to_encode:
        return "message has no body to encode";
      case FrameError::field_too_long:
        return "field longer than its length byte allows";
    }
    return "unknown protocol error";
  }
};
}  // namespace

const boost::system::error_category& frame_error_category() noexcept {
  static const FrameErrorCategory category;
  return category;
}

}  // namespace lantian::protocol
