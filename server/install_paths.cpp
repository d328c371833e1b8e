#include "server/install_paths.hpp"

#include <system_error>

namespace lantian::server {

std::filesystem::path installed_file(std::string_view name) {
  std::error_code ec;
  const auto executable = std::filesystem::read_symlink("/proc/self/exe", ec);
  // Never the working directory: a script found there would be whatever lies where the server
  // was started.
  if (ec) return std::filesystem::path("/usr/share/lantian") / name;
  const auto bin = executable.parent_path();
  const std::filesystem::path candidates[] = {
      bin.parent_path() / "share" / "lantian" / name,
      bin / name,  // an unpacked copy with everything in one directory
  };
  for (const auto& c : candidates)
    if (std::filesystem::is_regular_file(c, ec)) return c;
  return candidates[0];
}

}  // namespace lantian::server
