/**
 * The dashboard's data model: what `pad-cli top` shows, built from the supervisor's status,
 * the cluster timeline (events.jsonl), the nodes' /events streams and the actions the user
 * took. It knows nothing about the screen, so it can be tested on its own; `snapshot()` is
 * also what `pad-cli top --once --json` prints.
 */
import type {MemberRole} from '../api/control.js'
import type {NodeStreamItem} from '../client/node-events.js'
import {describeEvent, type ClusterEvent} from '../cluster/events.js'
import {describeFaults, type ClusterStatus, type NodeStatus} from '../cluster/status.js'
import {nearestRank} from '../util/quantile.js'

export type RoleView = 'LEADER' | 'FOLLOWER' | 'CANDIDATE' | 'DOWN' | 'PAUSED' | 'STARTING' | 'CORRUPT' | 'UNKNOWN'

export interface NodeRow {
  index: number
  node_id: string
  /** voter, learner or removed */
  membership: MemberRole
  pid: number | null
  /** running, paused, starting, stopped, exited, crashed */
  process: string
  /** What the role column shows: the Raft role when the node runs, else why it does not. */
  role: RoleView
  term: number | null
  commit_index: number | null
  last_applied: number | null
  log_length: number | null
  /** First index still in the node's log (it was compacted below). */
  first_index: number | null
  /** Index of the node's last snapshot (0: none yet). */
  snapshot_index: number | null
  /** The node's database on disk, in bytes. */
  disk_bytes: number | null
  snapshots_sent: number | null
  snapshots_installed: number | null
  lag: number | null
  /** The node's network faults in words ("cut from 1,2"), "" if none. */
  faults: string
  host: string
  http_port: number
}

export type TimelineKind = 'event' | 'action' | 'error' | 'info'

export interface TimelineEntry {
  time: string
  kind: TimelineKind
  /** The event's type, or the action's key. */
  type: string
  text: string
}

export interface TopSnapshot {
  cluster: string
  leader: number | null
  term: number | null
  /** Elections won since the cluster last came up. */
  elections: number
  /** Committed entries per second over the last second (the highest commit index seen). */
  commits_per_s: number
  /** One value a second, oldest first. */
  rate_history: number[]
  /**
   * p99 of the publish latency top's own publisher (key b) saw in each second, in ms: POST
   * /publish to its 2xx answer, which a node sends once the message is committed and applied.
   * null for a second without an acknowledged publish. Aligned with rate_history.
   */
  p99_history: (number | null)[]
  publisher: {on: boolean; rate: number; sent: number; failed: number}
  nodes: NodeRow[]
  /** Newest first. */
  timeline: TimelineEntry[]
  /** When the supervisor last answered (ISO 8601), or null. */
  status_at: string | null
  /** Why the supervisor did not answer, or null. */
  status_error: string | null
}

const TIMELINE_MAX = 200
const HISTORY_MAX = 300
/** The publisher sends PUBLISH_RATE a second; this only bounds what a bug could pile up. */
const MAX_LATENCIES_PER_SECOND = 10_000

export class TopModel {
  private status: ClusterStatus | null = null
  private rows: NodeRow[] = []
  private leader: number | null = null
  private term: number | null = null
  private elections = 0
  private timeline: TimelineEntry[] = []
  private lastSeq = 0
  private readonly samples: {at: number; commit: number}[] = []
  private history: number[] = []
  private p99History: (number | null)[] = []
  /** Publish latencies acknowledged in the second not closed yet. */
  private latencies: number[] = []
  private lastSecond = 0
  private statusAt: string | null = null
  private statusError: string | null = null
  publisher = {on: false, rate: 0, sent: 0, failed: 0}

  constructor(readonly cluster: string) {}

  /** The supervisor's answer to `status`: the ground truth, replaces what streams said. */
  setStatus(status: ClusterStatus, now = Date.now()): void {
    this.status = status
    this.leader = status.leader
    this.term = status.term ?? (status.nodes.some((n) => n.term !== null) ? Math.max(...status.nodes.map((n) => n.term ?? 0)) : null)
    this.rows = status.nodes.map(rowOf)
    this.statusAt = new Date(now).toISOString()
    this.statusError = null
    this.sample(now)
  }

