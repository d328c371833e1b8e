#pragma once
// The web console's files and the OpenAPI document, compiled into lantiand
// (cmake/embed_assets.cmake generates the table from web/ and server/api/openapi.json at build
// time).

#include <string_view>

namespace lantian::server::api {

struct WebAsset {
  std::string_view path;  // "/index.html", "/vendor/leaflet/leaflet.js", "/openapi.json"
  std::string_view content_type;
  std::string_view data;
};

// The asset served at `path`, or nullptr.
[[nodiscard]] const WebAsset* find_web_asset(std::string_view path);

}  // namespace lantian::server::api
