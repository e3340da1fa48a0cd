# Shared by nats/run.sh and etcd/run.sh (sourced, not run): install, start servers in the
# background, stop them by pid, bounded waits, and the JSON line each phase records.
# The caller sets SYSTEM (nats|etcd), SERVER_BIN_NAME (what /proc/PID/cmdline must contain),
# HERE (its folder) and, before `record_setup`, SERVER_VER and CLIENT_VER.
HOST=127.0.0.1
N_SYNC=${N_SYNC:-20000}
N_WINDOW=${N_WINDOW:-150000}
WINDOW=${WINDOW:-256}
WARMUP=${WARMUP:-500}
MAX_S=${MAX_S:-15}          # longest a publish phase may run, seconds (as `pad-cli bench --duration`)
FAIL_RATE=${FAIL_RATE:-200} # publishes/s during the failover phase
SKIP_FAILOVER=${SKIP_FAILOVER:-}
# npm packages and results go outside the repository: the clients are not pad-cli's dependencies
WORK=${PEERS_WORK:-/tmp/pad-peers}/$SYSTEM
RESULTS_DIR=${RESULTS_DIR:-$WORK/results}
mkdir -p "$WORK" "$RESULTS_DIR"
cp "$HERE/bench.mjs" "$HERE/package.json" "$HERE/../measure.mjs" "$HERE/../.npmrc" "$WORK/"

log() { echo "[$SYSTEM/run.sh $(date +%H:%M:%S)] $*" >&2; }

# apt_install PACKAGE: Debian's server package, once (needs root)
apt_install() {
  log "installing Debian package $1"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

# npm_install MODULE: the pinned client from package.json into $WORK/node_modules, once
npm_install() {
  if [ ! -f "$WORK/node_modules/$1/package.json" ]; then
    log "installing npm package $1 into $WORK/node_modules"
    (cd "$WORK" && npm install --no-audit --no-fund --loglevel=error >&2)
    rm -f "$WORK/node_modules/.package-lock.json"
  fi
  node -p "require('$WORK/node_modules/$1/package.json').version"
}

TMP=$(mktemp -d "/tmp/peers-$SYSTEM.XXXXXX")
STARTED=()
declare -A PID_OF=()

# stop_pid PID: TERM, then KILL after 5 s, and only if PID is still one of our servers
stop_pid() {
  local pid=$1
  if kill -0 "$pid" 2>/dev/null && grep -q "$SERVER_BIN_NAME" "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
stop_all() {
  local pid
  for pid in "${STARTED[@]:-}"; do [ -n "$pid" ] && stop_pid "$pid"; done
  STARTED=()
}
cleanup() {
  local rc=$?
  stop_all
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT INT TERM

# start_bg NAME CMD...: one server in the background, logging to $TMP/NAME.log; its pid is in
# PID_OF[NAME], and it is stopped on exit
start_bg() {
  local name=$1
  shift
  "$@" > "$TMP/$name.log" 2>&1 &
  PID_OF[$name]=$!
  STARTED+=("$!")
  disown "$!" # no job-control "Killed" notice after the failover SIGKILL; still stopped by pid
}
# addr_list PORT...: 127.0.0.1:PORT,... (the clients' --servers / --hosts)
addr_list() {
  local p out=""
  for p in "$@"; do out+="$HOST:$p,"; done
  echo "${out%,}"
}
# pid_list NAME...: NAME=PID,... of servers started by start_bg (bench.mjs failover --pids)
pid_list() {
  local n out=""
  for n in "$@"; do out+="$n=${PID_OF[$n]},"; done
  echo "${out%,}"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
ports_free() {
  local p
  for p in "$@"; do
    if port_open "$p"; then log "port $p on $HOST is already in use; aborting"; exit 1; fi
  done
}
wait_port() { # bounded: 100 x 0.1 s
  for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.1; done
  log "port $1 did not open"
  return 1
}

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$RESULTS_DIR/$SYSTEM-$STAMP.jsonl"
# phase ARGS...: one bench.mjs command (hard 60 s limit); its JSON line gets server, client and
# run, and is printed and appended to $OUT
phase() {
  local r
  r=$(timeout 60 node "$WORK/bench.mjs" "$@") || { log "bench.mjs $1 failed"; return 1; }
  node -e '
    const r = JSON.parse(process.argv[1])
    Object.assign(r, {server: process.argv[2], client: process.argv[3], run: process.argv[4]})
    console.log(JSON.stringify(r))' "$r" "$SERVER_VER" "$CLIENT_VER" "$STAMP" | tee -a "$OUT"
}
# load_phases TARGET_ARGS...: the two measured phases of `pad-cli bench --mode all`
load_phases() {
  log "sync: up to $N_SYNC msgs / ${MAX_S}s"
  phase pub "$@" --mode sync --n "$N_SYNC" --warmup "$WARMUP" --max-s "$MAX_S"
  log "window=$WINDOW: up to $N_WINDOW msgs / ${MAX_S}s"
  phase pub "$@" --mode window --window "$WINDOW" --n "$N_WINDOW" --warmup "$WARMUP" --max-s "$MAX_S"
}