  statusFailed(message: string): void {
    this.statusError = message
  }

  /** The timeline as it stood when the dashboard started: counts its elections, shows its last events. */
  loadHistory(events: ClusterEvent[], show = 50): void {
    for (const event of events.slice(-show)) this.clusterEvent(event)
    this.elections = electionsSinceUp(events)
  }

  /** An event of the cluster timeline (events.jsonl); each is taken once, by `seq`. */
  clusterEvent(event: ClusterEvent): void {
    if (typeof event.seq === 'number') {
      if (event.seq <= this.lastSeq && event.type !== 'up') return
      this.lastSeq = event.seq
    }
    const node = typeof event.node === 'number' ? this.rows[event.node] : undefined
    switch (event.type) {
      case 'up':
        this.elections = 0
        break
      case 'election':
        this.elections++
        if (typeof event.term === 'number') this.term = Math.max(this.term ?? 0, event.term)
        break
      case 'leader':
        this.leader = typeof event.leader === 'number' ? event.leader : null
        if (typeof event.term === 'number') this.term = Math.max(this.term ?? 0, event.term)
        break
      case 'role':
        if (node && node.process === 'running' && typeof event.role === 'string') {
          node.role = roleOf(event.role)
          if (typeof event.term === 'number') node.term = event.term
        }
        break
      case 'exit':
        if (node) setDown(node, event.crashed === true ? 'crashed' : 'exited')
        if (event.node === this.leader) this.leader = null
        break
      case 'pause':
        if (node) {
          node.process = 'paused'
          node.role = 'PAUSED'
        }
        break
      case 'resume':
      case 'start':
        if (node) {
          node.process = 'running'
          if (node.role === 'PAUSED' || node.role === 'DOWN') node.role = 'UNKNOWN'
          if (typeof event.pid === 'number') node.pid = event.pid
        }
        break
      default:
        break
    }
    this.push({time: event.time, kind: 'event', type: event.type, text: describeEvent(event)})
  }

  /** An event of node `index`'s /events stream (role, term, commit, snapshot install). */
  nodeEvent(index: number, item: NodeStreamItem, now = Date.now()): void {
    const node = this.rows[index]
    if (!node || node.process !== 'running') return
    if (item.type === 'role') {
      node.role = roleOf(item.role)
      node.term = item.term
      if (node.role === 'LEADER') {
        this.leader = index
        this.term = Math.max(this.term ?? 0, item.term)
      }
      else if (this.leader === index) this.leader = null
    } else if (item.type === 'term') {
      node.term = item.term
    } else if (item.type === 'commit') {
      node.commit_index = Math.max(node.commit_index ?? 0, item.commit_index)
      node.last_applied = Math.max(node.last_applied ?? 0, item.last_applied)
      if ((node.log_length ?? 0) < item.commit_index) node.log_length = item.commit_index
      this.sample(now)
    } else if (item.type === 'hello') {
      node.term = item.current_term
      node.first_index = item.first_index
      node.snapshot_index = item.snapshot_index
      node.disk_bytes = item.disk_bytes
    } else if (item.type === 'snapshot-install') {
      // The log now starts after the snapshot; the next status says the rest (disk, counters).
      node.snapshot_index = Math.max(node.snapshot_index ?? 0, item.index)
      node.first_index = Math.max(node.first_index ?? 0, item.index + 1)
    }
    const best = Math.max(0, ...this.rows.map((r) => r.commit_index ?? 0))
    for (const row of this.rows) if (row.last_applied !== null && row.process === 'running') row.lag = Math.max(0, best - row.last_applied)
  }

  /** A line of our own in the timeline: an action (the equivalent pad-cli command), its error. */
  note(kind: TimelineKind, type: string, text: string, now = Date.now()): void {
    this.push({time: new Date(now).toISOString(), kind, type, text})
  }

  /** One publish of top's publisher acknowledged after `ms` milliseconds. */
  publishAcked(ms: number): void {
    if (Number.isFinite(ms) && ms >= 0 && this.latencies.length < MAX_LATENCIES_PER_SECOND) this.latencies.push(ms)
  }

