/**
 * The seam between the broker's front ends and its state machine: a publish is proposed to
 * a replicated log, and resolves once the log has committed it and the message store has
 * applied it.
 */
import type {RaftRole} from '../api/node-http.js'
import type {ApplyResult} from './message-store.js'

export interface LogStatus {
  role: RaftRole
  term: number
  /** The member this node voted for in `term`, or null. */
  vote: number | null
  /** Index of the member this node believes leads, or null. */
  leader: number | null
  commitIndex: number
  lastApplied: number
  firstIndex: number
  lastIndex: number
  /** The compaction point: the log holds the entries after it (0 when nothing was compacted). */
  snapshotIndex: number
  snapshotTerm: number
  clusterSize: number
}

export interface ReplicatedLog {
  /** Resolves when committed and applied; rejects with a BrokerError (NO_LEADER, ...). */
  propose(data: Uint8Array): Promise<ApplyResult>
  status(): LogStatus
  /** Stops proposing, settles what is in flight, and stops the log's timers. */
  close(): Promise<void>
}
