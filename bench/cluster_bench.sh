#!/bin/bash
# The cluster path against the embedded server, in the same run on this machine
# (docs/performance.md, "Cluster"): the same fleet at the same rate is sent to
#   1. one embedded lantiand (RocksDB archive + rules, the reference), then
#   2. a cluster: one ingest node and one processor node on a 3-broker NATS cluster (R3 stream),
# and for each the CPU seconds of every process are read from /proc over the run (the processor's
# until it has applied the last frame), with the simulator's reply latency. Then a second processor
# joins, and the first is killed -9: how long until the second owns every partition, and how fast
# it rebuilds the partitions from the stream. In between, one API request about a vehicle is timed
# on the processor owning it (answered from its archive) and on the ingest node (which owns
# nothing: the request goes to the owner over the brokers and back), and the violation changes the
# processor published to the other nodes are counted.
#
#   bench/cluster_bench.sh [VEHICLES [SECONDS [RATE]]]     default 400 vehicles, 20 s, 2000 frames/s
#
# Prints one table and writes out/bench/cluster.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
vehicles=${1:-400} seconds=${2:-20} rate=${3:-2000}
out=$root/out/bench
mkdir -p "$out"
work=$(mktemp -d -p "$out")  # on the repository's disk: fsync costs what it costs
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${LANTIAN_KEEP_BENCH:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
log() { echo "[cluster-bench] $*" >&2; }
cd "$root"
cmake --preset release > /dev/null
cmake --build build --target lantiand lantian-sim > /dev/null
bin=$root/build/bin
samples=$root/samples
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
field() { grep -o "\"$1\":[-0-9.eE]*" "$2" | head -1 | cut -d: -f2 | awk '{ printf "%.1f", $1 }'; }
json_int() { grep -o "\"$1\":[0-9]*" "$2" | head -1 | cut -d: -f2; }
source "$root/tests/cluster/nats_brokers.sh"  # free_port, the three brokers
cd "$work"
"$bin/lantian-sim" --preset mixed --vehicles "$vehicles" --zones "$samples/zones-henan-sample.geojson" \
  --registry-out fleet.csv --plan-only > /dev/null
prepare() {  # DATA_DIR: the fleet's registry and the sample zones (rules evaluated)
  "$bin/lantiand" import-registry --data-dir "$1" fleet.csv > /dev/null
  "$bin/lantiand" import-zones --data-dir "$1" "$samples/zones-henan-sample.geojson" > /dev/null
}
declare -A pid port admin api token
start_lantiand() {  # NAME OPTIONS…   (API=1: with the HTTPS API and a police token)
  local name=$1; shift
  prepare "$name"
  [ -n "${API:-}" ] && token[$name]=$("$bin/lantiand" token create --data-dir "$name" --role police --label bench 2>/dev/null)
  "$bin/lantiand" --data-dir "$name" --listen "tcp://127.0.0.1:0?profile=auto" --admin 127.0.0.1:0 \
    --api "$([ -n "${API:-}" ] && echo 127.0.0.1:0 || echo off)" --admin-socket off --reply-gb17691 true "$@" > "$name.log" 2>&1 &
  pid[$name]=$!; pids+=($!)
  for _ in $(seq 150); do
    port[$name]=$(sed -n 's/.*event=listening .* port=\([0-9]*\).*/\1/p' "$name.log" | head -1)
    admin[$name]=$(sed -n 's/.*event=admin_listening port=\([0-9]*\).*/\1/p' "$name.log" | head -1)
    api[$name]=$(sed -n 's/.*event=api_listening port=\([0-9]*\).*/\1/p' "$name.log" | head -1)
    [ -n "${admin[$name]}" ] && { [ -z "${API:-}" ] || [ -n "${api[$name]}" ]; } && return 0
    sleep 0.1
  done
  cat "$name.log"; exit 1
}
metric() { curl -sf "http://127.0.0.1:${admin[$1]}/metrics" | sed -n "s/^$2 \([0-9]*\)$/\1/p"; }
drive() {  # PORT JSON: the fleet at the rate for the run's seconds
  "$bin/lantian-sim" --connect "tcp://127.0.0.1:$1" --preset mixed --vehicles "$vehicles" \
    --zones "$samples/zones-henan-sample.geojson" --gb17691-replies --rate "$rate" \
    --duration "$seconds" --progress 0 --json-out "$2" > /dev/null 2>&1 &
  sim=$!
  sim_cpu=0
  while kill -0 $sim 2>/dev/null; do sim_cpu=$(cpu_s $sim 2>/dev/null || echo "$sim_cpu"); sleep 0.2; done
  wait $sim
}

# --- 1. the embedded server ---------------------------------------------------------------------
log "embedded server: $vehicles vehicles, $rate frames/s, $seconds s"
start_lantiand single
c0=$(cpu_s "${pid[single]}")
drive "${port[single]}" single.json
c1=$(cpu_s "${pid[single]}")
single_cpu=$(calc "$c1 - $c0" 2)
single_frames=$(json_int frames_acked single.json)
single_p99=$(field p99_ms single.json)
kill -TERM "${pid[single]}"; wait "${pid[single]}" || true

# --- 2. the cluster ------------------------------------------------------------------------------
configure_brokers "$work"
for b in 1 2 3; do start_broker $b; done
wait_for_brokers || { log "the brokers did not start"; exit 1; }
cluster=$nats_urls
monitor=${monitor_port[1]}
log "cluster: 1 ingest node, 1 processor, 3 brokers (R3)"
API=1 start_lantiand proc-1 --cluster "$cluster" --cluster-node proc-1 --cluster-role processor
API=1 start_lantiand ingest --cluster "$cluster" --cluster-node ingest --cluster-role ingest
for _ in $(seq 100); do [ "$(metric proc-1 lantian_cluster_partitions_owned)" = 16 ] && break; sleep 0.1; done
i0=$(cpu_s "${pid[ingest]}"); p0=$(cpu_s "${pid[proc-1]}")
b0=0; for b in 1 2 3; do b0=$(calc "$b0 + $(cpu_s "${broker_pid[$b]}")" 2); done
drive "${port[ingest]}" cluster.json
cluster_frames=$(json_int frames_acked cluster.json)
published=$(metric ingest lantian_cluster_published_total)
# The processor has applied everything published (logins included) when its count stops short
# of nothing.
for _ in $(seq 600); do
  [ "$(metric proc-1 lantian_cluster_processor_applied_total)" -ge "$published" ] && break
  sleep 0.1
done
i1=$(cpu_s "${pid[ingest]}"); p1=$(cpu_s "${pid[proc-1]}")
# Disk per frame: the stream on one broker (each of the 3 holds a copy), the processor's archive.
stream_bytes=$(curl -sf "http://127.0.0.1:$monitor/jsz?streams=true" |
  jq '[.account_details[].stream_detail[] | select(.name == "LANTIAN_FRAMES") | .state.bytes] | add')
stream_msgs=$(curl -sf "http://127.0.0.1:$monitor/jsz?streams=true" |
  jq '[.account_details[].stream_detail[] | select(.name == "LANTIAN_FRAMES") | .state.messages] | add')
archive_bytes=$(du -sb proc-1 | cut -f1)
b1=0; for b in 1 2 3; do b1=$(calc "$b1 + $(cpu_s "${broker_pid[$b]}")" 2); done
ingest_cpu=$(calc "$i1 - $i0" 2); proc_cpu=$(calc "$p1 - $p0" 2); broker_cpu=$(calc "$b1 - $b0" 2)
cluster_p99=$(field p99_ms cluster.json)
changes=$(metric proc-1 lantian_cluster_violations_published_total)
# One vehicle's frames (a page of up to 500) through the API, 20 times each, the median: from the
# owner's archive, and through the ingest node and the brokers.
vin=$(sed -n '2s/,.*//p' fleet.csv)
now=$(date +%s)
query="/api/v1/vehicles/$vin/frames?from=$((now - 10 * 86400))&to=$((now + 10 * 86400))&limit=500"
median_ms() {  # NODE
  for _ in $(seq 20); do
    curl -sk -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer ${token[$1]}" \
      "https://127.0.0.1:${api[$1]}$query"
  done | sort -n | awk '{ t[NR] = $1 } END { printf "%.1f", t[int((NR + 1) / 2)] * 1000 }'
}
frames_listed=$(curl -sk -H "Authorization: Bearer ${token[ingest]}" "https://127.0.0.1:${api[ingest]}$query" | jq '.items | length')
owner_ms=$(median_ms proc-1)
forwarded_ms=$(median_ms ingest)

# --- 3. takeover and rebuild ----------------------------------------------------------------------
start_lantiand proc-2 --cluster "$cluster" --cluster-node proc-2 --cluster-role processor
for _ in $(seq 200); do [ "$(metric proc-2 lantian_cluster_partitions_owned)" -gt 0 ] && break; sleep 0.1; done
for _ in $(seq 600); do  # proc-2 rebuilds its share of the partitions from the stream
  a=$(metric proc-2 lantian_cluster_processor_applied_total); sleep 0.5
  [ "$(metric proc-2 lantian_cluster_processor_applied_total)" = "$a" ] && [ "$a" -gt 0 ] && break
done
kill -9 "${pid[proc-1]}"; killed=$(date +%s%N)
for _ in $(seq 400); do [ "$(metric proc-2 lantian_cluster_partitions_owned)" = 16 ] && break; sleep 0.025; done
owned_ms=$(( ($(date +%s%N) - killed) / 1000000 ))
r0=$(metric proc-2 lantian_cluster_processor_applied_total)
for _ in $(seq 2400); do [ "$(metric proc-2 lantian_cluster_processor_applied_total)" -ge "$published" ] && break; sleep 0.05; done
rebuilt_ms=$(( ($(date +%s%N) - killed) / 1000000 ))
r1=$(metric proc-2 lantian_cluster_processor_applied_total)

us() { calc "$1 * 1000000 / $2" 1; }
single_us=$(us "$single_cpu" "$single_frames")
ingest_us=$(us "$ingest_cpu" "$cluster_frames"); proc_us=$(us "$proc_cpu" "$cluster_frames")
nodes_us=$(calc "$ingest_us + $proc_us" 1); broker_us=$(us "$broker_cpu" "$cluster_frames")
printf '\n%-52s %12s\n' "measure" "value"
printf '%-52s %12s\n' "embedded: CPU µs per report (lantiand)" "$single_us"
printf '%-52s %12s\n' "cluster: CPU µs per report, ingest node" "$ingest_us"
printf '%-52s %12s\n' "cluster: CPU µs per report, processor node" "$proc_us"
printf '%-52s %12s\n' "cluster: lantiand nodes together / embedded" "$(calc "$nodes_us / $single_us" 2)×"
printf '%-52s %12s\n' "cluster: CPU µs per report, 3 brokers together" "$broker_us"
printf '%-52s %12s\n' "cluster: everything / embedded" "$(calc "($nodes_us + $broker_us) / $single_us" 2)×"
printf '%-52s %12s\n' "reply p99 ms, embedded / cluster" "$single_p99 / $cluster_p99"
printf '%-52s %12s\n' "stream bytes per frame, one broker's copy" "$(calc "$stream_bytes / $stream_msgs" 0)"
printf '%-52s %12s\n' "processor archive bytes per frame (du, unflushed WAL)" "$(calc "$archive_bytes / $stream_msgs" 0)"
printf '%-52s %12s\n' "violation changes published per 1,000 reports" "$(calc "$changes * 1000 / $cluster_frames" 2)"
printf '%-52s %12s\n' "API: $frames_listed frames of a vehicle, owner / via ingest (ms)" "$owner_ms / $forwarded_ms"
printf '%-52s %12s\n' "takeover: all partitions owned after kill -9 (ms)" "$owned_ms"
printf '%-52s %12s\n' "rebuild: frames applied by the new owner" "$((r1 - r0))"
printf '%-52s %12s\n' "rebuild: done after kill -9 (ms)" "$rebuilt_ms"
cat > "$out/cluster.json" <<JSON
{"vehicles":$vehicles,"seconds":$seconds,"rate":$rate,"single_frames":$single_frames,"cluster_frames":$cluster_frames,
 "single_cpu_us":$single_us,"ingest_cpu_us":$ingest_us,"processor_cpu_us":$proc_us,"brokers_cpu_us":$broker_us,
 "single_p99_ms":$single_p99,"cluster_p99_ms":$cluster_p99,"violation_changes":$changes,
 "api_frames":$frames_listed,"api_owner_ms":$owner_ms,"api_forwarded_ms":$forwarded_ms,"takeover_ms":$owned_ms,"rebuild_ms":$rebuilt_ms,"rebuilt_frames":$((r1 - r0))}
JSON
