#pragma once
// Helpers shared by the protocol tests: the corpus on disk, hex, and JSON comparison.

#include <boost/json/value.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "protocol/bytes.hpp"
#include "protocol/decode.hpp"

namespace lantian::protocol::testing {

struct CorpusFrame {
  std::string name;
  Bytes bytes;
  boost::json::value expected;
  DecodeOptions options;  // the profile from NAME.profile, else auto
};

// gtest prints a corpus frame by its name.
inline void PrintTo(const CorpusFrame& f, std::ostream* os) {
  *os << f.name;
}

// Every NAME.hex of the corpus with its NAME.json, sorted by name.
const std::vector<CorpusFrame>& corpus();
const CorpusFrame& corpus_frame(const std::string& name);

Bytes from_hex(const std::string& hex);

// Empty when `actual` equals `expected` (numbers within 1e-6); otherwise where they differ.
std::string json_difference(const boost::json::value& actual, const boost::json::value& expected,
                            const std::string& path = "$");

// Decodes a frame that is known to be well-formed (fails the test otherwise).
DecodedFrame decode_ok(ByteView frame, const DecodeOptions& options = {});

}  // namespace lantian::protocol::testing
