#pragma once
// The decoded-frame JSON of decode-json.md (the project's stable interchange format), built with
// Boost.JSON, and a writer that prints numbers the way people read them ("116.397128", "60.0")
// rather than Boost's exponent form ("1.16397128E2").

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>

#include "protocol/bytes.hpp"
#include "protocol/message.hpp"

namespace lantian::protocol {

[[nodiscard]] boost::json::object to_json(const DecodedFrame& frame);

// Serialises any JSON value: compact (one line) or indented by two spaces.
[[nodiscard]] std::string to_json_text(const boost::json::value& value, bool pretty = false);

// Upper-case hex of `bytes`, e.g. "00C9A002".
[[nodiscard]] std::string to_hex(ByteView bytes);
// The bytes of an even-length string of hex digits (either case), or nullopt for anything else.
[[nodiscard]] std::optional<Bytes> from_hex(std::string_view hex);

}  // namespace lantian::protocol
