#!/usr/bin/env bash
# The peer benchmarks REPS times (NATS JetStream and etcd alternating), then one table of
# min / median / max per figure.
#   bash scripts/peers/run-all.sh [REPS=3] [SYSTEMS="nats etcd"]
# Each run.sh starts and stops its own servers; results land in ${PEERS_WORK:-/tmp/pad-peers}/*/results/.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPS=${1:-3}
SYSTEMS=${2:-"nats etcd"}
# shellcheck source=run-one.sh
source "$HERE/run-one.sh"
FILES=()
for i in $(seq 1 "$REPS"); do
  for sys in $SYSTEMS; do
    echo "=== $sys run $i/$REPS ===" >&2
    run_peer "$sys"
  done
done
node "$HERE/summarize.mjs" "${FILES[@]}"
