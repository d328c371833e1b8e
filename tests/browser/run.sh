#!/usr/bin/env bash
# Browser test of the web console compiled into lantiand: a throw-away archive with the sample
# registry, zones and enterprises, tests/browser/observations.jsonl, an orange alert in 焦作 and
# tests/browser/gate-events.jsonl, a reviewer token, the server on free
# local ports, then console_test.mjs in Debian's Chromium (/usr/bin/chromium, or $CHROMIUM).
#
#   tests/browser/run.sh BIN_DIR OUT_DIR      # writes OUT_DIR/console.png; exits with the test's status
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
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$data"
}
trap cleanup EXIT

echo "== preparing an archive in $data"
"$lantiand" import-registry --data-dir "$data" "$root/samples/registry-sample.csv"
"$lantiand" import-zones --data-dir "$data" "$root/samples/zones-henan-sample.geojson"
"$lantiand" import-observations --data-dir "$data" "$here/observations.jsonl"
"$lantiand" import-enterprises --data-dir "$data" "$root/samples/enterprises-henan-sample.csv"
"$lantiand" alert --data-dir "$data" --city 焦作 --level orange --from 2026-11-10 --to 2026-11-12 --note "焦环〔2026〕30号"
"$lantiand" import-gate-events --data-dir "$data" "$here/gate-events.jsonl"
token=$("$lantiand" token create --data-dir "$data" --role reviewer --label "browser test")
admin_token=$("$lantiand" token create --data-dir "$data" --role admin --label "browser admin")

echo "== starting lantiand"
"$lantiand" --data-dir "$data" --api 127.0.0.1:0 --admin 127.0.0.1:0 \
  --listen tcp://127.0.0.1:0 --certs-script "$root/certs/make-dev-certs.sh" >"$data/server.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 1 150); do  # up to 30 s (the first start also makes the development certificate)
  port=$(grep -o 'event=api_listening port=[0-9]*' "$data/server.log" | head -n 1 | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.2
done
if [ -z "$port" ]; then
  echo "lantiand did not start its API; its log:" >&2
  cat "$data/server.log" >&2
  exit 1
fi
echo "API and console on https://127.0.0.1:$port/"

if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "== npm ci"
  npm ci --prefix "$here" --no-audit --no-fund
fi

echo "== console test"
status=0
timeout 300 node "$here/console_test.mjs" "https://127.0.0.1:$port/" "$token" "$out_dir/console.png" \
  "$admin_token" || status=$?
if [ "$status" -ne 0 ]; then
  echo "== server log (last 40 lines)" >&2
  tail -n 40 "$data/server.log" >&2
fi
exit "$status"
