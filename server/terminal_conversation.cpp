#include "server/terminal_conversation.hpp"

#include <spdlog/spdlog.h>

#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/json.hpp"
#include "protocol/platform_link.hpp"
#include "server/clock.hpp"

namespace lantian::server {
namespace {
protocol::BeijingTime platform_time() {
  return protocol::BeijingTime::from_unix_seconds(now_unix_ms() / 1000);
}
// A VIN for the log: as text when it is a VIN's alphabet, else as hex — a VIN holding a newline
// or an escape sequence must not forge log lines or reach an operator's terminal.
std::string text_of(const protocol::Vin& vin) {
  if (protocol::is_vin_alphabet(vin)) return std::string(protocol::as_text(vin));
  return "hex:" + protocol::to_hex(protocol::ByteView(vin.data(), vin.size()));
}
bool is_report(protocol::CommandKind kind) {
  return kind == protocol::CommandKind::realtime || kind == protocol::CommandKind::resend;
}
// Text from a lower platform (its user name) for the log: printable ASCII, else hex.
std::string printable_or_hex(std::string_view text) {
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return protocol::printable_ascii(static_cast<std::uint8_t>(c)); }))
    return std::string(text);
  return "hex:" + protocol::to_hex(protocol::ByteView(
                      reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}
// Compares secrets in a time that does not depend on where they differ.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char differ = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    differ |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return differ == 0;
}
TerminalConversation::Received unstored_reply(protocol::Bytes reply,
                                              std::chrono::steady_clock::time_point arrived) {
  TerminalConversation::Received r;
  r.reply = std::move(reply);
  r.arrived = arrived;
  r.stored_with_write = false;
  return r;
}
}  // namespace

TerminalConversation::TerminalConversation(ConversationHost& host, const Config& config,
                                           ServerMetrics& metrics, const ListenerConfig& listener,
                                           ConnectionInfo connection)
    : host_(host),
      config_(config),
      metrics_(metrics),
      listener_(listener),
      connection_(std::move(connection)),
      framer_({.max_data_length = config.max_data_length, .read_chunk = 4096}) {}

namespace {
// The `lantian_decode_errors_total` label of a framer event that drops bytes.
std::string framer_event_label(protocol::FramerEvent::Kind kind) {
  switch (kind) {
    case protocol::FramerEvent::Kind::garbage:
      return "garbage";
    case protocol::FramerEvent::Kind::bad_check:
      return "bad_check";
    case protocol::FramerEvent::Kind::false_start:
      return "false_start";
    case protocol::FramerEvent::Kind::oversized:
      return "oversized";
    case protocol::FramerEvent::Kind::need_more:
    case protocol::FramerEvent::Kind::frame:
      break;
  }
  return "none";  // drops nothing
}
}  // namespace

CloseReason TerminalConversation::take_frames(std::vector<Received>& received,
                                              std::vector<storage::FrameWrite>& writes) {
  for (;;) {
    const auto e = framer_.next();
    switch (e.kind) {
      case protocol::FramerEvent::Kind::need_more:
        return CloseReason::none;
      case protocol::FramerEvent::Kind::garbage:
      case protocol::FramerEvent::Kind::bad_check:
      case protocol::FramerEvent::Kind::false_start:
        metrics_.decode_errors.with(framer_event_label(e.kind)).inc();
        if (config_.close_on_garbage) return CloseReason::garbage;
        // Resynchronising costs a scan per byte: a connection that sends nothing but garbage
        // would hold a thread's attention for as long as it likes.
        garbage_bytes_ += e.skipped;
        if (garbage_bytes_ > config_.max_garbage_bytes) return CloseReason::garbage_flood;
        continue;
      case protocol::FramerEvent::Kind::oversized:
        metrics_.decode_errors.with(framer_event_label(e.kind)).inc();
        return CloseReason::oversized_frame;
      case protocol::FramerEvent::Kind::frame: {
        garbage_bytes_ = 0;
        const bool was_logged_in = logged_in();
        if (const auto reason = take_frame(e.frame, received, writes); reason != CloseReason::none)
          return reason;
        // Only a logged-in conversation (a terminal's, or a platform link's) earns more time:
        // frames allowed before login (time sync, activation) must not keep a connection open
        // that never logs in.
        if (was_logged_in || logged_in()) last_frame_at_ = std::chrono::steady_clock::now();
        continue;
      }
    }
  }
}

