#!/usr/bin/env bash
# Lantian in one command: a fresh platform with the Henan samples and a simulated fleet breaking
# the rules, for a first look at the console.
#
#   scripts/demo.sh            # Ctrl-C stops everything it started
#
# It builds when needed (scripts/setup.sh), makes a new data directory with the sample registry,
# zones, administrative areas, key freight enterprises and roadside smoke checks, a week of gate
# records before the run with an orange heavy-pollution alert in 焦作 (and the sample gate records,
# whose papers contradict the registry for one truck), starts lantiand, creates a
# reviewer token through the running server, and runs the simulator's demo fleet of 100
# terminals (国六 and 国三 trucks, 国四 trucks delivering inside 郑州四环, black-smoke and banned
# excavators, and trucks whose terminal or after-treatment is faulty: no fix, a dead SCR, the
# malfunction lamp on, an empty reagent tank, a swapped ECU, a position jump) from yesterday 10:00
# Beijing time at fifty times real time. After a minute it lists the violations found so far, by
# rule. The fleet drives for 20 minutes (about 17 simulated hours, still behind the wall clock);
# the server keeps running, with the console, until Ctrl-C.
#
# Environment (all optional):
#   LANTIAN_DEMO_DIR        where the data goes (default: a new /tmp/lantian-demo.XXXXXX)
#   LANTIAN_DEMO_API        HOST:PORT of the console and API (default 0.0.0.0:7443; port 0: any)
#   LANTIAN_DEMO_TERMINALS  the terminals' TCP port (default 7700; 0: any)
#   LANTIAN_DEMO_ADMIN      HOST:PORT of /metrics and /healthz (default 127.0.0.1:9100)
#   LANTIAN_DEMO_SECONDS    stop by itself after this many seconds (default: run until Ctrl-C)
#   LANTIAN_BIN_DIR         the executables (default build/bin, built when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${LANTIAN_BIN_DIR:-$root/build/bin}
samples=$root/samples

if [ -z "${LANTIAN_BIN_DIR:-}" ] && { [ ! -x "$bin/lantiand" ] || [ ! -x "$bin/lantian-sim" ]; }; then
  echo "== building (first run: installs what is missing, then compiles; this takes a while)"
  scripts/setup.sh
fi

