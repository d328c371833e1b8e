#include "server/api/audit_log.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>

#include <boost/json.hpp>

#include "protocol/beijing_time.hpp"

namespace lantian::server::api {
namespace json = boost::json;
namespace {

std::string key_of(std::int64_t unix_ms, std::uint64_t sequence) {
  std::string key;
  storage::append_u64(key, static_cast<std::uint64_t>(unix_ms));
  storage::append_u64(key, sequence);
  return key;
}

// The value of each query parameter that may carry a secret (a token passed as ?access_token=,
// which the API refuses) replaced by "REDACTED": an audit log must not keep credentials.
std::string redacted(std::string_view target) {
  static constexpr std::string_view secret_keys[] = {"access_token", "token", "secret",
                                                     "password", "key"};
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  std::string_view query = target.substr(q + 1);
  bool first = true;
  while (true) {
    const auto amp = query.find('&');
    const auto param = query.substr(0, amp);
    const auto eq = param.find('=');
    const auto key = param.substr(0, eq);
    out += first ? "" : "&";
    first = false;
    const bool secret = std::any_of(std::begin(secret_keys), std::end(secret_keys),
                                    [&](std::string_view k) {
                                      return key.size() == k.size() &&
                                             std::equal(key.begin(), key.end(), k.begin(),
                                                        [](char a, char b) {
                                                          return std::tolower(a) == b;
                                                        });
                                    });
    if (secret && eq != std::string_view::npos)
      out += std::string(key) + "=REDACTED";
    else
      out += param;
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return out;
}

// The target, redacted, with every byte outside printable ASCII percent-encoded. The HTTP parser
// lets bytes such as 0xFF through in a target; stored raw they made the entry invalid JSON, which
// read() skips, so a client could hide a request from the log with one such byte.
std::string printable_target(std::string_view raw_target) {
  static constexpr char digits[] = "0123456789ABCDEF";
  const auto target = redacted(raw_target);
  std::string out;
  out.reserve(target.size());
  for (const char ch : target) {
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7F) {
      out += ch;
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

}  // namespace

AuditLog::AuditLog(storage::Store& store) : store_(store), sequence_(0) {
  // Continue after the newest entry's sequence, so keys stay unique across restarts even when
  // the clock steps back.
  std::uint64_t last = 0;
  store_.for_each(storage::Family::audit, "", [&](const std::string& key, const std::string&) {
    if (key.size() == 16) last = std::max(last, storage::read_u64(std::string_view(key).substr(8)));
    return true;
  });
  sequence_ = last + 1;
}

bool AnonymousAuditSampler::admit(const std::string& peer,
                                  std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (now - window_start_ >= std::chrono::minutes(1)) {
    window_start_ = now;
    logged_.clear();
  }
  auto it = logged_.find(peer);
  if (it == logged_.end() && logged_.size() < max_addresses_)
    it = logged_.emplace(peer, 0).first;
  if (it != logged_.end() && it->second < per_minute_) {
    ++it->second;
    return true;
  }
  const auto& key = it != logged_.end() || unlogged_.count(peer) ? peer : std::string("*");
  ++unlogged_[key];
  return false;
}

std::vector<std::pair<std::string, std::uint64_t>> AnonymousAuditSampler::take_unlogged() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::uint64_t>> out(unlogged_.begin(), unlogged_.end());
  unlogged_.clear();
  return out;
}

bool AuditLog::append(const AuditEntry& e, std::string& error) {
  if (const auto reserve = store_.min_free_bytes(); reserve > 0) {
    const auto needed = e.token_id.empty() ? 2 * reserve : reserve;
    if (store_.free_bytes() < needed) {
      error = "the disk is within the archive's free-space reserve";
      return false;
    }
  }
  json::object o{
      {"time", protocol::BeijingTime::from_unix_seconds(e.unix_ms / 1000).iso8601().value_or("")},
      {"unix_ms", e.unix_ms},
      {"token_id", e.token_id.empty() ? json::value(nullptr) : json::value(e.token_id)},
      {"role", e.role.empty() ? json::value(nullptr) : json::value(e.role)},
      {"peer", e.peer},
      {"method", e.method},
      {"target", printable_target(e.target)},
      {"status", e.status},
      {"records", e.records},
      {"duration_us", e.duration_us}};
  if (e.unlogged > 0) o["unlogged"] = e.unlogged;
  if (!e.change.empty()) o["change"] = e.change;
  return store_.apply(
      {{storage::Family::audit, key_of(e.unix_ms, sequence_++), json::serialize(o)}},
      storage::Durability::synced, error);
}

bool AuditLog::trim(std::int64_t before_unix_ms, std::string& error) {
  if (before_unix_ms <= 0) return true;
  return store_.delete_range(storage::Family::audit, key_of(0, 0), key_of(before_unix_ms, 0),
                             error);
}

std::vector<json::object> AuditLog::read(const Query& q, std::string& next_cursor) const {
  std::vector<json::object> out;
  next_cursor.clear();
  std::string start = key_of(q.from_unix_ms, 0);
  std::string after;
  if (q.cursor.size() == 32) {
    // Unsigned, as key_of writes the time: any 16 hex digits convert without throwing.
    after = key_of(static_cast<std::int64_t>(std::stoull(q.cursor.substr(0, 16), nullptr, 16)),
                   std::stoull(q.cursor.substr(16), nullptr, 16));
    start = std::max(start, after);
  }
  std::string last;
  store_.for_each(
      storage::Family::audit, "",
      [&](const std::string& key, const std::string& value) {
        if (key.size() != 16 || (!after.empty() && key <= after)) return true;
        if (static_cast<std::int64_t>(storage::read_u64(key)) > q.to_unix_ms) return false;
        boost::system::error_code ec;
        auto v = json::parse(value, ec);
        if (ec || !v.is_object()) return true;
        const auto* id = v.as_object().if_contains("token_id");
        if (!q.token_id.empty() && (!id || !id->is_string() || id->as_string() != q.token_id))
          return true;
        out.push_back(std::move(v.as_object()));
        last = key;
        return out.size() < q.limit;
      },
      start);
  if (out.size() == q.limit) {
    char buffer[33];
    std::snprintf(
        buffer, sizeof buffer, "%016llx%016llx",
        static_cast<unsigned long long>(storage::read_u64(last)),
        static_cast<unsigned long long>(storage::read_u64(std::string_view(last).substr(8))));
    next_cursor = buffer;
  }
  return out;
}

}  // namespace lantian::server::api