CloseReason TerminalConversation::take_frame(protocol::ByteView raw, std::vector<Received>& received,
                                             std::vector<storage::FrameWrite>& writes) {
  const auto arrived = std::chrono::steady_clock::now();
  // The framer has checked the BCC: it is not computed again.
  protocol::DecodedFrame decoded;
  auto profile = listener_.profile ? listener_.profile : registry_profile_;
  if (platform_link_ && !listener_.profile) profile = registered_profile_of_platform_frame(raw);
  if (protocol::decode_frame_into(raw, {.profile = profile}, decoded, protocol::CheckByte::verified))
    return CloseReason::undecodable_frame;  // cannot happen for framer output
  const auto& header = decoded.message.header;
  const auto kind = decoded.command_kind();
  metrics_.frames
      .with(std::string(to_string(kind)) + "/" +
            (decoded.profile ? std::string(to_string(*decoded.profile)) : "unknown"))
      .inc();
  for (auto issue : decoded.issues)
    metrics_.decode_errors.with(std::string(to_string(issue))).inc();
  for (auto variant : decoded.variants)
    metrics_.decode_variants.with(std::string(to_string(variant))).inc();

  if (!logged_in_ && !platform_link_ && header.variant == protocol::HeaderVariant::platform &&
      protocol::is_platform_request(raw, config_.platform_link.login))
    return platform_log_in(raw, header, arrived, received);
  if (platform_link_) {
    // A lower platform's link: its frames carry the VINs of its terminals, each its own.
    const bool logout = protocol::is_platform_request(raw, config_.platform_link.logout);
    if (logout || protocol::is_platform_request(raw, config_.platform_link.login)) {
      received.push_back(unstored_reply(
          protocol::make_platform_ack(header, protocol::ack_flag::success, platform_time()),
          arrived));
      if (!logout) return CloseReason::none;
      spdlog::info("event=platform_logout conn={} peer={} user={}", connection_.id,
                   connection_.peer, platform_user_);
      return CloseReason::platform_logout;
    }
    if (!protocol::is_vin_alphabet(header.vin)) {
      spdlog::warn("event=invalid_vin conn={} peer={} user={} vin={}", connection_.id,
                   connection_.peer, platform_user_, text_of(header.vin));
      metrics_.connections_rejected.with("invalid_vin").inc();
      return CloseReason::invalid_vin;
    }
  } else if (!logged_in_) {
    const bool allowed_before_login =
        kind == protocol::CommandKind::activation || kind == protocol::CommandKind::time_sync;
    if (kind == protocol::CommandKind::login) {
      if (const auto reason = log_in(header.vin); reason != CloseReason::none) return reason;
    } else if (!allowed_before_login) {
      metrics_.connections_rejected.with("no_login").inc();
      if (config_.login_policy == LoginPolicy::strict) return CloseReason::no_login;
      if (const auto reason = log_in(header.vin); reason != CloseReason::none) return reason;
    }
  } else if (header.vin != vin_) {
    spdlog::warn("event=vin_mismatch conn={} peer={} vin={} frame_vin={}", connection_.id,
                 connection_.peer, text_of(vin_), text_of(header.vin));
    metrics_.connections_rejected.with("vin_mismatch").inc();
    return CloseReason::vin_mismatch;
  }
  if (!listener_.profile && decoded.profile == protocol::Profile::hj1239)
    known_profile_ = protocol::Profile::hj1239;
  if (!listener_.profile && decoded.profile == protocol::Profile::gb17691 && is_report(kind))
    known_profile_ = protocol::Profile::gb17691;

  const std::int64_t received_ms = now_unix_ms();
  storage::ReceiveInfo info{received_ms, connection_.id, listener_.url, connection_.peer,
                            decoded.profile};
  protocol::Bytes reply;
  if (kind == protocol::CommandKind::activation && !platform_link_) {
    if (const auto reason = handle_activation(decoded, raw, reply); reason != CloseReason::none)
      return reason;
  } else {
    reply = reply_for(decoded);
  }
  if (is_report(kind) && platform_link_) {
    // Forwarded by a platform that checked it: kept as it came, its signature for later checks.
    info.signature = protocol::is_signed_kind(decoded) ? protocol::SignatureCheck::unverified
                                                       : protocol::SignatureCheck::not_signed;
  } else if (is_report(kind)) {
    info.signature = check_signature(decoded, raw);
    if (protocol::is_failure(info.signature) && config_.signature_policy == SignaturePolicy::reject) {
      // Kept as evidence of the attempt, not acknowledged: a terminal with a valid key resends.
      info.rejected = true;
      metrics_.frames_rejected.with(std::string(to_string(info.signature))).inc();
      reply = header.variant == protocol::HeaderVariant::platform &&
                      header.ack_flag == protocol::ack_flag::command
                  ? protocol::make_platform_ack(header, protocol::ack_flag::error, platform_time())
                  : protocol::Bytes{};
    }
  }
  const auto signature = info.signature;
  const bool rejected = info.rejected;
  writes.push_back(storage::make_frame_write(decoded, raw, std::move(info)));
  received.push_back(
      {std::move(reply), arrived,
       evaluation::StoredFrame{{}, std::move(decoded), signature, rejected, received_ms}});
  return CloseReason::none;
}

