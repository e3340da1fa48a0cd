/**
 * The leader's side of a snapshot: the rows of the state tables exactly as of one applied
 * index. It opens a read-only connection of its own and one read transaction on it when the
 * stream starts; WAL keeps that view (the applied index and the rows it covers) while the
 * writer goes on, so what is streamed is the state at the index announced. Once the follower
 * has said what it holds, plan(base) picks the rows: every row of a whole table, the rows of a
 * delta table (state-tables.ts) with a key above the base. Rows are read a chunk at a time,
 * never the whole state at once.
 */
import Database from 'better-sqlite3'

import {selectStreamedSql, STATE_TABLE_INFO, type StateTable} from './state-tables.js'
import type {SqlValue} from './writer-protocol.js'

/** A value as read here: without safeIntegers, SQLite integers come back as numbers, never bigints. */
export type ReadValue = Exclude<SqlValue, bigint>

export interface SourceChunk {
  table: string
  rows: ReadValue[][]
}

/** Bytes a value takes in a chunk, near enough to keep chunks near their target size. */
function valueBytes(value: ReadValue): number {
  if (typeof value === 'string') return 5 + value.length * 3
  if (value instanceof Uint8Array) return 5 + value.byteLength
  return 9
}

export class SnapshotSource {
  /** The applied index the read transaction sees: the snapshot's index. */
  readonly index: number
  private readonly db: Database.Database
  /** Set by plan(): rows of delta tables at or below it are not streamed. */
  private base: number | null = null
  private readonly rowsRead = STATE_TABLE_INFO.map(() => 0)
  private tableAt = 0
  private iterator: IterableIterator<ReadValue[]> | null = null
  private closed = false

  constructor(dbPath: string) {
    this.db = new Database(dbPath, {readonly: true, fileMustExist: true})
    try {
      this.db.pragma('busy_timeout = 5000')
      // A small page cache: the rows are read once, in order.
      this.db.pragma('cache_size = -2048')
      this.db.exec('BEGIN')
      this.index = (this.db.prepare('SELECT last_index FROM applied WHERE id = 1').pluck().get() as number | undefined) ?? 0
    } catch (error) {
      this.db.close()
      throw error
    }
  }

  /**
   * Streams only the rows of delta tables with a key above `base` (0: every row); once, before
   * the first chunk. Rows are counted as they are read (streamed()), never by a query of their
   * own: counting a large table would hold up the event loop as long as reading it.
   */
  plan(base: number): void {
    if (this.base !== null) throw new Error('the snapshot source is planned already')
    if (!Number.isSafeInteger(base) || base < 0 || base > this.index) throw new Error(`base ${base} is not in 0..${this.index}`)
    this.base = base
  }

  /** The rows read so far per state table, in STATE_TABLES order: once exhausted, what the stream carried. */
  streamed(): {table: string; rows: number}[] {
    return STATE_TABLE_INFO.map((table, i) => ({table: table.name, rows: this.rowsRead[i]}))
  }

  /**
   * The next rows, all of one table, about `targetBytes` of them (at least one row), or null
   * when every table has been read.
   */
  nextChunk(targetBytes: number): SourceChunk | null {
    if (this.base === null) throw new Error('the snapshot source is not planned yet')
    while (!this.closed && this.tableAt < STATE_TABLE_INFO.length) {
      const at = this.tableAt
      const table = STATE_TABLE_INFO[at]
      this.iterator ??= this.db.prepare(selectStreamedSql(table)).raw(true).iterate(...this.params(table)) as IterableIterator<ReadValue[]>
      const rows: ReadValue[][] = []
      let bytes = 0
      while (bytes < targetBytes) {
        const next = this.iterator.next()
        if (next.done) {
          this.iterator = null
          this.tableAt++
          break
        }
        rows.push(next.value)
        for (const value of next.value) bytes += valueBytes(value)
      }
      if (rows.length > 0) {
        this.rowsRead[at] += rows.length
        return {table: table.name, rows}
      }
    }
    return null
  }

  private params(table: StateTable): number[] {
    return table.delta ? [this.base ?? 0] : []
  }

  /** Ends the read transaction and closes the connection; safe to call more than once. */
  close(): void {
    if (this.closed) return
    this.closed = true
    try {
      this.iterator?.return?.()
      this.db.exec('ROLLBACK')
    } catch {
      // Closing drops the transaction anyway.
    }
    this.db.close()
  }
}
