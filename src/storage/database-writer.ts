// The write queue: the only writer of the node's SQLite database.
//
// A worker thread (writer-worker.ts) owns the write connection, in WAL mode with
// synchronous=FULL, so the fsync of a large or queued commit never blocks this thread's event loop.
//
// Group commit without a timer: while the worker commits a batch, new requests wait in `queue`.
// When it reports the batch durable, everything queued (up to maxBatchRequests) leaves in one
// postMessage and becomes one transaction. When idle, a request leaves at the end of the current
// tick (a microtask), so requests made in the same tick share a batch and nothing waits on a clock.
// Requests are applied in submission order; each runs in its own savepoint, so a failing request
// rejects alone and the rest of its batch commits.
//
// Small writes may skip the thread (`writeNow`): when nothing is queued or in flight, a request of
// a few rows commits at once on a second connection in this thread. Handing a write to the thread
// and its answer back costs two thread wake-ups: 0.3-0.4 ms on a loaded 2-vCPU VM, beside
// 0.5-0.6 ms for the commit itself, and a Raft follower's one-at-a-time append waits for both.
// The fsync then blocks this thread's event loop, so it is bounded: only small requests, and
// after one slow commit (a stalled disk) every write goes through the thread again for a while.
// The main connection never checkpoints the WAL: every few hundred inline commits one write goes
// through the thread, which does.

import fs from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {pathToFileURL} from 'node:url'
import {Worker} from 'node:worker_threads'

import Database from 'better-sqlite3'

import {LatencyWindow, type LatencySummary} from './latency-window.js'
import {BatchFailure, codeOf, serialize, SqlBatchRunner} from './sql-batch.js'
import {isFatalSqliteCode, JOURNAL_SIZE_LIMIT_BYTES, type FromWorker, type SerializedError, type SqlValue, type ToWorker, type WorkerConfig, type WriteOp} from './writer-protocol.js'

export type {SqlValue, WriteOp} from './writer-protocol.js'
export type {LatencySummary} from './latency-window.js'

export interface WriterOptions {
  /** The database file. Its directory must exist and be writable (WAL and shm files go next to it). */
  path: string
  /**
   * Migration i brings PRAGMA user_version from i to i+1. Those not yet applied run at open, in
   * the worker, each in its own transaction. A database with a higher user_version is refused.
   */
  migrations: string[]
  /** Statement name -> SQL, prepared once in the worker after the migrations. */
  statements: Record<string, string>
  /** At most this many requests go in one transaction. Default 10,000. */
  maxBatchRequests?: number
  /** How long a write waits for a lock held by another connection (ms). Default 5,000. */
  busyTimeoutMs?: number
  /** `writeNow` writes requests of at most this many rows on the calling thread. Default 0: never. */
  inlineMaxRows?: number
  /**
   * An inline commit slower than this (ms) blocked the event loop too long (a stalled disk, a
   * busy host): writes then go through the thread for a second. Default 20; a commit takes
   * 0.3-1 ms on a VM.
   */
  inlineSlowMs?: number
}

export interface WriterMetrics {
  /** Requests waiting on this thread for the current batch to finish. */
  queueDepth: number
  /** Requests in the batch the worker is committing now. */
  inFlight: number
  /** Batches completed (committed or failed as a whole). */
  batches: number
  /** Requests completed, successfully or not. */
  requests: number
  /** Requests that rejected. */
  failedRequests: number
  /** Requests written by `writeNow` on the main thread (included in `requests`). */
  inlineWrites: number
  /** Inline writes slower than `inlineSlowMs`, each of which sent writes back to the thread for a while. */
  inlineSlowWrites: number
  /** Rows written by the requests that committed. */
  rows: number
  lastBatchSize: number
  maxBatchSize: number
  avgBatchSize: number
  /** Batch sent to the worker -> its durability reported back (recent window; inline writes included). */
  commitLatencyMs: LatencySummary
  /** Time spent in the transaction, BEGIN to durable COMMIT (recent window; inline writes included). */
  txnLatencyMs: LatencySummary
}

