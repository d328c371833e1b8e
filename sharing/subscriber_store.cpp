#include "sharing/subscriber_store.hpp"

#include <boost/json.hpp>

namespace lantian::sharing {
namespace json = boost::json;
using storage::Family;

namespace {
std::string subscriber_key(const std::string& id) { return "s|" + id; }
std::string cursor_key(const std::string& id) { return "c|" + id; }
std::string sequence_bytes(std::uint64_t sequence) {
  std::string bytes;
  storage::append_u64(bytes, sequence);
  return bytes;
}
std::string text(const json::object& o, const char* field) {
  const auto* v = o.if_contains(field);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
std::set<std::string> names(const json::object& o, const char* field) {
  std::set<std::string> out;
  if (const auto* v = o.if_contains(field); v && v->is_array())
    for (const auto& x : v->as_array())
      if (x.is_string()) out.emplace(x.as_string());
  return out;
}
json::array array_of(const std::set<std::string>& names) {
  json::array a;
  for (const auto& n : names) a.emplace_back(n);
  return a;
}
}  // namespace

std::optional<int> severity_rank(std::string_view severity) {
  if (severity == "low") return 0;
  if (severity == "medium") return 1;
  if (severity == "high") return 2;
  return std::nullopt;
}

json::object to_json(const Subscriber& s, bool with_secret) {
  json::object o{{"id", s.id},
                 {"name", s.name},
                 {"url", s.url},
                 {"cities", array_of(s.cities)},
                 {"rules", array_of(s.rules)},
                 {"min_severity", s.min_severity},
                 {"created_unix_ms", s.created_unix_ms},
                 {"disabled", s.disabled}};
  if (with_secret) o["secret"] = s.secret;
  return o;
}

std::optional<Subscriber> subscriber_from_json(std::string_view text_value) {
  boost::system::error_code ec;
  const auto parsed = json::parse(text_value, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const auto& o = parsed.as_object();
  Subscriber s;
  s.id = text(o, "id");
  s.name = text(o, "name");
  s.url = text(o, "url");
  s.secret = text(o, "secret");
  s.cities = names(o, "cities");
  s.rules = names(o, "rules");
  s.min_severity = text(o, "min_severity");
  if (const auto* v = o.if_contains("created_unix_ms"); v && v->is_int64())
    s.created_unix_ms = v->as_int64();
  if (const auto* v = o.if_contains("disabled"); v && v->is_bool()) s.disabled = v->as_bool();
  if (s.id.empty() || s.url.empty() || !severity_rank(s.min_severity)) return std::nullopt;
  return s;
}

bool in_jurisdiction(const Subscriber& s, const json::object& violation) {
  if (!s.cities.empty() && !s.cities.count(text(violation, "city"))) return false;
  if (!s.rules.empty() && !s.rules.count(text(violation, "rule"))) return false;
  const auto rank = severity_rank(text(violation, "severity"));
  return rank && *rank >= severity_rank(s.min_severity).value_or(0);
}

std::vector<Subscriber> SubscriberStore::list() const {
  std::vector<Subscriber> out;
  store_.for_each(Family::subscribers, "s|", [&](const std::string&, const std::string& value) {
    if (auto s = subscriber_from_json(value)) out.push_back(std::move(*s));
    return true;
  });
  return out;
}

std::optional<Subscriber> SubscriberStore::get(const std::string& id) const {
  const auto value = store_.get(Family::subscribers, subscriber_key(id));
  return value ? subscriber_from_json(*value) : std::nullopt;
}

bool SubscriberStore::put(const Subscriber& s, std::optional<std::uint64_t> cursor,
                          std::string& error) {
  std::vector<storage::RecordEdit> edits{
      {Family::subscribers, subscriber_key(s.id), json::serialize(to_json(s, true))}};
  if (cursor) edits.push_back({Family::subscribers, cursor_key(s.id), sequence_bytes(*cursor)});
  return store_.apply(edits, storage::Durability::synced, error);
}

std::optional<std::uint64_t> SubscriberStore::cursor(const std::string& id) const {
  const auto value = store_.get(Family::subscribers, cursor_key(id));
  if (!value || value->size() != 8) return std::nullopt;
  return storage::read_u64(*value);
}

bool SubscriberStore::save_cursor(const std::string& id, std::uint64_t cursor,
                                  std::string& error) {
  return store_.apply({{Family::subscribers, cursor_key(id), sequence_bytes(cursor)}},
                      storage::Durability::unsynced, error);
}

std::uint64_t SubscriberStore::count_after(std::uint64_t after, std::uint64_t cap) const {
  std::uint64_t n = 0;
  store_.for_each(
      Family::violation_changes, "",
      [&](const std::string&, const std::string&) { return ++n < cap; },
      sequence_bytes(after + 1));
  return n;
}

std::vector<Change> SubscriberStore::changes_after(std::uint64_t after, std::size_t limit) const {
  std::vector<Change> out;
  store_.for_each(
      Family::violation_changes, "",
      [&](const std::string& key, const std::string& value) {
        if (key.size() != 8) return true;
        Change c;
        c.sequence = storage::read_u64(key);
        c.body = value;
        boost::system::error_code ec;
        auto parsed = json::parse(value, ec);
        if (!ec && parsed.is_object()) {
          auto& o = parsed.as_object();
          c.event = text(o, "event");
          c.id = text(o, "id");
          if (auto* v = o.if_contains("violation"); v && v->is_object())
            c.violation = std::move(v->as_object());
        }
        out.push_back(std::move(c));
        return out.size() < limit;
      },
      sequence_bytes(after + 1));
  return out;
}

}  // namespace lantian::sharing