  /** Called a few times a second: closes the seconds of the rate and latency histories. */
  tick(now = Date.now()): void {
    this.sample(now)
    const second = Math.floor(now / 1000)
    if (this.lastSecond === 0) this.lastSecond = second
    while (this.lastSecond < second) {
      this.history.push(this.rate(now))
      this.p99History.push(this.closeLatencies())
      this.lastSecond++
    }
    if (this.history.length > HISTORY_MAX) this.history = this.history.slice(-HISTORY_MAX)
    if (this.p99History.length > HISTORY_MAX) this.p99History = this.p99History.slice(-HISTORY_MAX)
  }

  snapshot(now = Date.now()): TopSnapshot {
    return {
      cluster: this.cluster,
      leader: this.leader,
      term: this.term,
      elections: this.elections,
      commits_per_s: this.rate(now),
      rate_history: [...this.history],
      p99_history: [...this.p99History],
      publisher: {...this.publisher},
      nodes: this.rows.map((r) => ({...r})),
      timeline: [...this.timeline],
      status_at: this.statusAt,
      status_error: this.statusError,
    }
  }

  private push(entry: TimelineEntry): void {
    this.timeline.unshift(entry)
    if (this.timeline.length > TIMELINE_MAX) this.timeline.length = TIMELINE_MAX
  }

  /** The p99 of the second just closed (null without a publish), and a fresh second. */
  private closeLatencies(): number | null {
    if (this.latencies.length === 0) return null
    const sorted = this.latencies.sort((a, b) => a - b)
    this.latencies = []
    return Math.round(nearestRank(sorted, 0.99) * 10) / 10
  }

  private sample(now: number): void {
    const commit = Math.max(0, ...this.rows.map((r) => r.commit_index ?? 0))
    const last = this.samples.at(-1)
    if (last && commit < last.commit) this.samples.length = 0
    this.samples.push({at: now, commit})
    while (this.samples.length > 2 && now - this.samples[1].at >= 1000) this.samples.shift()
  }

  private rate(now: number): number {
    if (this.samples.length < 2) return 0
    const first = this.samples[0]
    const last = this.samples.at(-1)!
    const span = Math.max(now - first.at, 1000)
    return Math.round(((last.commit - first.commit) * 1000 * 10) / span) / 10
  }
}

export function roleOf(role: string): RoleView {
  const upper = role.toUpperCase()
  return upper === 'LEADER' || upper === 'FOLLOWER' || upper === 'CANDIDATE' ? upper : 'UNKNOWN'
}

function rowOf(node: NodeStatus): NodeRow {
  const row: NodeRow = {
    index: node.index,
    node_id: node.node_id,
    // A supervisor started by a pad-cli from before add and remove does not say: every node votes there.
    membership: node.membership ?? 'voter',
    pid: node.pid,
    process: node.process,
    role: node.role ? roleOf(node.role) : 'UNKNOWN',
    term: node.term,
    commit_index: node.commit_index,
    last_applied: node.last_applied,
    log_length: node.log_length,
    first_index: node.first_index,
    snapshot_index: node.snapshot_index,
    disk_bytes: node.disk_bytes,
    snapshots_sent: node.snapshots_sent,
    snapshots_installed: node.snapshots_installed,
    lag: node.lag,
    faults: describeFaults(node.faults ?? []),
    host: node.host,
    http_port: node.http_port,
  }
  if (node.process === 'paused') row.role = 'PAUSED'
  else if (node.process === 'starting') row.role = 'STARTING'
  // It runs but found its data corrupt: no Raft role to show (a status from before #19 has no field).
  else if (node.process === 'running' && node.corrupt) row.role = 'CORRUPT'
  else if (node.process !== 'running') setDown(row, node.process)
  return row
}

function setDown(row: NodeRow, process: string): void {
  row.process = process
  row.role = 'DOWN'
  row.pid = null
  row.lag = null
}

/** The number of elections won since the last `up` in a timeline. */
export function electionsSinceUp(events: ClusterEvent[]): number {
  let count = 0
  for (const e of events) {
    if (e.type === 'up') count = 0
    else if (e.type === 'election') count++
  }
  return count
}