protocol::SignatureCheck TerminalConversation::check_signature(const protocol::DecodedFrame& frame,
                                                               protocol::ByteView raw) {
  using protocol::SignatureCheck;
  if (!key_looked_up_) {
    key_ = host_.terminal_key(protocol::as_text(vin_));
    key_looked_up_ = true;
  }
  const auto part = protocol::signed_part(frame, raw);
  SignatureCheck check = SignatureCheck::not_signed;
  if (!key_) {
    check = protocol::is_signed_kind(frame) ? SignatureCheck::unverified : SignatureCheck::not_signed;
  } else if (!part) {
    // A vehicle with a key signs every report: an unsigned one (whatever its layout) is a
    // downgrade, not a terminal that does not sign.
    check = SignatureCheck::missing;
  } else {
    check = key_->key.verify(part->message, part->signature, host_.sm2_user_id(*key_))
                ? SignatureCheck::valid
                : SignatureCheck::invalid;
  }
  metrics_.signatures.with(std::string(to_string(check))).inc();
  if (check == SignatureCheck::valid && !proven_) {
    proven_ = true;
    host_.identity_proven();
  }
  if (protocol::is_failure(check))
    spdlog::warn("event=signature_{} conn={} peer={} vin={}", to_string(check), connection_.id,
                 connection_.peer, text_of(vin_));
  return check;
}

CloseReason TerminalConversation::handle_activation(const protocol::DecodedFrame& frame,
                                                    protocol::ByteView raw,
                                                    protocol::Bytes& reply) {
  const auto& header = frame.message.header;
  const auto* body = std::get_if<protocol::ActivationBody>(&frame.message.body);
  const auto part = protocol::signed_part(frame, raw);
  if (activated_) {
    // A terminal activates once; each attempt costs a verification and a synced write.
    metrics_.activations.with("repeated").inc();
    return CloseReason::activation_repeated;
  }
  activated_ = true;
  if (connection_.certificate_cn && *connection_.certificate_cn != text_of(header.vin)) {
    // Before login too: a certificate binds the connection to one VIN, keys included.
    spdlog::warn("event=certificate_vin_mismatch conn={} peer={} vin={} certificate_cn={}",
                 connection_.id, connection_.peer, text_of(header.vin), *connection_.certificate_cn);
    metrics_.connections_rejected.with("certificate_vin_mismatch").inc();
    return CloseReason::certificate_vin_mismatch;
  }
  ActivationVerdict verdict;
  if (!body || !part)
    verdict = {protocol::ActivationReplyBody{0x02, 0x03}, "malformed"};
  else
    verdict = host_.activate(*body, header.vin, part->message, now_unix_ms());
  metrics_.activations.with(verdict.result).inc();
  spdlog::info("event=activation conn={} peer={} vin={} result={}", connection_.id,
               connection_.peer, text_of(header.vin), verdict.result);
  if (verdict.result == "activated" && logged_in_) {
    key_ = host_.terminal_key(protocol::as_text(vin_));
    key_looked_up_ = true;
  }
  reply = protocol::make_activation_reply(header, verdict.reply);
  return CloseReason::none;
}

