/**
 * The Raft core's view of the durable log (its Storage interface), over the node database.
 *
 * The core asks for terms constantly (every append it sends or receives), so terms are kept
 * in memory as runs (a term changes rarely: one run per leadership), and the most recent
 * entries are cached; older entries are read from SQLite when a lagging follower needs them.
 * The driver calls `append` and `setHardState` only after the write is durable, so what
 * this reports is always what survives a crash.
 *
 * The log may be compacted: `raft_snapshot` holds the compaction point (index, term, membership),
 * the last entry dropped; the log starts after it. A snapshot of the state machine is its state
 * at its durable applied index (the `applied` row), so compaction never goes above that index.
 */
import {
  CompactedError,
  copyMembership,
  decodeMembership,
  SnapshotTemporarilyUnavailableError,
  UnavailableError,
  type Entry,
  type EntryType,
  type HardState,
  type Membership,
  type Snapshot,
  type SnapshotMeta,
  type Storage,
} from '../raft/index.js'
import {ENTRY_TYPE_CODE} from './schema.js'

const ENTRY_TYPE_NAME: Record<number, EntryType> = {}
for (const [name, code] of Object.entries(ENTRY_TYPE_CODE)) ENTRY_TYPE_NAME[code] = name as EntryType
import type {StoreReader} from './store-reader.js'

interface TermRun {
  /** First index of the run. */
  start: number
  term: number
}

/**
 * Recent entries kept in memory: 16 batches of 256 at full load, enough for a follower that is
 * a few round trips behind. One further behind is read from SQLite. 16,384 held 10 MB more of
 * buffers for no gain in the benchmarks.
 */
const CACHE_ENTRIES = 4_096

export class RaftStorage implements Storage {
  private hardState: HardState
  private first: number
  private last: number
  /** Sorted by start; covers first..last. */
  private runs: TermRun[] = []
  /** Entries cacheBase .. cacheBase + cache.length - 1 (always a suffix of the log). */
  private cache: Entry[] = []
  private cacheBase = 1
  /** The compaction point: the last entry dropped from the log (index 0: none). */
  private point: SnapshotMeta
  /**
   * The configuration entries of the log (after the point), ascending: a snapshot or compaction
   * at index i must carry the configuration as of i, not the point's (membershipAt).
   */
  private confs: {index: number; membership: Membership}[] = []

  /** `peers`: the initial voters, as a snapshot made before any compaction names them. */
  constructor(
    private readonly reader: StoreReader,
    peers: number[],
  ) {
    const stored = reader.hardState()
    const bounds = reader.logBounds()
    const point = reader.snapshotPoint()
    this.point = point ?? {index: 0, term: 0, membership: {voters: [...peers].sort((a, b) => a - b), learners: []}}
    this.first = this.point.index + 1
    this.last = Math.max(bounds?.last ?? 0, this.point.index)
    // The commit index is written lazily, so it may lag what was applied (and applied rows are
    // only written for committed entries): what was applied is committed.
    const commit = Math.min(Math.max(stored?.commit ?? 0, reader.appliedIndex()), this.last)
    this.hardState = stored ? {term: stored.term, vote: stored.vote, commit} : {term: 0, vote: null, commit}
    for (const run of reader.termRuns()) if (run.start > this.point.index) this.runs.push(run)
    for (const conf of reader.confEntries()) if (conf.index > this.point.index) this.confs.push({index: conf.index, membership: decodeMembership(conf.data)})
    this.cacheBase = this.last + 1
  }

  /**
   * The configuration in effect at `index` (the latest configuration entry at or below it, or
   * the compaction point's): what a snapshot or compaction point at `index` must carry. Only
   * for an index at or above the point.
   */
  membershipAt(index: number): Membership {
    if (index < this.point.index) throw new Error(`membership at ${index}: below the compaction point ${this.point.index}`)
    for (let i = this.confs.length - 1; i >= 0; i--) if (this.confs[i].index <= index) return copyMembership(this.confs[i].membership)
    return copyMembership(this.point.membership)
  }

  /** The compaction point (index 0 when nothing was compacted). */
  snapshotPoint(): SnapshotMeta {
    return {...this.point, membership: copyMembership(this.point.membership)}
  }

  initialState(): HardState {
    return {...this.hardState}
  }

  firstIndex(): number {
    return this.first
  }

  lastIndex(): number {
    return this.last
  }

