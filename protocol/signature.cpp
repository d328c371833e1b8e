#include "protocol/signature.hpp"

#include <array>

namespace lantian::protocol {
namespace {
constexpr std::size_t activation_signed_size = 6 + 16 + 64 + 17;  // time · chip id · key · VIN

constexpr std::array<std::pair<SignatureCheck, std::string_view>, 5> names{{
    {SignatureCheck::not_signed, "not_signed"},
    {SignatureCheck::unverified, "unverified"},
    {SignatureCheck::valid, "valid"},
    {SignatureCheck::invalid, "invalid"},
    {SignatureCheck::missing, "missing"},
}};
}  // namespace

std::string_view to_string(SignatureCheck check) noexcept {
  for (const auto& [value, name] : names)
    if (value == check) return name;
  return "unknown";
}

std::optional<SignatureCheck> parse_signature_check(std::string_view text) noexcept {
  for (const auto& [value, name] : names)
    if (name == text) return value;
  return std::nullopt;
}

bool is_signed_kind(const DecodedFrame& frame) noexcept {
  if (std::holds_alternative<ActivationBody>(frame.message.body)) return true;
  const auto* report = std::get_if<ReportBody>(&frame.message.body);
  return report && report->layout == Profile::hj1239;
}

std::optional<SignedPart> signed_part(const DecodedFrame& frame, ByteView raw) noexcept {
  if (raw.size() < header_size + 1 || frame.data_length > raw.size() - header_size - 1)
    return std::nullopt;
  const ByteView unit = raw.subspan(header_size, frame.data_length);
  if (const auto* a = std::get_if<ActivationBody>(&frame.message.body)) {
    if (!a->signature.well_formed() || unit.size() < activation_signed_size) return std::nullopt;
    return SignedPart{unit.first(activation_signed_size), a->signature};
  }
  const auto* report = std::get_if<ReportBody>(&frame.message.body);
  if (!report || report->layout != Profile::hj1239 || !report->signature ||
      !report->signature->well_formed())
    return std::nullopt;
  // The decoder found the signature at the end of the data unit: R-len · R · S-len · S.
  const std::size_t signature_size = 2 + report->signature->r().size() + report->signature->s().size();
  if (signature_size > unit.size()) return std::nullopt;
  return SignedPart{unit.first(unit.size() - signature_size), *report->signature};
}

}  // namespace lantian::protocol
