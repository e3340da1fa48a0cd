#!/usr/bin/env bash
# pad-cli's benchmarks and the peers' (NATS JetStream and etcd with the same workload) in one sitting,
# alternating so that drift on a shared machine hits all of them alike, then one table of
# min / median / max per figure. Each round also runs scripts/latency-floor.mjs: the same
# one-at-a-time round trip through three processes and an fsync, with no broker in it.
#   bash scripts/bench-vs-peers.sh [REPS=3]
# The peers run from scripts/peers/ (nats/run.sh, etcd/run.sh; see docs/performance.md): they
# install Debian's nats-server and etcd-server and their npm clients on first use (root, apt, npm).
# Env: PEERS_WORK (the peers' npm packages and results, default /tmp/pad-peers), KILLS (failover
# kills, default 10). Raw JSON lines are kept in the directory printed first; all of the sitting's
# rows, stamped with the git commit and the machine (scripts/stamp-bench-rows.mjs), go to
# docs/benchmarks/<UTC date-time of the start>-vs-peers.jsonl.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPS=${1:-3}
KILLS=${KILLS:-10}
# shellcheck source=peers/run-one.sh
source "$ROOT/scripts/peers/run-one.sh"
STARTED_AT=$(date -u +%Y-%m-%d-%H%M)
OUT=$(mktemp -d /tmp/pad-vs-peers.XXXXXX)
echo "raw results: $OUT" >&2
PAD=(node "$ROOT/bin/run.js")
FILES=()

# ours OUT SECONDS CMD...: runs one of our own phases; a failure is reported and the sitting goes on.
ours() {
  local out=$1 limit=$2
  shift 2
  timeout "$limit" "$@" > "$out" || echo "warning: $* failed (exit $?)" >&2
}

for i in $(seq 1 "$REPS"); do
  echo "=== run $i/$REPS: NATS JetStream" >&2
  run_peer nats
  echo "=== run $i/$REPS: etcd" >&2
  run_peer etcd
  echo "=== run $i/$REPS: pad-cli, 3 nodes" >&2
  ours "$OUT/pad-3-$i.jsonl" 300 "${PAD[@]}" bench --nodes 3 --json
  echo "=== run $i/$REPS: the latency floor (scripts/latency-floor.mjs: TCP and fsync, no broker)" >&2
  ours "$OUT/floor-$i.jsonl" 120 node "$ROOT/scripts/latency-floor.mjs" 10
  echo "=== run $i/$REPS: pad-cli, 1 node" >&2
  ours "$OUT/pad-1-$i.jsonl" 300 "${PAD[@]}" bench --nodes 1 --json
  FILES+=("$OUT/pad-3-$i.jsonl" "$OUT/pad-1-$i.jsonl" "$OUT/floor-$i.jsonl")
done
echo "=== pad-cli failover, $KILLS kills" >&2
ours "$OUT/pad-failover-all.jsonl" 900 "${PAD[@]}" bench --nodes 3 --mode failover --repeat "$KILLS" --json
grep -v '"failover-summary"' "$OUT/pad-failover-all.jsonl" > "$OUT/pad-failover.jsonl" || true
FILES+=("$OUT/pad-failover.jsonl")
SITTING="$ROOT/docs/benchmarks/$STARTED_AT-vs-peers.jsonl"
cat "${FILES[@]}" > "$SITTING"
(cd "$ROOT" && node scripts/stamp-bench-rows.mjs --fsync-ms floor "$SITTING")
echo "this sitting's rows: $SITTING" >&2
node "$ROOT/scripts/peers/summarize.mjs" "${FILES[@]}"
echo
echo "pad-cli elections during each phase (should all be 0 outside failover):"
cat "$OUT"/pad-[13]-*.jsonl | node -e '
  const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l))
  for (const r of lines) console.log(`  R${r.replicas} ${r.phase}: ${r.elections} election(s), ${r.errors} error(s)`)'
echo
echo "the disk in each round (latency-floor.mjs; the peer benchmarks' own figures, of 2026-11-26, were"
echo "taken when a 128-byte O_DSYNC write took 0.12-0.14 ms):"
cat "$OUT"/floor-*.jsonl | node -e '
  const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l))
  for (const r of lines) console.log(`  128-byte O_DSYNC write p50 ${r.dsync_write_p50_ms} ms, bare SQLite commit p50 ${r.commit_p50_ms} ms, no-broker round trip p50 ${r.p50_ms} ms`)'