/**
 * Every error the writer reports. `code` is a SQLite code (`SQLITE_CONSTRAINT_PRIMARYKEY`, ...)
 * or one of: ERR_INVALID_WRITE (ops not of the right shape, or a value that cannot be bound),
 * ERR_INVALID_PARAMS (wrong parameter count), ERR_UNKNOWN_STATEMENT, ERR_DB_PATH, ERR_DB_OPEN,
 * ERR_DB_MIGRATION, ERR_DB_SCHEMA_TOO_NEW, ERR_DB_STATEMENT, ERR_WRITER_CLOSED,
 * ERR_WRITER_FAILED (the worker died or the database failed fatally), ERR_WRITER_ABORTED.
 * For a failing request, `stmt`, `op` and `row` say where in the request it happened.
 */
export class DatabaseWriterError extends Error {
  override name = 'DatabaseWriterError'
  readonly code: string
  readonly stmt?: string
  readonly op?: number
  readonly row?: number

  constructor(message: string, code: string, where?: {stmt?: string; op?: number; row?: number}, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    if (where?.stmt !== undefined) this.stmt = where.stmt
    if (where?.op !== undefined) this.op = where.op
    if (where?.row !== undefined) this.row = where.row
  }
}

interface Request {
  ops: WriteOp[]
  rows: number
  /** A buffer this writer made for the request's values, moved to the worker rather than copied. */
  packed: ArrayBuffer | null
  settle: (error: Error | null) => void
}

interface Batch {
  id: number
  requests: Request[]
  sentAt: number
}

type State = 'opening' | 'open' | 'closing' | 'closed' | 'failed'

const DEFAULT_MAX_BATCH_REQUESTS = 10_000
const DEFAULT_BUSY_TIMEOUT_MS = 5_000
export const DEFAULT_INLINE_SLOW_MS = 20
/** How long writes go through the thread after a slow inline commit. */
export const INLINE_BACKOFF_MS = 1_000
/**
 * After this many inline commits the next write goes through the thread, whose connection then
 * checkpoints the WAL (SQLite does after a commit that leaves more than 1,000 pages in it) with
 * no other write running, so the checkpoint completes and the WAL starts over. A checkpoint the
 * thread ran beside a stream of inline commits never caught up: the WAL grew by every commit.
 */
const INLINE_COMMITS_PER_THREAD_WRITE = 200

export class DatabaseWriter {
  /** The database file, absolute. */
  readonly path: string
  /** PRAGMA user_version after the migrations of this open. */
  schemaVersion = 0
  /** How many migrations this open applied (0 when the schema was already current). */
  migrationsApplied = 0

  private readonly worker: Worker
  private readonly signal = new Int32Array(new SharedArrayBuffer(4))
  private readonly maxBatchRequests: number
  private state: State = 'opening'
  private failure: Error | null = null
  private queue: Request[] = []
  private inFlight: Batch | null = null
  private flushScheduled = false
  private nextBatchId = 1
  private referenced = true
  private closeSent = false
  private closePromise: Promise<void> | null = null
  private closeSettle: ((error: Error | null) => void) | null = null
  private readonly exited: Promise<void>

  private readonly inlineMaxRows: number
  private readonly inlineSlowMs: number
  private readonly statements: Record<string, string>
  /** The main thread's connection for `writeNow`, opened at its first use. */
  private inline: {db: Database.Database; runner: SqlBatchRunner} | null = null
  /** `writeNow` writes nothing inline before this time (performance.now()). */
  private inlinePausedUntil = 0
  private inlineCommitsSinceThreadWrite = 0

  private readonly stats = {
    batches: 0,
    requests: 0,
    failedRequests: 0,
    rows: 0,
    batchRequestsTotal: 0,
    lastBatchSize: 0,
    maxBatchSize: 0,
    inlineWrites: 0,
    inlineSlowWrites: 0,
  }
  private readonly commitLatency = new LatencyWindow()
  private readonly txnLatency = new LatencyWindow()

