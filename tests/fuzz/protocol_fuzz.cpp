// Fuzz target: framer + decode + JSON + encode over arbitrary bytes.
//
// The first input byte chooses the profile, the read size and the framer's limit; the rest is the
// byte stream. Besides "no crash, no sanitizer report", it checks the invariants that keep data
// from being lost or falsified:
//   - every input byte is accounted for: handed out in a frame, counted as skipped, or still
//     buffered;
//   - the buffer never holds more than one maximum frame plus one read;
//   - a frame that decodes without issues re-encodes to exactly its bytes;
//   - decoding into one reused result (decode_frame_into) equals a fresh decoding, frame by frame;
//   - a valid frame appended to the input is always found, however the input ends (false starts
//     never hide it), unless a frame the input began, with a correct BCC, runs over it.

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/framer.hpp"
#include "protocol/json.hpp"

using namespace lantian::protocol;

namespace {
void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

bool lossless_candidate(const DecodedFrame& d) {
  if (std::holds_alternative<std::monostate>(d.message.body)) return false;
  for (auto issue : d.issues)
    if (issue != Issue::unparsed_tail) return false;
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const ByteView input(data + 1, size - 1);

  DecodeOptions options;
  static constexpr std::optional<Profile> profiles[] = {std::nullopt, Profile::gb17691,
                                                        Profile::hj1239, Profile::nonroad};
  options.profile = profiles[control & 3];
  if (control & 4) options.fallback_profile = Profile::hj1239;
  if (control & 8) options.user_blocks.push_back({0x90, "vendor", 5});
  const FramerLimits limits{.max_data_length = (control & 16) ? 512u : 65531u,
                            .read_chunk = 1u + ((control >> 5) * 97u)};
  Framer framer(limits);

  std::size_t fed = 0, framed = 0;
  DecodedFrame reused;  // every frame of the input decoded into the same result
  auto handle = [&](const FramerEvent& e) {
    if (e.kind != FramerEvent::Kind::frame) return;
    framed += e.frame.size();
    auto decoded = decode_frame(e.frame, options);
    require(decoded.has_value(), "a framed frame always decodes");
    require(decoded->bcc_ok, "the framer hands out only frames with a correct BCC");
    require(!decode_frame_into(e.frame, options, reused, CheckByte::verified) &&
                reused.message == decoded->message && reused.issues == decoded->issues &&
                reused.variants == decoded->variants && reused.profile == decoded->profile,
            "decoding into a reused result equals a fresh decoding");
    (void)to_json_text(to_json(*decoded));
    if (lossless_candidate(*decoded)) {
      auto again = encode(decoded->message);
      require(again.has_value(), "a decoded message encodes");
      require(again->size() == e.frame.size() &&
                  std::equal(again->begin(), again->end(), e.frame.begin()),
              "decode then encode reproduces the frame");
    }
  };
  while (fed < input.size()) {
    fed += framer.feed(input.subspan(fed));
    for (FramerEvent e; (e = framer.next()).kind != FramerEvent::Kind::need_more;) handle(e);
    require(framer.buffered() <= frame_overhead + limits.max_data_length + limits.read_chunk,
            "the buffer stays bounded");
  }
  require(framed + framer.skipped_total() + framer.buffered() == input.size(),
          "every byte is framed, skipped or buffered");

  // The input followed by a valid frame (a login header, time and serial): the login comes out as a frame where it was put.
  {
    static constexpr std::uint8_t login[] = {
        0x23, 0x23, 0x01, 0x4C, 0x54, 0x46, 0x55, 0x5A, 0x5A, 0x31, 0x32, 0x33, 0x34, 0x35,
        0x36, 0x37, 0x38, 0x39, 0x30, 0x31, 0x01, 0x01, 0x00, 0x08, 0x18, 0x05, 0x14, 0x08,
        0x00, 0x00, 0x00, 0x01};
    std::vector<std::uint8_t> stream(input.begin(), input.end());
    stream.insert(stream.end(), std::begin(login), std::end(login));
    stream.push_back(xor_checksum(ByteView(login + 2, sizeof login - 2)));
    Framer again(limits);
    std::size_t fed_again = 0, at = 0;
    bool found = false, overrun = false;
    while (fed_again < stream.size()) {
      fed_again += again.feed(ByteView(stream).subspan(fed_again));
      for (FramerEvent e; (e = again.next()).kind != FramerEvent::Kind::need_more;) {
        if (e.kind == FramerEvent::Kind::frame) {
          found = found || (at == input.size() && e.frame.size() == sizeof login + 1);
          overrun = overrun || (at < input.size() && at + e.frame.size() > input.size());
          at += e.frame.size();
        } else {
          at += e.skipped;
        }
      }
    }
    require(found || overrun, "a valid frame after arbitrary bytes is found");
  }

  // The same bytes decoded directly, as the decode tool does with a hex argument.
  if (auto direct = decode_frame(input, options)) (void)to_json_text(to_json(*direct), true);
  return 0;
}
