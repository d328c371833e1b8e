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
#     the violations are exactly the ones the scenario predicts (as on a single node);
#     one API for the whole cluster: every node's API lists every violation, and answers a
#     vehicle's frames and track and takes a review whichever node owns the vehicle.
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
# API tokens are each node's own (the node asked authenticates).
declare -A police
for node in ingest-2 proc-1 proc-2; do
  police[$node]=$("$bin/lantiand" token create --data-dir "$node" --role police --label "cluster test")
done
reviewer=$("$bin/lantiand" token create --data-dir ingest-2 --role reviewer --label "cluster test")

# --- the nodes ---------------------------------------------------------------------------------
declare -A node_pid node_port admin_port api_port
start_node() {  # NODE ROLE
  local node=$1 role=$2
  echo "--- start $(date +%T.%N)" >> "$node.log"
  local from; from=$(wc -l < "$node.log")
  "$bin/lantiand" --data-dir "$node" --listen "tcp://127.0.0.1:0?profile=auto" \
    --admin 127.0.0.1:0 --api 127.0.0.1:0 --admin-socket off --reply-gb17691 true \
    --max-connections-per-address 1000 --cluster "$cluster" --cluster-node "$node" \
    --cluster-role "$role" --cluster-partitions 8 >> "$node.log" 2>&1 &
  node_pid[$node]=$!
  pids+=($!)
  for _ in $(seq 450); do  # a broker just restarted may hold a start up for seconds
    node_port[$node]=$(tail -n +"$from" "$node.log" | sed -n 's/.*event=listening .* port=\([0-9]*\).*/\1/p' | head -1)
    admin_port[$node]=$(tail -n +"$from" "$node.log" | sed -n 's/.*event=admin_listening port=\([0-9]*\).*/\1/p' | head -1)
    api_port[$node]=$(tail -n +"$from" "$node.log" | sed -n 's/.*event=api_listening port=\([0-9]*\).*/\1/p' | head -1)
    if [ -n "${admin_port[$node]}" ] && [ -n "${api_port[$node]}" ] &&
      { [ "$role" = processor ] || [ -n "${node_port[$node]}" ]; }; then
      return 0
    fi
    sleep 0.1
  done
  fail "$node did not start"
}
api() {  # NODE TOKEN PATH [CURL ARGS…]: the node's API answer (its development certificate)
  local node=$1 token=$2 path=$3
  shift 3
  curl -sk --max-time 30 -H "Authorization: Bearer $token" "https://127.0.0.1:${api_port[$node]}$path" "$@"
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

# --- one API for the cluster, while the processors run ---------------------------------------------
# A vehicle's frames and track come from its partition's owner, whichever node is asked: ingest-2
# owns nothing, and one of the processors does not own the vehicle.
vin=$(jq -r '.vin' running.jsonl | sort | uniq -c | awk '!found && $1 >= 20 && $1 <= 400 { print $2; found = 1 }')
[ -n "$vin" ] || fail "no vehicle with 20 to 400 frames in the archives"
jq -r --arg vin "$vin" 'select(.vin == $vin) | .raw' running.jsonl | sort > frames.expected
now=$(date +%s)
for node in ingest-2 proc-1 proc-2; do
  api "$node" "${police[$node]}" "/api/v1/vehicles/$vin/frames?from=$((now - 20 * 86400))&to=$((now + 10 * 86400))&limit=500" > "frames.$node.json"
  jq -r '.items[].hex' "frames.$node.json" | sort > "frames.$node" || fail "$node: no frames answer: $(head -c 300 "frames.$node.json")"
  cmp -s frames.expected "frames.$node" ||
    fail "$node answers $(wc -l < "frames.$node") frames of $vin, the archives hold $(wc -l < frames.expected): $(head -c 300 "frames.$node.json")"
  api "$node" "${police[$node]}" "/api/v1/vehicles/$vin/track?from=$((now - 3 * 86400))&to=$((now + 3 * 86400))" > "track.$node.json"
done
cmp -s track.proc-1.json track.proc-2.json && cmp -s track.proc-1.json track.ingest-2.json ||
  fail "the nodes answer different tracks of $vin"
points=$(jq '.features[0].properties.points' track.ingest-2.json)
[ "$points" -gt 0 ] || fail "the track of $vin has no point: $(head -c 300 track.ingest-2.json)"
echo "api: $(wc -l < frames.expected) frames and a $points-point track of $vin, the same from every node"
# A review made on ingest-2 is carried out by the owner and reaches every node.
id=$(api ingest-2 "${police[ingest-2]}" "/api/v1/violations?limit=1&rule=R01" | jq -r '.items[0].id')
[ -n "$id" ] && [ "$id" != null ] || fail "ingest-2 lists no R01 violation"
encoded=$(jq -rn --arg id "$id" '$id | @uri')
status=$(api ingest-2 "$reviewer" "/api/v1/violations/$encoded/review" -X POST \
  -H 'Content-Type: application/json' -d '{"decision":"confirmed","comment":"cluster test"}' | jq -r .status)
[ "$status" = confirmed ] || fail "the review of $id through ingest-2 answered status $status"
for node in proc-1 proc-2 ingest-2; do
  for _ in $(seq 100); do
    [ "$(api "$node" "${police[$node]}" "/api/v1/violations/$encoded" | jq -r .violation.status)" = confirmed ] && break
    sleep 0.1
  done
  [ "$(api "$node" "${police[$node]}" "/api/v1/violations/$encoded" | jq -r .violation.status)" = confirmed ] ||
    fail "$node does not show the review of $id"
done
echo "api: a review made on ingest-2 is on every node"

# The processors stop first: their rule shards finish and publish their last changes, which
# ingest-2 (holding no partition) applies; its API then lists every violation of the cluster.
for node in proc-1 proc-2; do
  kill -TERM "${node_pid[$node]}"
  wait "${node_pid[$node]}" || fail "$node did not stop cleanly"
done
for node in proc-1 proc-2; do "$bin/lantiand" violations --data-dir "$node"; done | jq -r .id | sort -u > violation-ids
for _ in $(seq 100); do
  api ingest-2 "${police[ingest-2]}" "/api/v1/violations?limit=1000&include_withdrawn=true" > api-violations.json
  jq -r '.items[].id' api-violations.json | sort > api-violation-ids
  cmp -s violation-ids api-violation-ids && break
  sleep 0.2
done
cmp -s violation-ids api-violation-ids ||
  fail "ingest-2's API lists $(wc -l < api-violation-ids) violations, the processors hold $(wc -l < violation-ids)"
jq -c '.items[] | select(.withdrawn == null)' api-violations.json > api-violations.jsonl
"$bin/lantian-sim" check-violations expected.jsonl api-violations.jsonl fleet.csv ||
  fail "the violations ingest-2's API lists differ from the scenario's"
kill -TERM "${node_pid[ingest-2]}"
wait "${node_pid[ingest-2]}" || fail "ingest-2 did not stop cleanly"
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
echo "cluster: $acked reports acknowledged through kill -9 of an ingest node, a processor and a broker; all stored, none twice; violations as predicted, and the same through any node's API"
