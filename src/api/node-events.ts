/**
 * GET /events, a Server-Sent Events stream: what each event's `data:` line holds. The stream
 * opens with a `hello` event (the node's /raft answer), then one event per change; the SSE
 * event name is the `type` field (hello has none: its name says it).
 */
import type {RaftInfo, RaftRole} from './node-http.js'

/**
 * Snapshots: the leader finished streaming its state to follower `to` (`bytes` of rows in `ms`),
 * or this follower installed a snapshot of `rows` rows at `index`.
 */
export type SnapshotEvent =
  | {type: 'snapshot-send'; to: number; index: number; bytes: number; ms: number}
  | {type: 'snapshot-install'; index: number; rows: number; ms: number}

/** A network fault on this node's links as /admin sets it (the node's own transport's shape). */
export interface LinkFault {
  /** Drop everything to and from the peer. */
  drop?: boolean
  /** Added one-way latency, in milliseconds. */
  delayMs?: number
  /** Uniform random extra latency up to this many milliseconds. */
  jitterMs?: number
  /** Probability in [0, 1] that a message is lost. */
  loss?: number
  /** Epoch milliseconds after which the fault no longer applies. */
  until?: number
}

/** Changes of the node's Raft state; commits are throttled at the source (a few per second). */
export type RaftEvent =
  | {type: 'role'; role: RaftRole; term: number; leader: number | null}
  | {type: 'term'; term: number}
  | {type: 'commit'; commit_index: number; last_applied: number}
  /** The node's vote in `term` changed (null: it has not voted in this term). */
  | {type: 'vote'; term: number; vote: number | null}

/** A fault set on links to `peers` (member indexes), or every fault removed. */
export type FaultEvent = ({type: 'fault'; action: 'set'; peers: number[]} & LinkFault) | {type: 'fault'; action: 'heal'}

/** The kinds of Raft message a node reports, in words (the core's app is append, snap is snapshot). */
export const RPC_KINDS = [
  'append',
  'append-reply',
  'heartbeat',
  'heartbeat-reply',
  'vote',
  'vote-reply',
  'prevote',
  'prevote-reply',
  'timeout-now',
  'snapshot',
] as const
export type RpcKind = (typeof RPC_KINDS)[number]

/**
 * A Raft message this node sent (`from` is its own index), for drawing messages in flight.
 * Sampled at the source: every vote, prevote and timeout-now (rare and the point of an
 * election), the others at most a few per second per node, so a fast cluster's stream stays
 * small. `entries`: how many log entries an append carries; `reject`: a reply said no.
 */
export interface RpcEvent {
  type: 'rpc'
  kind: RpcKind
  from: number
  to: number
  term: number
  entries: number
  reject: boolean
}

export type NodeEvent = RaftEvent | SnapshotEvent | FaultEvent | RpcEvent

/** The `data:` of every event but hello: the event and when the node sent it (ISO 8601). */
export type NodeEventData = NodeEvent & {time: string}

/** The `data:` of the hello event. */
export type HelloData = RaftInfo & {time: string}

/**
 * One event as a reader of /events gets it: its `data:`, with the SSE event name as `type`
 * (so hello, which has no `type` field on the wire, is told apart like the others).
 */
export type NodeStreamItem = ({type: 'hello'} & HelloData) | NodeEventData
