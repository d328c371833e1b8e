#!/usr/bin/env bash
# Browser test of the web console compiled into lantiand: a throw-away archive with the sample
# registry, zones, administrative areas and enterprises, tests/browser/observations.jsonl, an
# orange alert in 焦作 and tests/browser/gate-events.jsonl, a reviewer token, the server on free
# local ports, then console_test.mjs in Debian's Chromium (/usr/bin/chromium, or $CHROMIUM): first
# offline (no tile layer, the default), then, the server started again on the same archive with a
# GCJ-02 tile layer whose tiles the test answers itself, `console_test.mjs --tiles`.
#
#   tests/browser/run.sh BIN_DIR OUT_DIR      # writes OUT_DIR/console.png and console-tiles.png;
#                                             # exits with the tests' status
#
# Needs node/npm (playwright-core is installed from package-lock.json with `npm ci` when
# tests/browser/node_modules is missing), chromium and openssl (the development certificate).
# The console is served from the built-in copy (no --api-web-root): this checks what is compiled in.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BIN_DIR OUT_DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin_dir=$(cd "$1" && pwd)
mkdir -p "$2"
out_dir=$(cd "$2" && pwd)
lantiand="$bin_dir/lantiand"
[ -x "$lantiand" ] || { echo "no executable $lantiand" >&2; exit 2; }

data=$(mktemp -d "${TMPDIR:-/tmp}/lantian-browser.XXXXXX")
server_pid=
server_log=
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}
cleanup() {
  stop_server
  rm -rf "$data"
}
trap cleanup EXIT

# start_server LOG [OPTIONS…]: lantiand on free ports with the extra options; sets server_pid,
# server_log and port, or exits with the log.
start_server() {
  server_log=$1
  shift
  "$lantiand" --data-dir "$data" --api 127.0.0.1:0 --admin 127.0.0.1:0 \
    --listen tcp://127.0.0.1:0 --certs-script "$root/certs/make-dev-certs.sh" "$@" >"$server_log" 2>&1 &
  server_pid=$!
  port=
  for _ in $(seq 1 150); do  # up to 30 s (the first start also makes the development certificate)
    port=$(grep -o 'event=api_listening port=[0-9]*' "$server_log" | head -n 1 | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.2
  done
  if [ -z "$port" ]; then
    echo "lantiand did not start its API; its log:" >&2
    cat "$server_log" >&2
    exit 1
  fi
  echo "API and console on https://127.0.0.1:$port/"
}

# Ends the run with the test's status, showing the server's log when it failed.
check_status() {
  if [ "$1" -ne 0 ]; then
    echo "== server log (last 40 lines)" >&2
    tail -n 40 "$server_log" >&2
    exit "$1"
  fi
}

echo "== preparing an archive in $data"
"$lantiand" import-registry --data-dir "$data" "$root/samples/registry-sample.csv"
"$lantiand" import-zones --data-dir "$data" "$root/samples/zones-henan-sample.geojson"
"$lantiand" import-areas --data-dir "$data" "$root/samples/areas-henan-sample.geojson"
"$lantiand" import-observations --data-dir "$data" "$here/observations.jsonl"
"$lantiand" import-enterprises --data-dir "$data" "$root/samples/enterprises-henan-sample.csv"
"$lantiand" alert --data-dir "$data" --city 焦作 --level orange --from 2026-11-10 --to 2026-11-12 --note "焦环〔2026〕30号"
"$lantiand" import-gate-events --data-dir "$data" "$here/gate-events.jsonl"
token=$("$lantiand" token create --data-dir "$data" --role reviewer --label "browser test")
admin_token=$("$lantiand" token create --data-dir "$data" --role admin --label "browser admin")

echo "== starting lantiand"
start_server "$data/server.log"

if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "== npm ci"
  npm ci --prefix "$here" --no-audit --no-fund
fi

echo "== console test"
status=0
timeout 300 node "$here/console_test.mjs" "https://127.0.0.1:$port/" "$token" "$out_dir/console.png" \
  "$admin_token" || status=$?
check_status "$status"

# The same archive behind a GCJ-02 tile layer. tiles.example.test is never resolved: the test
# answers its requests in the browser.
echo "== starting lantiand with a tile layer"
stop_server
start_server "$data/server-tiles.log" \
  --map-tiles 'https://tiles.example.test/{z}/{x}/{y}.png' --map-tiles-crs gcj02 \
  --map-tiles-attribution 'Test tiles' --map-tiles-max-zoom 18

echo "== console test with tiles"
timeout 300 node "$here/console_test.mjs" --tiles "https://127.0.0.1:$port/" "$token" \
  "$out_dir/console-tiles.png" || status=$?
check_status "$status"
