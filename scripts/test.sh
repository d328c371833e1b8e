#!/usr/bin/env bash
# Sets up, builds and runs every test: the two fuzz targets for a bounded time, the whole suite
# under AddressSanitizer + UndefinedBehaviorSanitizer, then the whole suite on the release build
# (warnings are errors in all of them), then the web console in headless Chromium (its screenshot
# goes to out/browser/console.png). CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/setup.sh

echo "== fuzzing (protocol framer + decode; the session state machine)"
scripts/fuzz.sh "${LANTIAN_FUZZ_SECONDS:-30}"

echo "== tests under ASan + UBSan"
cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan -j "$jobs"

echo "== tests on the release build"
ctest --preset ci -j "$jobs"

echo "== the web console in Chromium"
tests/browser/run.sh build/bin out/browser
