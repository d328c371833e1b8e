#include "protocol/framer.hpp"

#include <algorithm>
#include <cstring>
#include <functional>

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

bool plausible_header(const std::uint8_t* h, std::size_t data_length_limit) noexcept {
  if (!is_start_pair(h[0], h[1])) return false;
  const std::uint8_t command = h[2];
  if (!((command >= command::login && command <= command::activation_reply) ||
        (command >= command::first_user_defined && command != 0xFF)))
    return false;
  // Text or its zero padding; the terminal variant keeps the VIN at 3, the platform one at 4.
  const auto vin_at = [&](std::size_t at) {
    return std::all_of(h + at, h + at + 17, [](std::uint8_t c) { return c == 0 || printable_ascii(c); });
  };
  return (vin_at(3) || vin_at(4)) && load_be16(h + 22) <= data_length_limit;
}

void Framer::apply_pending() noexcept {
  begin_ += pending_consume_;
  consumed_ += pending_consume_;
  pending_consume_ = 0;
  if (begin_ == end_) {
    begin_ = end_ = 0;
    waiting_.clear();  // every candidate lay in bytes now gone
  }
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
  std::vector<std::pair<std::uint64_t, std::uint64_t>>().swap(waiting_);
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
  if (size < frame_size) {
    if (const auto inside = find_frame_inside_head()) return drop(FramerEvent::Kind::false_start, *inside);
    return {};
  }

  const ByteView frame{data, frame_size};
  if (xor_checksum(frame.subspan(2, frame_size - 3)) != data[frame_size - 1]) {
    // The length itself may be what was corrupted, so a real frame can start inside this one:
    // drop only the first byte and search again.
    return drop(FramerEvent::Kind::bad_check, 1, frame);
  }
  pending_consume_ = frame_size;
  return {FramerEvent::Kind::frame, frame, 0};
}

Framer::Candidate Framer::examine(std::uint64_t at) noexcept {
  const std::uint64_t end = consumed_ + (end_ - begin_);
  const std::uint8_t* h = buffer_.data() + begin_ + (at - consumed_);
  const auto wait_until = [&](std::uint64_t judged_at) {
    waiting_.emplace_back(judged_at, at);
    std::push_heap(waiting_.begin(), waiting_.end(), std::greater<>{});
    return Candidate::waiting;
  };
  if (at + header_size > end) return wait_until(at + header_size);
  if (!plausible_header(h, limits_.max_data_length)) return Candidate::rejected;
  const std::size_t frame_size = frame_overhead + load_be16(h + 22);
  if (at + frame_size > end) return wait_until(at + frame_size);
  return xor_checksum(ByteView(h + 2, frame_size - 3)) == h[frame_size - 1] ? Candidate::valid
                                                                            : Candidate::rejected;
}

std::optional<std::size_t> Framer::find_frame_inside_head() noexcept {
  const std::uint8_t* data = buffer_.data() + begin_;
  const std::uint64_t end = consumed_ + (end_ - begin_);
  std::optional<std::uint64_t> found;
  std::vector<std::uint64_t> also_valid;  // judged again at the next search, should it come
  const auto consider = [&](std::uint64_t at) {
    if (examine(at) != Candidate::valid) return;
    if (found) also_valid.push_back(std::max(*found, at));
    if (!found || at < *found) found = at;
  };
  // Start pairs not examined yet (a pair needs both its bytes buffered).
  for (std::uint64_t at = std::max(scanned_, consumed_ + 1); at + 1 < end; ++at)
    if (is_start_pair(data[at - consumed_], data[at - consumed_ + 1])) consider(at);
  scanned_ = std::max(scanned_, end > 0 ? end - 1 : 0);
  // Candidates that can be judged now; those before the head are gone.
  while (!waiting_.empty() && waiting_.front().first <= end) {
    const auto at = waiting_.front().second;
    std::pop_heap(waiting_.begin(), waiting_.end(), std::greater<>{});
    waiting_.pop_back();
    if (at > consumed_) consider(at);
  }
  if (!found) return std::nullopt;
  for (const auto at : also_valid) {
    waiting_.emplace_back(0, at);
    std::push_heap(waiting_.begin(), waiting_.end(), std::greater<>{});
  }
  return static_cast<std::size_t>(*found - consumed_);
}

}  // namespace lantian::protocol
