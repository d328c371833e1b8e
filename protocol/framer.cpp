#include "protocol/framer.hpp"

#include <algorithm>
#include <cstring>

namespace lantian::protocol {

std::uint8_t xor_checksum(ByteView bytes) noexcept {
  // It runs over every byte the server receives: 32 bytes per step in four independent words,
  // folded at the end (XOR is associative, so the order does not matter).
  std::uint64_t a = 0, b = 0, c = 0, d = 0;
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  for (; n >= 32; n -= 32, p += 32) {
    std::uint64_t w[4];
    std::memcpy(w, p, sizeof w);
    a ^= w[0];
    b ^= w[1];
    c ^= w[2];
    d ^= w[3];
  }
  std::uint64_t wide = a ^ b ^ c ^ d;
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    wide ^= w;
  }
  wide ^= wide >> 32;
  wide ^= wide >> 16;
  wide ^= wide >> 8;
  auto x = static_cast<std::uint8_t>(wide);
  for (; n > 0; --n) x ^= *p++;
  return x;
}

Framer::Framer(FramerLimits limits) : limits_(limits) {
  limits_.max_data_length = std::min(limits_.max_data_length, protocol::max_data_length);
  limits_.read_chunk = std::max<std::size_t>(limits_.read_chunk, 1);
}

void Framer::apply_pending() noexcept {
  begin_ += pending_consume_;
  pending_consume_ = 0;
  if (begin_ == end_) begin_ = end_ = 0;
}

std::span<std::uint8_t> Framer::prepare() {
  apply_pending();
  const std::size_t max_buffer = frame_overhead + limits_.max_data_length + limits_.read_chunk;
  if (begin_ > 0 && buffer_.size() - end_ < limits_.read_chunk) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  const std::size_t wanted = std::min(end_ + limits_.read_chunk, max_buffer);
  if (buffer_.size() < wanted) buffer_.resize(wanted);
  return {buffer_.data() + end_, buffer_.size() - end_};
}

void Framer::commit(std::size_t n) noexcept {
  end_ = std::min(end_ + n, buffer_.size());
}

std::size_t Framer::feed(ByteView bytes) {
  const auto region = prepare();
  const std::size_t n = std::min(region.size(), bytes.size());
  std::memcpy(region.data(), bytes.data(), n);
  commit(n);
  return n;
}

bool Framer::release_memory() noexcept {
  apply_pending();
  if (begin_ != end_) return false;
  std::vector<std::uint8_t>().swap(buffer_);
  return true;
}

FramerEvent Framer::drop(FramerEvent::Kind kind, std::size_t n, ByteView frame) noexcept {
  pending_consume_ = n;
  skipped_total_ += n;
  return {kind, frame, n};
}

FramerEvent Framer::next() noexcept {
  apply_pending();
  const std::uint8_t* data = buffer_.data() + begin_;
  const std::size_t size = end_ - begin_;
  if (size == 0) return {};

  // Not at a start pair: drop everything up to the next one. A lone start byte at the very end
  // may be the first half of a pair, so it stays.
  if (size < 2 || !is_start_pair(data[0], data[1])) {
    std::size_t i = 0;
    while (i + 1 < size && !is_start_pair(data[i], data[i + 1])) ++i;
    if (i + 1 == size && (data[i] == 0x23 || data[i] == 0x7E)) {
      if (i == 0) return {};  // one start byte buffered: wait for its partner
    } else if (i + 1 == size) {
      ++i;  // the last byte cannot start a pair either
    }
    return drop(FramerEvent::Kind::garbage, i);
  }

  if (size < header_size) return {};
  const std::size_t data_length = load_be16(data + 22);
  if (data_length > limits_.max_data_length) return drop(FramerEvent::Kind::oversized, 1);
  const std::size_t frame_size = frame_overhead + data_length;
  if (size < frame_size) return {};

  const ByteView frame{data, frame_size};
  if (xor_checksum(frame.subspan(2, frame_size - 3)) != data[frame_size - 1]) {
    // The length itself may be what was corrupted, so a real frame can start inside this one:
    // drop only the first byte and search again.
    return drop(FramerEvent::Kind::bad_check, 1, frame);
  }
  pending_consume_ = frame_size;
  return {FramerEvent::Kind::frame, frame, 0};
}

}  // namespace lantian::protocol
