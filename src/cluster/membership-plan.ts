/**
 * The rules of `add`, `remove` and `replace` that need no process or socket: which index a new
 * node gets, whether its ports fit, when a learner has caught up, and whether a removal would
 * leave the cluster without a quorum. Pure, so every refusal is tested without a cluster; the
 * supervisor (supervisor/membership.ts) asks the nodes and acts.
 */
import type {RaftInfo} from '../api/node-http.js'
import {badArgument} from './errors.js'
import type {ClusterPaths} from './layout.js'
import {nodeRecord, type ClusterOptions, type ClusterState, type NodeRecord} from './state.js'

/** A learner is promoted once it has applied all but this many of the entries the leader committed. */
export const CATCH_UP_LAG = 100

/** How long a learner may take to catch up: a floor, plus time for every entry in the log. */
const CATCH_UP_FLOOR_MS = 30_000
/** A snapshot of a million small messages streams and installs in well under 40 s; this allows 5x that. */
const CATCH_UP_ENTRIES_PER_S = 5_000
const CATCH_UP_CEILING_MS = 30 * 60_000

/** The configuration as the leader states it (node indexes). */
export interface Configuration {
  voters: number[]
  learners: number[]
}

/**
 * The index of the next node: one past every index this cluster has used (removed nodes keep
 * theirs) and every node id the leader's directory holds (an id handed out by a node started
 * by hand, or by an add whose answer was lost): node ids are never reused.
 */
export function nextIndex(state: ClusterState, directoryHighest: number | null): number {
  return Math.max(state.nodes.length, directoryHighest === null ? 0 : directoryHighest + 1)
}

/**
 * The records to append for a node at `index`: placeholders (marked removed, never started)
 * for ids the directory used that this cluster never ran, so that node i stays nodes[i], then
 * the new learner.
 */
export function newRecords(paths: ClusterPaths, state: ClusterState, index: number): NodeRecord[] {
  const records: NodeRecord[] = []
  for (let i = state.nodes.length; i < index; i++) records.push({...nodeRecord(paths, state.options, i, true), membership: 'removed'})
  records.push(nodeRecord(paths, state.options, index, true))
  return records
}

/** Refuses a node whose ports run past 65535 or are another node's (a cluster whose bases are close together). */
export function checkNewPorts(options: ClusterOptions, record: NodeRecord, others: readonly NodeRecord[]): void {
  const ports = [
    {port: record.tcp_port, kind: 'TCP', flag: '--tcp-port'},
    {port: record.http_port, kind: 'HTTP', flag: '--http-port'},
    {port: record.raft_port, kind: 'Raft', flag: '--raft-port'},
  ]
  for (const {port, kind, flag} of ports) {
    if (port > 65535) throw badArgument(`node ${record.index} would need ${kind} port ${port}, beyond 65535: the cluster's ${flag} base leaves no room for more nodes`)
  }
  for (const other of others) {
    for (const {port, kind} of ports) {
      if (other.tcp_port === port || other.http_port === port || other.raft_port === port) {
        throw badArgument(`node ${record.index} would need ${kind} port ${port}, which node ${other.index} has: the cluster's port bases (${options.tcp_port}, ${options.http_port}, ${options.raft_port}) are too close for more nodes`)
      }
    }
  }
}

/** How long a learner may take to catch up with a leader that has committed `commitIndex` entries. */
export function catchUpTimeoutMs(commitIndex: number): number {
  return Math.min(CATCH_UP_CEILING_MS, CATCH_UP_FLOOR_MS + Math.ceil((commitIndex / CATCH_UP_ENTRIES_PER_S) * 1000))
}

export function caughtUp(applied: number, leaderCommit: number, lag = CATCH_UP_LAG): boolean {
  return leaderCommit - applied <= lag
}

/**
 * Whether learner `index` may become a voter, from its own /raft answer: it has applied all but
 * CATCH_UP_LAG of what the leader committed, and its own log already holds the entry that made it
 * a learner. The lag alone is not enough on a short log: a learner that has received nothing yet
 * is "within 100" of a leader at 67, and promoted then it is a voter that acknowledges nothing;
 * with another member down (a corrupt node being repaired) that cost the leader its quorum.
 */
export function readyToPromote(index: number, learner: Pick<RaftInfo, 'last_applied' | 'learners'>, leaderCommit: number): boolean {
  // A node of a version before membership changes does not report its configuration: the lag decides alone.
  const knowsItself = learner.learners === undefined || learner.learners.includes(index)
  return knowsItself && caughtUp(learner.last_applied, leaderCommit)
}

function majority(voters: number): number {
  return Math.floor(voters / 2) + 1
}

/**
 * Why `node` cannot leave `config` now, in one line, or null if it can. `live`: the nodes that
 * run and answer. The change commits under the new configuration (it takes effect when
 * appended), so the voters left must still have a live majority; the node's own liveness does
 * not matter (that is how a dead machine is replaced).
 */
export function removalRefusal(node: number, config: Configuration, live: ReadonlySet<number>): string | null {
  const isVoter = config.voters.includes(node)
  if (!isVoter && !config.learners.includes(node)) return `node ${node} is not a member of the cluster's configuration (voters ${list(config.voters)}, learners ${list(config.learners)})`
  if (!isVoter) return null
  const left = config.voters.filter((v) => v !== node)
  if (left.length === 0) return `node ${node} is the last voter: a cluster needs one (add a node first, or stop the cluster with pad-cli down)`
  const liveLeft = left.filter((v) => live.has(v))
  const need = majority(left.length)
  if (liveLeft.length < need) {
    const dead = left.filter((v) => !live.has(v))
    return `removing node ${node} would leave ${liveLeft.length} live voter${liveLeft.length === 1 ? '' : 's'} of ${left.length}, short of a quorum of ${need}: start node${dead.length === 1 ? '' : 's'} ${dead.join(', ')} first`
  }
  return null
}

/** Among the live voters other than `leader`, the one to hand leadership to: the longest log, then the lowest index. */
export function transferTarget(leader: number, config: Configuration, live: ReadonlySet<number>, logLength: (node: number) => number): number | null {
  const candidates = config.voters.filter((v) => v !== leader && live.has(v))
  candidates.sort((a, b) => logLength(b) - logLength(a) || a - b)
  return candidates[0] ?? null
}

function list(nodes: number[]): string {
  return nodes.length === 0 ? 'none' : nodes.join(',')
}