  /**
   * Starts the worker, opens the database, runs pending migrations and prepares the statements.
   * Rejects with a DatabaseWriterError naming the problem when the path is unusable, a migration
   * fails or a statement does not prepare.
   */
  static open(options: WriterOptions): Promise<DatabaseWriter> {
    try {
      checkOptions(options)
    } catch (error) {
      return Promise.reject(error)
    }
    const writer = new DatabaseWriter(options)
    return writer.opened.then(() => writer)
  }

  private readonly opened: Promise<void>

  private constructor(options: WriterOptions) {
    this.path = path.resolve(options.path)
    this.maxBatchRequests = options.maxBatchRequests ?? DEFAULT_MAX_BATCH_REQUESTS
    this.inlineMaxRows = options.inlineMaxRows ?? 0
    this.inlineSlowMs = options.inlineSlowMs ?? DEFAULT_INLINE_SLOW_MS
    this.statements = options.statements
    const config: WorkerConfig = {
      path: this.path,
      migrations: options.migrations,
      statements: options.statements,
      busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
      signal: this.signal,
    }
    // The worker's garbage is one batch at a time: a small young generation is plenty, and
    // the default (up to 48 MB on 64-bit) would stay resident once a burst has grown it.
    this.worker = new Worker(workerEntry(), {workerData: config, name: 'pad-db-writer', resourceLimits: {maxYoungGenerationSizeMb: 8}})

    let openSettle: (error: Error | null) => void = () => {}
    this.opened = new Promise<void>((resolve, reject) => {
      openSettle = (error) => (error ? reject(error) : resolve())
    })
    this.exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()))

    this.worker.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'ready':
          this.state = 'open'
          this.schemaVersion = message.schemaVersion
          this.migrationsApplied = message.schemaVersion - message.schemaVersionBefore
          this.updateRef()
          openSettle(null)
          break
        case 'open-failed':
          this.state = 'failed'
          this.failure = new DatabaseWriterError(message.error.message, message.error.code ?? 'ERR_DB_OPEN')
          openSettle(this.failure)
          break
        case 'done':
          this.onBatchDone(message.id, message.errors, message.batchError, message.txnMs)
          break
        case 'fatal':
          this.fail(this.stoppedError(`database failed: ${message.error.message}`, message.error.code))
          break
        case 'closed':
          this.state = 'closed'
          break
      }
    })
    this.worker.on('error', (error) => {
      if (this.state === 'opening') {
        this.state = 'failed'
        this.failure = new DatabaseWriterError(`cannot open database "${this.path}": the writer thread failed: ${error.message}`, 'ERR_DB_OPEN', undefined, {cause: error})
        openSettle(this.failure)
        return
      }
      this.fail(this.stoppedError(`the writer thread crashed: ${error.message}`, undefined, error))
    })
    this.worker.on('messageerror', (error) => {
      this.fail(this.stoppedError(`a message from the writer thread could not be read: ${error.message}`, undefined, error))
    })
    this.worker.on('exit', (code) => {
      if (this.state === 'opening') {
        this.state = 'failed'
        this.failure = new DatabaseWriterError(`cannot open database "${this.path}": the writer thread exited with code ${code}`, 'ERR_DB_OPEN')
        openSettle(this.failure)
      } else if (this.state === 'closed') {
        this.closeSettle?.(null)
      } else if (this.state !== 'failed') {
        this.fail(this.stoppedError(`the writer thread exited unexpectedly with code ${code}`))
      }
    })
  }

  /**
   * Writes `ops` as one request: all of them commit or none does. Resolves once the transaction
   * of its batch is durable; rejects with a DatabaseWriterError when the request fails (only this
   * request is rolled back) or the writer is closed or stopped. `write([])` writes nothing and
   * resolves once every request submitted before it is durable.
   */
  write(ops: WriteOp[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.submit(ops, (error) => (error ? reject(error) : resolve()))
    })
  }

  /** Fire and forget: `done` is called with null once durable, or with the error. Never throws. */
  writeAsync(ops: WriteOp[], done?: (err: Error | null) => void): void {
    this.submit(ops, done ? guardCallback(done) : noop)
  }

  /**
   * Writes `ops` as one request at once, on this thread, if it has at most `inlineMaxRows` rows
   * and nothing is queued or in flight (so it keeps its place in submission order). Returns true
   * once the request is durable, false when it wrote nothing: then call `write`. Throws the
   * DatabaseWriterError `write` would reject with.
   */
  writeNow(ops: WriteOp[]): boolean {
    if (this.inlineMaxRows === 0 || this.state !== 'open' || this.inFlight !== null || this.queue.length > 0 || this.flushScheduled) return false
    if (this.inlineCommitsSinceThreadWrite >= INLINE_COMMITS_PER_THREAD_WRITE) return false
    const start = performance.now()
    if (start < this.inlinePausedUntil) return false
    // Counted before every value is checked: a loaded node's batches of hundreds of rows go to
    // the thread, which checks them anyway.
    if (roughRowCount(ops) > this.inlineMaxRows) return false
    let rows: number
    try {
      rows = validateOps(ops).rows
    } catch (error) {
      this.stats.requests++
      this.stats.failedRequests++
      throw error
    }
    const inline = this.inline ?? this.openInline()
    if (inline === null) return false
    let errors: (SerializedError | null)[] | null
    try {
      errors = inline.runner.run([ops])
    } catch (caught) {
      if (!(caught instanceof BatchFailure)) {
        // BEGIN did not start: nothing was written. SQLITE_BUSY means another process holds the
        // write lock; its wait belongs on the thread, not here.
        if (isFatalSqliteCode(codeOf(caught))) throw this.failInline(serialize(caught))
        this.inlinePausedUntil = start + INLINE_BACKOFF_MS
        return false
      }
      if (caught.broken || isFatalSqliteCode(caught.error.code)) throw this.failInline(caught.error)
      errors = [caught.error]
    }
    const ms = performance.now() - start
    this.commitLatency.add(ms)
    this.txnLatency.add(ms)
    if (ms > this.inlineSlowMs) {
      this.stats.inlineSlowWrites++
      this.inlinePausedUntil = performance.now() + INLINE_BACKOFF_MS
    }
    this.inlineCommitsSinceThreadWrite++
    this.stats.inlineWrites++
    const failure = errors?.[0] ? requestError(errors[0]) : null
    // Counted as a batch of one request, as the thread's batches are; the caller gets the outcome.
    this.completeBatch([{ops, rows, packed: null, settle: noop}], () => failure)
    if (failure) throw failure
    return true
  }

  metrics(): WriterMetrics {
    const s = this.stats
    return {
      queueDepth: this.queue.length,
      inFlight: this.inFlight?.requests.length ?? 0,
      batches: s.batches,
      requests: s.requests,
      failedRequests: s.failedRequests,
      inlineWrites: s.inlineWrites,
      inlineSlowWrites: s.inlineSlowWrites,
      rows: s.rows,
      lastBatchSize: s.lastBatchSize,
      maxBatchSize: s.maxBatchSize,
      avgBatchSize: s.batches === 0 ? 0 : s.batchRequestsTotal / s.batches,
      commitLatencyMs: this.commitLatency.summary(),
      txnLatencyMs: this.txnLatency.summary(),
    }
  }

  /**
   * Stops taking writes (they reject from now on), writes everything already queued, then closes
   * the connection and ends the worker. Resolves once all of that is done; rejects if the writer
   * stops before the queued writes are durable. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise
    if (this.state === 'failed' || this.state === 'closed') {
      this.closePromise = this.worker.terminate().then(() => undefined)
      return this.closePromise
    }
    this.state = 'closing'
    this.closeInline()
    this.closePromise = new Promise<void>((resolve, reject) => {
      this.closeSettle = (error) => (error ? reject(error) : resolve())
    })
    this.maybeSendClose()
    this.updateRef()
    return this.closePromise
  }

  /**
   * Ends the worker at once, like a crash: what is queued or being committed rejects with
   * ERR_WRITER_ABORTED and may or may not be on disk. For tests and emergency stops.
   */
  async abort(): Promise<void> {
    if (this.state !== 'failed' && this.state !== 'closed') {
      this.fail(new DatabaseWriterError(`DatabaseWriter for "${this.path}" was aborted`, 'ERR_WRITER_ABORTED'))
    }
    await this.worker.terminate()
    await this.exited
  }

  // -------------------------------------------------------------------------------------------

  private submit(ops: WriteOp[], settle: (error: Error | null) => void): void {
    // A request refused here is still settled asynchronously, like every other.
    if (this.state !== 'open') {
      const error = this.unavailableError()
      queueMicrotask(() => settle(error))
      return
    }
    let checked: CheckedOps
    try {
      checked = checkOps(ops)
    } catch (error) {
      this.stats.requests++
      this.stats.failedRequests++
      queueMicrotask(() => settle(error as Error))
      return
    }
    this.queue.push({ops: checked.ops, rows: checked.rows, packed: checked.packed, settle})
    if (this.inFlight === null && !this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(() => {
        this.flushScheduled = false
        this.flush()
      })
    }
    this.updateRef()
  }

  /** Sends everything queued (up to maxBatchRequests) as one batch, if no batch is in flight. */
  private flush(): void {
    if (this.inFlight !== null || this.queue.length === 0) return
    if (this.state !== 'open' && this.state !== 'closing') return
    let requests: Request[]
    if (this.queue.length <= this.maxBatchRequests) {
      requests = this.queue
      this.queue = []
    } else {
      requests = this.queue.splice(0, this.maxBatchRequests)
    }
    const batch: Batch = {id: this.nextBatchId++, requests, sentAt: performance.now()}
    this.inlineCommitsSinceThreadWrite = 0
    const ops = new Array<WriteOp[]>(requests.length)
    const transfer: ArrayBuffer[] = []
    for (let i = 0; i < requests.length; i++) {
      ops[i] = requests[i].ops
      const packed = requests[i].packed
      if (packed !== null) transfer.push(packed)
    }
    try {
      this.send({type: 'batch', id: batch.id, requests: ops}, transfer)
    } catch (caught) {
      // checkOps makes this unexpected; fail this batch only and go on with the queue.
      const error = new DatabaseWriterError(`write failed: the batch could not be sent to the writer thread: ${(caught as Error).message}`, 'ERR_WRITE_FAILED', undefined, {cause: caught})
      this.completeBatch(requests, () => error)
      this.flush()
      this.maybeSendClose()
      return
    }
    this.inFlight = batch
  }

  private onBatchDone(id: number, errors: (SerializedError | null)[] | null, batchError: SerializedError | undefined, txnMs: number): void {
    const batch = this.inFlight
    if (batch === null || batch.id !== id) {
      this.fail(this.stoppedError(`the writer thread answered batch ${id}, but batch ${batch?.id ?? 'none'} was in flight`))
      return
    }
    this.inFlight = null
    this.commitLatency.add(performance.now() - batch.sentAt)
    this.txnLatency.add(txnMs)
    // Hand the worker the next batch before settling this one, so it commits while we settle.
    this.flush()
    if (batchError) {
      const error = new DatabaseWriterError(`write failed: the transaction of its batch failed: ${batchError.message}`, batchError.code ?? 'ERR_WRITE_FAILED')
      this.completeBatch(batch.requests, () => error)
    } else if (errors === null) {
      this.completeBatch(batch.requests, () => null)
    } else {
      this.completeBatch(batch.requests, (i) => (errors[i] ? requestError(errors[i]) : null))
    }
    this.maybeSendClose()
    this.updateRef()
  }

  private completeBatch(requests: Request[], errorOf: (index: number) => Error | null): void {
    const s = this.stats
    s.batches++
    s.batchRequestsTotal += requests.length
    s.lastBatchSize = requests.length
    if (requests.length > s.maxBatchSize) s.maxBatchSize = requests.length
    for (let i = 0; i < requests.length; i++) {
      const error = errorOf(i)
      s.requests++
      if (error) s.failedRequests++
      else s.rows += requests[i].rows
      requests[i].settle(error)
    }
  }

  /** The writer can no longer write: reject everything pending now, and everything submitted later. */
  private fail(error: Error): void {
    if (this.state === 'failed') return
    const wasClosing = this.state === 'closing'
    this.state = 'failed'
    this.failure = error
    const pending = [...(this.inFlight?.requests ?? []), ...this.queue]
    this.inFlight = null
    this.queue = []
    for (const request of pending) {
      this.stats.requests++
      this.stats.failedRequests++
      request.settle(error)
    }
    this.closeInline()
    void this.worker.terminate()
    if (wasClosing) this.closeSettle?.(error)
  }

  /**
   * Opens the main thread's connection to the database the thread has opened and migrated.
   * On failure inline writes stay off and everything goes through the thread, as before.
   */
  private openInline(): {db: Database.Database; runner: SqlBatchRunner} | null {
    let db: Database.Database | undefined
    try {
      db = new Database(this.path, {fileMustExist: true})
      db.pragma('synchronous = FULL')
      // Never wait for a lock on this thread, and never checkpoint here (see the top of the file).
      db.pragma('busy_timeout = 0')
      db.pragma('wal_autocheckpoint = 0')
      // As on the thread's connection: the WAL file shrinks back after it starts over.
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`)
      // A small page cache: it is dropped whenever the thread's connection has written anyway,
      // and SQLite's default (up to 16 MB) would stay resident in every node.
      db.pragma('cache_size = -1024')
      this.inline = {db, runner: new SqlBatchRunner(db, this.statements)}
      return this.inline
    } catch {
      db?.close()
      this.inlinePausedUntil = Infinity
      return null
    }
  }

  private closeInline(): void {
    try {
      this.inline?.db.close()
    } catch {
      // Closing a broken connection: nothing of it is needed any more.
    }
    this.inline = null
  }

  /** A fatal error on the main connection stops the writer, as one on the thread's does. */
  private failInline(error: SerializedError): Error {
    this.stats.requests++
    this.stats.failedRequests++
    this.fail(this.stoppedError(`database failed: ${error.message}`, error.code))
    return this.failure!
  }

  private maybeSendClose(): void {
    if (this.state !== 'closing' || this.closeSent || this.inFlight !== null || this.queue.length > 0 || this.flushScheduled) return
    this.closeSent = true
    this.send({type: 'close'})
  }

  /** Posts to the worker, then wakes it: it waits on `signal`, not on its event loop. */
  private send(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer)
    Atomics.add(this.signal, 0, 1)
    Atomics.notify(this.signal, 0)
  }

  /** Keep the process alive while there is work; an idle writer does not hold it open. */
  private updateRef(): void {
    const busy = this.state === 'opening' || this.state === 'closing' || this.inFlight !== null || this.queue.length > 0
    if (busy && !this.referenced) this.worker.ref()
    else if (!busy && this.referenced) this.worker.unref()
    this.referenced = busy
  }

  private unavailableError(): Error {
    if (this.state === 'failed' && this.failure) return this.failure
    if (this.state === 'opening') return new DatabaseWriterError(`DatabaseWriter for "${this.path}" is not open yet`, 'ERR_WRITER_CLOSED')
    return new DatabaseWriterError(`DatabaseWriter for "${this.path}" is closed`, 'ERR_WRITER_CLOSED')
  }

  private stoppedError(reason: string, sqliteCode?: string, cause?: unknown): DatabaseWriterError {
    const detail = sqliteCode ? ` (${sqliteCode})` : ''
    return new DatabaseWriterError(`DatabaseWriter for "${this.path}" stopped: ${reason}${detail}`, 'ERR_WRITER_FAILED', undefined, cause === undefined ? undefined : {cause})
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * The worker's entry point. The build runs dist/storage/writer-worker.js next to this file. Under
 * tsx (tests, bin/dev.js) this module is a .ts file and so is the worker, which needs the tsx
 * loader too: on Node 20, `execArgv: ['--import', 'tsx']` does not install loader hooks in a
 * worker (nodejs/node#47747, fixed in Node 22.2), so a one-line bootstrap registers tsx in the
 * worker and then imports the .ts file. (tsx may have loaded this module as CommonJS, as under
 * mocha, where import.meta.resolve does not exist: hence createRequire.)
 */
function workerEntry(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./writer-worker.js', import.meta.url)
  const workerTs = new URL('./writer-worker.ts', import.meta.url).href
  const tsxApi = resolveTsxEsmApi()
  const bootstrap = `const tsx = await import(${JSON.stringify(tsxApi)}); tsx.register(); await import(${JSON.stringify(workerTs)})`
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`)
}

