// Fuzz target: the terminal session's state machine (server/terminal_conversation) without
// sockets — arbitrary bytes, in arbitrary reads, through framing, login, VIN checks, signature
// verification, activation and reply building, against an in-memory host.
//
// The first input byte chooses the listener profile, the login and signature policies, whether
// garbage closes, and the read size; the rest is what the terminal sends. Besides "no crash, no
// sanitizer report", it checks what keeps the server honest:
//   - every frame taken yields exactly one archive write and one (possibly empty) reply;
//   - the archive write holds the frame's bytes exactly as framed;
//   - a report whose signature fails takes no idempotency key; a rejected one does not become the
//     latest state either;
//   - a reply is always one well-formed frame;
//   - nothing is taken after the conversation asked to close.

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <map>

#include "protocol/framer.hpp"
#include "server/terminal_conversation.hpp"

using namespace lantian;
using namespace lantian::server;

namespace {
void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

// A key for every VIN that starts with 'L' (most corpus frames), so that verification runs: the
// public key of the simulator's key for "LFUZZ000000000001".
constexpr std::string_view fuzz_key_hex =
    "6D5588C43DE29DFF004873A2FBC3EA0C78F4EFD7A5B85DC51E2B7EB36FC2EE0E"
    "4205E3FACFA5A649B31F99A67840A3D0E169966D72390191D75A81EA113C00AF";

class FuzzHost final : public ConversationHost {
 public:
  std::optional<protocol::Profile> registered_profile(std::string_view vin) override {
    if (vin.starts_with("NR")) return protocol::Profile::nonroad;
    if (vin.starts_with("LH")) return protocol::Profile::hj1239;
    return std::nullopt;
  }
  std::optional<TerminalKey> terminal_key(std::string_view vin) override {
    if (const auto it = learned_.find(std::string(vin)); it != learned_.end()) return it->second;
    static const auto fixed = security::Sm2PublicKey::from_hex(fuzz_key_hex);
    require(fixed.has_value(), "the fuzz key is a valid SM2 point");
    if (vin.starts_with("L")) return TerminalKey{*fixed, "", TerminalKey::Source::registry};
    return std::nullopt;
  }
  std::string_view sm2_user_id(const TerminalKey&) override { return security::default_sm2_user_id; }
  ActivationVerdict activate(const protocol::ActivationBody& body, const protocol::Vin& header_vin,
                             protocol::ByteView signed_bytes, std::int64_t) override {
    if (body.vin != header_vin) return {{0x02, 0x02}, "vin_mismatch"};
    auto key = security::Sm2PublicKey::from_xy(body.public_key);
    if (!key) return {{0x02, 0x03}, "bad_key"};
    if (!key->verify(signed_bytes, body.signature, security::default_sm2_user_id))
      return {{0x02, 0x03}, "bad_signature"};
    learned_.emplace(std::string(protocol::as_text(header_vin)),
                     TerminalKey{*key, "", TerminalKey::Source::activation});
    return {{0x01, 0x00}, "activated"};
  }
  CloseReason logged_in(const protocol::Vin&, bool) override { return CloseReason::none; }
  void identity_proven() override {}

 private:
  std::map<std::string, TerminalKey> learned_;
};

bool one_frame(const protocol::Bytes& bytes) {
  protocol::Framer framer;
  // feed() takes at most one read at a time: a frame can be longer than that.
  for (std::size_t fed = 0; fed < bytes.size();) {
    const std::size_t n = framer.feed(protocol::ByteView(bytes).subspan(fed));
    if (n == 0) return false;
    fed += n;
  }
  const auto e = framer.next();
  return e.kind == protocol::FramerEvent::Kind::frame && e.frame.size() == bytes.size();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);  // the session logs every refusal
    return true;
  }();
  (void)quiet;
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const protocol::ByteView input(data + 1, size - 1);

  Config config;
  config.login_policy = (control & 4) ? LoginPolicy::lenient : LoginPolicy::strict;
  config.signature_policy = (control & 8) ? SignaturePolicy::reject : SignaturePolicy::record;
  config.close_on_garbage = (control & 16) != 0;
  // A lower platform may log in (tests/corpus has a login with these credentials).
  config.platform_accounts = {{"HA0001", "fuzz-secret"}};
  static constexpr std::optional<protocol::Profile> profiles[] = {
      std::nullopt, protocol::Profile::gb17691, protocol::Profile::hj1239, protocol::Profile::nonroad};
  ListenerConfig listener{"tcp://fuzz", false, "127.0.0.1", 7700, profiles[control & 3]};
  const std::size_t read_size = 1u + (control >> 5) * 211u;

  ServerMetrics metrics;
  FuzzHost host;
  TerminalConversation conversation(host, config, metrics, listener, {1, "192.0.2.1:4000", {}});
  for (std::size_t fed = 0; fed < input.size();) {
    const auto region = conversation.framer().prepare();
    const std::size_t n = std::min({region.size(), read_size, input.size() - fed});
    std::copy_n(input.begin() + static_cast<std::ptrdiff_t>(fed), n, region.begin());
    conversation.framer().commit(n);
    fed += n;
    std::vector<TerminalConversation::Received> received;
    std::vector<storage::FrameWrite> writes;
    const auto close = conversation.take_frames(received, writes);
    std::size_t archived = 0;
    for (const auto& r : received) archived += r.stored_with_write ? 1 : 0;
    require(archived == writes.size(), "one reply slot per archived frame");
    std::size_t next_write = 0;
    for (const auto& r : received) {
      if (!r.reply.empty()) require(one_frame(r.reply), "a reply is one frame");
      if (!r.stored_with_write) continue;
      const auto& w = writes[next_write++];
      require(one_frame(w.record.raw), "the archive keeps the frame exactly as framed");
      if (protocol::is_failure(w.record.received.signature))
        require(!w.identity, "a failing signature takes no idempotency key");
      if (w.record.received.rejected) {
        require(!w.identity && !w.latest,
                "a rejected report takes no key and no latest state");
        require(protocol::is_failure(w.record.received.signature),
                "only a failing signature is rejected");
      }
    }
    if (close != server::CloseReason::none) break;  // the session closes: nothing more is read
  }
  return 0;
}
