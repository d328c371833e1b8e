#!/bin/bash
# lantian-sim against a real lantiand, as an operator runs them (docs/simulator.md):
#   1. plan the CI scenario with a week of gate records at the sample enterprises (an orange alert
#      in 焦作, a yellow one in 郑州), import its registry, the sample zones, city outlines,
#      enterprises, alerts and gate records, start lantiand (TLS);
#      run 300 terminals in 2 processes over 4 source addresses, with coverage gaps and a
#      reconnect storm; every report is answered, every answered report is in `lantiand export`,
#      and the stored violations are exactly the ones the scenario predicted;
#   2. kill -9 the server under load: every report it answered is in the archive afterwards.
# usage: sim_e2e_test.sh BIN_DIR SAMPLES_DIR SCENARIO
set -euo pipefail
bin=$1 samples=$2 scenario=$3
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Starts lantiand on DATA_DIR (extra options after it); sets server_pid, port, admin.
start_server() {
  local data=$1; shift
  : > "$work/server.log"
  "$bin/lantiand" --data-dir "$data" --listen "tls://127.0.0.1:0?profile=auto" \
    --admin 127.0.0.1:0 --api 127.0.0.1:0 --reply-gb17691 true \
    --max-connections-per-address 1000 "$@" >> "$work/server.log" 2>&1 &
  server_pid=$!
  port= admin=
  for _ in $(seq 100); do
    port=$(sed -n 's/.*event=listening .* port=\([0-9]*\).*/\1/p' "$work/server.log" | head -1)
    admin=$(sed -n 's/.*event=admin_listening port=\([0-9]*\).*/\1/p' "$work/server.log" | head -1)
    [ -n "$port" ] && [ -n "$admin" ] && return 0
    sleep 0.1
  done
  cat "$work/server.log"
  fail "lantiand did not start"
}
json_field() { grep -o "\"$1\":[0-9]*" "$2" | head -1 | cut -d: -f2; }

# --- 1. the scenario -------------------------------------------------------------------------
cd "$work"
gate_options=(--start 2026-11-20T10:00:00+08:00 --enterprises "$samples/enterprises-henan-sample.csv"
  --alert 焦作:orange:2026-11-16:2026-11-18 --alert 郑州:yellow:2026-11-15:2026-11-16)
"$bin/lantian-sim" --scenario "$scenario" --zones "$samples/zones-henan-sample.geojson" \
  --registry-out fleet.csv --plan-only "${gate_options[@]}" --gate-out gates.jsonl
"$bin/lantiand" import-registry --data-dir data fleet.csv
"$bin/lantiand" import-zones --data-dir data "$samples/zones-henan-sample.geojson"
"$bin/lantiand" import-areas --data-dir data "$samples/areas-henan-sample.geojson"
"$bin/lantiand" import-enterprises --data-dir data "$samples/enterprises-henan-sample.csv"
"$bin/lantiand" alert --data-dir data --city 焦作 --level orange --from 2026-11-16 --to 2026-11-18
"$bin/lantiand" alert --data-dir data --city 郑州 --level yellow --from 2026-11-15 --to 2026-11-16
"$bin/lantiand" import-gate-events --data-dir data gates.jsonl
start_server data
"$bin/lantian-sim" --connect "tls://127.0.0.1:$port" --scenario "$scenario" \
  --zones "$samples/zones-henan-sample.geojson" --gb17691-replies --window 2 --duration 12 \
  "${gate_options[@]}" --processes 2 --source-addresses 4 \
  --storm-at 6 --storm-steady 30 --reply-timeout 20 --progress 0 \
  --acked-out acked.txt --expected-out expected.jsonl --json-out report.json
