#!/usr/bin/env bash
# The monitoring files in ops/ against a running lantiand:
#   - ops/prometheus/lantian-alerts.yml passes `promtool check rules` and the unit tests of
#     lantian-alerts.test.yml (alerts that must fire, with their text, and stay silent);
#   - ops/grafana/lantian-dashboard.json is JSON, a dashboard whose every query is PromQL and
#     reads the ${DS_PROMETHEUS} data source;
#   - ops/prometheus/lantian-cluster-alerts.yml likewise, with lantian-cluster-alerts.test.yml;
#   - every lantian_… metric name in them is one the server exposes on /metrics (a server is
#     started on free ports and scraped; histograms as NAME_bucket, _sum and _count), the cluster
#     rules' against a cluster node (both roles, on one nats-server with JetStream).
# usage: check_monitoring.sh BIN_DIR
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
rules=$src/ops/prometheus/lantian-alerts.yml
cluster_rules=$src/ops/prometheus/lantian-cluster-alerts.yml
dashboard=$src/ops/grafana/lantian-dashboard.json
work=$(mktemp -d)
server_pid= broker_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
  [ -n "$broker_pid" ] && kill -9 "$broker_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

passed=0 failed=0
check() {  # check NAME COMMAND...
  local name=$1
  shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}

# --- the alert rules --------------------------------------------------------------------------
check "promtool check rules" promtool check rules "$rules"
check "promtool test rules (alerts fire with their text, or stay silent)" \
  promtool test rules "$here/lantian-alerts.test.yml"
check "promtool check rules (cluster)" promtool check rules "$cluster_rules"
check "promtool test rules (cluster)" promtool test rules "$here/lantian-cluster-alerts.test.yml"

# --- the dashboard ----------------------------------------------------------------------------
check "the dashboard is JSON" jq empty "$dashboard"
check "the dashboard asks for its data source as input DS_PROMETHEUS" \
  test "$(jq -r '.__inputs[0].name + " " + .__inputs[0].pluginId' "$dashboard")" = "DS_PROMETHEUS prometheus"
check "every panel and query reads \${DS_PROMETHEUS}" test "$(jq -r '
  [.panels[] | select(.type != "row") | .datasource.uid, (.targets[] | .datasource.uid)] | unique | join(" ")' \
  "$dashboard")" = '${DS_PROMETHEUS}'
check "every panel has a query" test "$(jq '[.panels[] | select(.type != "row" and (.targets | length) == 0)] | length' "$dashboard")" = 0
check "panel ids are unique" test "$(jq '[.panels[].id] | (length == (unique | length))' "$dashboard")" = true
# Each query as a recording rule, so that promtool parses it as PromQL (Grafana's variables
# replaced by what they stand for).
{
  echo "groups:"
  echo "  - name: dashboard"
  echo "    rules:"
  jq -r '.panels[].targets[]?.expr' "$dashboard" |
    sed 's/\$__rate_interval/5m/g; s/\$instance/.*/g' |
    awk '{ gsub(/\x27/, "\x27\x27"); printf "      - record: dashboard_query_%d\n        expr: \x27%s\x27\n", NR, $0 }'
} >"$work/dashboard-queries.yml"
check "every dashboard query is PromQL ($(grep -c 'record:' "$work/dashboard-queries.yml") queries)" \
  promtool check rules "$work/dashboard-queries.yml"

# --- the metric names against a running server ------------------------------------------------
# exposed_names NAME LANTIAND_OPTIONS…: starts lantiand on free ports with its data in $work/NAME,
# reads /metrics once, stops it, and writes the names it declares to $work/NAME.exposed (families
# without a sample yet still have their TYPE line; histograms also as _bucket, _sum and _count).
exposed_names() {
  local name=$1 admin=
  shift
  "$bin/lantiand" --data-dir "$work/$name" --listen tcp://127.0.0.1:0 --admin 127.0.0.1:0 "$@" \
    >"$work/$name.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 300); do
    admin=$(sed -n 's/.*event=admin_listening port=\([0-9]*\).*/\1/p' "$work/$name.log")
    [ -n "$admin" ] && break
    sleep 0.1
  done
  [ -n "$admin" ] || { cat "$work/$name.log"; echo "FAIL lantiand ($name) did not start"; exit 1; }
  curl -sf "http://127.0.0.1:$admin/metrics" >"$work/$name.metrics"
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=
  awk '$1 == "#" && $2 == "TYPE" {
         print $3
         if ($4 == "histogram") { print $3 "_bucket"; print $3 "_sum"; print $3 "_count" }
       }' "$work/$name.metrics" | sort -u >"$work/$name.exposed"
}
exposed_names server --api 127.0.0.1:0 --certs-script "$src/certs/make-dev-certs.sh"
cp "$work/server.exposed" "$work/exposed"
check "the server exposes its metrics ($(wc -l <"$work/exposed") names)" \
  test "$(wc -l <"$work/exposed")" -ge 50
for file in "$rules" "$dashboard"; do
  grep -o 'lantian_[a-z0-9_]*' "$file" | sort -u >"$work/used"
  unknown=$(comm -23 "$work/used" "$work/exposed" | tr '\n' ' ')
  check "every metric in $(basename "$file") is exposed ($(wc -l <"$work/used") names)${unknown:+; unknown: $unknown}" \
    test -z "$unknown"
done

# A cluster node's names: ingest and processor in one process on a single broker.
source "$here/../cluster/nats_brokers.sh"  # free_port
broker_port=$(free_port)
nats-server -a 127.0.0.1 -p "$broker_port" -js -sd "$work/js" >"$work/broker.log" 2>&1 &
broker_pid=$!
exposed_names node --api off --admin-socket off --cluster "nats://127.0.0.1:$broker_port" \
  --cluster-node monitoring-check --cluster-replicas 1
cp "$work/node.exposed" "$work/cluster-exposed"
grep -o 'lantian_[a-z0-9_]*' "$cluster_rules" | sort -u >"$work/used"
unknown=$(comm -23 "$work/used" "$work/cluster-exposed" | tr '\n' ' ')
check "every metric in $(basename "$cluster_rules") is exposed by a cluster node ($(wc -l <"$work/used") names)${unknown:+; unknown: $unknown}" \
  test -z "$unknown"
for m in lantian_cluster_connected lantian_cluster_partitions_owned lantian_cluster_partition_lag \
  lantian_cluster_violations_applied_position; do
  check "a cluster alert watches $m" grep -q "$m" "$cluster_rules"
done

# What the files must cover, each by at least one of its metrics.
for m in lantian_frames_stored_total lantian_reply_seconds_bucket lantian_fsync_seconds_bucket \
  lantian_wal_damaged lantian_storage_available lantian_ingest_queue_depth \
  lantian_rules_backlog_reports lantian_upstream_lag_seconds lantian_upstream_connected \
  lantian_share_pending lantian_api_refused_total lantian_connections_open; do
  check "the dashboard shows $m" grep -q "$m" "$dashboard"
done
for m in lantian_storage_available lantian_wal_damaged lantian_reply_seconds_bucket \
  lantian_rules_backlog_reports lantian_upstream_lag_seconds lantian_share_pending; do
  check "an alert watches $m" grep -q "$m" "$rules"
done
# The check can fail: a name the server does not expose is found.
sed 's/lantian_share_pending/lantian_share_backlog/' "$rules" | grep -o 'lantian_[a-z0-9_]*' | sort -u >"$work/used"
check "a misspelt metric would be caught" test "$(comm -23 "$work/used" "$work/exposed")" = lantian_share_backlog

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
