#!/bin/bash
# lantiand as a cluster on NATS JetStream, for real (docs/deploy-cluster.md):
#   a 3-broker nats-server cluster on loopback (its own configuration files, JetStream storage in a
#   temp dir), two ingest nodes, two processor nodes, and lantian-sim driving the CI scenario's
#   fleet against both ingest nodes. Under load it kills -9 one ingest node (its terminals move to
#   the other), one processor (the other takes its partitions over, rebuilding them from the
#   stream) and one broker (the R3 stream keeps its quorum), then restarts the processor and the
#   broker. Afterwards:
#     every report the terminals had acknowledged is in a processor's archive (acked ⊆ stored);
#     no archive holds a frame twice;
#     the violations are exactly the ones the scenario predicts (as on a single node).
# usage: cluster_test.sh BIN_DIR SAMPLES_DIR SCENARIO [SECONDS]
#   SECONDS: how long the fleet runs (default 24, CI); the kills come at 1/6, 2/6 and 3/6 of it.
#   The long form (docs/testing.md): SECONDS=600 LANTIAN_CLUSTER_VEHICLES=… for a soak.
set -euo pipefail
bin=$1 samples=$2 scenario=$3 seconds=${4:-24}
here=$(cd "$(dirname "$0")" && pwd)
command -v nats-server >/dev/null || { echo "FAIL: nats-server is not installed (scripts/setup.sh)"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${LANTIAN_KEEP_CLUSTER_TEST:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$work"/*.log; do echo "--- $f"; tail -15 "$f"; done
  exit 1
}
cd "$work"

# --- the brokers -------------------------------------------------------------------------------
source "$here/nats_brokers.sh"
configure_brokers "$work"
for b in 1 2 3; do start_broker $b; done
wait_for_brokers || fail "the brokers did not start"
cluster=$nats_urls

# --- the fleet and the catalogue every node reads ----------------------------------------------
"$bin/lantian-sim" --scenario "$scenario" --zones "$samples/zones-henan-sample.geojson" \
  --registry-out fleet.csv --plan-only > plan.log
for node in ingest-1 ingest-2 proc-1 proc-2; do
  "$bin/lantiand" import-registry --data-dir "$node" fleet.csv > /dev/null
  "$bin/lantiand" import-zones --data-dir "$node" "$samples/zones-henan-sample.geojson" > /dev/null
  "$bin/lantiand" import-areas --data-dir "$node" "$samples/areas-henan-sample.geojson" > /dev/null
done

# --- the nodes ---------------------------------------------------------------------------------
declare -A node_pid node_port admin_port
start_node() {  # NODE ROLE
  local node=$1 role=$2
  echo "--- start $(date +%T.%N)" >> "$node.log"
  local from; from=$(wc -l < "$node.log")
  "$bin/lantiand" --data-dir "$node" --listen "tcp://127.0.0.1:0?profile=auto" \
    --admin 127.0.0.1:0 --api off --admin-socket off --reply-gb17691 true \
    --max-connections-per-address 1000 --cluster "$cluster" --cluster-node "$node" \
    --cluster-role "$role" --cluster-partitions 8 >> "$node.log" 2>&1 &
  node_pid[$node]=$!
  pids+=($!)
  for _ in $(seq 450); do  # a broker just restarted may hold a start up for seconds
    node_port[$node]=$(tail -n +"$from" "$node.log" | sed -n 's/.*event=listening .* port=\([0-9]*\).*/\1/p' | head -1)
    admin_port[$node]=$(tail -n +"$from" "$node.log" | sed -n 's/.*event=admin_listening port=\([0-9]*\).*/\1/p' | head -1)
    if [ -n "${admin_port[$node]}" ] && { [ "$role" = processor ] || [ -n "${node_port[$node]}" ]; }; then
      return 0
    fi
    sleep 0.1
  done
  fail "$node did not start"
}
metric() {  # NODE NAME: the metric's value on the node's /metrics
  curl -sf "http://127.0.0.1:${admin_port[$1]}/metrics" | sed -n "s/^$2 \([0-9]*\)$/\1/p"
}
start_node proc-1 processor
start_node proc-2 processor
start_node ingest-1 ingest
start_node ingest-2 ingest
# Both processors see each other and own 8 partitions between them.
for _ in $(seq 100); do
  [ "$(metric proc-1 lantian_cluster_processors)" = 2 ] && [ "$(metric proc-2 lantian_cluster_processors)" = 2 ] &&
    [ $(( $(metric proc-1 lantian_cluster_partitions_owned) + $(metric proc-2 lantian_cluster_partitions_owned) )) = 8 ] && break
  sleep 0.2
done
[ "$(metric proc-1 lantian_cluster_processors)" = 2 ] || fail "the processors do not see each other"

# --- the fleet under kills ---------------------------------------------------------------------
"$bin/lantian-sim" --connect "tcp://127.0.0.1:${node_port[ingest-1]}" \
  --connect "tcp://127.0.0.1:${node_port[ingest-2]}" --scenario "$scenario" \
  --zones "$samples/zones-henan-sample.geojson" --gb17691-replies --window 2 \
  --duration "$seconds" --reply-timeout 10 --progress 0 \
  --acked-out acked.txt --expected-out expected.jsonl --json-out report.json > sim.log 2>&1 &
sim_pid=$!
pids+=($sim_pid)
step=$((seconds / 6))
sleep "$step"
acked_then=$(wc -l < acked.txt)
kill -9 "${node_pid[ingest-1]}"; wait "${node_pid[ingest-1]}" 2>/dev/null || true
echo "killed ingest-1 after $acked_then acknowledged reports"
sleep "$step"
kill -9 "${node_pid[proc-1]}"; wait "${node_pid[proc-1]}" 2>/dev/null || true
killed_at=$(date +%s%N)
echo "killed proc-1"
# proc-2 takes every partition over once proc-1's lease has run out.
for _ in $(seq 400); do  # 20 s: the lease is 5 s, the rest is slack for a loaded machine
  [ "$(metric proc-2 lantian_cluster_partitions_owned)" = 8 ] && break
  sleep 0.05
done
[ "$(metric proc-2 lantian_cluster_partitions_owned)" = 8 ] || fail "proc-2 did not take proc-1's partitions over"
echo "takeover: proc-2 owns every partition $(( ($(date +%s%N) - killed_at) / 1000000 )) ms after the kill"
sleep "$step"
kill -9 "${broker_pid[2]}"; wait "${broker_pid[2]}" 2>/dev/null || true
echo "killed broker2"
sleep "$step"
start_broker 2
start_node proc-1 processor
echo "restarted broker2 and proc-1"
wait "$sim_pid" || fail "lantian-sim failed: $(tail -5 sim.log)"
json_field() { grep -o "\"$1\":[0-9]*" "$2" | head -1 | cut -d: -f2; }
acked=$(json_field frames_acked report.json)
[ "$acked" -gt "$acked_then" ] || fail "no report acknowledged after the first kill"
[ "$(wc -l < acked.txt)" = "$acked" ] || fail "ack log has $(wc -l < acked.txt) lines, $acked acked"

# --- every acknowledged report is stored, once --------------------------------------------------
# The processors catch up with the stream (each owns its partitions again), then stop gracefully
# so that their rule shards finish.
for _ in $(seq 100); do
  [ "$(metric proc-1 lantian_cluster_processors)" = 2 ] && [ "$(metric proc-2 lantian_cluster_processors)" = 2 ] && break
  sleep 0.2
done
# Caught up: each partition is owned once with nothing left to read (lantian_cluster_partition_lag),
# and every acknowledged report is in an archive (read while the processors run).
caught_up() {
  local lags
  lags=$(for node in proc-1 proc-2; do
    curl -sf "http://127.0.0.1:${admin_port[$node]}/metrics" | grep '^lantian_cluster_partition_lag{'
  done)
  state="owned: $(echo "$lags" | grep -c .) partitions, lag $(echo "$lags" | awk '{ s += $2 } END { print s + 0 }')"
  [ "$(echo "$lags" | grep -c .)" = 8 ] && [ "$(echo "$lags" | awk '{ s += $2 } END { print s + 0 }')" = 0 ] || return 1
  for node in proc-1 proc-2; do "$bin/lantiand" export --data-dir "$node" > "$node.running-export"; done
  cat proc-1.running-export proc-2.running-export > running.jsonl
  "$bin/lantian-sim" check-acked acked.txt running.jsonl > check.log 2>&1 || { state="$state; $(tail -1 check.log)"; return 1; }
}
state=
for _ in $(seq 60); do caught_up && break; sleep 1; done
caught_up || fail "the processors did not catch up: $state"
for node in ingest-2 proc-1 proc-2; do
  kill -TERM "${node_pid[$node]}"
  wait "${node_pid[$node]}" || fail "$node did not stop cleanly"
done
for node in proc-1 proc-2; do
  "$bin/lantiand" export --data-dir "$node" > "$node.export"
  twice=$(jq -r '[.raw, .received.unix_ms, .received.peer] | @tsv' "$node.export" | sort | uniq -d | wc -l)
  [ "$twice" = 0 ] || fail "$node's archive holds $twice frames twice"
  "$bin/lantiand" violations --data-dir "$node" > "$node.violations"
done
cat proc-1.export proc-2.export > stored.jsonl
"$bin/lantian-sim" check-acked acked.txt stored.jsonl || fail "acknowledged reports are missing"
# A partition's violations are the same on every node that evaluated it: the union, by id.
cat proc-1.violations proc-2.violations | jq -c -s 'unique_by(.id) | .[]' > violations.jsonl
"$bin/lantian-sim" check-violations expected.jsonl violations.jsonl fleet.csv ||
  fail "the violations differ from the scenario's"
echo "cluster: $acked reports acknowledged through kill -9 of an ingest node, a processor and a broker; all stored, none twice; violations as predicted"