sent=$(json_field frames_sent report.json)
acked=$(json_field frames_acked report.json)
retried=$(json_field frames_retried report.json)
unanswered=$(json_field frames_unanswered report.json)
unsent=$(json_field frames_unsent report.json)
dropped=$(json_field dropped report.json)
back=$(json_field back report.json)
resumed=$(json_field tls_resumed report.json)
[ "$unanswered" = 0 ] && [ "$unsent" = 0 ] || fail "unanswered $unanswered, unsent $unsent"
[ $((acked + retried)) = "$sent" ] || fail "sent $sent != acked $acked + retried $retried"
[ "$(wc -l < acked.txt)" = "$acked" ] || fail "ack log has $(wc -l < acked.txt) lines, $acked acked"
[ "$dropped" = 270 ] && [ "$back" = 270 ] || fail "storm: dropped $dropped, back $back (270 expected)"
[ "$resumed" -ge 200 ] || fail "only $resumed TLS sessions resumed after the storm"
for rule in R01 R02 R03 R04 R13 R14 R15; do
  n=$(grep -c "\"rule\":\"$rule\"" expected.jsonl || true)
  [ "$n" -ge 3 ] || fail "the scenario predicted $n $rule violations: $(cat expected.jsonl)"
done
# Gate evidence: R01 of unregistered 国三 trucks by plate, R14 against 焦作's orange alert.
[ "$(grep '"rule":"R01"' expected.jsonl | grep -c '"plate":')" -ge 3 ] ||
  fail "no R01 predicted for unregistered trucks at the gates"
light=$(grep -c "^LGWEF4A5" fleet.csv || true)  # the 国三 N1 light trucks: R01 too
[ "$(grep '"rule":"R01"' expected.jsonl | grep '"at":"2026-11-20' | grep -c '"vin":"LGWEF4A5')" = "$light" ] ||
  fail "not every 国三 light truck is predicted an R01 on the day it drives"
# A graceful stop: every stored frame is evaluated before lantiand exits (its rule worker drains).
kill -TERM "$server_pid"
wait "$server_pid" || fail "lantiand did not stop cleanly: $(tail -5 "$work/server.log")"
server_pid=
"$bin/lantiand" export --data-dir data > export.jsonl
"$bin/lantian-sim" check-acked acked.txt export.jsonl
"$bin/lantiand" violations --data-dir data > violations.jsonl
"$bin/lantian-sim" check-violations expected.jsonl violations.jsonl fleet.csv
# Filed where they happened: every 禁用区 violation lies in a sample city outline.
machine_zone=$(grep -cE '"rule":"R(03|13)"' violations.jsonl || true)
filed=$(grep -E '"rule":"R(03|13)"' violations.jsonl | grep -cE '"city_adcode":"41(01|03)00"' || true)
[ "$machine_zone" -gt 0 ] && [ "$filed" = "$machine_zone" ] ||
  fail "$filed of $machine_zone machinery-zone violations filed by area"
echo "scenario: sent $sent, acked $acked, retried $retried, storm $back/$dropped back, resumed $resumed"

# --- 2. kill -9 under load -------------------------------------------------------------------
start_server crash --sync always
"$bin/lantian-sim" --connect "tls://127.0.0.1:$port" --preset guo6 --vehicles 200 --window 4 \
  --duration 8 --reply-timeout 3 --progress 0 --malformed-probability 0.001 \
  --acked-out crash-acked.txt --json-out crash.json > crash-sim.log 2>&1 &
sim_pid=$!
# Under load: once 1,500 reports are acknowledged (the simulator appends each as it comes).
for _ in $(seq 100); do
  [ "$(wc -l < crash-acked.txt 2>/dev/null || echo 0)" -ge 1500 ] && break
  sleep 0.1
done
kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
wait "$sim_pid" || fail "lantian-sim failed after the crash: $(cat crash-sim.log)"
acked_before_crash=$(wc -l < crash-acked.txt)
[ "$acked_before_crash" -gt 1000 ] || fail "only $acked_before_crash reports acknowledged before the crash"
"$bin/lantiand" export --data-dir crash > crash-export.jsonl
"$bin/lantian-sim" check-acked crash-acked.txt crash-export.jsonl
echo "crash: $acked_before_crash acknowledged reports, all stored"
