// The plain-data vocabulary of the Raft core: log entries, hard state, messages, the
// Storage seam the core reads the stable log through, and the Ready batch it hands the
// driver. Everything here is plain numbers, strings, booleans and byte arrays, so a
// transport can encode it compactly and a simulation can copy or duplicate it freely.
import type {Membership} from './membership.js'

/** A member's id, a non-negative integer never reused for another member in the life of the
 * cluster. The broker maps it to host:port; the core never needs to. */
export type NodeId = number

/**
 * `normal` entries carry client data; `noop` is the empty entry a new leader appends so that
 * it has an entry of its own term to commit (Raft §5.4.2, §8): committing it commits every
 * earlier entry, which is the only way a leader learns what is committed from earlier terms.
 * `conf` carries a whole new Membership (encodeMembership); it takes effect on every node as soon
 * as the node appends it (dissertation §4.1), and carries no client data.
 */
export type EntryType = 'normal' | 'noop' | 'conf'

/** One log entry. Treated as immutable once created: the core shares Entry objects between its
 * unstable log, messages and Ready batches, and never mutates them. */
export interface Entry {
  index: number
  term: number
  type: EntryType
  data: Uint8Array
}

/** What must survive a crash besides the log: the current term, the vote cast in it, and the
 * commit index (an optimisation: it lets a restarted node re-apply without waiting for a leader). */
export interface HardState {
  term: number
  vote: NodeId | null
  commit: number
}

export type Role = 'follower' | 'candidate' | 'precandidate' | 'leader'

export type MessageType =
  | 'app' // AppendEntries: index/logTerm = the entry preceding `entries`, commit = leader commit
  | 'appResp' // index = last index now known to match (success), or the rejected prevIndex
  | 'vote' // RequestVote: index/logTerm = the candidate's last entry
  | 'voteResp'
  | 'preVote' // term = the term the pre-candidate would campaign in; nobody changes state
  | 'preVoteResp'
  | 'heartbeat' // commit = min(leader commit, the follower's match), so it never points past the follower's log
  | 'heartbeatResp'
  | 'timeoutNow' // leadership transfer: "campaign now, skipping PreVote and leases"
  | 'snap' // InstallSnapshot (§7): `snapshot` = the leader's snapshot; answered with an appResp

export interface Message {
  type: MessageType
  from: NodeId
  to: NodeId
  term: number
  /** app: term of the entry at `index` (prevLogTerm); vote/preVote: the candidate's last log term;
   * appResp rejection: the term of the follower's entry at `rejectHint` (same as hintTerm). */
  logTerm?: number
  /** app: prevLogIndex; vote/preVote: the candidate's last index; appResp: see MessageType. */
  index?: number
  entries?: Entry[]
  commit?: number
  reject?: boolean
  /** appResp rejection: the follower's best guess of the last index that may match: the largest
   * index <= min(prevIndex, its lastIndex) whose term is <= the leader's prevLogTerm. */
  rejectHint?: number
  /** appResp rejection: the follower's term at rejectHint. The leader skips back to the last index
   * of its own log with a term <= hintTerm: one round trip per term instead of per entry. */
  hintTerm?: number
  /** vote: the campaign was started by a leadership transfer (TimeoutNow), so voters must not
   * ignore it for being inside a leader lease. */
  transfer?: boolean
  /** snap: the snapshot to install. Its data may travel out of band (the broker streams the
   * state machine's rows in checksummed chunks before it steps this message into the core). */
  snapshot?: Snapshot
}

/**
 * The state machine's state after applying every entry up to `index` (Raft §7), as etcd's
 * raftpb.Snapshot: metadata the core reasons about, plus data it never looks at. The log of a
 * member holding it starts at index + 1; (index, term) stands for the last compacted entry.
 */
export interface SnapshotMeta {
  /** Last entry the snapshot covers. 0 means "no snapshot" (nothing compacted). */
  index: number
  /** Term of that entry. */
  term: number
  /** The configuration as of `index` (§7): the latest configuration entry at or below it, or the
   * initial configuration when there is none. */
  membership: Membership
}

export interface Snapshot extends SnapshotMeta {
  /** Opaque to the core. The simulation carries its state machine here; the broker leaves it
   * out and streams the rows separately. */
  data?: Uint8Array
}

/**
 * The stable (durable) log, read by the core; written only by the driver, from Ready batches.
 * This is etcd's Storage shape. The driver implements it over SQLite plus a cache; tests use
 * MemoryStorage.
 *
 * Contract: after the driver persisted a Ready's entries and called advance(), the storage returns
 * them; before that it must not (the core serves not-yet-durable entries from its own unstable log).
 * Likewise a Ready's snapshot: once advance() is called, firstIndex() = snapshot.index + 1,
 * term(snapshot.index) = snapshot.term, and snapshot() returns it (or a newer one).
 * Index `firstIndex() - 1` is the last compacted entry: its term is still available (it is the
 * prevLogTerm of the first entry), its data is not. The driver compacts on its own, never past
 * the applied index (and never past what snapshot() can provide).
 */
