#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace lantian::protocol::testing {
namespace fs = std::filesystem;

namespace {
std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

Bytes from_hex(const std::string& hex) {
  Bytes out;
  int high = -1;
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) continue;
    const int v =
        std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::toupper(c) - 'A' + 10;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  return out;
}

const std::vector<CorpusFrame>& corpus() {
  static const std::vector<CorpusFrame> frames = [] {
    std::vector<CorpusFrame> v;
    for (const auto& entry : fs::directory_iterator(LANTIAN_CORPUS_DIR)) {
      if (entry.path().extension() != ".hex") continue;
      CorpusFrame f;
      f.name = entry.path().stem().string();
      f.bytes = from_hex(read_file(entry.path()));
      auto json_path = entry.path();
      f.expected = boost::json::parse(read_file(json_path.replace_extension(".json")));
      auto profile_path = entry.path();
      profile_path.replace_extension(".profile");
      if (fs::exists(profile_path)) {
        std::string p = read_file(profile_path);
        p.erase(std::remove_if(p.begin(), p.end(), ::isspace), p.end());
        f.options.profile = parse_profile(p);
      }
      v.push_back(std::move(f));
    }
    std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.name < b.name; });
    return v;
  }();
  return frames;
}

const CorpusFrame& corpus_frame(const std::string& name) {
  for (const auto& f : corpus())
    if (f.name == name) return f;
  throw std::runtime_error("no corpus frame " + name);
}

std::string json_difference(const boost::json::value& a, const boost::json::value& e,
                            const std::string& path) {
  using boost::json::kind;
  const bool a_num = a.is_number(), e_num = e.is_number();
  if (a_num && e_num) {
    const double x = a.to_number<double>(), y = e.to_number<double>();
    return std::fabs(x - y) <= 1e-6 ? ""
                                    : path + ": " + std::to_string(x) + " != " + std::to_string(y);
  }
  if (a.kind() != e.kind() && !(a_num && e_num))
    return path + ": kind differs (" + boost::json::serialize(a).substr(0, 80) + " vs " +
           boost::json::serialize(e).substr(0, 80) + ")";
  if (a.is_object()) {
    const auto& ao = a.get_object();
    const auto& eo = e.get_object();
    for (const auto& kv : eo)
      if (!ao.contains(kv.key())) return path + "." + std::string(kv.key()) + ": missing";
    for (const auto& kv : ao) {
      if (!eo.contains(kv.key())) return path + "." + std::string(kv.key()) + ": unexpected";
      auto d = json_difference(kv.value(), eo.at(kv.key()), path + "." + std::string(kv.key()));
      if (!d.empty()) return d;
    }
    return "";
  }
  if (a.is_array()) {
    const auto& aa = a.get_array();
    const auto& ea = e.get_array();
    if (aa.size() != ea.size())
      return path + ": " + std::to_string(aa.size()) + " elements, expected " +
             std::to_string(ea.size());
    for (std::size_t i = 0; i < aa.size(); ++i) {
      auto d = json_difference(aa[i], ea[i], path + "[" + std::to_string(i) + "]");
      if (!d.empty()) return d;
    }
    return "";
  }
  return a == e ? ""
                : path + ": " + boost::json::serialize(a).substr(0, 80) +
                      " != " + boost::json::serialize(e).substr(0, 80);
}

DecodedFrame decode_ok(ByteView frame, const DecodeOptions& options) {
  auto r = decode_frame(frame, options);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
  return r ? *r : DecodedFrame{};
}

}  // namespace lantian::protocol::testing
