// The Raft log as the core sees it: the stable prefix read through Storage, followed by the
// unstable suffix of entries the core has accepted but the driver has not yet persisted
// (etcd's raftLog + unstable). Keeping the unstable part here is what lets the driver
// persist asynchronously: the core keeps working (appending, replicating) while a write is
// in flight, and only trusts an entry to be durable once advance() says so.
//
//   storage:  [firstIndex-1 (term only)] [firstIndex ............ storage lastIndex]
//   unstable:                                        [offset ........ lastIndex]
//
// Indices below `offset` are read from storage; from `offset` on, from `unstable`. When a new
// leader overwrites our uncommitted suffix, `offset` can drop below the storage's lastIndex:
// storage then still holds the stale entries, but this view hides them, and the next Ready
// tells the driver to truncate.
//
// A snapshot received from the leader (restore) is unstable too, like etcd's unstable.snapshot:
// until the driver has installed it durably, it stands in front of an empty unstable log,
//
//   pending snapshot:  [snapshot.index (term only)]
//   unstable:                                      [offset = snapshot.index + 1 ... lastIndex]
//
// and the storage's old log is hidden entirely (none of it counts as ours any more).
import {limitSize} from './memory-storage.js'
import {decodeMembership, type Membership} from './membership.js'
import {MembershipHistory} from './membership-history.js'
import {CompactedError, LostLogError, SnapshotTemporarilyUnavailableError, UnavailableError, type Entry, type Snapshot, type Storage} from './types.js'

/** Configuration entries are found at startup by reading the stable log in chunks this size. */
const SCAN_BYTES = 4 * 1024 * 1024

export class RaftLog {
  readonly storage: Storage
  /** Entries not yet known durable; unstable[i] has index offset + i. */
  private unstable: Entry[] = []
  private offset: number
  /** Highest index handed to the driver in a Ready that is not yet acknowledged. Entries above it
   * go into the next Ready. Always >= offset - 1. */
  private inProgress: number
  /** Highest index known committed (replicated on a quorum in a way that can never be undone). */
  committed: number
  /** Highest index the driver has applied (acknowledged through advance()). */
  applied: number
  /** Set by maybeAppend: the first index of our log it replaced (0 if it only appended). */
  truncatedAt = 0
  /** A snapshot from the leader that the driver has not yet installed durably (null: none). */
  private pendingSnapshot: Snapshot | null = null
  /** The pending snapshot was handed to the driver in the outstanding Ready. */
  private snapshotInProgress = false
  /** The configuration of every configuration entry in the log, kept in step with every change
   * to the log (append, truncation, snapshot). */
  readonly confs: MembershipHistory

  /** `initial`: the configuration of a node whose storage holds neither snapshot nor any
   * configuration entry. */
  constructor(storage: Storage, committed: number, applied: number | undefined, initial: Membership) {
    this.storage = storage
    this.offset = storage.lastIndex() + 1
    this.inProgress = this.offset - 1
    const compacted = storage.firstIndex() - 1
    if (committed > this.offset - 1) {
      throw new RangeError(`raft log: hard state commit ${committed} is past the stable log's last index ${this.offset - 1}`)
    }
    // Everything compacted was committed (only committed entries are ever compacted).
    this.committed = Math.max(committed, compacted)
    this.applied = applied ?? compacted
    if (this.applied < compacted || this.applied > this.committed) {
      throw new RangeError(`raft log: applied ${this.applied} must be within [${compacted}, ${this.committed}] (compacted .. committed)`)
    }
    this.confs = new MembershipHistory(this.storedBase(initial))
    this.scanStableConfs()
    this.confs.forgetBefore(this.committed)
  }

  /** The configuration as of the stable snapshot, or `initial` when there is none. */
  private storedBase(initial: Membership): {index: number; membership: Membership} {
    let snap: Snapshot
    try {
      snap = this.storage.snapshot()
    } catch (e) {
      // No snapshot can be made yet; that is only fine if nothing was compacted either.
      if (!(e instanceof SnapshotTemporarilyUnavailableError) || this.storage.firstIndex() > 1) throw e
      return {index: 0, membership: initial}
    }
    if (snap.index === 0) {
      if (this.storage.firstIndex() > 1) throw new RangeError(`raft log: the log is compacted to ${this.storage.firstIndex() - 1} but storage has no snapshot to say the configuration there`)
      return {index: 0, membership: initial}
    }
    return {index: snap.index, membership: snap.membership}
  }

  /** Reads the configuration entries of the stable log after the base (once, at startup). */
  private scanStableConfs(): void {
    const hi = this.storage.lastIndex() + 1
    let lo = Math.max(this.storage.firstIndex(), this.confs.latest().index + 1)
    while (lo < hi) {
      const chunk = this.storage.entries(lo, hi, SCAN_BYTES)
      for (const e of chunk) if (e.type === 'conf') this.confs.add(e.index, decodeMembership(e.data))
      lo += chunk.length
    }
  }