export interface Storage {
  /** The hard state persisted last (term 0, vote null, commit 0 for a fresh node). */
  initialState(): HardState
  /** The first index whose entry is available (1 if nothing was compacted). */
  firstIndex(): number
  /** The last index in stable storage (firstIndex() - 1 if empty). */
  lastIndex(): number
  /** The term of the entry at `index`, valid for firstIndex()-1 .. lastIndex(). Must throw
   * CompactedError below that range and UnavailableError above it. Index 0 has term 0. */
  term(index: number): number
  /** Entries [lo, hi), stopping before the total data size exceeds maxBytes but always returning at
   * least one entry if lo < hi. Throws CompactedError if lo < firstIndex(). */
  entries(lo: number, hi: number, maxBytes: number): Entry[]
  /**
   * The most recent snapshot the state machine can provide (index 0 when there is none). A
   * leader sends it to a follower that needs entries below firstIndex(). Its index is at least
   * firstIndex() - 1 and at most the applied index. May throw SnapshotTemporarilyUnavailableError
   * (the leader then retries on a later heartbeat answer), but not when the core is created with
   * a compacted log: it reads its configuration from the snapshot then (its `membership`, followed
   * by the configuration entries of the stable log after it).
   */
  snapshot(): Snapshot
}

/** Thrown by Storage.snapshot() when a snapshot cannot be produced right now (one is being made). */
export class SnapshotTemporarilyUnavailableError extends Error {
  constructor(why: string) {
    super(`raft storage: snapshot temporarily unavailable: ${why}`)
    this.name = 'SnapshotTemporarilyUnavailableError'
  }
}

/** Thrown by Storage for an index below firstIndex() - 1 (or an entry below firstIndex()). */
export class CompactedError extends Error {
  constructor(index: number, firstIndex: number) {
    super(`raft log: index ${index} is compacted (first available index is ${firstIndex})`)
    this.name = 'CompactedError'
  }
}

/** Thrown by Storage for an index above lastIndex(). */
export class UnavailableError extends Error {
  constructor(index: number, lastIndex: number) {
    super(`raft log: index ${index} is not available (last index is ${lastIndex})`)
    this.name = 'UnavailableError'
  }
}

export interface SoftState {
  role: Role
  leaderId: NodeId | null
}

/**
 * One batch of work for the driver. Handle it in this order:
 *  1. send `messages` (they may go out before anything is durable; a 'snap' is streamed, and its
 *     end reported through Raft.reportSnapshot);
 *  2. install `snapshot` if present (state machine and log replaced by it), then persist
 *     `entries` (truncating the stable log from entries[0].index first) and `hardState`, all
 *     durably (hardState.commit is at least snapshot.index);
 *  3. once durable: send `persistedMessages`, apply `committed`, call advance(ready).
 * Only one Ready may be outstanding: ready() throws until advance() of the previous one.
 */
export interface Ready {
  /** Present when the role or known leader changed since the last Ready. */
  softState?: SoftState
  /** A snapshot received from the leader, to install before `entries` (their first index is
   * then snapshot.index + 1). A Ready with a snapshot has no `committed` entries; after its
   * advance() the applied index is snapshot.index and later Readies apply from there. */
  snapshot?: Snapshot
  /** Present when term, vote or commit changed since the last Ready; persist with `entries`. */
  hardState?: HardState
  /** Entries to append to stable storage. The first one's index may be <= the storage's lastIndex
   * (a new leader overwrote our uncommitted suffix): delete from there first. */
  entries: Entry[]
  /** Messages that promise nothing about our durable state: a leader's appends and heartbeats,
   * vote requests, pre-vote answers. Send right away. */
  messages: Message[]
  /** Messages that acknowledge this Ready's durable state (append responses, votes): send only
   * after `entries` and `hardState` are durable, or a crash could break a promise already made. */
  persistedMessages: Message[]
  /** Newly committed entries, in order, to apply to the state machine. All are already durable
   * locally (they come from stable storage). */
  committed: Entry[]
}

export interface ProgressStatus {
  match: number
  next: number
  state: 'probe' | 'replicate' | 'snapshot'
  /** In state `snapshot`: the index of the snapshot sent (the follower resumes after it). */
  pendingSnapshot?: number
  inflight: number
  /** Heard from within the last election timeout. */
  recentActive: boolean
  /** A learner: receives the log, does not vote, its acknowledgments commit nothing. */
  learner?: boolean
}

export interface Status {
  id: NodeId
  role: Role
  term: number
  vote: NodeId | null
  leaderId: NodeId | null
  commit: number
  applied: number
  firstIndex: number
  lastIndex: number
  /** The snapshot the log starts after (index 0 when nothing was compacted). */
  snapshotIndex: number
  snapshotTerm: number
  /** The configuration in effect: the latest in the log, committed or not (§4.1). Frozen: the
   * core hands out the same object until the configuration changes. */
  membership: Membership
  /** The index of the entry (or snapshot) it comes from; 0 for the initial configuration. A
   * change is in flight while this is above `commit`. */
  membershipIndex: number
  /** Only on a leader: the replication state of every member (itself included, learners marked),
   * and of a member being removed until its removal commits. */
  progress?: Record<NodeId, ProgressStatus>
  /** Only on a leader transferring leadership: the target. */
  transferee?: NodeId
}

/**
 * The log ends before an index the node knows was committed (a leader says so, or its own commit
 * index): it lost entries it held, and maybe acknowledged. Its storage is not what it promised.
 */
export class LostLogError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'LostLogError'
  }
}
