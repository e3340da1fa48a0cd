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
// a few rows commits at once on a second connection in this thread (inline-writer.ts).
//
// Around it: write-checks.ts checks requests before they are queued, writer-options.ts the
// options, writer-worker-entry.ts finds the worker's code, writer-errors.ts names what failed.

import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {Worker} from 'node:worker_threads'

import {statementsUsing} from './attached-database.js'
import {InlineWriter} from './inline-writer.js'
import {LatencyWindow} from './latency-window.js'
import type {StoreWriter, WriterMetrics} from './store-writer.js'
import {checkOps, validateOps, type CheckedOps} from './write-checks.js'
import {WriteCounts} from './write-counts.js'
import {DatabaseWriterError, requestError} from './writer-errors.js'
import {checkOptions, DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_INLINE_SLOW_MS, DEFAULT_MAX_BATCH_REQUESTS, type WriterOptions} from './writer-options.js'
import type {FromWorker, SerializedError, ToWorker, WorkerConfig, WriteOp} from './writer-protocol.js'
import {writerWorkerEntry} from './writer-worker-entry.js'

export type {SqlValue, WriteOp} from './writer-protocol.js'
export type {LatencySummary} from './latency-window.js'
export type {StoreWriter, WriterMetrics} from './store-writer.js'
export type {WriterOptions} from './writer-options.js'
export {DatabaseWriterError} from './writer-errors.js'
export {DEFAULT_INLINE_SLOW_MS} from './writer-options.js'
export {INLINE_BACKOFF_MS} from './inline-writer.js'

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

export class DatabaseWriter implements StoreWriter {
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

  /** The main thread's connection for `writeNow`; null when inline writes are off. */
  private readonly inline: InlineWriter | null

  private readonly stats = new WriteCounts()
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
    const inlineMaxRows = options.inlineMaxRows ?? 0
    const unsafeNoFsync = options.unsafeNoFsync === true
    this.inline =
      inlineMaxRows > 0
        ? new InlineWriter(this.path, options.statements, statementsUsing(options.statements, options.attach), inlineMaxRows, options.inlineSlowMs ?? DEFAULT_INLINE_SLOW_MS, unsafeNoFsync)
        : null
    const config: WorkerConfig = {
      path: this.path,
      migrations: options.migrations,
      statements: options.statements,
      attach: options.attach,
      busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
      unsafeNoFsync,
      signal: this.signal,
    }
    // The worker's garbage is one batch at a time: a small young generation is plenty, and
    // the default (up to 48 MB on 64-bit) would stay resident once a burst has grown it.
    this.worker = new Worker(writerWorkerEntry(), {workerData: config, name: 'pad-db-writer', resourceLimits: {maxYoungGenerationSizeMb: 8}})

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
    const inline = this.inline
    if (inline === null || this.state !== 'open' || this.inFlight !== null || this.queue.length > 0 || this.flushScheduled) return false
    const start = performance.now()
    if (!inline.accepts(ops, start)) return false
    let rows: number
    try {
      rows = validateOps(ops).rows
    } catch (error) {
      this.stats.failedAlone()
      throw error
    }
    const outcome = inline.run(ops, start)
    if (outcome === 'skipped') return false
    if (outcome === 'fatal') throw this.failInline(inline.error!)
    this.commitLatency.add(inline.lastMs)
    this.txnLatency.add(inline.lastMs)
    const failure = inline.error ? requestError(inline.error) : null
    // Counted as a batch of one request, as the thread's batches are; the caller gets the outcome.
    this.stats.settleBatch([{rows, settle: noop}], () => failure)
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
      inlineWrites: this.inline?.writes ?? 0,
      inlineSlowWrites: this.inline?.slowWrites ?? 0,
      rows: s.rows,
      lastBatchSize: s.lastBatchSize,
      maxBatchSize: s.maxBatchSize,
      avgBatchSize: s.avgBatchSize,
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
    this.inline?.close()
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
      this.stats.failedAlone()
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
    this.inline?.threadWrote()
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
      this.stats.settleBatch(requests, () => error)
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
      this.stats.settleBatch(batch.requests, () => error)
    } else if (errors === null) {
      this.stats.settleBatch(batch.requests, () => null)
    } else {
      this.stats.settleBatch(batch.requests, (i) => (errors[i] ? requestError(errors[i]) : null))
    }
    this.maybeSendClose()
    this.updateRef()
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
      this.stats.failedAlone()
      request.settle(error)
    }
    this.inline?.close()
    void this.worker.terminate()
    if (wasClosing) this.closeSettle?.(error)
  }

  /** A fatal error on the main connection stops the writer, as one on the thread's does. */
  private failInline(error: SerializedError): Error {
    this.stats.failedAlone()
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
