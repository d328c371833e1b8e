#!/bin/bash
# The benchmark harness for the server-level performance targets of docs/performance.md:
# P1 (durable TLS ingest) against the same server with a null frame sink, P2 (reply latency at half
# of P1's rate) against the disk's fsync latency, P3 (memory per idle TLS terminal) against a
# minimal TLS server, P4 (reconnect storm) against full TLS handshakes per second, and P11 (kill -9
# under P1 load). Each is measured with its reference in the same run, on this machine, with the
# load generator (lantian-sim) sharing its cores.
#
# P12 (forwarding upward) measures the same durable ingest with and without an upstream link to
# `lantian-sim upstream`, in the same run.
#
#   [P1_BASELINE=path/to/other/lantiand] bench/run.sh [SIZE [TARGET...]]
#       SIZE scales the terminal counts: 1 = the targets' full scale (100,000 terminals for P3/P4);
#       default 0.1. One process may open at most 20,000 files here, so P3/P4 are capped at 19,000
#       terminals. TARGETs (P1 P2 P3 P4 P11 P12) pick some; default all (P2 needs P1's rate).
#       P1_BASELINE adds another build of lantiand (an earlier commit's) to P1, measured alike.
#
# Prints one table (target, measured, reference, ratio) and writes out/bench/results.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-0.1}
shift || true
targets=${*:-P1 P2 P3 P4 P11 P12}
want() { [[ " $targets " == *" $1 "* ]]; }
out=$root/out/bench
mkdir -p "$out"
# On the repository's disk (not a tmpfs, where fsync would cost nothing).
work=$(mktemp -d -p "$out")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
log() { echo "[bench] $*" >&2; }

cd "$root"
cmake --preset release > /dev/null
cmake --build "$root/build" --target lantiand lantian-sim fsync_probe tls_hold ack_server > /dev/null
bin=$root/build/bin

calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
scaled() { awk -v s="$size" -v n="$1" -v lo="$2" -v hi="$3" 'BEGIN { v = int(n * s); if (v < lo) v = lo; if (v > hi) v = hi; print v }'; }
field() { grep -o "\"$1\":[-0-9.eE]*" "$2" | head -1 | cut -d: -f2 | awk '{ printf "%.3f", $1 }'; }
sub_field() { sed -n "s/.*\"$1\":{\([^}]*\)}.*/\1/p" "$3" | grep -o "\"$2\":[-0-9.eE]*" | head -1 | cut -d: -f2 | awk '{ printf "%.3f", $1 }'; }

