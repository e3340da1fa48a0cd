#!/usr/bin/env bash
# pad-cli bench's workload against etcd (Debian's etcd-server): 3 members on 127.0.0.1, then
# one member alone. Phases as `pad-cli bench --mode all` (pub-sync, pub-window: a "publish" is a
# Put of a fresh key) and, on 3 members, `--mode failover`.
#   bash scripts/peers/etcd/run.sh      (as root the first time: installs etcd-server and npm etcd3)
# Env: N_SYNC N_WINDOW WINDOW WARMUP MAX_S FAIL_RATE SKIP_FAILOVER=1 RESULTS_DIR PEERS_WORK
# Durability: etcd 3.4 fsyncs its WAL before a member acknowledges an entry (there is no setting
# to turn that off in 3.4), so a Put's answer means "fsynced on a quorum", as pad-cli's ack does.
# Ports (127.0.0.1): clients 12379/12381/12383 and 12385 (one member), peers 12380/12382/12384 and 12386.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SYSTEM=etcd
SERVER_BIN_NAME=etcd
# etcd's own phase sizes: it is slower per message, and a capped phase says so anyway
N_SYNC=${N_SYNC:-6000}
N_WINDOW=${N_WINDOW:-40000}
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

NAMES=(e1 e2 e3)
C_PORTS=(12379 12381 12383); P_PORTS=(12380 12382 12384)
S_CPORT=12385; S_PPORT=12386
ports_free "${C_PORTS[@]}" "${P_PORTS[@]}" $S_CPORT $S_PPORT

ETCD_BIN=$(command -v etcd || true)
if [ -z "$ETCD_BIN" ]; then
  apt_install etcd-server
  ETCD_BIN=$(command -v etcd || echo /usr/bin/etcd)
fi
SERVER_VER=$("$ETCD_BIN" --version 2>&1 | sed -n 1p | tr -d '\n')
npm_install cockatiel >/dev/null
CLIENT_VER="etcd3 $(npm_install etcd3)"
log "server: $SERVER_VER ($ETCD_BIN), client: $CLIENT_VER, node $(node --version)"

start_member() { # name client_port peer_port initial_cluster
  local name=$1 cport=$2 pport=$3 initial=$4
  start_bg "$name" "$ETCD_BIN" --name "$name" --data-dir "$TMP/$name" \
    --listen-client-urls "http://$HOST:$cport" --advertise-client-urls "http://$HOST:$cport" \
    --listen-peer-urls "http://$HOST:$pport" --initial-advertise-peer-urls "http://$HOST:$pport" \
    --initial-cluster "$initial" --initial-cluster-token "pad-peers-bench-$$" --initial-cluster-state new \
    --logger zap --log-outputs stderr
}

# ---------------------------------------------------------------- 3 members
INITIAL="e1=http://$HOST:${P_PORTS[0]},e2=http://$HOST:${P_PORTS[1]},e3=http://$HOST:${P_PORTS[2]}"
HOSTS=$(addr_list "${C_PORTS[@]}")
for i in 0 1 2; do start_member "${NAMES[$i]}" "${C_PORTS[$i]}" "${P_PORTS[$i]}" "$INITIAL"; done
for p in "${C_PORTS[@]}"; do wait_port "$p"; done
log "cluster up: pids $(pid_list "${NAMES[@]}")"
phase setup --hosts "$HOSTS" --max-s 30
load_phases --hosts "$HOSTS" --replicas 3
if [ -z "$SKIP_FAILOVER" ]; then
  log "failover: SIGKILL the leader while putting at ${FAIL_RATE}/s"
  phase failover --hosts "$HOSTS" --pids "$(pid_list "${NAMES[@]}")" --rate "$FAIL_RATE" --max-s 20
fi
stop_all
log "cluster stopped"

# ---------------------------------------------------------------- 1 member (reference)
start_member single "$S_CPORT" "$S_PPORT" "single=http://$HOST:$S_PPORT"
wait_port "$S_CPORT"
phase setup --hosts "$HOST:$S_CPORT" --max-s 30
load_phases --hosts "$HOST:$S_CPORT" --replicas 1
log "done; results in $OUT"
