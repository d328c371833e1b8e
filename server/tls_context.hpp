#pragma once
// TLS for terminal listeners: TLS 1.2 and 1.3 only, ECDHE with AES-GCM or ChaCha20, session
// resumption by tickets, SSL_MODE_RELEASE_BUFFERS (idle connections hold no record buffers),
// optional verification of terminal certificates. Contexts are immutable once built; a reload
// builds a new one and new connections use it.

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <optional>
#include <string>

#include "server/config.hpp"

namespace lantian::server {

// Builds a server context from the configured files; nullptr with `error` set on failure.
[[nodiscard]] std::shared_ptr<boost::asio::ssl::context> make_tls_context(const Config& config,
                                                                          std::string& error);

// The subject CN of the peer's verified certificate, if it presented one that verified.
[[nodiscard]] std::optional<std::string> verified_peer_common_name(SSL* ssl);

// Runs the development certificate script when the configured certificate or key is missing.
// Returns false with `error` set when they are still missing afterwards.
bool ensure_development_certificates(const Config& config, std::string& error);

}  // namespace lantian::server
