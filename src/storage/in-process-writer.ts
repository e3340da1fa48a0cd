// A StoreWriter with no thread: one connection on the caller's thread, no fsync. It writes the
// same file, schema and rows as DatabaseWriter (the node's StoreReader reads them alike), so
// tests can run several broker nodes in one process (src/broker/node-seams.ts) without a worker
// thread each. Not for a node that must survive a power cut: synchronous=OFF.
//
// Requests made in one tick share a transaction (as with DatabaseWriter, each in its own
// savepoint, so a failing request rejects alone), written in a microtask; `writeNow` writes at
// once when nothing is queued.

import path from 'node:path'
import {performance} from 'node:perf_hooks'

import Database from 'better-sqlite3'

import {LatencyWindow} from './latency-window.js'
import {attachDatabase} from './attached-database.js'
import {migrate} from './migrate.js'
import {BatchFailure, serialize, SqlBatchRunner} from './sql-batch.js'
import type {StoreWriter, WriterMetrics} from './store-writer.js'
import {validateOps} from './write-checks.js'
import {WriteCounts} from './write-counts.js'
import {DatabaseWriterError, requestError} from './writer-errors.js'
import {checkOptions, type WriterOptions} from './writer-options.js'
import type {SerializedError, WriteOp} from './writer-protocol.js'

interface Pending {
  ops: WriteOp[]
  rows: number
  settle: (error: Error | null) => void
}

export class InProcessWriter implements StoreWriter {
  readonly path: string
  private readonly db: Database.Database
  private readonly runner: SqlBatchRunner
  private queue: Pending[] = []
  private closed = false
  private failure: Error | null = null
  private readonly latency = new LatencyWindow()
  private readonly counts = new WriteCounts()

  /** Opens (creating) the database, runs the pending migrations, prepares the statements. */
  static open(options: WriterOptions): Promise<InProcessWriter> {
    try {
      checkOptions(options)
      return Promise.resolve(new InProcessWriter(options))
    } catch (error) {
      return Promise.reject(error instanceof DatabaseWriterError ? error : new DatabaseWriterError((error as Error).message, 'ERR_DB_OPEN', undefined, {cause: error}))
    }
  }

  private constructor(options: WriterOptions) {
    this.path = path.resolve(options.path)
    this.db = new Database(this.path)
    try {
      this.db.pragma('journal_mode = WAL')
      this.db.pragma('synchronous = OFF')
      migrate(this.db, options.migrations)
      if (options.attach) attachDatabase(this.db, options.attach, true)
      this.runner = new SqlBatchRunner(this.db, options.statements)
    } catch (error) {
      this.db.close()
      throw error
    }
  }

  write(ops: WriteOp[]): Promise<void> {
    return new Promise<void>((resolve, reject) => this.submit(ops, (error) => (error ? reject(error) : resolve())))
  }

  writeAsync(ops: WriteOp[], done?: (err: Error | null) => void): void {
    this.submit(ops, done ?? (() => {}))
  }

  writeNow(ops: WriteOp[]): boolean {
    if (this.closed || this.queue.length > 0) return false
    let failure: Error | null = null
    this.run([{ops, rows: validateOps(ops).rows, settle: (error) => (failure = error)}])
    if (failure) throw failure
    return true
  }

  metrics(): WriterMetrics {
    const c = this.counts
    const latency = this.latency.summary()
    return {
      queueDepth: this.queue.length,
      inFlight: 0,
      batches: c.batches,
      requests: c.requests,
      failedRequests: c.failedRequests,
      inlineWrites: 0,
      inlineSlowWrites: 0,
      rows: c.rows,
      lastBatchSize: c.lastBatchSize,
      maxBatchSize: c.maxBatchSize,
      avgBatchSize: c.avgBatchSize,
      commitLatencyMs: latency,
      txnLatencyMs: latency,
    }
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.flush()
      this.closed = true
      this.db.close()
    }
    return Promise.resolve()
  }

  private submit(ops: WriteOp[], settle: (error: Error | null) => void): void {
    if (this.closed || this.failure) {
      const error = this.failure ?? new DatabaseWriterError(`InProcessWriter for "${this.path}" is closed`, 'ERR_WRITER_CLOSED')
      queueMicrotask(() => settle(error))
      return
    }
    let rows: number
    try {
      rows = validateOps(ops).rows
    } catch (error) {
      this.counts.failedAlone()
      queueMicrotask(() => settle(error as Error))
      return
    }
    if (this.queue.length === 0) queueMicrotask(() => this.flush())
    this.queue.push({ops, rows, settle})
  }

  private flush(): void {
    if (this.queue.length === 0 || this.closed) return
    const batch = this.queue
    this.queue = []
    this.run(batch)
  }

  /** One transaction for `batch`, each request settled with its outcome. */
  private run(batch: Pending[]): void {
    const start = performance.now()
    let errorOf: (i: number) => Error | null
    if (this.failure) {
      const failure = this.failure
      errorOf = () => failure
    } else {
      try {
        const errors: (SerializedError | null)[] | null = this.runner.run(batch.map((p) => p.ops))
        errorOf = (i) => (errors?.[i] ? requestError(errors[i]) : null)
      } catch (caught) {
        const error = caught instanceof BatchFailure ? caught.error : serialize(caught)
        // As DatabaseWriter does after a fatal error: nothing more is written.
        this.failure = new DatabaseWriterError(`InProcessWriter for "${this.path}" stopped: ${error.message}`, 'ERR_WRITER_FAILED')
        const failure = this.failure
        errorOf = () => failure
      }
    }
    this.latency.add(performance.now() - start)
    this.counts.settleBatch(batch, errorOf)
  }
}
