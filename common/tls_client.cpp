#include "common/tls_client.hpp"

namespace lantian::common {
namespace ssl = boost::asio::ssl;

std::unique_ptr<ssl::context> make_tls_client_context(const std::filesystem::path& ca,
                                                      const std::filesystem::path& client_cert,
                                                      const std::filesystem::path& client_key) {
  auto tls = std::make_unique<ssl::context>(ssl::context::tls_client);
  tls->set_options(ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  tls->set_verify_mode(ssl::verify_peer);
  if (ca.empty())
    tls->set_default_verify_paths();
  else
    tls->load_verify_file(ca.string());
  if (!client_cert.empty()) {
    tls->use_certificate_chain_file(client_cert.string());
    tls->use_private_key_file(client_key.string(), ssl::context::pem);
  }
  return tls;
}

}  // namespace lantian::common