CloseReason TerminalConversation::log_in(const protocol::Vin& vin) {
  if (!protocol::is_vin_alphabet(vin)) {
    // Not a vehicle's identity: nothing can be attributed to it, and its bytes are not stored.
    spdlog::warn("event=invalid_vin conn={} peer={} vin={}", connection_.id, connection_.peer,
                 text_of(vin));
    metrics_.connections_rejected.with("invalid_vin").inc();
    return CloseReason::invalid_vin;
  }
  if (connection_.certificate_cn && *connection_.certificate_cn != text_of(vin)) {
    spdlog::warn("event=certificate_vin_mismatch conn={} peer={} vin={} certificate_cn={}",
                 connection_.id, connection_.peer, text_of(vin), *connection_.certificate_cn);
    metrics_.connections_rejected.with("certificate_vin_mismatch").inc();
    return CloseReason::certificate_vin_mismatch;
  }
  if (const auto refused = host_.logged_in(vin, connection_.certificate_cn.has_value());
      refused != CloseReason::none) {
    spdlog::warn("event=login_refused conn={} peer={} vin={} reason={}", connection_.id,
                 connection_.peer, text_of(vin), to_string(refused));
    metrics_.connections_rejected.with(std::string(to_string(refused))).inc();
    return refused;
  }
  logged_in_ = true;
  vin_ = vin;
  key_looked_up_ = false;
  // Under `auto`, a profile the registry pins for this vehicle decides its frames (protocol.md
  // §3.4): a non-road terminal's frames cannot always be told from the others by their bytes.
  if (!listener_.profile) registry_profile_ = host_.registered_profile(protocol::as_text(vin));
  spdlog::info("event=login conn={} peer={} vin={}", connection_.id, connection_.peer, text_of(vin));
  return CloseReason::none;
}

CloseReason TerminalConversation::platform_log_in(protocol::ByteView raw,
                                                  const protocol::Header& header,
                                                  std::chrono::steady_clock::time_point arrived,
                                                  std::vector<Received>& received) {
  const auto login = protocol::parse_platform_login(raw);
  bool accepted = false;
  if (login)
    for (const auto& account : config_.platform_accounts)
    {
      // Both compared whatever the first says: the time taken does not tell which was wrong.
      const bool user = same_secret(account.user, login->user);
      const bool password = same_secret(account.password, login->password);
      accepted = accepted || (user && password);
    }
  const std::string user = login ? printable_or_hex(login->user) : "-";
  if (!accepted) {
    spdlog::warn("event=platform_login_refused conn={} peer={} user={} platform={}",
                 connection_.id, connection_.peer, user, text_of(header.vin));
    metrics_.connections_rejected.with("platform_login_refused").inc();
    received.push_back(unstored_reply(
        protocol::make_platform_ack(header, protocol::ack_flag::error, platform_time()), arrived));
    return CloseReason::platform_login_refused;
  }
  platform_link_ = true;
  platform_user_ = user;
  spdlog::info("event=platform_login conn={} peer={} user={} platform={}", connection_.id,
               connection_.peer, user, text_of(header.vin));
  received.push_back(unstored_reply(
      protocol::make_platform_ack(header, protocol::ack_flag::success, platform_time()), arrived));
  return CloseReason::none;
}

std::optional<protocol::Profile> TerminalConversation::registered_profile_of_platform_frame(
    protocol::ByteView raw) {
  // The platform variant's VIN follows the ack flag (a terminal-variant frame's is one earlier).
  if (raw.size() < protocol::frame_overhead) return std::nullopt;
  protocol::Vin vin{};
  const bool platform = raw[3] < 0x30;
  std::copy_n(raw.begin() + (platform ? 4 : 3), vin.size(), vin.begin());
  if (!protocol::is_vin_alphabet(vin)) return std::nullopt;
  return host_.registered_profile(protocol::as_text(vin));
}

protocol::Bytes TerminalConversation::reply_for(const protocol::DecodedFrame& f) const {
  const auto& h = f.message.header;
  const auto kind = f.command_kind();
  if (kind == protocol::CommandKind::time_sync &&
      std::holds_alternative<protocol::TimeSyncRequestBody>(f.message.body))
    return protocol::make_time_sync_reply(h, platform_time());
  if (h.variant == protocol::HeaderVariant::platform) {
    if (h.ack_flag != protocol::ack_flag::command) return {};
    return protocol::make_platform_ack(h, protocol::ack_flag::success, platform_time());
  }
  const bool answerable = kind == protocol::CommandKind::login || is_report(kind) ||
                          kind == protocol::CommandKind::logout ||
                          kind == protocol::CommandKind::removal_alarm;
  if (!answerable) return {};
  const auto profile =
      listener_.profile ? listener_.profile : registry_profile_ ? registry_profile_ : known_profile_;
  // Under `auto`, before the session's profile is known, a login is answered: an hj1239 terminal
  // waits for that answer before it sends data, and a gb17691 terminal ignores it.
  const bool answer = profile == protocol::Profile::hj1239 || config_.reply_gb17691 ||
                      (!profile && kind == protocol::CommandKind::login);
  return answer ? protocol::make_same_command_reply(h, platform_time()) : protocol::Bytes{};
}

}  // namespace lantian::server