work=${LANTIAN_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/lantian-demo.XXXXXX")}
mkdir -p "$work"
data=$work/data
if [ -e "$data" ]; then
  echo "demo: $data exists already; the demo starts from an empty platform (set LANTIAN_DEMO_DIR)" >&2
  exit 2
fi
api=${LANTIAN_DEMO_API:-0.0.0.0:7443}
terminals=${LANTIAN_DEMO_TERMINALS:-7700}
admin=${LANTIAN_DEMO_ADMIN:-127.0.0.1:9100}
seconds=${LANTIAN_DEMO_SECONDS:-}

server_pid= sim_pid=
stop_all() {
  trap - INT TERM EXIT
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null || true
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    echo "== stopping lantiand (the archive stays in $data)"
    kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
  fi
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

# Yesterday 10:00 in Beijing: the zones' daytime bans are in force whenever the demo is run, and
# the fleet's clock, running ahead at fifty times real time, stays behind the wall clock for the
# fleet's 20 minutes (past it, every report would be from the future: R12).
start=$(TZ=Asia/Shanghai date -d 'yesterday 10:00' +%Y-%m-%dT%H:%M:%S+08:00)
alert_from=$(TZ=Asia/Shanghai date -d 'yesterday -4 days' +%Y-%m-%d)
alert_to=$(TZ=Asia/Shanghai date -d 'yesterday -2 days' +%Y-%m-%d)
fleet=(--preset demo --vehicles 100 --zones "$samples/zones-henan-sample.geojson" --seed 7)

echo "== planning the fleet and a week of gate records in $work"
"$bin/lantian-sim" "${fleet[@]}" --plan-only --start "$start" --registry-out "$work/fleet.csv" \
  --enterprises "$samples/enterprises-henan-sample.csv" --gate-out "$work/gates.jsonl" \
  --alert "焦作:orange:$alert_from:$alert_to" --progress 0

echo "== loading the samples into a new archive"
# Straight into the archive (no server runs yet), so that the server's first checks see it all.
"$bin/lantiand" import-registry --data-dir "$data" "$samples/registry-sample.csv"
"$bin/lantiand" import-registry --data-dir "$data" "$work/fleet.csv"
"$bin/lantiand" import-zones --data-dir "$data" "$samples/zones-henan-sample.geojson"
"$bin/lantiand" import-areas --data-dir "$data" "$samples/areas-henan-sample.geojson"
"$bin/lantiand" import-enterprises --data-dir "$data" "$samples/enterprises-henan-sample.csv"
"$bin/lantiand" alert --data-dir "$data" --city 焦作 --level orange --from "$alert_from" \
  --to "$alert_to" --note "焦环〔演示〕1号"
"$bin/lantiand" alert --data-dir "$data" --city 焦作 --level orange --from 2026-11-10 \
  --to 2026-11-12 --note "焦环〔2026〕30号"  # the one the sample gate records saw
"$bin/lantiand" import-gate-events --data-dir "$data" "$work/gates.jsonl"
"$bin/lantiand" import-gate-events --data-dir "$data" "$samples/gate-events-henan-sample.jsonl"
"$bin/lantiand" import-observations --data-dir "$data" "$samples/observations-henan-sample.jsonl"

echo "== starting lantiand"
"$bin/lantiand" --data-dir "$data" --api "$api" --admin "$admin" \
  --listen "tcp://0.0.0.0:$terminals?profile=auto" --reply-gb17691 true >"$work/server.log" 2>&1 &
server_pid=$!
api_port= terminal_port= admin_port=
for _ in $(seq 1 150); do  # up to 30 s: the first start makes the development certificates
  api_port=$(grep -o 'event=api_listening port=[0-9]*' "$work/server.log" | grep -o '[0-9]*$' || true)
  terminal_port=$(grep -o 'event=listening url=tcp[^ ]* port=[0-9]*' "$work/server.log" | grep -o '[0-9]*$' || true)
  admin_port=$(grep -o 'event=admin_listening port=[0-9]*' "$work/server.log" | grep -o '[0-9]*$' || true)
  grep -q 'event=local_admin_listening' "$work/server.log" && [ -n "$api_port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.2
done
if ! grep -q 'event=local_admin_listening' "$work/server.log"; then
  echo "demo: lantiand did not start; its log ($work/server.log):" >&2
  tail -n 20 "$work/server.log" >&2
  exit 1
fi

# Through the running server's admin socket: it takes effect at once and is audited.
token=$("$bin/lantiand" token create --data-dir "$data" --role reviewer --label "演示审核员" 2>/dev/null)
admin_token=$("$bin/lantiand" token create --data-dir "$data" --role admin --label "演示管理员" 2>/dev/null)

echo "== running 100 simulated terminals (log: $work/sim.log)"
"$bin/lantian-sim" --connect "tcp://127.0.0.1:$terminal_port" "${fleet[@]}" --start "$start" \
  --rate 500 --gb17691-replies --duration "${seconds:-1200}" --progress 10 >"$work/sim.log" 2>&1 &
sim_pid=$!

host=${api%:*}
[ "$host" = "0.0.0.0" ] && host=127.0.0.1
cat <<EOF

  Console:        https://$host:$api_port/   (development certificate: accept it in the browser)
  Reviewer token: $token
  Admin token:    $admin_token
  Data:           $data   (server log: $work/server.log)

  Try, while it runs:
    $bin/lantiand violations --data-dir $data | head
    curl -s http://${admin%:*}:$admin_port/metrics | grep -E "lantian_(frames_stored|violations)_total"
    $bin/lantiand import-zones --data-dir $data $samples/zones-henan-sample.geojson   # a new zone version, live

  Ctrl-C stops the fleet and the server.

EOF

summary() {
  "$bin/lantiand" violations --data-dir "$data" 2>/dev/null |
    grep -o '"rule":"R[0-9]*"' | sort | uniq -c | awk '{gsub(/"rule":|"/, "", $2); printf "%s %s  ", $2, $1}'
  echo
}
first=$(( ${seconds:-60} < 60 ? ${seconds:-60} : 60 ))
sleep "$first"
echo "== violations after $first s, by rule: $(summary)"
if [ -n "$seconds" ]; then
  wait "$sim_pid" || true
  sim_pid=
  echo "== violations at the end, by rule: $(summary)"
  exit 0
fi
wait "$sim_pid" || true
sim_pid=
echo "== the fleet has finished; the server keeps running until Ctrl-C"
wait "$server_pid"
