#pragma once
// Files lantiand needs beside its executable, found at run time rather than compiled in, so that
// one binary works from the build tree and from the package alike:
//   <directory of the executable>/../share/lantian/NAME
// which is /usr/share/lantian/NAME for the package's /usr/bin/lantiand and build/share/lantian/NAME
// (copied there by CMake) for build/bin/lantiand.

#include <filesystem>
#include <string_view>

namespace lantian::server {

// Where NAME is installed. When it is nowhere, the first place looked at, so that the error a
// caller reports names it.
[[nodiscard]] std::filesystem::path installed_file(std::string_view name);

}  // namespace lantian::server
