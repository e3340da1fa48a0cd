/**
 * Log compaction: once the state machine has durably applied `snapshotEntries` entries past the
 * compaction point, the log is cut up to the durable applied index less a trailing window (kept
 * so a follower a little behind still catches up from the log, not by snapshot). The rows go
 * and the compaction point is written in one transaction, through the writer (never on the
 * event loop). Compaction never passes the durable applied index: the state machine on disk
 * must stand for every entry dropped.
 */
import type {SnapshotMeta} from '../raft/index.js'
import type {RaftStorage} from '../storage/raft-storage.js'
import {compactLogOps} from '../storage/schema-rows.js'
import type {StoreReader} from '../storage/store-reader.js'
import type {StoreWriter} from '../storage/store-writer.js'

export interface CompactionOptions {
  /** Compact once this many applied entries are past the compaction point. */
  snapshotEntries: number
  /** Entries kept in the log below the applied index after a compaction. */
  trailingEntries: number
}

export const DEFAULT_COMPACTION: CompactionOptions = {snapshotEntries: 20_000, trailingEntries: 10_000}

export class LogCompactor {
  private running: Promise<SnapshotMeta> | null = null
  /** Set while a snapshot is being installed: the log is being replaced, nothing is cut. */
  paused = false

  constructor(
    private readonly storage: RaftStorage,
    private readonly reader: StoreReader,
    private readonly writer: StoreWriter,
    private readonly options: CompactionOptions,
    private readonly onError: (error: Error) => void,
  ) {}

  /** After entries were applied: compacts when the thresholds say so (in the background). */
  maybeCompact(appliedIndex: number): void {
    if (this.running || this.paused) return
    const point = this.storage.snapshotPoint().index
    if (appliedIndex - point < this.options.snapshotEntries) return
    // The applied index in memory may be ahead of the one on disk: only the durable one counts.
    const durable = this.reader.appliedIndex()
    if (durable - point < this.options.snapshotEntries) return
    this.compactTo(durable - this.options.trailingEntries).catch((error: Error) => this.onError(error))
  }

  /**
   * Compacts now, whatever the thresholds, keeping `trailing` entries (default: the configured
   * window) below the durable applied index; resolves with the compaction point after it.
   */
  async compactNow(trailing = this.options.trailingEntries): Promise<SnapshotMeta> {
    if (this.running) await this.running.catch(() => {})
    // What is applied but not yet written is written first, so "now" means everything applied.
    await this.writer.write([])
    return this.compactTo(this.reader.appliedIndex() - trailing)
  }

  private compactTo(index: number): Promise<SnapshotMeta> {
    const point = this.storage.snapshotPoint()
    const durable = this.reader.appliedIndex()
    if (index > durable) throw new Error(`compaction to ${index} would pass the durable applied index ${durable}`)
    if (index <= point.index || this.paused) return Promise.resolve(point)
    // The configuration as of `index`, not the old point's: a membership change may lie between.
    const meta: SnapshotMeta = {index, term: this.storage.term(index), membership: this.storage.membershipAt(index)}
    const running = this.writer.write(compactLogOps(meta)).then(() => {
      if (!this.paused) this.storage.compact(meta)
      return this.storage.snapshotPoint()
    })
    this.running = running
    const clear = (): void => {
      if (this.running === running) this.running = null
    }
    running.then(clear, clear)
    return running
  }
}
