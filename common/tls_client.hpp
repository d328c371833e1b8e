#pragma once
// The TLS client context of the links to other systems (upstream platforms, enforcement systems):
// TLS 1.2 or later, the peer's certificate verified against `ca` (empty: the system's CAs) — the
// caller also checks its name (asio::ssl::host_name_verification) — and, when given, a client
// certificate. Throws boost::system::system_error when a file cannot be used.

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <memory>

namespace lantian::common {

[[nodiscard]] std::unique_ptr<boost::asio::ssl::context> make_tls_client_context(
    const std::filesystem::path& ca, const std::filesystem::path& client_cert = {},
    const std::filesystem::path& client_key = {});

}  // namespace lantian::common
