#!/usr/bin/env bash
# Installs every Debian package Lantian needs (only what is missing) and builds the release build
# into build/ (executables in build/bin/). Safe to run again at any time.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake ninja-build            # toolchain
  libboost1.81-all-dev             # Asio, Beast, JSON, Geometry, ProgramOptions (1.74 is too old)
  librocksdb-dev                   # the embedded archive
  libjemalloc-dev                  # lantiand's allocator (docs/adr/0010)
  libssl-dev openssl               # TLS (and SM2/SM3), the development certificates
  libspdlog-dev                    # structured logs
  libnats-dev nats-server          # cluster mode on NATS JetStream: the C client; brokers for its tests
  xxd                              # hex to bytes in the README's examples
  libgtest-dev libgmock-dev        # tests
  libbenchmark-dev                 # benchmarks
  clang-14 libclang-rt-14-dev      # libFuzzer and the sanitizer runtimes for the fuzz build
  chromium fonts-wqy-zenhei        # the web console's browser test (Chinese labels need the font)
  dpkg-dev systemd curl            # the Debian package (dpkg-shlibdeps) and its test (systemd-analyze)
  prometheus jq                    # promtool and jq: the alert rules and dashboard in ops/ (tests only)
)
# Node.js for the browser test's playwright-core (npm registry): Debian's when none is installed.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake --preset ci >/dev/null
cmake --build --preset ci
