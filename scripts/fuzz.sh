#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for SECONDS (default 45) on top of
# the checked-in seed corpus:
#   protocol_fuzz  framer + decode + JSON + encode over arbitrary bytes;
#   session_fuzz   the session state machine (login, VIN checks, signatures, activation, replies)
#                  driven by arbitrary bytes in arbitrary reads, without sockets.
# New inputs go to build-fuzz/corpus-TARGET, never into the repository; a crash leaves its input in
# build-fuzz/ and fails the run. Turn a crash into a corpus frame and a regression test
# (docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-45}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target protocol_fuzz session_fuzz
cd build-fuzz
# Both targets at once, one core each: the run takes SECONDS, not twice that.
declare -A fuzzer
trap 'kill "${fuzzer[@]}" 2>/dev/null || true' EXIT
for target in protocol_fuzz session_fuzz; do
  mkdir -p "corpus-$target"
  ./bin/$target -max_total_time="$seconds" -max_len=70000 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "corpus-$target" ../tests/fuzz/corpus 2>"$target.log" &
  fuzzer[$target]=$!
done
for target in protocol_fuzz session_fuzz; do
  wait "${fuzzer[$target]}" || { tail -50 "$target.log"; exit 1; }
  grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added)" "$target.log"
  echo "fuzz: $target, no crash in ${seconds}s"
done
