// The writer's second connection, on the main thread, for `DatabaseWriter.writeNow`.
//
// Handing a write to the writer thread and its answer back costs two thread wake-ups: 0.3-0.4 ms
// on a loaded 2-vCPU VM, beside 0.5-0.6 ms for the commit itself, and a Raft follower's
// one-at-a-time append waits for both. A small write may therefore commit here instead. Its
// fsync then blocks the event loop, so it is bounded: only small requests, and after one slow
// commit (a stalled disk) every write goes through the thread again for a while.
// This connection never checkpoints the WAL: every few hundred inline commits one write goes
// through the thread, which does.

import {performance} from 'node:perf_hooks'

import Database from 'better-sqlite3'

import {BatchFailure, codeOf, serialize, SqlBatchRunner} from './sql-batch.js'
import {roughRowCount} from './write-checks.js'
import {isFatalSqliteCode, JOURNAL_SIZE_LIMIT_BYTES, synchronousPragma, type SerializedError, type WriteOp} from './writer-protocol.js'

/** How long writes go through the thread after a slow inline commit. */
export const INLINE_BACKOFF_MS = 1_000
/**
 * After this many inline commits the next write goes through the thread, whose connection then
 * checkpoints the WAL (SQLite does after a commit that leaves more than 1,000 pages in it) with
 * no other write running, so the checkpoint completes and the WAL starts over. A checkpoint the
 * thread ran beside a stream of inline commits never caught up: the WAL grew by every commit.
 */
const INLINE_COMMITS_PER_THREAD_WRITE = 200

/**
 * What `run` did: `skipped` wrote nothing (the write belongs on the thread), `committed` ended
 * the request's transaction (`error` says whether the request failed alone), `fatal` means the
 * connection or the database broke (`error` says how).
 */
export type InlineOutcome = 'skipped' | 'committed' | 'fatal'

export class InlineWriter {
  /** Requests this connection committed or failed alone. */
  writes = 0
  /** Commits slower than `slowMs`, each of which paused inline writes for a while. */
  slowWrites = 0
  /** After `committed`: the request's own failure, or null. After `fatal`: what broke. */
  error: SerializedError | null = null
  /** After `committed`: how long the request took, from the `start` given to `run` (ms). */
  lastMs = 0

  /** Opened at its first use, once the thread has created and migrated the database. */
  private connection: {db: Database.Database; runner: SqlBatchRunner} | null = null
  /** Nothing is written inline before this time (performance.now()). */
  private pausedUntil = 0
  private commitsSinceThreadWrite = 0

  constructor(
    private readonly path: string,
    private readonly statements: Record<string, string>,
    /** Statements of a database the thread attaches and this connection does not: they run there. */
    private readonly threadOnly: ReadonlySet<string>,
    private readonly maxRows: number,
    private readonly slowMs: number,
    /** synchronous=OFF, as on the thread's connection (WriterOptions.unsafeNoFsync). */
    private readonly unsafeNoFsync = false,
  ) {}

  /** Whether a request of `ops` may be written here now (`start` is performance.now()). */
  accepts(ops: WriteOp[], start: number): boolean {
    if (this.commitsSinceThreadWrite >= INLINE_COMMITS_PER_THREAD_WRITE) return false
    if (start < this.pausedUntil) return false
    // Counted before every value is checked: a loaded node's batches of hundreds of rows go to
    // the thread, which checks them anyway.
    if (roughRowCount(ops) > this.maxRows) return false
    for (const op of ops) if (this.threadOnly.has(op.stmt)) return false
    return true
  }

  /** Writes `ops`, already checked, as one transaction. */
  run(ops: WriteOp[], start: number): InlineOutcome {
    const connection = this.connection ?? this.open()
    if (connection === null) return 'skipped'
    let errors: (SerializedError | null)[] | null
    try {
      errors = connection.runner.run([ops])
    } catch (caught) {
      if (!(caught instanceof BatchFailure)) {
        // BEGIN did not start: nothing was written. SQLITE_BUSY means another process holds the
        // write lock; its wait belongs on the thread, not here.
        if (isFatalSqliteCode(codeOf(caught))) {
          this.error = serialize(caught)
          return 'fatal'
        }
        this.pausedUntil = start + INLINE_BACKOFF_MS
        return 'skipped'
      }
      if (caught.broken || isFatalSqliteCode(caught.error.code)) {
        this.error = caught.error
        return 'fatal'
      }
      errors = [caught.error]
    }
    const ms = performance.now() - start
    if (ms > this.slowMs) {
      this.slowWrites++
      this.pausedUntil = performance.now() + INLINE_BACKOFF_MS
    }
    this.commitsSinceThreadWrite++
    this.writes++
    this.lastMs = ms
    this.error = errors?.[0] ?? null
    return 'committed'
  }

  /** A write went through the thread, which checkpointed the WAL if it needed it. */
  threadWrote(): void {
    this.commitsSinceThreadWrite = 0
  }

  close(): void {
    try {
      this.connection?.db.close()
    } catch {
      // Closing a broken connection: nothing of it is needed any more.
    }
    this.connection = null
  }

  /**
   * Opens this thread's connection to the database the writer thread has opened and migrated.
   * On failure inline writes stay off and everything goes through the thread, as before.
   */
  private open(): {db: Database.Database; runner: SqlBatchRunner} | null {
    let db: Database.Database | undefined
    try {
      db = new Database(this.path, {fileMustExist: true})
      db.pragma(synchronousPragma(this.unsafeNoFsync))
      // Never wait for a lock on this thread, and never checkpoint here (see the top of the file).
      db.pragma('busy_timeout = 0')
      db.pragma('wal_autocheckpoint = 0')
      // As on the thread's connection: the WAL file shrinks back after it starts over.
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`)
      // A small page cache: it is dropped whenever the thread's connection has written anyway,
      // and SQLite's default (up to 16 MB) would stay resident in every node.
      db.pragma('cache_size = -1024')
      const mainOnly = Object.fromEntries(Object.entries(this.statements).filter(([name]) => !this.threadOnly.has(name)))
      this.connection = {db, runner: new SqlBatchRunner(db, mainOnly)}
      return this.connection
    } catch {
      db?.close()
      this.pausedUntil = Infinity
      return null
    }
  }
}
