#!/usr/bin/env bash
# pad-cli bench's workload against NATS JetStream (Debian's nats-server): 3 servers on 127.0.0.1
# with a stream of 3 replicas (R3) on file storage, then one standalone server with R1.
# Phases as `pad-cli bench --mode all` (pub-sync, pub-window) and, on R3, `--mode failover`.
#   bash scripts/peers/nats/run.sh      (as root the first time: installs nats-server and npm nats)
# Env: N_SYNC N_WINDOW WINDOW WARMUP MAX_S FAIL_RATE SKIP_FAILOVER=1 RESULTS_DIR PEERS_WORK
# Durability: JetStream acks once a quorum has the message in its file store, and fsyncs on a
# timer (2 min by default); nats-server 2.9 has no setting for an fsync per message
# (sync_interval is refused as an unknown field), so this is the closest Debian's server allows.
# Ports (127.0.0.1): clients 14222-14224 and 14225 (standalone), monitoring 14226-14229, routes 16222-16224.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SYSTEM=nats
SERVER_BIN_NAME=nats-server
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

C_PORTS=(14222 14223 14224); M_PORTS=(14226 14227 14228); R_PORTS=(16222 16223 16224)
S_PORT=14225; S_MPORT=14229
NAMES=(n1 n2 n3)
ports_free "${C_PORTS[@]}" "${M_PORTS[@]}" "${R_PORTS[@]}" $S_PORT $S_MPORT

NATS_BIN=$(command -v nats-server || true)
[ -z "$NATS_BIN" ] && [ -x /usr/sbin/nats-server ] && NATS_BIN=/usr/sbin/nats-server
if [ -z "$NATS_BIN" ]; then
  apt_install nats-server
  NATS_BIN=$(command -v nats-server || echo /usr/sbin/nats-server)
fi
SERVER_VER=$("$NATS_BIN" --version 2>&1 | tr -d '\n')
CLIENT_VER="nats.js $(npm_install nats)"
log "server: $SERVER_VER ($NATS_BIN), client: $CLIENT_VER, node $(node --version)"

start_node() { # name client_port monitor_port [route_port]
  local name=$1 cport=$2 mport=$3 rport=${4:-} conf="$TMP/$1.conf"
  mkdir -p "$TMP/$name"
  {
    echo "server_name: $name"
    echo "listen: $HOST:$cport"
    echo "http: $HOST:$mport"
    echo "jetstream { store_dir: \"$TMP/$name\", max_memory_store: 256MB, max_file_store: 4GB }"
    if [ -n "$rport" ]; then
      local routes="" r
      for r in "${R_PORTS[@]}"; do [ "$r" != "$rport" ] && routes+="nats-route://$HOST:$r, "; done
      echo "cluster { name: pad_peers_bench, listen: $HOST:$rport, routes: [ ${routes%, } ] }"
    fi
  } > "$conf"
  start_bg "$name" "$NATS_BIN" -c "$conf"
}

# ---------------------------------------------------------------- 3 servers, R3
SERVERS=$(addr_list "${C_PORTS[@]}")
HTTPS=$(addr_list "${M_PORTS[@]}")
for i in 0 1 2; do start_node "${NAMES[$i]}" "${C_PORTS[$i]}" "${M_PORTS[$i]}" "${R_PORTS[$i]}"; done
for p in "${C_PORTS[@]}"; do wait_port "$p"; done
log "cluster up: pids $(pid_list "${NAMES[@]}")"
phase setup --servers "$SERVERS" --http "$HTTPS" --replicas 3 --max-s 30
load_phases --servers "$SERVERS" --replicas 3
if [ -z "$SKIP_FAILOVER" ]; then
  log "failover: SIGKILL the stream leader while publishing at ${FAIL_RATE}/s"
  phase failover --servers "$SERVERS" --http "$HTTPS" --pids "$(pid_list "${NAMES[@]}")" --rate "$FAIL_RATE" --max-s 20
fi
stop_all
log "cluster stopped"

# ---------------------------------------------------------------- 1 server, R1 (reference)
start_node single "$S_PORT" "$S_MPORT"
wait_port "$S_PORT"
phase setup --servers "$HOST:$S_PORT" --http "$HOST:$S_MPORT" --replicas 1 --max-s 30
load_phases --servers "$HOST:$S_PORT" --replicas 1
log "done; results in $OUT"
