// How a DatabaseWriter is opened: its options, their defaults, and the check that refuses
// options that are not of the right shape before any thread starts.

import type {AttachedDatabase} from './attached-database.js'
import {DatabaseWriterError} from './writer-errors.js'

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
  /** A database attached to every connection after the migrations, before the statements are prepared. */
  attach?: AttachedDatabase
  /**
   * For tests of durability only: SQLite's synchronous=OFF on every connection and no fsync of
   * the directory, so a commit is acknowledged before anything reaches the disk and a power
   * cut loses it. Default false (synchronous=FULL).
   */
  unsafeNoFsync?: boolean
}

export const DEFAULT_MAX_BATCH_REQUESTS = 10_000
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000
export const DEFAULT_INLINE_SLOW_MS = 20

/** Throws an ERR_INVALID_OPTIONS DatabaseWriterError naming the first option that is wrong. */
export function checkOptions(options: WriterOptions): void {
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
