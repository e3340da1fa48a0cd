/**
 * What the /admin endpoints answer (they need the cluster's token). Errors are the HTTP API's
 * ErrorBody.
 */
import type {LinkFault} from './node-events.js'

/** The faults in force, by peer index (a string: a JSON object key). */
export type FaultsByPeer = Record<string, LinkFault>

/** GET /admin/faults. */
export interface FaultsAnswer {
  faults: FaultsByPeer
}

/** PUT and DELETE /admin/faults: the faults in force after the change. */
export interface FaultsChanged {
  ok: true
  faults: FaultsByPeer
}

/** POST /admin/transfer-leader: the transfer to member `to` has begun (not yet happened). */
export interface TransferAnswer {
  ok: true
  to: number
}

/** POST /admin/shutdown: the node stops once this is sent. */
export interface ShutdownAnswer {
  ok: true
}

/**
 * POST /admin/snapshot: the log was compacted now (whatever the thresholds), up to the durable
 * applied index less the trailing window; the compaction point, where the log now starts, and
 * the database's size on disk after it.
 */
export interface SnapshotAnswer {
  ok: true
  snapshot_index: number
  snapshot_term: number
  first_index: number
  disk_bytes: number
}

/**
 * POST /admin/members, on the leader (a follower answers NOT_LEADER, 421, with `leader`):
 *   {op: 'add', host, raft_port, tcp_port, http_port, node_id?}  a new node id, its card in the
 *       directory, then the node as a learner;
 *   {op: 'promote', id}  a learner becomes a voter (refused while it lags too far behind);
 *   {op: 'remove', id}   a voter or learner leaves the configuration (the leader itself too: it
 *       steps down once the change commits).
 * A change the core refuses (another in flight, the last voter, an unknown member) is CONFLICT (409).
 */
export type MembersRequest =
  | {op: 'add'; host: string; raft_port: number; tcp_port: number; http_port: number; node_id?: string}
  | {op: 'promote'; id: number}
  | {op: 'remove'; id: number}

/** The change committed: the configuration after it, and the index of its configuration entry. */
export interface MembersAnswer {
  ok: true
  id: number
  membership: {voters: number[]; learners: number[]}
  index: number
}
