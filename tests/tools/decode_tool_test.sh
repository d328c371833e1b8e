#!/usr/bin/env bash
# lantian-decode as an operator uses it: hex arguments, hex lines on stdin, raw captures, bad input.
# Usage: decode_tool_test.sh PATH/TO/lantian-decode CORPUS_DIR
set -u
tool=$1
corpus=$2
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {  # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}

bin() { printf '%b' "$(echo -n "$1" | sed 's/../\\x&/g')"; }  # hex → bytes

login=$(cat "$corpus/e1-login.hex")
realtime=$(cat "$corpus/e2-gb17691-realtime.hex")

# One hex argument: one JSON line, exit 0.
"$tool" "$login" >"$tmp/out" 2>"$tmp/err"
check "hex argument exits 0" test $? -eq 0
check "hex argument prints one line" test "$(wc -l <"$tmp/out")" -eq 1
check "login decoded" grep -q '"command_name":"login".*"iccid":"89860012345678901234"' "$tmp/out"
check "nothing on stderr" test ! -s "$tmp/err"

# Stdin: hex lines, with blank lines, comments and spaces between bytes.
{
  echo "# captured 2024-05-20"
  echo
  echo "$realtime" | sed 's/../& /g'
  echo "$login"
} | "$tool" >"$tmp/out" 2>"$tmp/err"
check "stdin exits 0" test $? -eq 0
check "stdin prints two lines" test "$(wc -l <"$tmp/out")" -eq 2
check "stdin keeps the order" grep -q '"odometer_km":12345.6' <(head -1 "$tmp/out")

# Profile: the non-road frame reads as non-road only when asked.
"$tool" --profile nonroad "$(cat "$corpus/e8-nonroad-realtime.hex")" >"$tmp/out"
check "nonroad profile" grep -q '"profile":"nonroad".*"egr_actual_pct":12.5' "$tmp/out"

# A raw capture: garbage, a frame, a frame with a broken BCC, garbage, a frame, a cut-off frame.
{
  printf 'noise\x00\x01'
  bin "$login"
  bin "$realtime" | head -c 173
  printf '\x00'
  printf 'more noise'
  bin "$realtime"
  bin "$login" | head -c 30
} >"$tmp/capture.bin"
"$tool" --binary "$tmp/capture.bin" >"$tmp/out" 2>"$tmp/err"
check "capture with garbage exits 1" test $? -eq 1
check "capture yields the two good frames" test "$(wc -l <"$tmp/out")" -eq 2
check "capture reports skipped bytes" grep -q "skipped 7 bytes that do not start a frame" "$tmp/err"
check "capture reports the broken BCC" grep -q "wrong BCC" "$tmp/err"
check "capture reports the cut-off frame" grep -q "stream ends inside a frame (30 bytes)" "$tmp/err"

# A false start near the end of a capture: a start pair whose header announces 40,000 bytes, then
# valid frames. They are decoded; the false start is reported.
{
  bin "$login"
  printf '\x11\x22\x33'
  bin "${realtime:0:44}9c40"
  printf '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
  bin "$realtime"
  bin "$login"
} >"$tmp/false-start.bin"
"$tool" --binary "$tmp/false-start.bin" >"$tmp/out" 2>"$tmp/err"
check "false start exits 1" test $? -eq 1
check "false start hides no frame" test "$(wc -l <"$tmp/out")" -eq 3
check "false start is reported" grep -q "false start: a complete frame begins 34 bytes into an unfinished one" "$tmp/err"
check "false start leaves nothing behind" bash -c "! grep -q 'stream ends inside a frame' '$tmp/err'"

# A clean capture exits 0.
bin "$login$realtime$login" >"$tmp/clean.bin"
"$tool" --binary "$tmp/clean.bin" >"$tmp/out" 2>"$tmp/err"
check "clean capture exits 0" test $? -eq 0
check "clean capture yields three frames" test "$(wc -l <"$tmp/out")" -eq 3

# Variants are not errors: a 32-byte 0x03 block decodes, is noted, and the tool exits 0.
"$tool" --profile hj1239 "$(cat "$corpus/c05-hj1239-twc-32-byte-variant.hex")" >"$tmp/out" 2>"$tmp/err"
check "variant exits 0" test $? -eq 0
check "variant is listed" grep -q '"variants":\["twc_32_byte"\],"errors":\[\]' "$tmp/out"
check "variant is no error on stderr" test ! -s "$tmp/err"

# Bad input: a clear message, a non-zero status, never a crash.
"$tool" "23ZZ" >"$tmp/out" 2>"$tmp/err"
check "non-hex exits 1" test $? -eq 1
check "non-hex is explained" grep -q "argument 1: not hexadecimal: 'Z' at column 3" "$tmp/err"
"$tool" "${login:0:60}" >"$tmp/out" 2>"$tmp/err"
check "truncated frame exits 1" test $? -eq 1
check "truncated frame is explained" grep -q "frame size differs from 25 + the data-unit length in its header (30 bytes, header says 53)" "$tmp/err"
"$tool" "${login:0:59}" 2>"$tmp/err" >/dev/null
check "odd digits explained" grep -q "odd number of hex digits" "$tmp/err"
"$tool" "${login:0:104}00" >"$tmp/out" 2>"$tmp/err"
check "wrong BCC still decodes, exits 1" test $? -eq 1
check "wrong BCC is flagged" grep -q '"bcc_ok":false.*"errors":\["bcc_mismatch"\]' "$tmp/out"
"$tool" --profile gb1789 "$login" >/dev/null 2>"$tmp/err"
check "unknown profile exits 2" test $? -eq 2
check "unknown profile explained" grep -q "unknown profile 'gb1789'" "$tmp/err"
"$tool" --binary /nonexistent/capture.bin >/dev/null 2>"$tmp/err"
check "missing file exits 1" test $? -eq 1
head -c 100000 /dev/urandom >"$tmp/random.bin"
"$tool" --binary "$tmp/random.bin" >/dev/null 2>&1
check "random bytes do not crash" test $? -le 1

if [ "$failures" -eq 0 ]; then echo "decode tool: all checks passed"; else echo "decode tool: $failures checks failed"; fi
exit $((failures > 0))
