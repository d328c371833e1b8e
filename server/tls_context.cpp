#include "server/tls_context.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <filesystem>

namespace lantian::server {
namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> make_tls_context(const Config& config, std::string& error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use,
                   ec);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION);
  SSL_CTX_set_cipher_list(native, "ECDHE+AESGCM:ECDHE+CHACHA20");
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  // Resumption: tickets (stateless, the OpenSSL default) and a session id context so that resumed
  // sessions are accepted when terminal certificates are verified.
  static const unsigned char sid_context[] = "lantiand";
  SSL_CTX_set_session_id_context(native, sid_context, sizeof sid_context - 1);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);

  ctx->use_certificate_chain_file(config.tls_cert.string(), ec);
  if (ec) {
    error = "TLS certificate " + config.tls_cert.string() + ": " + ec.message();
    return nullptr;
  }
  ctx->use_private_key_file(config.tls_key.string(), ssl::context::pem, ec);
  if (ec) {
    error = "TLS key " + config.tls_key.string() + ": " + ec.message();
    return nullptr;
  }
  if (config.client_auth != ClientAuth::none) {
    ctx->load_verify_file(config.tls_ca.string(), ec);
    if (ec) {
      error = "TLS CA " + config.tls_ca.string() + ": " + ec.message();
      return nullptr;
    }
    ssl::verify_mode mode = ssl::verify_peer;
    if (config.client_auth == ClientAuth::required) mode |= ssl::verify_fail_if_no_peer_cert;
    ctx->set_verify_mode(mode);
  }
  return ctx;
}

std::optional<std::string> verified_peer_common_name(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return std::nullopt;
  std::optional<std::string> cn;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    char buf[256];
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf) > 0)
      cn = buf;
  }
  X509_free(cert);
  return cn;
}

bool ensure_development_certificates(const Config& config, std::string& error) {
  namespace fs = std::filesystem;
  if (fs::exists(config.tls_cert) && fs::exists(config.tls_key)) return true;
  const fs::path dir = config.tls_cert.parent_path();
  if (!fs::exists(config.certs_script)) {
    error = "no TLS certificate at " + config.tls_cert.string() + " and no certificate script at " +
            config.certs_script.string();
    return false;
  }
  const std::string command =
      "bash '" + config.certs_script.string() + "' '" + dir.string() + "' >/dev/null";
  if (std::system(command.c_str()) != 0 || !fs::exists(config.tls_cert) ||
      !fs::exists(config.tls_key)) {
    error = "could not create development certificates in " + dir.string() + " with " +
            config.certs_script.string();
    return false;
  }
  return true;
}

}  // namespace lantian::server
