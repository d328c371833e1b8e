#pragma once
// Incremental framer (§1): bytes in, in any split, frames out. Sans-I/O: the caller reads from its
// socket or file straight into `prepare()`, calls `commit(n)`, then calls `next()` until it answers
// `need_more`.
//
// Framing is start pair + length + BCC; there is no escaping. Both start pairs ("##", "~~") and
// both header variants (terminal, platform: the length sits at offset 22 in each) are accepted.
// Garbage and frames with a bad check byte are skipped up to the next start pair and counted; the
// caller decides whether that closes a connection (a server may) or is only reported (a tool).
//
// False starts never stall the stream: while the frame begun at the head is incomplete, the bytes
// already buffered inside its span are searched for a complete frame with a plausible header (a
// known command, a VIN of printable ASCII, a length within the limit) and a correct BCC. If one is
// there, the head was a false start (garbage holding a start pair, a frame cut short by a
// restarted terminal): the bytes before that frame are dropped and it is handed out at once,
// instead of after the head's announced length has arrived. Each buffered byte is examined a
// bounded number of times (new start pairs once; a candidate once more when its header and once
// when its frame is complete), so trickled input costs no repeated scans.
//
// Memory is bounded: the buffer grows only as far as one maximum-size frame plus one read, and
// `release_memory()` gives it back when nothing is buffered (idle connections). Never throws on
// input; the only exception is std::bad_alloc from the buffer growing.
//
// Not thread-safe: one framer per connection.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "protocol/bytes.hpp"
#include "protocol/types.hpp"

namespace lantian::protocol {

struct FramerLimits {
  // Largest data unit accepted; a header announcing more is an error (`oversized`). The protocol
  // maximum is 65531; a server may set less.
  std::size_t max_data_length = protocol::max_data_length;
  // How much `prepare()` offers at most in one call (the size of one read).
  std::size_t read_chunk = 16 * 1024;
};

struct FramerEvent {
  enum class Kind {
    need_more,  // no complete frame buffered: read more
    frame,      // `frame` is one complete frame with a correct BCC
    garbage,    // `skipped` bytes that do not start a frame were dropped
    bad_check,  // `frame` has a wrong BCC; its first byte was dropped and the search resumes
    oversized,  // a header announced a data unit above the limit; its first byte was dropped
    false_start,  // the incomplete frame at the head holds a complete one: `skipped` bytes before
                  // that one were dropped
  };
  Kind kind = Kind::need_more;
  // The frame's bytes (for frame and bad_check): valid until the next call on the framer.
  ByteView frame;
  std::size_t skipped = 0;  // bytes dropped by this event (garbage, bad_check, oversized)
};

class Framer {
 public:
  explicit Framer(FramerLimits limits = {});

  // A writable region of at most `limits.read_chunk` bytes at the end of the buffered data. Call
  // `next()` until `need_more` first: then the region is never empty.
  [[nodiscard]] std::span<std::uint8_t> prepare();
  // Marks `n` bytes of the last `prepare()` region as received.
  void commit(std::size_t n) noexcept;
  // Copies as much of `bytes` as fits (prepare + commit); returns how many were taken. Callers with
  // more input call `next()` until `need_more` and feed the rest.
  std::size_t feed(ByteView bytes);

  // The next event from the buffered bytes.
  [[nodiscard]] FramerEvent next() noexcept;

  [[nodiscard]] std::size_t buffered() const noexcept { return end_ - begin_ - pending_consume_; }
  // Every byte dropped so far (garbage, bad-check frames' first bytes, oversized headers, false
  // starts).
  [[nodiscard]] std::uint64_t skipped_total() const noexcept { return skipped_total_; }
  // Frees the buffer when nothing is buffered; returns whether it did.
  bool release_memory() noexcept;
  [[nodiscard]] const FramerLimits& limits() const noexcept { return limits_; }

 private:
  void apply_pending() noexcept;
  FramerEvent drop(FramerEvent::Kind kind, std::size_t n, ByteView frame = {}) noexcept;
  // Where a complete, plausible frame with a correct BCC starts inside the incomplete head frame
  // (an offset from the head), if one does. Examines new start pairs and the candidates that have
  // become complete since the last call.
  std::optional<std::size_t> find_frame_inside_head() noexcept;
  enum class Candidate { rejected, waiting, valid };
  Candidate examine(std::uint64_t at) noexcept;

  FramerLimits limits_;
  std::vector<std::uint8_t> buffer_;
  std::size_t begin_ = 0;            // first buffered byte
  std::size_t end_ = 0;              // one past the last buffered byte
  std::size_t pending_consume_ = 0;  // bytes handed out by the last event, dropped on the next call
  std::uint64_t skipped_total_ = 0;
  // The false-start search, in stream positions (bytes since the framer was created), so that
  // dropping bytes at the head invalidates nothing: `consumed_` is the position of buffer_[begin_];
  // start pairs before `scanned_` were examined; `waiting_` is a min-heap of (stream position at
  // which the candidate can be judged, its start) for candidates whose header or frame was not
  // complete yet. Entries before the head are stale and skipped.
  std::uint64_t consumed_ = 0;
  std::uint64_t scanned_ = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> waiting_;
};

// Whether a frame header (24 bytes at `h`) is one a terminal or platform could send: a start pair,
// a command defined in any profile (or user-defined), printable ASCII where either header variant
// keeps the VIN, and a data-unit length within `data_length_limit`.
[[nodiscard]] bool plausible_header(const std::uint8_t* h, std::size_t data_length_limit) noexcept;

// XOR of every byte (the BCC of §1 over command … last data-unit byte).
[[nodiscard]] std::uint8_t xor_checksum(ByteView bytes) noexcept;

// True when `a`, `b` is a start pair ("##" or "~~").
[[nodiscard]] constexpr bool is_start_pair(std::uint8_t a, std::uint8_t b) noexcept {
  return a == b && (a == 0x23 || a == 0x7E);
}

}  // namespace lantian::protocol