  term(index: number): number {
    if (index === 0) return 0
    if (index > this.last) throw new UnavailableError(index, this.last)
    if (index === this.point.index) return this.point.term
    if (index < this.first) throw new CompactedError(index, this.first)
    let lo = 0
    let hi = this.runs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.runs[mid].start <= index) lo = mid
      else hi = mid - 1
    }
    return this.runs[lo].term
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.first) throw new CompactedError(lo, this.first)
    if (hi > this.last + 1) throw new UnavailableError(hi - 1, this.last)
    const out: Entry[] = []
    let bytes = 0
    let index = lo
    if (lo < this.cacheBase) {
      const upto = Math.min(hi, this.cacheBase)
      for (const row of this.reader.entries(lo, upto)) {
        bytes += row.data.byteLength
        if (out.length > 0 && bytes > maxBytes) return out
        out.push({index: row.index, term: row.term, type: ENTRY_TYPE_NAME[row.type] ?? 'normal', data: row.data})
      }
      index = upto
    }
    for (; index < hi; index++) {
      const entry = this.cache[index - this.cacheBase]
      bytes += entry.data.byteLength
      if (out.length > 0 && bytes > maxBytes) return out
      out.push(entry)
    }
    return out
  }

  /**
   * The state machine as of its durable applied index: what a leader streams to a follower
   * that needs compacted entries (the rows themselves travel out of band, read in one read
   * transaction when the stream starts, see SnapshotSource).
   */
  snapshot(): Snapshot {
    const applied = this.reader.appliedIndex()
    if (applied === 0) throw new SnapshotTemporarilyUnavailableError('nothing is applied yet')
    if (applied < this.point.index || applied > this.last) throw new SnapshotTemporarilyUnavailableError(`applied index ${applied} is outside the log ${this.point.index}..${this.last}`)
    return {index: applied, term: this.term(applied), membership: this.membershipAt(applied)}
  }

  /**
   * The log up to `meta.index` was dropped on disk, with the compaction point: forget it here.
   * Never above the durable applied index (a snapshot must be able to stand for it), never
   * below the current point.
   */
  compact(meta: SnapshotMeta): void {
    const applied = this.reader.appliedIndex()
    if (meta.index > applied) throw new Error(`compaction to ${meta.index} is above the durable applied index ${applied}`)
    if (meta.index > this.last) throw new Error(`compaction to ${meta.index} is past the last index ${this.last}`)
    if (meta.index <= this.point.index) return
    this.point = {index: meta.index, term: meta.term, membership: copyMembership(meta.membership)}
    this.confs = this.confs.filter((c) => c.index > meta.index)
    this.first = meta.index + 1
    let keep = 0
    while (keep + 1 < this.runs.length && this.runs[keep + 1].start <= this.first) keep++
    this.runs = this.runs.slice(keep)
    if (this.runs.length > 0 && this.runs[0].start < this.first) this.runs[0] = {start: this.first, term: this.runs[0].term}
    if (this.first > this.last) this.runs = []
    if (this.cacheBase < this.first) {
      const drop = Math.min(this.cache.length, this.first - this.cacheBase)
      this.cache = this.cache.slice(drop)
      this.cacheBase += drop
    }
  }

  /**
   * A snapshot was installed (durably): the state machine is as of `meta.index` and the log is
   * empty, starting after it.
   */
  applySnapshot(meta: SnapshotMeta): void {
    this.point = {index: meta.index, term: meta.term, membership: copyMembership(meta.membership)}
    this.first = meta.index + 1
    this.last = meta.index
    this.runs = []
    this.confs = []
    this.cache = []
    this.cacheBase = this.first
    if (this.hardState.commit < meta.index) this.hardState = {...this.hardState, commit: meta.index}
  }

  /** Records entries made durable; the first one may overwrite a conflicting suffix. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return
    const from = entries[0].index
    if (from > this.last + 1) throw new Error(`append at ${from} leaves a gap after ${this.last}`)
    if (from <= this.last) this.truncateFrom(from)
    for (const entry of entries) {
      const lastRun = this.runs[this.runs.length - 1]
      if (!lastRun || lastRun.term !== entry.term) this.runs.push({start: entry.index, term: entry.term})
      if (entry.type === 'conf') this.confs.push({index: entry.index, membership: decodeMembership(entry.data)})
      this.cache.push(entry)
    }
    this.last = entries[entries.length - 1].index
    if (this.cache.length > CACHE_ENTRIES * 2) {
      const drop = this.cache.length - CACHE_ENTRIES
      this.cache = this.cache.slice(drop)
      this.cacheBase += drop
    }
  }

  setHardState(state: HardState): void {
    this.hardState = {...state}
  }

  private truncateFrom(index: number): void {
    while (this.runs.length > 0 && this.runs[this.runs.length - 1].start >= index) this.runs.pop()
    while (this.confs.length > 0 && this.confs[this.confs.length - 1].index >= index) this.confs.pop()
    if (index >= this.cacheBase) this.cache.length = index - this.cacheBase
    else {
      this.cache = []
      this.cacheBase = index
    }
    this.last = index - 1
  }
}