/** The file URL of tsx's ESM API (`import 'tsx/esm/api'`), as this module would resolve it. */
function resolveTsxEsmApi(): string {
  const meta = import.meta as {resolve?: (specifier: string) => string}
  if (typeof meta.resolve === 'function') return meta.resolve('tsx/esm/api')
  // As CommonJS, resolution picks the "require" build, whose register() does not work when
  // imported: take the "import" one from tsx's exports map.
  const pkgJson = createRequire(import.meta.url).resolve('tsx/package.json')
  const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as {exports: Record<string, {import: {default: string}}>}
  return pathToFileURL(path.join(path.dirname(pkgJson), pkg.exports['./esm/api'].import.default)).href
}

function noop(): void {}

/** A callback that throws must not break the settling of the rest of its batch. */
function guardCallback(done: (err: Error | null) => void): (err: Error | null) => void {
  return (err) => {
    try {
      done(err)
    } catch (error) {
      queueMicrotask(() => {
        throw error
      })
    }
  }
}

function requestError(e: SerializedError): DatabaseWriterError {
  const where = e.stmt !== undefined ? ` in statement "${e.stmt}" (op ${e.op}${e.row !== undefined ? `, row ${e.row}` : ''})` : ''
  return new DatabaseWriterError(`write failed${where}: ${e.message}`, e.code ?? 'ERR_WRITE_FAILED', {stmt: e.stmt, op: e.op, row: e.row})
}