  firstIndex(): number {
    if (this.pendingSnapshot !== null) return this.pendingSnapshot.index + 1
    return this.storage.firstIndex()
  }

  lastIndex(): number {
    return this.offset - 1 + this.unstable.length
  }

  /** Highest index such that the whole log up to it is durable and current. While a snapshot is
   * not yet installed, none of it is: the durable log is the old one the snapshot replaces. */
  persistedIndex(): number {
    return this.pendingSnapshot === null ? this.offset - 1 : 0
  }

  /** The term of the entry at `index`; throws CompactedError / UnavailableError out of range. */
  term(index: number): number {
    if (index >= this.offset) {
      const j = index - this.offset
      if (j < this.unstable.length) return this.unstable[j].term
      throw new UnavailableError(index, this.lastIndex())
    }
    const snap = this.pendingSnapshot
    if (snap !== null) {
      if (index === snap.index) return snap.term
      throw new CompactedError(index, snap.index + 1)
    }
    return this.storage.term(index)
  }

  /** The term at `index`, or null when compacted or past the end (no exceptions). */
  termOrNull(index: number): number | null {
    if (index > this.lastIndex() || index < this.firstIndex() - 1) return null
    return this.term(index)
  }

  lastTerm(): number {
    return this.term(this.lastIndex())
  }

  matchTerm(index: number, term: number): boolean {
    if (index > this.lastIndex()) return false
    return this.term(index) === term
  }

