/**
 * What the supervisor keeps about one node beyond its record in cluster.json: the process it
 * runs now, why we expect it to end, its crash streak and restart timer, what it last said
 * about its Raft state, and the faults pushed to it.
 */
import type {RaftRole} from '../../api/node-http.js'
import type {StopRequest} from '../exit-state.js'
import type {CrashStreak} from '../restart-policy.js'
import type {NodeRecord} from '../state.js'

/** A node's Raft state as its /events stream and /raft answers told us. */
export interface RaftView {
  role: RaftRole | null
  term: number | null
  /** Whom the node voted for in `term` (null: nobody, or not known). */
  vote: number | null
  leader: number | null
  commitIndex: number | null
  lastApplied: number | null
  logLength: number | null
}

export const EMPTY_VIEW: RaftView = {role: null, term: null, vote: null, leader: null, commitIndex: null, lastApplied: null, logLength: null}

export interface NodeHandle {
  record: NodeRecord
  /** The execa subprocess of the current node process (compared by identity), or null. */
  subprocess: object | null
  /** Why we expect the current process to exit, if we asked it to. */
  expecting: StopRequest | null
  exited: Promise<void> | null
  /** When the current (or last) process was spawned, to tell a node that ran a while from one that crashes at once. */
  startedAt: number
  /** The end of node.log when the last process crashed; empty unless the node is `crashed`. */
  crashLog: string[]
  /** Crashes in a row, for the restart back-off. */
  streak: CrashStreak
  /** The automatic restart due after a crash (`--restart on-failure`), and when. */
  restartTimer: NodeJS.Timeout | null
  restartAt: number | null
  view: RaftView
  closeEvents: (() => void) | null
  /** The faults this node must get pushed again (it was down or did not answer). */
  faultsDirty: boolean
  /** What we last pushed successfully, to skip pushes that change nothing. */
  pushed: string | null
  /** Pushes to one node run one after the other (a DELETE and PUTs must not interleave). */
  pushing: Promise<boolean>
  /** When the node's /events stream last told us something (it is fresher than a /raft poll). */
  lastEventAt: number
  /** For a node `add` starts: the HTTP address (host:port) of the leader it joins through. */
  joinVia: string | null
}

export function nodeHandle(record: NodeRecord): NodeHandle {
  return {
    record,
    subprocess: null,
    expecting: null,
    exited: null,
    startedAt: 0,
    crashLog: [],
    streak: {crashes: 0},
    restartTimer: null,
    restartAt: null,
    view: {...EMPTY_VIEW},
    closeEvents: null,
    faultsDirty: false,
    pushed: null,
    pushing: Promise.resolve(true),
    lastEventAt: 0,
    joinVia: null,
  }
}

/** A process runs for the node (it may be paused). */
export function hasProcess(node: NodeHandle): boolean {
  return node.record.process === 'starting' || node.record.process === 'running' || node.record.process === 'paused'
}
