/**
 * `pad-cli status --json`: the documented, stable shape (extra fields may be added, none
 * removed or renamed).
 *
 *   {"cluster": "default", "leader": 1 | null, "term": 3 | null, "supervisor_pid": 4242,
 *    "membership": {"voters": [0, 1, 3], "learners": [4]} | null,
 *    "lazy_fs": false, "unsafe_no_fsync": false,
 *    "nodes": [{"index", "node_id", "membership", "pid", "process", "exit_code", "exit_signal",
 *               "crash_log", "restart_at", "role", "term", "commit_index", "last_applied", "log_length", "first_index",
 *               "snapshot_index", "disk_bytes", "snapshots_sent", "snapshots_installed", "corrupt", "lag",
 *               "leader_index", "host", "tcp_port", "http_port", "raft_port", "faults",
 *               "data_dir", "log_file", "lazy_fs"}]}
 *
 * `process`: starting | running | paused | stopped (by `stop` or `down`) | exited (killed by
 * `kill` or chaos, or ended by itself with code 0) | crashed (ended by itself with another code
 * or a signal nobody sent); `exit_code`/`exit_signal` say how. `crash_log`: the last lines of
 * a crashed node's node.log ([] unless crashed). `restart_at`: when a crashed node is started
 * again (ISO 8601; `up --restart on-failure`), else null. `role` is the node's own
 * answer (LEADER, FOLLOWER, CANDIDATE), null when it is not running or does not answer.
 * `corrupt`: {file, reason, detected_at} when the node runs but found its data corrupt (it takes
 * no part in Raft; `pad-cli repair`), else null. `lag`: entries the leader has committed that this node has not applied yet (null without a
 * leader). `faults`: what the node applies to its Raft peers, one entry per faulty peer.
 * `membership` (per node): voter | learner | removed, as the leader's configuration says (else
 * as cluster.json records it); the top-level `membership` is the leader's configuration, null
 * when no leader states one. Removed nodes stay listed: indexes are never reused.
 * `lazy_fs` (top level): the cluster runs on the lazy layer (`up --lazy-fs`), so `power-cut`
 * works; per node, null or {"backing", "pid"}: the dir under the mount at `data_dir`, and the
 * lazy layer's pid. `unsafe_no_fsync`: the nodes run with `node --unsafe-no-fsync` (test only).
 */
import type {FaultView, NodeStatus} from '../api/control.js'
import type {FaultsByPeer} from '../api/node-admin.js'

// The shape is the control protocol's answer to `status` (src/api/control.ts).
export type {ClusterStatus, FaultView, NodeStatus} from '../api/control.js'

/** A node's GET /admin/faults answer (`{"1": {"drop": true, "until": 1700000000000}}`) as FaultViews. */
export function faultViews(faults: FaultsByPeer): FaultView[] {
  return Object.entries(faults)
    .map(([peer, fault]) => {
      const view: FaultView = {peer: Number(peer), expires_at: null}
      if (fault.drop) view.drop = true
      if (fault.delayMs && fault.delayMs > 0) view.delay_ms = fault.delayMs
      if (fault.jitterMs && fault.jitterMs > 0) view.jitter_ms = fault.jitterMs
      if (fault.loss && fault.loss > 0) view.loss = fault.loss
      view.expires_at = fault.until === undefined ? null : new Date(fault.until).toISOString()
      return view
    })
    .sort((a, b) => a.peer - b.peer)
}

/** `drop 1,2; delay 50ms ±10 1,2; loss 20% 2` */
export function describeFaults(faults: FaultView[]): string {
  if (faults.length === 0) return ''
  const parts = new Map<string, number[]>()
  const add = (what: string, peer: number): void => {
    const peers = parts.get(what) ?? []
    peers.push(peer)
    parts.set(what, peers)
  }
  for (const f of faults) {
    if (f.drop) add('cut from', f.peer)
    if (f.delay_ms || f.jitter_ms) add(`delay ${f.delay_ms ?? 0}ms${f.jitter_ms ? `±${f.jitter_ms}` : ''} to`, f.peer)
    if (f.loss) add(`loss ${Math.round(f.loss * 1000) / 10}% to`, f.peer)
  }
  return [...parts].map(([what, peers]) => `${what} ${peers.join(',')}`).join('; ')
}

export function describeProcess(node: Pick<NodeStatus, 'process' | 'exit_code' | 'exit_signal'>): string {
  if (node.process !== 'exited' && node.process !== 'crashed') return node.process
  if (node.exit_signal) return `${node.process} (${node.exit_signal})`
  return `${node.process} (code ${node.exit_code ?? '?'})`
}
