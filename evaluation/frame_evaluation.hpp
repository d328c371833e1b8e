#pragma once
// One stored frame through the rule engine: the single path live evaluation (from the session's
// decoding) and archive evaluation (read back and decoded again) share.

#include <optional>
#include <string>

#include "evaluation/violation_store.hpp"
#include "protocol/message.hpp"
#include "protocol/signature.hpp"
#include "rules/engine.hpp"
#include "storage/frame_record.hpp"
#include "storage/keys.hpp"

namespace lantian::evaluation {

// How violations (and the API) refer to a stored frame: its archive key in hex.
[[nodiscard]] std::string frame_ref(const std::string& frame_key);

// Whether the rules read anything in `frame` (reports and removal alarms); other frames are
// skipped by evaluation and never make a vehicle's later frames look late.
[[nodiscard]] bool carries_evidence(const protocol::DecodedFrame& frame);

// An archived frame decoded with the profile it was received under, when the rules read anything
// in it.
[[nodiscard]] std::optional<protocol::DecodedFrame> evidence_of(const storage::FrameRecord& record);

// Evaluates one frame — decoded with the profile it was received under — for `vehicle` (nullptr: a
// VIN not in the registry, checked only for R12's VIN check). `key` is its archive key.
void fold_decoded(const rules::Engine& engine, const rules::VehicleRecord* vehicle,
                  const rules::ZoneIndex& zones, const storage::FrameKey& key,
                  const protocol::DecodedFrame& decoded, protocol::SignatureCheck signature,
                  bool rejected, std::int64_t receive_unix_ms, rules::VehicleState& state,
                  ViolationSet& out);

// fold_decoded for an archived frame (skipped when it carries no evidence).
void fold_frame(const rules::Engine& engine, const rules::VehicleRecord* vehicle,
                const rules::ZoneIndex& zones, const storage::FrameKey& key,
                const storage::FrameRecord& record, rules::VehicleState& state, ViolationSet& out);

}  // namespace lantian::evaluation
