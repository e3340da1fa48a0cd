// An in-memory Storage: the stable log of tests, the simulation and the benchmark.
// It plays the part of the driver's SQLite log, so it also has the write side
// (append, setHardState, applySnapshot, createSnapshot, compact) that the core itself never calls.
//
// The compaction rule: compact(index) only up to the latest snapshot (createSnapshot or
// applySnapshot), never past it. Entries past the snapshot are the only record of those
// indexes: a follower that needed them could never be caught up, neither from the log nor from
// the snapshot. (The state machine makes a snapshot only of what it applied, so this also keeps
// compaction to applied, hence committed, entries.)
import {copyMembership, type Membership} from './membership.js'
import {CompactedError, UnavailableError, type Entry, type HardState, type Snapshot, type Storage} from './types.js'

/** A snapshot not newer than the one storage holds (etcd's ErrSnapOutOfDate). */
export class SnapshotOutOfDateError extends Error {
  constructor(index: number, current: number) {
    super(`raft storage: snapshot at index ${index} is out of date (storage holds one at index ${current})`)
    this.name = 'SnapshotOutOfDateError'
  }
}

export class MemoryStorage implements Storage {
  private hardState: HardState = {term: 0, vote: null, commit: 0}
  /** ents[0] is a dummy standing for the last compacted entry (index firstIndex-1): only its index
   * and term matter. Keeping it makes term(firstIndex-1) and every offset computation uniform. */
  private ents: Entry[] = [{index: 0, term: 0, type: 'noop', data: new Uint8Array(0)}]

  /** The latest snapshot (index 0: none). Set by createSnapshot() and applySnapshot(); the log
   * never starts after it (firstIndex() - 1 <= snap.index). */
  private snap: Snapshot = {index: 0, term: 0, membership: {voters: [], learners: []}}

  snapshot(): Snapshot {
    return this.snap
  }

  /**
   * Installs a snapshot received from the leader: it replaces the whole log (the log starts right
   * after it). Refuses one not newer than the snapshot held (SnapshotOutOfDateError). The hard
   * state is left alone: the Ready carrying the snapshot also carries the new commit index.
   */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.index <= this.snap.index) throw new SnapshotOutOfDateError(snapshot.index, this.snap.index)
    this.snap = snapshot
    this.ents = [{index: snapshot.index, term: snapshot.term, type: 'noop', data: new Uint8Array(0)}]
  }

  /**
   * Records the state machine's snapshot at `index` (which it has applied, so it is stored here),
   * with the configuration as of `index` (the state machine tracks it as it applies configuration
   * entries) and the state machine's serialized state. The log is untouched: compact()
   * afterwards, up to `index`. Refuses an index not newer than the snapshot held.
   */
  createSnapshot(index: number, membership: Membership, data: Uint8Array): Snapshot {
    if (index <= this.snap.index) throw new SnapshotOutOfDateError(index, this.snap.index)
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex())
    this.snap = {index, term: this.term(index), membership: copyMembership(membership), data}
    return this.snap
  }

  initialState(): HardState {
    return {...this.hardState}
  }

  setHardState(hs: HardState): void {
    this.hardState = {...hs}
  }

  firstIndex(): number {
    return this.ents[0].index + 1
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1
  }

  term(index: number): number {
    const offset = this.ents[0].index
    if (index < offset) throw new CompactedError(index, offset + 1)
    if (index - offset >= this.ents.length) throw new UnavailableError(index, this.lastIndex())
    return this.ents[index - offset].term
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0].index
    if (lo <= offset) throw new CompactedError(lo, offset + 1)
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex())
    return limitSize(this.ents, lo - offset, hi - offset, maxBytes)
  }

  /** Appends entries, first deleting any stored entries at or after entries[0].index (the
   * driver's "truncate the conflicting suffix, then append"). Entries below firstIndex are skipped. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return
    const offset = this.ents[0].index
    let from = 0
    if (entries[0].index <= offset) {
      from = offset + 1 - entries[0].index
      if (from >= entries.length) return
    }
    const first = entries[from].index
    if (first > this.lastIndex() + 1) {
      throw new RangeError(`MemoryStorage.append: gap: entry ${first} after last index ${this.lastIndex()}`)
    }
    this.ents.length = first - offset
    for (let i = from; i < entries.length; i++) this.ents.push(entries[i])
  }

  /** Discards entries up to and including `index`, keeping its term. `index` must be covered by
   * the latest snapshot (see the compaction rule above). */
  compact(index: number): void {
    const offset = this.ents[0].index
    if (index <= offset) return
    if (index > this.snap.index) {
      throw new RangeError(`MemoryStorage.compact: index ${index} is past the latest snapshot (${this.snap.index}): make a snapshot first`)
    }
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex())
    const dummy: Entry = {index, term: this.ents[index - offset].term, type: 'noop', data: new Uint8Array(0)}
    this.ents = [dummy, ...this.ents.slice(index - offset + 1)]
  }

  /** A copy of every available entry (tests). */
  allEntries(): Entry[] {
    return this.ents.slice(1)
  }
}

/** ents[lo, hi), cut before the data size passes maxBytes, but at least one entry. */
export function limitSize(ents: readonly Entry[], lo: number, hi: number, maxBytes: number): Entry[] {
  if (lo >= hi) return []
  let size = ents[lo].data.byteLength
  let end = lo + 1
  while (end < hi) {
    size += ents[end].data.byteLength
    if (size > maxBytes) break
    end++
  }
  return ents.slice(lo, end)
}
