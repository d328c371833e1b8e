#!/usr/bin/env bash
# scripts/demo.sh as a newcomer runs it, for 30 s on free ports: it must start everything, print
# the console's address and a reviewer token that the API accepts, find the violations of every
# kind its fleet and samples carry, and stop what it started.
#
#   tests/sim/demo_test.sh BIN_DIR
set -euo pipefail
bin_dir=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/lantian-demo-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; cat "$work/out" >&2; exit 1; }

LANTIAN_BIN_DIR=$bin_dir LANTIAN_DEMO_DIR=$work/demo LANTIAN_DEMO_API=127.0.0.1:0 \
  LANTIAN_DEMO_TERMINALS=0 LANTIAN_DEMO_ADMIN=127.0.0.1:0 LANTIAN_DEMO_SECONDS=30 \
  timeout 240 "$root/scripts/demo.sh" >"$work/out" 2>&1 || fail "demo.sh exited with $?"

url=$(grep -o 'Console: *https://127.0.0.1:[0-9]*/' "$work/out" | grep -o 'https.*') || fail "no console URL"
token=$(grep -o 'Reviewer token: lt_[0-9a-f]*' "$work/out" | grep -o 'lt_.*') || fail "no token"
[ ${#token} -eq 67 ] || fail "token '$token' is not a token"

# The fleet (R01 国三 trucks, R02 国四 trucks in 郑州四环, R03 banned and R04 black-smoke
# excavators, R13 unregistered-stage excavators in a 禁用区, R06–R10 and R12 the faulty trucks),
# the smoke checks (R05) and the gate records (R14 against the alert, R15 silent gates, R16 papers
# contradicting the registry). R11 (a terminal silent for 72 h) cannot happen in a demo.
final=$(grep '^== violations at the end, by rule:' "$work/out") || fail "no final summary"
for rule in R01 R02 R03 R04 R05 R06 R07 R08 R09 R10 R12 R13 R14 R15 R16; do
  [[ "$final" =~ $rule\ [1-9] ]] || fail "no $rule violation: $final"
done
grep -q '^== stopping lantiand' "$work/out" || fail "the server was not stopped"
# Everything it started has stopped: the archive opens for writing again.
"$bin_dir/lantiand" token list --data-dir "$work/demo/data" >/dev/null || fail "the archive is still held"
pgrep -f "lantiand --data-dir $work/demo/data" >/dev/null && fail "lantiand still runs"
echo "demo: $final"
echo "demo: ok (console $url, reviewer token ${token:0:8}…)"