# Starts lantiand on a fresh data directory with the given options; sets server_pid, port, admin.
# With $fleet set, the fleet's registry and the sample zones are imported first (rules evaluated).
start_server() {
  local name=$1; shift
  local log=$work/$name.log
  if [ -n "${fleet:-}" ]; then
    "${server_bin:-$bin/lantiand}" import-registry --data-dir "$work/$name" "$fleet" > /dev/null
    "${server_bin:-$bin/lantiand}" import-zones --data-dir "$work/$name" "$zones" > /dev/null
  fi
  "${server_bin:-$bin/lantiand}" --data-dir "$work/$name" --listen "tls://127.0.0.1:0?profile=hj1239" \
    --admin 127.0.0.1:0 --api 127.0.0.1:0 --max-connections 200000 \
    --max-connections-per-address 200000 --max-accepts-per-second 100000 \
    --max-partial-frame-bytes-per-address 268435456 --pending-pressure 200000 \
    --handshake-timeout-s 60 "$@" > "$log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  port= admin=
  for _ in $(seq 200); do
    port=$(sed -n 's/.*event=listening .* port=\([0-9]*\).*/\1/p' "$log" | head -1)
    admin=$(sed -n 's/.*event=admin_listening port=\([0-9]*\).*/\1/p' "$log" | head -1)
    [ -n "$port" ] && [ -n "$admin" ] && return 0
    sleep 0.1
  done
  cat "$log"
  echo "lantiand did not start" >&2
  exit 1
}
# The reference TLS server (bench/tls_hold); sets hold_pid and port.
start_hold() {
  [ -d "$work/certs" ] || "$root/certs/make-dev-certs.sh" "$work/certs" > /dev/null
  "$bin/tls_hold" 0 "$work/certs/server.crt" "$work/certs/server.key" > "$work/hold.out" &
  hold_pid=$!
  pids+=("$hold_pid")
  for _ in $(seq 50); do [ -s "$work/hold.out" ] && break; sleep 0.1; done
  port=$(awk '{ print $2 }' "$work/hold.out")
}
stop_server() { kill -TERM "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# The kernel's slab memory (sockets, TCP control blocks, …): the per-connection kernel cost.
slab_kib() { awk '/^Slab:/ { print $2 }' /proc/meminfo; }
sim() { "$bin/lantian-sim" --connect "tls://127.0.0.1:$port" --preset guo6 --progress 0 "$@"; }
zones=$root/samples/zones-henan-sample.geojson
# CPU seconds (user + system) a process has used.
cpu_s() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }
# CPU seconds of the waited-for children of the shell that calls it (not in a $(…) subshell).
children_cpu_s() {
  local -a stat
  read -r -a stat < "/proc/$BASHPID/stat"
  children_cpu=$(calc "(${stat[15]} + ${stat[16]}) / 100" 2)
}
metric() { curl -s "http://127.0.0.1:$admin/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# Waits until the server's rule backlog is empty; prints the seconds it took (at most 120).
drain_s() {
  local start now
  start=$(date +%s.%N)
  for _ in $(seq 1200); do
    local backlog
    backlog=$(metric lantian_rules_backlog_reports)
    # A server without the gauge (a baseline build) is taken as drained.
    [ -z "$backlog" ] || [ "$backlog" = "0" ] && break
    sleep 0.1
  done
  now=$(date +%s.%N)
  calc "$now - $start" 2
}
# Starts bench/ack_server (the reference of P1 and P2) with its file in $work/NAME; sets server_pid
# and port.
start_ack() {
  [ -d "$work/certs" ] || "$root/certs/make-dev-certs.sh" "$work/certs" > /dev/null
  mkdir -p "$work/$1"
  "$bin/ack_server" 0 "$work/certs/server.crt" "$work/certs/server.key" "$work/$1" "$(nproc)" \
    > "$work/$1.out" &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 50); do [ -s "$work/$1.out" ] && break; sleep 0.1; done
  port=$(awk '{ print $2 }' "$work/$1.out")
}
# Runs one P1 load against the server started last: prints "frames/s p99_ms server_us sim_us drain_s".
# Server CPU counts until its rule backlog has drained; the simulator's is its own process tree's.
# WINDOW (default 8): unanswered reports per terminal. With 8 a terminal writes 4 reports at a time
# (it refills half its window in one write); with 1 it writes one report at a time, as a real
# terminal does (one report every 10 s), so every report costs both ends its own system calls.
p1_load() {
  local name=$1 window=${2:-8} server_cpu0 sim_cpu0 sim_cpu1 drained server_cpu1 acked
  server_cpu0=$(cpu_s "$server_pid")
  children_cpu_s; sim_cpu0=$children_cpu
  sim --vehicles "$p1_terminals" --zones "$zones" --window "$window" --duration "$p1_seconds" \
    --json-out "$work/$name.json" > /dev/null
  children_cpu_s; sim_cpu1=$children_cpu
  drained=0
  [[ "$name" == ack* ]] || drained=$(drain_s)
  server_cpu1=$(cpu_s "$server_pid")
  acked=$(grep -o '"frames_acked":[0-9]*' "$work/$name.json" | cut -d: -f2)
  echo "$(field frames_acked_per_s "$work/$name.json") $(sub_field latency p99_ms "$work/$name.json")" \
    "$(calc "($server_cpu1 - $server_cpu0) * 1e6 / $acked" 1)" \
    "$(calc "($sim_cpu1 - $sim_cpu0) * 1e6 / $acked" 1) $drained"
}

p1_terminals=$(scaled 5000 200 2000)
p1_seconds=20
big=$(scaled 100000 1000 19000)
sources=$(( big / 20000 + 1 ))
log "size $size: P1/P2/P11 $p1_terminals terminals, P3/P4 $big terminals; $(nproc) cores shared with the load generator"

# --- P1: durable ingest vs the minimal ack server and the null sink ------------------------------
if want P1; then
# A registered fleet with the sample zones loaded, so that the rules are really evaluated.
fleet=$work/fleet.csv
"$bin/lantian-sim" --preset guo6 --vehicles "$p1_terminals" --zones "$zones" \
  --registry-out "$fleet" --plan-only > /dev/null