function checkOptions(options: WriterOptions): void {
  const bad = (what: string) => new DatabaseWriterError(`DatabaseWriter.open: ${what}`, 'ERR_INVALID_OPTIONS')
  if (options === null || typeof options !== 'object') throw bad('options must be an object')
  if (typeof options.path !== 'string' || options.path === '') throw bad('path must be a non-empty string')
  if (!Array.isArray(options.migrations) || !options.migrations.every((m) => typeof m === 'string')) throw bad('migrations must be an array of SQL strings')
  if (options.statements === null || typeof options.statements !== 'object') throw bad('statements must be an object of name -> SQL')
  for (const [name, sql] of Object.entries(options.statements)) {
    if (typeof sql !== 'string') throw bad(`statement "${name}" must be an SQL string`)
  }
  const max = options.maxBatchRequests
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) throw bad(`maxBatchRequests must be a positive integer, got ${max}`)
  const busy = options.busyTimeoutMs
  if (busy !== undefined && (!Number.isFinite(busy) || busy < 0)) throw bad(`busyTimeoutMs must be a non-negative number, got ${busy}`)
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (typeof value === 'object') return value === null ? 'null' : (value.constructor?.name ?? 'object')
  return typeof value
}

interface CheckedOps {
  ops: WriteOp[]
  rows: number
  packed: ArrayBuffer | null
}

