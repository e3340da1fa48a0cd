// What the broker needs of the node database's writer. DatabaseWriter is the one every node
// runs; tests may run nodes on another (see src/broker/node-seams.ts).

import type {LatencySummary} from './latency-window.js'
import type {WriteOp} from './writer-protocol.js'

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

export interface StoreWriter {
  /** The database file, absolute: the node's StoreReader reads what was written there. */
  readonly path: string
  /**
   * Writes `ops` as one request: all of them commit or none does. Resolves once durable;
   * rejects with a DatabaseWriterError when the request fails or the writer is stopped.
   */
  write(ops: WriteOp[]): Promise<void>
  /** Fire and forget: `done` is called with null once durable, or with the error. Never throws. */
  writeAsync(ops: WriteOp[], done?: (err: Error | null) => void): void
  /** Writes `ops` at once if it can (true once durable), or writes nothing (false: call `write`). */
  writeNow(ops: WriteOp[]): boolean
  metrics(): WriterMetrics
  /** Writes what is queued, then closes. */
  close(): Promise<void>
}
