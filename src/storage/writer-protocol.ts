// The messages between DatabaseWriter (main thread) and its worker (writer-worker.ts).
// Types only, plus one pure helper: nothing here runs any I/O.

import type {AttachedDatabase} from './attached-database.js'

/** A value that can be bound to a statement parameter. */
export type SqlValue = number | bigint | string | Uint8Array | null

/** One write: the named prepared statement run once per row, each row bound positionally. */
export interface WriteOp {
  stmt: string
  rows: SqlValue[][]
}

/** What the worker needs to open the database; passed as `workerData`. */
export interface WorkerConfig {
  path: string
  migrations: string[]
  statements: Record<string, string>
  attach?: AttachedDatabase
  busyTimeoutMs: number
  /** synchronous=OFF and no directory fsync (WriterOptions.unsafeNoFsync). */
  unsafeNoFsync: boolean
  /**
   * On a SharedArrayBuffer: [0] is bumped by the main thread (then Atomics.notify) after each
   * postMessage to the worker, which waits on it between messages.
   */
  signal: Int32Array
}

/** An error made cloneable: the worker's exceptions cross the thread boundary as this. */
export interface SerializedError {
  name: string
  message: string
  code?: string
  /** Where in the request it happened, when known. */
  stmt?: string
  op?: number
  row?: number
}

// main -> worker
export interface BatchMessage {
  type: 'batch'
  id: number
  /** One entry per request, in submission order. */
  requests: WriteOp[][]
}
export interface CloseMessage {
  type: 'close'
}
export type ToWorker = BatchMessage | CloseMessage

// worker -> main
export interface ReadyMessage {
  type: 'ready'
  /** PRAGMA user_version before the migrations of this open ran. */
  schemaVersionBefore: number
  schemaVersion: number
}
export interface OpenFailedMessage {
  type: 'open-failed'
  error: SerializedError
}
export interface BatchDoneMessage {
  type: 'done'
  id: number
  /**
   * `null` when every request committed. Otherwise one slot per request: `null` for a request that
   * committed, its error for one that was rolled back to its savepoint.
   */
  errors: (SerializedError | null)[] | null
  /** When set, the whole transaction failed and nothing of the batch was committed. */
  batchError?: SerializedError
  /** Time the worker spent in the transaction, BEGIN to durable COMMIT. */
  txnMs: number
}
export interface FatalMessage {
  type: 'fatal'
  error: SerializedError
}
export interface ClosedMessage {
  type: 'closed'
}
export type FromWorker = ReadyMessage | OpenFailedMessage | BatchDoneMessage | FatalMessage | ClosedMessage

/**
 * Both write connections truncate the WAL file back to this size after it starts over, instead
 * of keeping its high-water mark. Above the ~4 MB a WAL reaches between automatic checkpoints
 * (1,000 pages), so steady writing never pays a truncate and regrow; low enough that a WAL grown
 * by a snapshot install or a burst gives its space back (docs/performance.md, disk per message).
 */
export const JOURNAL_SIZE_LIMIT_BYTES = 8 * 1024 * 1024

/**
 * SQLite result codes after which the connection can no longer be trusted to have written what it
 * said it wrote (failed fsync, corruption, the file gone). The writer stops instead of going on:
 * after a failed fsync the page cache may hold data that never reaches the disk.
 */
export function isFatalSqliteCode(code: string | undefined): boolean {
  if (code === undefined) return false
  return (
    code.startsWith('SQLITE_IOERR') ||
    code.startsWith('SQLITE_CORRUPT') ||
    code === 'SQLITE_NOTADB' ||
    code === 'SQLITE_NOMEM' ||
    code.startsWith('SQLITE_CANTOPEN') ||
    code === 'SQLITE_READONLY_DBMOVED'
  )
}

/**
 * The synchronous pragma of every connection that writes: FULL (each commit fsyncs the WAL),
 * or OFF for `node --unsafe-no-fsync`, which acknowledges commits only the OS holds.
 */
export function synchronousPragma(unsafeNoFsync: boolean): string {
  return unsafeNoFsync ? 'synchronous = OFF' : 'synchronous = FULL'
}
