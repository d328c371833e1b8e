// Fuzz target: framer + decode + JSON + encode over arbitrary bytes.
//
// The first input byte chooses the profile, the read size and the framer's limit; the rest is the
// byte stream. Besides "no crash, no sanitizer report", it checks the invariants that keep data
// from being lost or falsified:
//   - every input byte is accounted for: handed out in a frame, counted as skipped, or still
//     buffered;
//   - the buffer never holds more than one maximum frame plus one read;
//   - a frame that decodes without issues re-encodes to exactly its bytes.

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
    if (issue != Issue::layout_variant && issue != Issue::unparsed_tail) return false;
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
  auto handle = [&](const FramerEvent& e) {
    if (e.kind != FramerEvent::Kind::frame) return;
    framed += e.frame.size();
    auto decoded = decode_frame(e.frame, options);
    require(decoded.has_value(), "a framed frame always decodes");
    require(decoded->bcc_ok, "the framer hands out only frames with a correct BCC");
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

  // The same bytes decoded directly, as the decode tool does with a hex argument.
  if (auto direct = decode_frame(input, options)) (void)to_json_text(to_json(*direct), true);
  return 0;
}
