// The errors a DatabaseWriter reports, whichever of its paths (queue, thread, inline) failed.

import type {SerializedError} from './writer-protocol.js'

/** Where in a request a write failed. */
export interface WriteLocation {
  stmt?: string
  op?: number
  row?: number
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

  constructor(message: string, code: string, where?: WriteLocation, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    if (where?.stmt !== undefined) this.stmt = where.stmt
    if (where?.op !== undefined) this.op = where.op
    if (where?.row !== undefined) this.row = where.row
  }
}

/** The error a failing request rejects with, from what the connection that ran it reported. */
export function requestError(e: SerializedError): DatabaseWriterError {
  const where = e.stmt !== undefined ? ` in statement "${e.stmt}" (op ${e.op}${e.row !== undefined ? `, row ${e.row}` : ''})` : ''
  return new DatabaseWriterError(`write failed${where}: ${e.message}`, e.code ?? 'ERR_WRITE_FAILED', {stmt: e.stmt, op: e.op, row: e.row})
}
