#pragma once
// Big-endian byte cursors used by the decoder and the encoder.
//
// ByteReader never reads past its span: every read checks the remaining size first and the caller
// checks `remaining()` (or the returned optional) before trusting a value. ByteWriter appends to a
// caller-owned vector. Neither allocates on its own nor throws.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace lantian::protocol {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Reads an unsigned big-endian integer of `width` (1, 2 or 4) bytes from `p`.
inline std::uint32_t load_be(const std::uint8_t* p, std::size_t width) noexcept {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v = (v << 8) | p[i];
  return v;
}

inline std::uint16_t load_be16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

class ByteReader {
 public:
  explicit ByteReader(ByteView bytes) noexcept : bytes_(bytes) {}

  [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  [[nodiscard]] std::size_t position() const noexcept { return pos_; }
  [[nodiscard]] bool empty() const noexcept { return remaining() == 0; }
  // The unread bytes.
  [[nodiscard]] ByteView rest() const noexcept { return bytes_.subspan(pos_); }

  // Each of the following requires `remaining()` to be large enough; the caller checks first.
  std::uint8_t u8() noexcept { return bytes_[pos_++]; }
  std::uint16_t u16() noexcept {
    const auto v = load_be16(bytes_.data() + pos_);
    pos_ += 2;
    return v;
  }
  std::uint32_t u32() noexcept {
    const auto v = load_be(bytes_.data() + pos_, 4);
    pos_ += 4;
    return v;
  }
  ByteView take(std::size_t n) noexcept {
    auto v = bytes_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  template <std::size_t N>
  void copy_to(std::uint8_t (&out)[N]) noexcept {
    std::memcpy(out, bytes_.data() + pos_, N);
    pos_ += N;
  }
  template <class Array>
  void copy_array(Array& out) noexcept {
    std::memcpy(out.data(), bytes_.data() + pos_, out.size());
    pos_ += out.size();
  }
  void skip(std::size_t n) noexcept { pos_ += n; }

 private:
  ByteView bytes_;
  std::size_t pos_ = 0;
};

class ByteWriter {
 public:
  explicit ByteWriter(Bytes& out) noexcept : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      out_.push_back(static_cast<std::uint8_t>(v >> shift));
  }
  // Writes the low `width` bytes of `v`, big-endian.
  void uint(std::uint32_t v, std::size_t width) {
    for (std::size_t i = width; i-- > 0;) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void bytes(ByteView v) { out_.insert(out_.end(), v.begin(), v.end()); }
  [[nodiscard]] std::size_t size() const noexcept { return out_.size(); }
  // Overwrites two bytes at `at` (used to patch the data-unit length once the body is written).
  void patch_u16(std::size_t at, std::uint16_t v) noexcept {
    out_[at] = static_cast<std::uint8_t>(v >> 8);
    out_[at + 1] = static_cast<std::uint8_t>(v);
  }

 private:
  Bytes& out_;
};

}  // namespace lantian::protocol
