// lantian-decode: decodes remote emission terminal frames into the project's JSON (one object per
// line, decode-json). For a platform engineer looking at what a terminal really sent.
//
//   lantian-decode [--profile auto|gb17691|hj1239|nonroad] [HEX ...]   frames given as hex
//   lantian-decode [--profile …] < lines.hex                           one hex frame per line
//   lantian-decode [--profile …] --binary capture.bin                  a raw byte stream
//
// Exit status: 0 when every frame decoded cleanly, 1 when any input was bad or any frame had
// errors (each reported on stderr), 2 on a usage error.

#include <boost/program_options.hpp>
#include <cctype>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "protocol/decode.hpp"
#include "protocol/framer.hpp"
#include "protocol/json.hpp"

namespace po = boost::program_options;
using namespace lantian::protocol;

namespace {

struct Tool {
  DecodeOptions options;
  bool pretty = false;
  bool all_clean = true;

  // Prints one decoded frame; problems go to stderr under `where`.
  void emit(const DecodedFrame& frame, const std::string& where) {
    std::cout << to_json_text(to_json(frame), pretty) << '\n';
    if (!frame.issues.empty()) {
      all_clean = false;
      std::cerr << where << ": frame decoded with errors:";
      for (auto issue : frame.issues) std::cerr << ' ' << to_string(issue);
      std::cerr << '\n';
    }
  }

  void fail(const std::string& where, const std::string& why) {
    all_clean = false;
    std::cerr << where << ": " << why << '\n';
  }

  // One frame written as hex; whitespace and ':' between digits are ignored.
  void decode_hex(const std::string& text, const std::string& where) {
    Bytes bytes;
    int high = -1;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      if (std::isspace(c) || c == ':') continue;
      if (!std::isxdigit(c))
        return fail(where, "not hexadecimal: '" + std::string(1, char(c)) + "' at column " +
                               std::to_string(i + 1));
      const int nibble = std::isdigit(c) ? c - '0' : std::toupper(c) - 'A' + 10;
      if (high < 0) {
        high = nibble;
      } else {
        bytes.push_back(static_cast<std::uint8_t>(high << 4 | nibble));
        high = -1;
      }
    }
    if (high >= 0) return fail(where, "odd number of hex digits");
    auto decoded = decode_frame(bytes, options);
    if (!decoded) {
      std::string why = decoded.error().message();
      if (decoded.error() == FrameError::length_mismatch)
        why += " (" + std::to_string(bytes.size()) + " bytes, header says " +
               std::to_string(frame_overhead + load_be16(bytes.data() + 22)) + ")";
      return fail(where, why);
    }
    emit(*decoded, where);
  }

  // A raw capture: every frame in it, resynchronising over garbage and bad check bytes.
  void decode_stream(std::istream& in, const std::string& name) {
    Framer framer;
    DecodedFrame decoded;      // reused frame after frame
    std::uint64_t offset = 0;  // stream offset of the framer's first buffered byte
    std::uint64_t frames = 0;
    bool eof = false;
    for (;;) {
      const FramerEvent e = framer.next();
      const std::string where = name + " @" + std::to_string(offset);
      switch (e.kind) {
        case FramerEvent::Kind::frame: {
          ++frames;
          if (const auto error = decode_frame_into(e.frame, options, decoded, CheckByte::verified))
            fail(where, error.message());
          else
            emit(decoded, where);
          offset += e.frame.size();
          continue;
        }
        case FramerEvent::Kind::garbage:
          fail(where, "skipped " + std::to_string(e.skipped) + " bytes that do not start a frame");
          offset += e.skipped;
          continue;
        case FramerEvent::Kind::bad_check:
          fail(where, "frame of " + std::to_string(e.frame.size()) +
                          " bytes has a wrong BCC; resynchronising");
          offset += e.skipped;
          continue;
        case FramerEvent::Kind::false_start:
          fail(where, "false start: a complete frame begins " + std::to_string(e.skipped) +
                          " bytes into an unfinished one; skipped to it");
          offset += e.skipped;
          continue;
        case FramerEvent::Kind::oversized:
          fail(where, "header announces a data unit above the limit; resynchronising");
          offset += e.skipped;
          continue;
        case FramerEvent::Kind::need_more:
          break;
      }
      if (eof) break;
      const auto region = framer.prepare();
      in.read(reinterpret_cast<char*>(region.data()), static_cast<std::streamsize>(region.size()));
      const auto got = static_cast<std::size_t>(in.gcount());
      framer.commit(got);
      if (got == 0) eof = true;
    }
    if (framer.buffered() > 0)
      fail(name + " @" + std::to_string(offset),
           "stream ends inside a frame (" + std::to_string(framer.buffered()) + " bytes)");
    if (frames == 0) fail(name, "no frame found");
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string profile = "auto";
  std::string binary;
  std::vector<std::string> hex;
  po::options_description visible(
      "Usage: lantian-decode [options] [HEX ...]\n"
      "Decodes GB 17691 / HJ 1239 / non-road terminal frames to JSON Lines.\n"
      "Without HEX arguments, reads one hex frame per line from standard input.\n\nOptions");
  visible.add_options()("help,h", "show this help")(
      "profile,p", po::value(&profile)->default_value("auto"),
      "auto, gb17691, hj1239 or nonroad (what command 0x05 means and how real-time bodies read)")(
      "binary,b", po::value(&binary),
      "decode every frame of a raw byte stream (e.g. a TCP capture)")(
      "pretty", "indent the JSON (one object per frame, several lines each)");
  po::options_description all;
  all.add(visible).add_options()("hex", po::value(&hex));
  po::positional_options_description positional;
  positional.add("hex", -1);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "lantian-decode: " << e.what() << "\n" << visible << '\n';
    return 2;
  }
  if (vm.count("help")) {
    std::cout << visible << '\n';
    return 0;
  }

  Tool tool;
  tool.pretty = vm.count("pretty") > 0;
  if (profile != "auto") {
    tool.options.profile = parse_profile(profile);
    if (!tool.options.profile) {
      std::cerr << "lantian-decode: unknown profile '" << profile
                << "' (expected auto, gb17691, hj1239 or nonroad)\n";
      return 2;
    }
  }
  if (!binary.empty() && !hex.empty()) {
    std::cerr << "lantian-decode: give either --binary FILE or HEX arguments, not both\n";
    return 2;
  }

  if (!binary.empty()) {
    std::ifstream in(binary, std::ios::binary);
    if (!in) {
      std::cerr << "lantian-decode: cannot open " << binary << '\n';
      return 1;
    }
    tool.decode_stream(in, binary);
  } else if (!hex.empty()) {
    for (std::size_t i = 0; i < hex.size(); ++i)
      tool.decode_hex(hex[i], "argument " + std::to_string(i + 1));
  } else {
    std::string line;
    for (std::size_t n = 1; std::getline(std::cin, line); ++n) {
      const auto first = line.find_first_not_of(" \t\r");
      if (first == std::string::npos || line[first] == '#') continue;  // blank or comment
      tool.decode_hex(line, "line " + std::to_string(n));
    }
  }
  return tool.all_clean ? 0 : 1;
}