/**
 * Checks the shape of `ops` and every value, so the batch's postMessage cannot fail on it, and
 * counts rows. Returns new op objects carrying only `stmt` and `rows`; the caller's arrays are
 * left as they are (rows that change are copied).
 *
 * A Uint8Array that views only part of its ArrayBuffer (a Buffer from Node's shared pool, or a
 * slice of a network read) would be cloned with its whole buffer. Such values are copied, all
 * of them into one new buffer, which is then moved to the worker instead of cloned: a Raft
 * write carries hundreds of small entries, and one buffer each cost more than the SQL.
 */
function checkOps(ops: WriteOp[]): CheckedOps {
  const {rows: rowCount, partialViews, partialBytes} = validateOps(ops)
  const out = new Array<WriteOp>(ops.length)
  // A fresh {stmt, rows}: whatever else the caller's object carries is not cloned.
  if (partialViews === 0) {
    for (let o = 0; o < ops.length; o++) out[o] = {stmt: ops[o].stmt, rows: ops[o].rows}
    return {ops: out, rows: rowCount, packed: null}
  }
  const packed = new Uint8Array(partialBytes)
  let at = 0
  for (let o = 0; o < ops.length; o++) {
    const rows = ops[o].rows
    let outRows: SqlValue[][] | null = null
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]
      let outRow: SqlValue[] | null = null
      for (let c = 0; c < row.length; c++) {
        const v = row[c]
        if (!(v instanceof Uint8Array) || !viewsPartOfBuffer(v)) continue
        packed.set(v, at)
        outRow ??= row.slice()
        outRow[c] = packed.subarray(at, at + v.byteLength)
        at += v.byteLength
      }
      if (outRow !== null) {
        outRows ??= rows.slice()
        outRows[r] = outRow
      }
    }
    out[o] = {stmt: ops[o].stmt, rows: outRows ?? rows}
  }
  return {ops: out, rows: rowCount, packed: packed.buffer}
}

