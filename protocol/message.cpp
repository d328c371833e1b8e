#include "protocol/message.hpp"

#include <algorithm>

#include "protocol/blocks.hpp"

namespace lantian::protocol {

std::string_view to_string(Issue issue) noexcept {
  switch (issue) {
    case Issue::bcc_mismatch:
      return "bcc_mismatch";
    case Issue::body_length:
      return "body_length";
    case Issue::truncated_block:
      return "truncated_block";
    case Issue::unparsed_tail:
      return "unparsed_tail";
    case Issue::ambiguous_layout:
      return "ambiguous_layout";
    case Issue::encrypted_unsupported:
      return "encrypted_unsupported";
    case Issue::malformed_tlv:
      return "malformed_tlv";
    case Issue::invalid_signature_block:
      return "invalid_signature_block";
  }
  return "unknown";
}

std::string_view to_string(Variant variant) noexcept {
  switch (variant) {
    case Variant::twc_32_byte:
      return "twc_32_byte";
    case Variant::cvn_binary:
      return "cvn_binary";
    case Variant::iupr_ascii_zeros:
      return "iupr_ascii_zeros";
    case Variant::invalid_time:
      return "invalid_time";
  }
  return "unknown";
}

bool DecodedFrame::has(Variant variant) const noexcept {
  return std::find(variants.begin(), variants.end(), variant) != variants.end();
}

bool DecodedFrame::has(Issue issue) const noexcept {
  return std::find(issues.begin(), issues.end(), issue) != issues.end();
}

CommandKind DecodedFrame::command_kind() const noexcept {
  return classify_command(message.header.command, profile.value_or(Profile::gb17691));
}

std::optional<std::array<std::uint16_t, 18>> ObdBlock::iupr() const noexcept {
  if (std::all_of(iupr_raw.begin(), iupr_raw.end(), [](std::uint8_t b) { return b == '0'; }))
    return std::nullopt;
  std::array<std::uint16_t, 18> counters{};
  for (std::size_t i = 0; i < counters.size(); ++i)
    counters[i] = load_be16(iupr_raw.data() + 2 * i);
  return counters;
}

namespace {
struct TypeNames {
  std::uint8_t type;
  std::string_view operator()(const ObdBlock&) const { return "obd"; }
  std::string_view operator()(const EcdBlock&) const { return "ecd"; }
  std::string_view operator()(const StreamBlock&) const { return "stream"; }
  std::string_view operator()(const MachineStreamBlock&) const { return "stream"; }
  std::string_view operator()(const CatalystBlock&) const {
    return type == block_type::twc_nox ? "twc_nox" : "twc";
  }
  std::string_view operator()(const HybridBlock&) const { return "hybrid"; }
  std::string_view operator()(const SupplementaryBlock&) const { return "supplementary"; }
  std::string_view operator()(const SupplementaryTlvBlock&) const { return "supplementary"; }
  std::string_view operator()(const SmokeBlock&) const { return "smoke"; }
  std::string_view operator()(const OpaqueBlock& o) const {
    return o.name.empty() ? std::string_view("opaque") : std::string_view(o.name);
  }
};
}  // namespace

std::string_view type_name(const Block& block) noexcept {
  return std::visit(TypeNames{block.type}, block.payload);
}

}  // namespace lantian::protocol