log "P1 reference: bench/ack_server (TLS + epoll + fdatasync group commit + replies)"
start_ack ack
read -r p1_ack p1_ack_p99 p1_ack_us p1_ack_sim_us _ < <(p1_load ack)
read -r p1s_ack p1s_ack_p99 p1s_ack_us p1s_ack_sim_us _ < <(p1_load ack1 1)
kill -9 "$server_pid" 2>/dev/null || true
log "P1 reference: --frame-sink null"
start_server p1null --frame-sink null
read -r p1_ref p1_ref_p99 p1_ref_us p1_ref_sim_us p1_ref_drain < <(p1_load p1null)
stop_server
log "P1: --sync always"
start_server p1 --sync always
read -r p1 p1_p99 p1_us p1_sim_us p1_drain < <(p1_load p1)
stop_server
log "P1: --sync always, one report per write"
start_server p1single --sync always
read -r p1s p1s_p99 p1s_us p1s_sim_us p1s_drain < <(p1_load p1single 1)
stop_server
if [ -n "${P1_BASELINE:-}" ]; then
  # Another lantiand build (e.g. an earlier commit's), measured the same way in the same run.
  log "P1 baseline: $P1_BASELINE --sync always"
  server_bin=$P1_BASELINE
  start_server p1base --sync always
  read -r p1_base p1_base_p99 p1_base_us p1_base_sim_us p1_base_drain < <(p1_load p1base)
  stop_server
  server_bin=
fi
fleet=
fi

# --- P2: latency at half of P1's rate vs the disk's fsync -------------------------------------------
# --rate paces every terminal to one report per write, so half of the saturating rate is half of
# P1's rate in that shape (one report per write), not of the window-8 rate.
if want P2; then
half=$(calc "${p1s:-4000} / 2" 0)  # without P1 in this run: 2,000 frames/s
# The same load against ack_server first: the latency the machine, the kernel and the load
# generator add by themselves (on 2 shared cores, most of the tail). One simulator process per core.
log "P2 reference: ack_server at $half frames/s"
start_ack ack2
sim --vehicles "$p1_terminals" --rate "$half" --processes "$(nproc)" --duration "$p1_seconds" \
  --json-out "$work/p2ack.json" > /dev/null
kill -9 "$server_pid" 2>/dev/null || true
log "P2: $half frames/s"
start_server p2 --sync always
sim --vehicles "$p1_terminals" --rate "$half" --processes "$(nproc)" --duration "$p1_seconds" \
  --json-out "$work/p2.json" > /dev/null
