/**
 * The Raft core's view of the durable log (its Storage interface), over the node database.
 *
 * The core asks for terms constantly (every append it sends or receives), so terms are kept
 * in memory as runs (a term changes rarely: one run per leadership), and the most recent
 * entries are cached; older entries are read from SQLite when a lagging follower needs them.
 * The driver calls `append` and `setHardState` only after the write is durable, so what
 * this reports is always what survives a crash.
 */
import {CompactedError, SnapshotTemporarilyUnavailableError, UnavailableError, type Entry, type HardState, type Snapshot, type Storage} from '../raft/index.js'
import {ENTRY_TYPE_CODE} from './schema.js'
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

  constructor(private readonly reader: StoreReader) {
    const stored = reader.hardState()
    const bounds = reader.logBounds()
    this.first = bounds?.first ?? 1
    this.last = bounds?.last ?? 0
    // The commit index is written lazily, so it may lag what was applied (and applied rows are
    // only written for committed entries): what was applied is committed.
    const commit = Math.min(Math.max(stored?.commit ?? 0, reader.appliedIndex()), this.last)
    this.hardState = stored ? {term: stored.term, vote: stored.vote, commit} : {term: 0, vote: null, commit}
    for (const run of reader.termRuns()) this.runs.push(run)
    this.cacheBase = this.last + 1
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
    // Snapshots are not implemented yet, so the log is never compacted and first is 1.
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
        out.push({index: row.index, term: row.term, type: row.type === ENTRY_TYPE_CODE.noop ? 'noop' : 'normal', data: row.data})
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

  snapshot(): Snapshot {
    throw new SnapshotTemporarilyUnavailableError('this node does not make snapshots yet')
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
    if (index >= this.cacheBase) this.cache.length = index - this.cacheBase
    else {
      this.cache = []
      this.cacheBase = index
    }
    this.last = index - 1
  }
}