/**
 * Throws an ERR_INVALID_WRITE DatabaseWriterError naming the first value of `ops` that is not of
 * the right shape or cannot be bound. Counts the rows, and the byte views that share a larger buffer.
 */
function validateOps(ops: WriteOp[]): {rows: number; partialViews: number; partialBytes: number} {
  if (!Array.isArray(ops)) throw invalidWrite(`ops must be an array of {stmt, rows}, got ${describe(ops)}`)
  let rowCount = 0
  let partialBytes = 0
  let partialViews = 0
  for (let o = 0; o < ops.length; o++) {
    const op = ops[o]
    if (op === null || typeof op !== 'object' || typeof op.stmt !== 'string' || !Array.isArray(op.rows)) {
      throw invalidWrite(`op ${o} must be {stmt: string, rows: SqlValue[][]}`, {op: o})
    }
    const rows = op.rows
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]
      if (!Array.isArray(row)) throw invalidWrite(`op ${o} ("${op.stmt}") row ${r} must be an array of values, got ${describe(row)}`, {stmt: op.stmt, op: o, row: r})
      for (let c = 0; c < row.length; c++) {
        const v = row[c]
        const t = typeof v
        if (v === null || t === 'string' || t === 'number' || t === 'bigint') continue
        if (v instanceof Uint8Array) {
          if (viewsPartOfBuffer(v)) {
            partialViews++
            partialBytes += v.byteLength
          }
          continue
        }
        throw invalidWrite(
          `op ${o} ("${op.stmt}") row ${r} column ${c}: cannot bind ${describe(v)}; expected number, bigint, string, Uint8Array or null`,
          {stmt: op.stmt, op: o, row: r},
        )
      }
    }
    rowCount += rows.length
  }
  return {rows: rowCount, partialViews, partialBytes}
}

/** The rows of the well-formed ops of `ops`, without checking any value. */
function roughRowCount(ops: WriteOp[]): number {
  if (!Array.isArray(ops)) return 0
  let rows = 0
  for (const op of ops) if (Array.isArray(op?.rows)) rows += op.rows.length
  return rows
}

/** Whether `v` shows only part of its ArrayBuffer, which postMessage would clone whole. */
function viewsPartOfBuffer(v: Uint8Array): boolean {
  return v.byteOffset !== 0 || v.byteLength !== v.buffer.byteLength
}

function invalidWrite(message: string, where?: {stmt?: string; op?: number; row?: number}): DatabaseWriterError {
  return new DatabaseWriterError(`invalid write: ${message}`, 'ERR_INVALID_WRITE', where)
}
