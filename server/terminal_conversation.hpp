#pragma once
// What a terminal connection says and how the server answers it, without the socket: framing,
// login and the VIN every frame must carry, certificate CN checks, signature verification,
// activation, and the reply each frame gets once it is durable (docs/server.md, docs/security.md).
// The session (ingest_server.cpp) owns the transport and storage hand-off around it; the session
// fuzz harness (tests/fuzz/session_fuzz.cpp) drives it with arbitrary bytes.
//
// Not thread-safe: one conversation per connection, used by one thread at a time (the connection's
// strand, or a verifier thread while the session waits for it).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "evaluation/stored_frame_sink.hpp"
#include "protocol/framer.hpp"
#include "protocol/message.hpp"
#include "protocol/signature.hpp"
#include "server/close_reason.hpp"
#include "server/config.hpp"
#include "server/metrics.hpp"
#include "server/terminal_keys.hpp"
#include "storage/store.hpp"

namespace lantian::server {

// What a conversation needs from the server around it.
class ConversationHost {
 public:
  virtual ~ConversationHost() = default;
  // The profile the registry pins for `vin` (used on auto listeners), if any.
  [[nodiscard]] virtual std::optional<protocol::Profile> registered_profile(std::string_view vin) = 0;
  // The key `vin` signs with, if known (TerminalKeys::key_for).
  [[nodiscard]] virtual std::optional<TerminalKey> terminal_key(std::string_view vin) = 0;
  // The SM2 user ID for `key`'s signatures (TerminalKeys::user_id_for).
  [[nodiscard]] virtual std::string_view sm2_user_id(const TerminalKey& key) = 0;
  // Verifies and records an activation (TerminalKeys::activate).
  virtual ActivationVerdict activate(const protocol::ActivationBody& body,
                                     const protocol::Vin& header_vin, protocol::ByteView signed_bytes,
                                     std::int64_t now_unix_ms) = 0;
  // The terminal logs in as `vin` (`proven`: its verified client certificate names the VIN): the
  // host makes this connection the VIN's live one, or refuses the login — the VIN's login rate
  // is spent, its address holds too many logged-in connections, or a proven session holds the VIN
  // and this one is not proven. A refused login closes the connection; it is not stored.
  [[nodiscard]] virtual CloseReason logged_in(const protocol::Vin& vin, bool proven) = 0;
  // A report of this connection verified with the vehicle's key: the session has proved itself.
  virtual void identity_proven() = 0;
};

struct ConnectionInfo {
  std::uint64_t id = 0;
  std::string peer;                        // "203.0.113.7:51234"
  std::optional<std::string> certificate_cn;  // the verified client certificate's CN, if any
};

class TerminalConversation {
 public:
  // What a received frame needs once it is durable.
  struct Received {
    protocol::Bytes reply;  // empty: no reply
    std::chrono::steady_clock::time_point arrived;
    // What evaluation gets once the frame is stored (the session fills in its archive key).
    evaluation::StoredFrame stored;
    // False for the platform link's login and logout: answered, not stored (no write of theirs
    // is in `writes`).
    bool stored_with_write = true;
  };

  TerminalConversation(ConversationHost& host, const Config& config, ServerMetrics& metrics,
                       const ListenerConfig& listener, ConnectionInfo connection);

  // The conversation's framer: the session reads into framer().prepare() and commits.
  [[nodiscard]] protocol::Framer& framer() noexcept { return framer_; }

  // Takes every complete frame from the framer: for each, the archive write and the reply it gets
  // once durable (in the same order). Returns the reason to close the connection after them, or
  // CloseReason::none to go on. Frames after a closing reason are left in the framer, unread.
  [[nodiscard]] CloseReason take_frames(std::vector<Received>& received,
                                        std::vector<storage::FrameWrite>& writes);

  // Logged in as a terminal, or as a lower platform (platform_link()).
  [[nodiscard]] bool logged_in() const noexcept { return logged_in_ || platform_link_; }
  // A lower platform logged in (docs/forwarding.md): the connection carries the frames of many
  // vehicles, each with its own VIN, in the platform header variant.
  [[nodiscard]] bool platform_link() const noexcept { return platform_link_; }
  // Whether taking the next frames may verify signatures (a logged-in vehicle with a key, or one
  // whose key has not been looked up yet): the session then takes them off its I/O thread.
  [[nodiscard]] bool may_verify() const noexcept {
    return logged_in_ && (!key_looked_up_ || key_.has_value());
  }
  [[nodiscard]] const protocol::Vin& vin() const noexcept { return vin_; }
  [[nodiscard]] std::string vin_text() const {
    if (platform_link_) return "platform:" + platform_user_;
    return logged_in_ ? std::string(protocol::as_text(vin_)) : "-";
  }
  // When the connection opened or a frame (not garbage) was last taken since login: the idle and
  // first-frame deadlines count from here.
  [[nodiscard]] std::chrono::steady_clock::time_point last_frame_at() const noexcept {
    return last_frame_at_;
  }

 private:
  CloseReason take_frame(protocol::ByteView raw, std::vector<Received>& received,
                         std::vector<storage::FrameWrite>& writes);
  CloseReason log_in(const protocol::Vin& vin);
  // A platform login (protocol/platform_link.hpp): checked against config.platform_accounts.
  CloseReason platform_log_in(protocol::ByteView raw, const protocol::Header& header,
                              std::chrono::steady_clock::time_point arrived,
                              std::vector<Received>& received);
  std::optional<protocol::Profile> registered_profile_of_platform_frame(protocol::ByteView raw);
  // The verdict on a report's signature, with the vehicle's key.
  protocol::SignatureCheck check_signature(const protocol::DecodedFrame& frame,
                                           protocol::ByteView raw);
  CloseReason handle_activation(const protocol::DecodedFrame& frame, protocol::ByteView raw,
                                protocol::Bytes& reply);
  [[nodiscard]] protocol::Bytes reply_for(const protocol::DecodedFrame& frame) const;

  ConversationHost& host_;
  const Config& config_;
  ServerMetrics& metrics_;
  const ListenerConfig& listener_;
  const ConnectionInfo connection_;
  protocol::Framer framer_;
  bool logged_in_ = false;
  bool platform_link_ = false;
  std::string platform_user_;  // printable, for the log
  bool proven_ = false;  // a report verified with the vehicle's key (told to the host once)
  protocol::Vin vin_{};
  std::optional<protocol::Profile> known_profile_;
  std::optional<protocol::Profile> registry_profile_;  // auto listeners: pinned by the registry
  // The vehicle's key, looked up once per login (and after an activation).
  std::optional<TerminalKey> key_;
  bool key_looked_up_ = false;
  bool activated_ = false;  // one activation per connection
  std::uint64_t garbage_bytes_ = 0;  // dropped since the last frame
  std::chrono::steady_clock::time_point last_frame_at_ = std::chrono::steady_clock::now();
};

}  // namespace lantian::server
