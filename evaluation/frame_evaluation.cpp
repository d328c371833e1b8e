#include "evaluation/frame_evaluation.hpp"

#include <variant>

#include "protocol/decode.hpp"
#include "protocol/json.hpp"

namespace lantian::evaluation {

std::string frame_ref(const std::string& frame_key) {
  return protocol::to_hex(protocol::ByteView(
      reinterpret_cast<const std::uint8_t*>(frame_key.data()), frame_key.size()));
}

bool carries_evidence(const protocol::DecodedFrame& frame) {
  return std::holds_alternative<protocol::ReportBody>(frame.message.body) ||
         std::holds_alternative<protocol::RemovalAlarmBody>(frame.message.body);
}

std::optional<protocol::DecodedFrame> evidence_of(const storage::FrameRecord& record) {
  protocol::DecodeOptions options;
  options.profile = record.received.profile;
  auto decoded = protocol::decode_frame(record.raw, options);
  if (!decoded || !carries_evidence(*decoded)) return std::nullopt;
  return std::move(*decoded);
}

void fold_decoded(const rules::Engine& engine, const rules::VehicleRecord* vehicle,
                  const rules::ZoneIndex& zones, const storage::FrameKey& key,
                  const protocol::DecodedFrame& decoded, protocol::SignatureCheck signature,
                  bool rejected, std::int64_t receive_unix_ms, rules::VehicleState& state,
                  ViolationSet& out) {
  const std::string ref =
      frame_ref(storage::frame_key(key.vin, key.collection_unix_s, key.sequence));
  if (vehicle)
    if (auto v = engine.signature_violation(*vehicle, signature, key.collection_unix_s, ref))
      out.emplace(v->id, std::move(*v));  // the first frame of the day stays the evidence
  if (rejected) return;                   // evidence of a forgery only: its data is not trusted
  for (auto& sample : rules::samples_of(decoded, ref)) {
    sample.received_unix_s = receive_unix_ms / 1000;  // as the server saw it
    auto raised = vehicle ? engine.step(state, vehicle, sample, zones)
                          : engine.step_unregistered(state, protocol::as_text(key.vin), sample, zones);
    for (auto& v : raised) out.insert_or_assign(v.id, std::move(v));
  }
}

void fold_frame(const rules::Engine& engine, const rules::VehicleRecord* vehicle,
                const rules::ZoneIndex& zones, const storage::FrameKey& key,
                const storage::FrameRecord& record, rules::VehicleState& state, ViolationSet& out) {
  const auto decoded = evidence_of(record);
  if (!decoded) return;
  fold_decoded(engine, vehicle, zones, key, *decoded, record.received.signature,
               record.received.rejected, record.received.receive_unix_ms, state, out);
}

}  // namespace lantian::evaluation
