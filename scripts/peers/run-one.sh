# Sourced by run-all.sh and ../bench-vs-peers.sh: run_peer SYSTEM runs SYSTEM/run.sh once and
# appends the results file it wrote to FILES. A failed phase (a peer's failover sometimes does)
# does not end the sitting: what it finished is kept.
PEERS_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run_peer() {
  local sys=$1 results=${PEERS_WORK:-/tmp/pad-peers}/$1/results before after new
  before=$(ls "$results" 2>/dev/null | sort || true)
  timeout 300 bash "$PEERS_HOME/$sys/run.sh" >/dev/null || echo "warning: $sys/run.sh failed (exit $?); keeping the phases it finished" >&2
  after=$(ls "$results" 2>/dev/null | sort || true)
  new=$(comm -13 <(echo "$before") <(echo "$after") | tail -1)
  if [ -n "$new" ]; then FILES+=("$results/$new"); fi
}
