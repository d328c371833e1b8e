// make_frame_write: what the archive keeps for one decoded frame.

#include <boost/json.hpp>

#include <algorithm>

#include "protocol/json.hpp"
#include "storage/frame_write.hpp"
#include "storage/store.hpp"

namespace lantian::storage {
namespace {
namespace json = boost::json;
using namespace protocol;

std::optional<std::int64_t> body_time(const Body& body) {
  return std::visit(
      [](const auto& b) -> std::optional<std::int64_t> {
        if constexpr (requires { b.time; })
          return b.time.to_unix_seconds();
        else
          return std::nullopt;
      },
      body);
}

// The newest position the frame carries, if any.
std::optional<std::pair<const Position*, BeijingTime>> last_position(const Body& body) {
  if (const auto* r = std::get_if<ReportBody>(&body)) {
    for (auto it = r->blocks.rbegin(); it != r->blocks.rend(); ++it) {
      const BeijingTime when = r->layout == Profile::hj1239 ? it->time : r->time;
      if (const auto* s = std::get_if<StreamBlock>(&it->payload))
        return std::pair{&s->position, when};
      if (const auto* c = std::get_if<CatalystBlock>(&it->payload))
        return std::pair{&c->position, when};
    }
    if (r->layout == Profile::nonroad) return std::pair{&r->position, r->time};
  }
  if (const auto* a = std::get_if<RemovalAlarmBody>(&body)) return std::pair{&a->position, a->time};
  return std::nullopt;
}

std::string iso_ms(std::int64_t unix_ms) {
  return BeijingTime::from_unix_seconds(unix_ms / 1000).iso8601().value_or("");
}
}  // namespace

FrameWrite make_frame_write(const DecodedFrame& frame, ByteView raw, ReceiveInfo received) {
  FrameWrite w;
  const Header& h = frame.message.header;
  w.vin = h.vin;
  const std::int64_t receive_s = received.receive_unix_ms / 1000;

  if (const auto* r = std::get_if<ReportBody>(&frame.message.body)) {
    w.collection_unix_s = r->time.to_unix_seconds().value_or(receive_s);
    // A report whose signature fails claims no idempotency identity, whatever the policy: a
    // forgery sent first would otherwise make the genuine report a duplicate.
    if (!protocol::is_failure(received.signature)) {
      FrameWrite::ReportIdentity identity;
      identity.blocks.reserve(r->blocks.size());
      for (const auto& b : r->blocks) {
        const BeijingTime& t = r->layout == Profile::hj1239 ? b.time : r->time;
        if (const auto s = t.to_unix_seconds()) identity.blocks.push_back({b.type, *s});
      }
      if (!identity.blocks.empty()) {
        std::sort(identity.blocks.begin(), identity.blocks.end());
        identity.blocks.erase(std::unique(identity.blocks.begin(), identity.blocks.end()),
                              identity.blocks.end());
        // A report without a valid time of its own is filed under its earliest block's.
        identity.report_unix_s = r->time.to_unix_seconds().value_or(
            std::min_element(identity.blocks.begin(), identity.blocks.end(),
                             [](const BlockId& a, const BlockId& b) {
                               return a.collection_unix_s < b.collection_unix_s;
                             })
                ->collection_unix_s);
        w.identity = std::move(identity);
      }
    }
  } else {
    w.collection_unix_s = body_time(frame.message.body).value_or(receive_s);
  }

  if (received.rejected) {
    // Kept as evidence only (a rejected report's signature failed, so it took no identity): it
    // must not become the vehicle's latest state.
    w.record = FrameRecord{std::move(received), Bytes(raw.begin(), raw.end())};
    return w;
  }

  // The JSON of the latest state is made by the writer, once per vehicle and batch
  // (latest_state_json): most frames are superseded in the same batch.
  w.latest = FrameWrite::Latest{h.command, frame.command_kind()};
  if (const auto fix = last_position(frame.message.body)) {
    const Position& p = *fix->first;
    if (const auto lon = p.lon_deg(), lat = p.lat_deg(); lon && lat)
      w.fix = FrameWrite::Fix{fix->second, p.fix_valid(), *lon, *lat};
  }
  w.record = FrameRecord{std::move(received), Bytes(raw.begin(), raw.end())};
  return w;
}

std::string latest_state_json(const FrameWrite& w) {
  if (!w.latest) return {};
  const ReceiveInfo& received = w.record.received;
  const json::object latest{
      {"vin", std::string(as_text(w.vin))},
      {"receive_time", iso_ms(received.receive_unix_ms)},
      {"receive_unix_ms", received.receive_unix_ms},
      {"command", w.latest->command},
      {"command_name", to_string(w.latest->kind)},
      {"collection_time",
       BeijingTime::from_unix_seconds(w.collection_unix_s).iso8601().value_or("")},
      {"profile",
       received.profile ? json::value(to_string(*received.profile)) : json::value(nullptr)},
      {"listener", received.listener},
      {"peer", received.peer},
      {"connection_id", received.connection_id},
      {"signature", to_string(received.signature)},
  };
  return json::serialize(latest);
}

std::string last_fix_json(const FrameWrite& w) {
  if (!w.fix) return {};
  const auto time = w.fix->time.iso8601();
  const json::object o{{"time", time ? json::value(*time) : json::value(nullptr)},
                       {"valid", w.fix->valid},
                       {"lon", w.fix->lon_deg},
                       {"lat", w.fix->lat_deg},
                       {"receive_unix_ms", w.record.received.receive_unix_ms}};
  return json::serialize(o);
}

}  // namespace lantian::storage
