#include "forwarding/forward_store.hpp"

#include <boost/json.hpp>

#include "protocol/json.hpp"
#include "protocol/message.hpp"

namespace lantian::forwarding {
namespace json = boost::json;
using storage::Family;

namespace {

std::string sequence_bytes(std::uint64_t sequence) {
  std::string bytes;
  storage::append_u64(bytes, sequence);
  return bytes;
}
std::string cursor_key(const std::string& upstream) { return "c|" + upstream; }
std::string set_aside_prefix(const std::string& upstream) { return "x|" + upstream + "|"; }

}  // namespace

std::optional<std::uint64_t> ForwardStore::cursor(const std::string& upstream) const {
  const auto value = store_.get(Family::forwarding, cursor_key(upstream));
  if (!value || value->size() != 8) return std::nullopt;
  return storage::read_u64(*value);
}

std::vector<LogEntry> ForwardStore::read(std::uint64_t after, std::uint64_t below,
                                         std::size_t limit) const {
  std::vector<LogEntry> entries;
  if (after == std::numeric_limits<std::uint64_t>::max() || limit == 0) return entries;
  store_.for_each(
      Family::forward_log, "",
      [&](const std::string& key, const std::string& value) {
        if (key.size() != 8) return true;
        const auto sequence = storage::read_u64(key);
        if (sequence >= below) return false;
        entries.push_back({sequence, value});
        return entries.size() < limit;
      },
      sequence_bytes(after + 1));
  return entries;
}

std::uint64_t ForwardStore::count(std::uint64_t after, std::uint64_t below) const {
  std::uint64_t n = 0;
  if (after == std::numeric_limits<std::uint64_t>::max()) return n;
  store_.for_each(
      Family::forward_log, "",
      [&](const std::string& key, const std::string&) {
        if (key.size() == 8 && storage::read_u64(key) >= below) return false;
        ++n;
        return true;
      },
      sequence_bytes(after + 1));
  return n;
}

bool ForwardStore::save(const std::string& upstream, std::uint64_t cursor,
                        const std::vector<SetAside>& set_aside, bool synced,
                        std::string& error) {
  std::vector<storage::RecordEdit> edits;
  edits.reserve(set_aside.size() + 1);
  for (const auto& s : set_aside) {
    const json::object record{{"sequence", s.sequence},
                              {"frame_key", protocol::to_hex(protocol::ByteView(
                                                reinterpret_cast<const std::uint8_t*>(s.frame_key.data()),
                                                s.frame_key.size()))},
                              {"vin", s.vin},
                              {"reason", s.reason},
                              {"at_unix_ms", s.at_unix_ms}};
    edits.push_back({Family::forwarding, set_aside_prefix(upstream) + sequence_bytes(s.sequence),
                     json::serialize(record)});
  }
  edits.push_back({Family::forwarding, cursor_key(upstream), sequence_bytes(cursor)});
  return store_.apply(edits, synced ? storage::Durability::synced : storage::Durability::unsynced,
                      error);
}

std::vector<SetAside> ForwardStore::set_aside(const std::string& upstream,
                                              std::size_t limit) const {
  std::vector<SetAside> found;
  store_.for_each(Family::forwarding, set_aside_prefix(upstream),
                  [&](const std::string&, const std::string& value) {
                    boost::system::error_code ec;
                    const auto parsed = json::parse(value, ec);
                    if (ec || !parsed.is_object()) return true;
                    const auto& o = parsed.as_object();
                    SetAside s;
                    if (const auto* v = o.if_contains("sequence"); v && v->is_uint64())
                      s.sequence = v->as_uint64();
                    else if (v && v->is_int64())
                      s.sequence = static_cast<std::uint64_t>(v->as_int64());
                    if (const auto* v = o.if_contains("frame_key"); v && v->is_string())
                      s.frame_key = std::string(v->as_string());
                    if (const auto* v = o.if_contains("vin"); v && v->is_string())
                      s.vin = std::string(v->as_string());
                    if (const auto* v = o.if_contains("reason"); v && v->is_string())
                      s.reason = std::string(v->as_string());
                    if (const auto* v = o.if_contains("at_unix_ms"); v && v->is_int64())
                      s.at_unix_ms = v->as_int64();
                    found.push_back(std::move(s));
                    return found.size() < limit;
                  });
  return found;
}

bool ForwardStore::prune(std::uint64_t through, std::string& error) {
  if (through == std::numeric_limits<std::uint64_t>::max()) return true;
  return store_.delete_range(Family::forward_log, sequence_bytes(0), sequence_bytes(through + 1),
                             error);
}

}  // namespace lantian::forwarding