p2_server_p99=$(curl -s "http://127.0.0.1:$admin/metrics" | awk '
  /^lantian_reply_seconds_count/ { n = $2 }
  /^lantian_reply_seconds_bucket/ { split($1, a, "\""); le[++k] = a[2]; c[k] = $2 }
  END { for (i = 1; i <= k; i++) if (c[i] >= 0.99 * n) { printf "%g", le[i] * 1000; exit } }')
stop_server
"$bin/fsync_probe" "$work" 2000 > "$work/fsync.json"
p2_p99=$(sub_field latency p99_ms "$work/p2.json")
p2_p999=$(sub_field latency p999_ms "$work/p2.json")
p2_rate=$(field frames_acked_per_s "$work/p2.json")
p2_ack_p99=$(sub_field latency p99_ms "$work/p2ack.json")
p2_ack_p999=$(sub_field latency p999_ms "$work/p2ack.json")
fsync_p99=$(field p99_ms "$work/fsync.json")
fsync_p999=$(field p999_ms "$work/fsync.json")
fi

# --- P3: memory per idle TLS terminal vs a minimal TLS server --------------------------------------
if want P3; then
log "P3: $big idle TLS terminals"
idle_rss() {  # PID COUNT: holds COUNT idle terminals and prints the KiB per terminal
  # (tls_hold answers nothing: its terminals wait for their login's answer past the run's end)
  local pid=$1 count=$2 before after tcp_before tcp_after
  sleep 1
  before=$(rss_kib "$pid"); tcp_before=$(slab_kib)
  sim --vehicles "$count" --duration 70 --source-addresses "$sources" --reply-timeout 300 \
    --json-out "$work/idle.json" > /dev/null &
  local sim_pid=$!
  pids+=("$sim_pid")
  sleep 65  # two heap trims (every 30 s) after every terminal connected
  after=$(rss_kib "$pid"); tcp_after=$(slab_kib)
  wait "$sim_pid" || true
  echo "$(calc "($after - $before) / $count" 1) $(calc "($tcp_after - $tcp_before) / $count" 1) $(field connects "$work/idle.json")"
}
start_server p3
read -r p3 p3_kernel p3_connects < <(idle_rss "$server_pid" "$big")
stop_server
start_hold
read -r p3_ref p3_ref_kernel _ < <(idle_rss "$hold_pid" "$big")
fi

# --- P4: reconnect storm vs full handshakes per second ----------------------------------------------
if want P4; then
log "P4 reference: full TLS 1.3 handshakes (openssl s_time against tls_hold, 10 s)"
{ [ -n "${hold_pid:-}" ] && kill -0 "$hold_pid" 2>/dev/null; } || start_hold
handshakes=$(openssl s_time -connect "127.0.0.1:$port" -new -time 10 2>/dev/null |
  sed -n 's/.*connections in [0-9.]*s; \([0-9.]*\) connections\/user sec.*/\1/p' | head -1)
kill -9 "$hold_pid" 2>/dev/null || true
steady=$(( big / 100 ))
log "P4: $big terminals, all but $steady reconnect at once (full handshakes)"
start_server p4
sim --vehicles "$big" --duration 75 --storm-at 25 --storm-steady "$steady" --no-tls-resume \
  --processes $(( big / 15000 + 2 )) \
  --source-addresses "$sources" --reply-timeout 60 --json-out "$work/p4.json" > /dev/null
stop_server
p4_back=$(sub_field storm all_back_s "$work/p4.json")
p4_dropped=$(grep -o '"dropped":[0-9]*' "$work/p4.json" | cut -d: -f2)
p4_returned=$(grep -o '"back":[0-9]*' "$work/p4.json" | cut -d: -f2)
p4_p99=$(sed -n 's/.*"steady_latency":{\([^}]*\)}.*/\1/p' "$work/p4.json" | grep -o '"p99_ms":[-0-9.eE]*' | cut -d: -f2 | awk '{ printf "%.3f", $1 }')
p4_rate=$(calc "$p4_dropped / ($p4_back > 0 ? $p4_back : 1)" 0)
fi

# --- P11: kill -9 under P1 load ----------------------------------------------------------------------
if want P11; then
log "P11: kill -9 after 8 s of P1 load"
start_server p11 --sync always
sim --vehicles "$p1_terminals" --window 8 --duration 14 --reply-timeout 3 \
  --acked-out "$work/p11-acked.txt" > /dev/null 2>&1 &
sim_pid=$!
pids+=("$sim_pid")
sleep 8
kill -9 "$server_pid"
wait "$sim_pid" || true
"$bin/lantiand" export --data-dir "$work/p11" > "$work/p11-export.jsonl"
p11_check=$("$bin/lantian-sim" check-acked "$work/p11-acked.txt" "$work/p11-export.jsonl" | tail -1 || true)
p11_acked=$(echo "$p11_check" | sed -n 's/acknowledged \([0-9]*\),.*/\1/p')
p11_lost=$(echo "$p11_check" | sed -n 's/.*missing \([0-9]*\)/\1/p')
fi

# --- P12: forwarding every report upward vs the same ingest without an upstream -------------------
# The same P1 load (window 8) twice on fresh archives: without an upstream, and with one link to
# `lantian-sim upstream`; the server's CPU counts until its rule backlog is empty and (with the link)
# the upstream has answered every report. Also the simulated upstream's own CPU per report.
upstream_lag() { metric 'lantian_upstream_lag_reports{upstream="bench"}'; }
if want P12; then
fleet=$work/fleet12.csv
"$bin/lantian-sim" --preset guo6 --vehicles "$p1_terminals" --zones "$zones" \
  --registry-out "$fleet" --plan-only > /dev/null
log "P12 reference: --sync always, no upstream"
start_server p12ref --sync always
read -r p12_ref p12_ref_p99 p12_ref_us p12_ref_sim_us _ < <(p1_load p12ref)
stop_server
"$bin/lantian-sim" upstream --listen tcp://127.0.0.1:0 --account HA0001:bench-link \
  --json-out "$work/upstream.json" > "$work/upstream.out" &
up_pid=$!
pids+=("$up_pid")
for _ in $(seq 50); do grep -q 'listening port=' "$work/upstream.out" && break; sleep 0.1; done
up_port=$(sed -n 's/listening port=\([0-9]*\)/\1/p' "$work/upstream.out")
log "P12: --sync always, forwarding to lantian-sim upstream on port $up_port"
start_server p12 --sync always \
  --upstream "tcp://127.0.0.1:$up_port?name=bench&user=HA0001&password=bench-link&platform=LANTIANBENCH00001"
up_cpu0=$(cpu_s "$up_pid")
server_cpu0=$(cpu_s "$server_pid")
children_cpu_s; sim_cpu0=$children_cpu
sim --vehicles "$p1_terminals" --zones "$zones" --window 8 --duration "$p1_seconds" \
  --json-out "$work/p12.json" > /dev/null
children_cpu_s; sim_cpu1=$children_cpu
p12_drain=$(drain_s)
start=$(date +%s.%N)
for _ in $(seq 1200); do [ "$(upstream_lag)" = "0" ] && break; sleep 0.1; done
p12_catch_up=$(calc "$(date +%s.%N) - $start" 2)
server_cpu1=$(cpu_s "$server_pid")
up_cpu1=$(cpu_s "$up_pid")
p12_acked=$(grep -o '"frames_acked":[0-9]*' "$work/p12.json" | cut -d: -f2)
p12=$(field frames_acked_per_s "$work/p12.json")
p12_p99=$(sub_field latency p99_ms "$work/p12.json")
p12_us=$(calc "($server_cpu1 - $server_cpu0) * 1e6 / $p12_acked" 1)
p12_sim_us=$(calc "($sim_cpu1 - $sim_cpu0) * 1e6 / $p12_acked" 1)
p12_up_us=$(calc "($up_cpu1 - $up_cpu0) * 1e6 / $p12_acked" 1)
p12_forwarded=$(metric 'lantian_upstream_acknowledged_total{upstream="bench"}')
stop_server
kill -TERM "$up_pid" 2>/dev/null; wait "$up_pid" 2>/dev/null || true
p12_up_distinct=$(field distinct "$work/upstream.json")
fleet=
fi

# --- the table and the JSON --------------------------------------------------------------------------
row() { printf '| %-4s | %-44s | %-22s | %-22s | %-26s | %-7s |\n' "$@"; }
{
  echo "bench/run.sh $size — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores shared with the load generator"
  row "#" "what" "target" "measured" "reference" "ratio"
  row "---" "---" "---" "---" "---" "---"
  if want P1; then row P1 "durable TLS ingest, $p1_terminals terminals, window 8" "≥ 50000 frames/s" "$p1 frames/s" "ack_server $p1_ack/s" "$(calc "$p1 / $p1_ack" 2) (≥ 0.70)"; fi
  if want P2; then row P2 "reply latency at $p2_rate frames/s (half P1/1)" "p99 ≤ 20, p999 ≤ 50 ms" "p99 $p2_p99, p999 $p2_p999 ms" "ack_server p99 $p2_ack_p99, p999 $p2_ack_p999" "$(calc "$p2_p99 / ($p2_ack_p99 > 0 ? $p2_ack_p99 : 1)" 2)"; echo "       P2: lantiand's own reply time (lantian_reply_seconds) p99 ≤ ${p2_server_p99:-?} ms; fsync p99 $fsync_p99, p999 $fsync_p999 ms"; fi
  if want P3; then row P3 "RSS per idle TLS terminal, $p3_connects held" "≤ 40 KiB" "$p3 KiB (+$p3_kernel kernel)" "tls_hold $p3_ref KiB (+$p3_ref_kernel)" "$(calc "$p3 / $p3_ref" 2)"; fi
  if want P4; then row P4 "storm: $p4_returned of $p4_dropped back, full handshakes" "≤ 60 s, steady p99 ≤ 200 ms" "${p4_back} s, p99 ${p4_p99} ms" "s_time ${handshakes:-?} hs/s" "$p4_rate hs/s in storm"; fi
  if want P11; then row P11 "kill -9 under P1 load" "0 lost" "$p11_lost lost of $p11_acked acked" "—" "—"; fi
  if want P12; then
    row P12 "forwarding upward, $p1_terminals terminals, window 8" "— (cost figure)" "$p12_us µs/report" "no upstream $p12_ref_us µs" "$(calc "$p12_us / $p12_ref_us" 2)"
    echo "       P12: $p12 reports/s (p99 $p12_p99 ms) vs $p12_ref/s (p99 $p12_ref_p99 ms) without; $p12_forwarded acknowledged upstream ($p12_up_distinct distinct) of $p12_acked, caught up ${p12_catch_up} s after the load; upstream sim $p12_up_us µs/report; load sim $p12_sim_us µs/report"
  fi
  if want P1; then
    echo "P1 per report (CPU µs; server counted until its rule backlog drained):"
    printf '  %-28s %10s %10s %12s %10s %9s\n' server "reports/s" "p99 ms" "server µs" "sim µs" "drain s"
    printf '  %-28s %10s %10s %12s %10s %9s\n' "ack_server (reference)" "$p1_ack" "$p1_ack_p99" "$p1_ack_us" "$p1_ack_sim_us" "—"
    printf '  %-28s %10s %10s %12s %10s %9s\n' "lantiand --frame-sink null" "$p1_ref" "$p1_ref_p99" "$p1_ref_us" "$p1_ref_sim_us" "$p1_ref_drain"
    printf '  %-28s %10s %10s %12s %10s %9s\n' "lantiand --sync always" "$p1" "$p1_p99" "$p1_us" "$p1_sim_us" "$p1_drain"
    printf '  %-28s %10s %10s %12s %10s %9s\n' "ack_server, 1 report/write" "$p1s_ack" "$p1s_ack_p99" "$p1s_ack_us" "$p1s_ack_sim_us" "—"
    printf '  %-28s %10s %10s %12s %10s %9s\n' "--sync always, 1 report/write" "$p1s" "$p1s_p99" "$p1s_us" "$p1s_sim_us" "$p1s_drain"
    if [ -n "${P1_BASELINE:-}" ]; then
      printf '  %-28s %10s %10s %12s %10s %9s\n' "baseline --sync always" "$p1_base" "$p1_base_p99" "$p1_base_us" "$p1_base_sim_us" "$p1_base_drain"
    fi
    echo "  targets: ratio to ack_server ≥ 0.70, server ≤ 55 µs, sim ≤ 15 µs, drain ≤ 5 s"
  fi
} | tee "$out/results.txt"
{
  echo "{\"size\": $size, \"cores\": $(nproc)"
  if want P1; then echo ", \"P1\": {\"terminals\": $p1_terminals, \"frames_per_s\": $p1, \"ack_server_frames_per_s\": $p1_ack, \"null_sink_frames_per_s\": $p1_ref, \"ratio\": $(calc "$p1 / $p1_ack" 3), \"p99_ms\": $p1_p99, \"server_us_per_report\": $p1_us, \"ack_server_us_per_report\": $p1_ack_us, \"null_sink_us_per_report\": $p1_ref_us, \"sim_us_per_report\": $p1_sim_us, \"drain_s\": $p1_drain, \"one_per_write\": {\"frames_per_s\": $p1s, \"ack_server_frames_per_s\": $p1s_ack, \"server_us_per_report\": $p1s_us, \"ack_server_us_per_report\": $p1s_ack_us, \"sim_us_per_report\": $p1s_sim_us, \"drain_s\": $p1s_drain}}"; fi
  if want P2; then echo ", \"P2\": {\"frames_per_s\": $p2_rate, \"p99_ms\": $p2_p99, \"p999_ms\": $p2_p999, \"fsync_p99_ms\": $fsync_p99, \"fsync_p999_ms\": $fsync_p999, \"ack_server_p99_ms\": $p2_ack_p99, \"ack_server_p999_ms\": $p2_ack_p999, \"server_side_p99_ms_at_most\": ${p2_server_p99:-null}}"; fi
  if want P3; then echo ", \"P3\": {\"terminals\": $p3_connects, \"rss_kib_per_terminal\": $p3, \"kernel_kib_per_terminal\": $p3_kernel, \"reference_rss_kib\": $p3_ref, \"reference_kernel_kib\": $p3_ref_kernel}"; fi
  if want P4; then echo ", \"P4\": {\"terminals\": $big, \"dropped\": $p4_dropped, \"back\": $p4_returned, \"all_back_s\": $p4_back, \"steady_p99_ms\": $p4_p99, \"storm_handshakes_per_s\": $p4_rate, \"s_time_handshakes_per_s\": ${handshakes:-null}}"; fi
  if want P11; then echo ", \"P11\": {\"acknowledged\": $p11_acked, \"lost\": $p11_lost}"; fi
  if want P12; then echo ", \"P12\": {\"frames_per_s\": $p12, \"reference_frames_per_s\": $p12_ref, \"p99_ms\": $p12_p99, \"reference_p99_ms\": $p12_ref_p99, \"server_us_per_report\": $p12_us, \"reference_server_us_per_report\": $p12_ref_us, \"upstream_sim_us_per_report\": $p12_up_us, \"sim_us_per_report\": $p12_sim_us, \"acknowledged_upstream\": $p12_forwarded, \"catch_up_s\": $p12_catch_up}"; fi
  echo "}"
} > "$out/results.json"
log "written $out/results.txt and $out/results.json"
