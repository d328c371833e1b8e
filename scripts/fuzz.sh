#!/usr/bin/env bash
# Builds the libFuzzer target (clang, ASan+UBSan) and runs it for SECONDS (default 60) on top of the
# checked-in seed corpus. New inputs go to build-fuzz/corpus, never into the repository; a crash
# leaves its input in build-fuzz/ and fails the run. Turn a crash into a corpus frame and a test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target protocol_fuzz
mkdir -p build-fuzz/corpus
cd build-fuzz
./bin/protocol_fuzz -max_total_time="$seconds" -max_len=70000 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 corpus ../tests/fuzz/corpus 2>fuzz.log || { tail -50 fuzz.log; exit 1; }
grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added)" fuzz.log
echo "fuzz: no crash in ${seconds}s"
