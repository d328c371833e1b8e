# Sourced by tests/cluster/cluster_test.sh and bench/cluster_bench.sh: a 3-broker nats-server
# cluster on loopback, each broker with its own configuration file and JetStream directory under
# the caller's working directory.
#   free_port                 a port nothing listens on (and that no earlier call returned)
#   configure_brokers DIR     picks ports, writes DIR/broker{1,2,3}.conf; sets client_port[],
#                             monitor_port[] and nats_urls (the --cluster value)
#   start_broker N            starts broker N (appends its pid to the caller's `pids`)
#   wait_for_brokers          until all three answer with JetStream enabled; false after 20 s

used_ports=" "
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-)
    case "$used_ports" in *" $p "*) continue ;; esac
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    used_ports+="$p "
    echo "$p"
    return
  done
}

declare -A client_port monitor_port broker_pid
broker_dir=
nats_urls=
configure_brokers() {
  broker_dir=$1
  local b routes=() route_port=()
  for b in 1 2 3; do
    client_port[$b]=$(free_port)
    monitor_port[$b]=$(free_port)
    route_port[$b]=$(free_port)
    routes+=("nats-route://127.0.0.1:${route_port[$b]}")
  done
  local route_list
  route_list=$(IFS=,; echo "${routes[*]}")
  for b in 1 2 3; do
    cat > "$broker_dir/broker$b.conf" <<CONF
server_name: broker$b
listen: 127.0.0.1:${client_port[$b]}
http: 127.0.0.1:${monitor_port[$b]}
jetstream { store_dir: "$broker_dir/js$b", max_memory_store: 64MB, max_file_store: 1GB }
cluster {
  name: lantian-test
  listen: 127.0.0.1:${route_port[$b]}
  routes: [$route_list]
}
CONF
  done
  nats_urls="nats://127.0.0.1:${client_port[1]},nats://127.0.0.1:${client_port[2]},nats://127.0.0.1:${client_port[3]}"
}

start_broker() {
  nats-server -c "$broker_dir/broker$1.conf" >> "$broker_dir/broker$1.log" 2>&1 &
  broker_pid[$1]=$!
  pids+=($!)
}

wait_for_brokers() {
  local b ok
  for _ in $(seq 100); do
    ok=0
    for b in 1 2 3; do
      curl -sf "http://127.0.0.1:${monitor_port[$b]}/healthz?js-enabled-only=true" >/dev/null && ok=$((ok + 1))
    done
    [ $ok = 3 ] && return 0
    sleep 0.2
  done
  return 1
}