  /** §5.4.1: a candidate whose last entry is (lastIndex, lastTerm) is at least as up-to-date as us
   * if its last term is higher, or equal with a log at least as long. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm()
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex())
  }

  /**
   * The follower side of AppendEntries. If our log has (index, logTerm), append `entries` after
   * it, deleting any conflicting suffix first (§5.3), advance commit to min(commit, last new
   * index), and return the last new index. Otherwise return -1 (reject).
   */
  maybeAppend(index: number, logTerm: number, commit: number, entries: readonly Entry[]): number {
    this.truncatedAt = 0
    if (!this.matchTerm(index, logTerm)) return -1
    const lastNew = index + entries.length
    const conflict = this.findConflict(entries)
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new Error(`raft log: entry ${conflict} conflicts with committed entry (committed ${this.committed})`)
      }
      if (conflict <= this.lastIndex()) this.truncatedAt = conflict
      this.append(entries, conflict - (index + 1))
    }
    this.commitTo(Math.min(commit, lastNew))
    return lastNew
  }

  /** The index of the first entry that is new or whose term differs from ours, or 0 if we have
   * them all. Entries past our last index stop the loop at once, so the common case is O(1). */
  private findConflict(entries: readonly Entry[]): number {
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]
      if (!this.matchTerm(e.index, e.term)) return e.index
    }
    return 0
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term: where the fast
   * back-off resumes. Every entry skipped has a term above `term`, so it cannot match an entry of
   * the other log at the same index whose term is <= `term`. A compacted or missing index is
   * returned with term 0 ("unknown, may match").
   */
  findConflictByTerm(index: number, term: number): {index: number; term: number} {
    for (; index > 0; index--) {
      const t = this.termOrNull(index)
      if (t === null) return {index, term: 0}
      if (t <= term) return {index, term: t}
    }
    return {index: 0, term: 0}
  }

  /** Appends entries[from..] to the unstable log, truncating a conflicting suffix first. */
  append(entries: readonly Entry[], from = 0): void {
    if (from >= entries.length) return
    const first = entries[from].index
    if (first <= this.committed) throw new Error(`raft log: cannot overwrite committed entry ${first} (committed ${this.committed})`)
    const end = this.offset + this.unstable.length
    if (first > end) throw new Error(`raft log: gap appending entry ${first} after last index ${end - 1}`)
    if (first < end) {
      if (first <= this.offset) {
        // Replaces the whole unstable part and hides a stable suffix too.
        this.unstable = []
        this.offset = first
      } else {
        this.unstable.length = first - this.offset
      }
      // Anything from `first` on that was handed to the driver is stale: hand out the new ones.
      if (this.inProgress >= first) this.inProgress = first - 1
      this.confs.truncateFrom(first)
    }
    for (let i = from; i < entries.length; i++) {
      const e = entries[i]
      this.unstable.push(e)
      if (e.type === 'conf') this.confs.add(e.index, decodeMembership(e.data))
    }
  }

  /** Entries [lo, hi), at most maxBytes of data (but at least one entry). May throw CompactedError. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return []
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex())
    if (this.pendingSnapshot !== null && lo <= this.pendingSnapshot.index) throw new CompactedError(lo, this.pendingSnapshot.index + 1)
    if (lo >= this.offset) return limitSize(this.unstable, lo - this.offset, hi - this.offset, maxBytes)
    const stableHi = Math.min(hi, this.offset)
    const stable = this.storage.entries(lo, stableHi, maxBytes)
    if (hi <= this.offset || stable.length < stableHi - lo) return stable
    let size = 0
    for (let i = 0; i < stable.length; i++) size += stable[i].data.byteLength
    let end = 0
    const want = hi - this.offset
    while (end < want) {
      size += this.unstable[end].data.byteLength
      if (size > maxBytes) break
      end++
    }
    if (end === 0) return stable
    return stable.concat(this.unstable.slice(0, end))
  }

  /**
   * Replaces the whole log with a snapshot from the leader (§7): the log becomes empty after it
   * and everything up to it is committed. The caller has checked that it is newer than our commit
   * index. It stays pending (hidden storage, nothing applied from storage) until stableSnapshotTo.
   */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.index
    this.pendingSnapshot = snapshot
    this.snapshotInProgress = false
    this.unstable = []
    this.offset = snapshot.index + 1
    this.inProgress = snapshot.index
    this.confs.reset({index: snapshot.index, membership: snapshot.membership})
  }

  /** The snapshot a leader sends to a follower that needs compacted entries. */
  snapshot(): Snapshot {
    return this.pendingSnapshot ?? this.storage.snapshot()
  }

  commitTo(index: number): void {
    if (index <= this.committed) return
    if (index > this.lastIndex()) {
      throw new LostLogError(`raft log: commit ${index} is past the last index ${this.lastIndex()}; was the log lost or truncated?`)
    }
    this.committed = index
    this.confs.forgetBefore(index)
  }

  // ---- the Ready / advance protocol ----

  hasUnstableToHandOut(): boolean {
    return this.lastIndex() > this.inProgress
  }

  hasSnapshotToHandOut(): boolean {
    return this.pendingSnapshot !== null && !this.snapshotInProgress
  }

  /** The pending snapshot if it was not handed out yet; marks it handed out. */
  takeSnapshot(): Snapshot | undefined {
    if (!this.hasSnapshotToHandOut()) return undefined
    this.snapshotInProgress = true
    return this.pendingSnapshot as Snapshot
  }

  /** The driver installed the snapshot at `index` durably: storage holds it from now on, and the
   * state machine is at `index`. A newer snapshot restored meanwhile stays pending. */
  stableSnapshotTo(index: number): void {
    if (this.pendingSnapshot !== null && this.pendingSnapshot.index === index) {
      this.pendingSnapshot = null
      this.snapshotInProgress = false
    }
    this.appliedTo(index)
  }

  /** The unstable entries not yet handed to the driver; marks them handed out. */
  takeUnstable(): Entry[] {
    const from = this.inProgress + 1 - this.offset
    if (from >= this.unstable.length) return []
    const out = from === 0 ? this.unstable.slice() : this.unstable.slice(from)
    this.inProgress = this.lastIndex()
    return out
  }

  /**
   * The driver persisted `handed` (a Ready's entries): drop from the unstable log every entry up to
   * the last handed entry that is still ours. One that was overwritten meanwhile by a new leader
   * is not ours: it (and everything after it) stays unstable and goes out in the next Ready, whose
   * first index tells the driver to truncate the stale entries it just wrote. Call after
   * stableSnapshotTo when the Ready also carried a snapshot.
   */
  stableTo(handed: readonly Entry[]): void {
    // Written before a snapshot we restored since: installing it replaces them.
    if (this.pendingSnapshot !== null) return
    for (let k = handed.length - 1; k >= 0; k--) {
      const e = handed[k]
      if (e.index < this.offset) return
      const j = e.index - this.offset
      if (j < this.unstable.length && this.unstable[j].term === e.term) {
        this.unstable = j + 1 === this.unstable.length ? [] : this.unstable.slice(j + 1)
        this.offset = e.index + 1
        if (this.inProgress < this.offset - 1) this.inProgress = this.offset - 1
        return
      }
    }
  }

  /** The highest index that may be handed out for applying: committed and durable here. */
  applicableIndex(): number {
    return Math.min(this.committed, this.persistedIndex())
  }

  hasCommittedToApply(): boolean {
    return this.pendingSnapshot === null && this.applicableIndex() > this.applied
  }

  /** Committed, durable entries after `applied`, at most maxBytes of data (at least one). None
   * while a snapshot is pending: the state machine is about to be replaced. */
  committedToApply(maxBytes: number): Entry[] {
    if (!this.hasCommittedToApply()) return []
    const hi = this.applicableIndex()
    // All of them are below `offset`, so they come from storage.
    return this.storage.entries(this.applied + 1, hi + 1, maxBytes)
  }

  appliedTo(index: number): void {
    if (index <= this.applied) return
    if (index > this.committed) throw new Error(`raft log: applied ${index} is past commit ${this.committed}`)
    this.applied = index
  }
}
