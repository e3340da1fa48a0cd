// Running a batch of write requests as one SQLite transaction: shared by the writer thread
// (writer-worker.ts) and the main thread's connection for small writes (DatabaseWriter.writeNow),
// so both bind, insert and report failures the same way.

import type Database from 'better-sqlite3'

import {isFatalSqliteCode, type SerializedError, type SqlValue, type WriteOp} from './writer-protocol.js'

/** An error this module or the worker raises itself, with a code the caller can act on. */
export class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** A request failed: the original error and where in the request it happened. */
class RequestFailure {
  constructor(
    readonly error: unknown,
    readonly stmt: string,
    readonly op: number,
    readonly row?: number,
  ) {}
}

/**
 * Thrown when the transaction as a whole is lost, with the error that lost it. `broken`: not even
 * the rollback worked, so the connection cannot be used again.
 */
export class BatchFailure {
  constructor(
    readonly error: SerializedError,
    readonly broken = false,
  ) {}
}

export function codeOf(error: unknown): string | undefined {
  const code = (error as {code?: unknown} | null)?.code
  return typeof code === 'string' ? code : undefined
}

export function serialize(error: unknown, where?: RequestFailure): SerializedError {
  const e = error instanceof Error ? error : new Error(String(error))
  let code = codeOf(e)
  // better-sqlite3 throws TypeError/RangeError for values it cannot bind or a wrong parameter count.
  if (code === undefined) code = e instanceof TypeError || e instanceof RangeError ? 'ERR_INVALID_PARAMS' : 'ERR_WRITE_FAILED'
  const out: SerializedError = {name: e.name, message: e.message, code}
  if (where) {
    out.stmt = where.stmt
    out.op = where.op
    if (where.row !== undefined) out.row = where.row
  }
  return out
}

/** Rows per statement when a plain `INSERT ... VALUES (...)` runs for many rows. */
const ROWS_PER_MULTI_INSERT = 32

interface PreparedStatement {
  one: Database.Statement
  /** The same INSERT with ROWS_PER_MULTI_INSERT value lists, or null for other statements. */
  many: Database.Statement | null
  /**
   * A PRAGMA's text, run whole by exec: PRAGMA incremental_vacuum yields once per page freed,
   * and a prepared statement's run() takes only the first step.
   */
  pragma: string | null
}

/**
 * `INSERT ... VALUES (?, ...)` repeated for ROWS_PER_MULTI_INSERT rows, or null if `sql` is not
 * of that form. Binding and stepping one statement per row is most of what a large batch costs:
 * a 32-row statement takes about a third less time per row (measured with better-sqlite3).
 */
function multiRowInsert(sql: string): string | null {
  const match = /^(\s*INSERT\b[\s\S]*?\bVALUES\s*)(\([^()]*\))\s*;?\s*$/i.exec(sql)
  if (match === null) return null
  return match[1] + new Array<string>(ROWS_PER_MULTI_INSERT).fill(match[2]).join(', ')
}

/** A connection with the named statements prepared, able to run batches of requests. */
export class SqlBatchRunner {
  private readonly statements = new Map<string, PreparedStatement>()
  private readonly begin: Database.Statement
  private readonly commit: Database.Statement
  private readonly rollback: Database.Statement
  private readonly savepoint: Database.Statement
  private readonly release: Database.Statement
  private readonly rollbackTo: Database.Statement

  /** Throws a CodedError (ERR_DB_STATEMENT or SQLite's code) naming a statement that does not prepare. */
  constructor(
    private readonly db: Database.Database,
    statements: Record<string, string>,
  ) {
    for (const [name, sql] of Object.entries(statements)) {
      let one: Database.Statement
      try {
        one = db.prepare(sql)
      } catch (error) {
        throw new CodedError(codeOf(error) ?? 'ERR_DB_STATEMENT', `statement "${name}" cannot be prepared: ${(error as Error).message}`)
      }
      const multi = multiRowInsert(sql)
      let many: Database.Statement | null = null
      if (multi !== null) {
        try {
          many = db.prepare(multi)
        } catch {
          // Too many parameters for SQLite, or a form the pattern misjudged: one row at a time.
        }
      }
      this.statements.set(name, {one, many, pragma: /^\s*PRAGMA\b/i.test(sql) ? sql : null})
    }
    this.begin = db.prepare('BEGIN IMMEDIATE')
    this.commit = db.prepare('COMMIT')
    this.rollback = db.prepare('ROLLBACK')
    this.savepoint = db.prepare('SAVEPOINT request')
    this.release = db.prepare('RELEASE request')
    this.rollbackTo = db.prepare('ROLLBACK TO request')
  }

  /**
   * One transaction for the whole batch, each request in its own savepoint so a failing request
   * is undone alone; a batch of one request needs no savepoint (if it fails, the transaction is
   * rolled back). Returns null when every request committed, else one slot per request. Throws
   * a BatchFailure when the transaction as a whole failed (nothing of it committed), or the
   * error of BEGIN itself (for instance SQLITE_BUSY) before anything was written.
   */
  run(requests: WriteOp[][]): (SerializedError | null)[] | null {
    const db = this.db
    let errors: (SerializedError | null)[] | null = null
    const single = requests.length === 1
    this.begin.run()
    try {
      for (let i = 0; i < requests.length; i++) {
        if (!single) this.savepoint.run()
        try {
          this.applyRequest(requests[i])
          if (!single) this.release.run()
        } catch (caught) {
          const failure = caught instanceof RequestFailure ? caught : new RequestFailure(caught, '', -1)
          const error = serialize(failure.error, caught instanceof RequestFailure ? failure : undefined)
          // SQLite rolls back the whole transaction on some errors (SQLITE_FULL, SQLITE_IOERR, ...,
          // or a statement with OR ROLLBACK): then nothing of this batch can commit.
          if (isFatalSqliteCode(error.code) || !db.inTransaction) throw new BatchFailure(error)
          if (single) {
            this.rollback.run()
            return [error]
          }
          this.rollbackTo.run()
          this.release.run()
          if (errors === null) errors = new Array<SerializedError | null>(requests.length).fill(null)
          errors[i] = error
        }
      }
      this.commit.run()
    } catch (caught) {
      const error = caught instanceof BatchFailure ? caught.error : serialize(caught)
      let broken = false
      if (db.inTransaction) {
        try {
          this.rollback.run()
        } catch {
          broken = true
        }
      }
      throw new BatchFailure(error, broken)
    }
    return errors
  }

  private applyRequest(ops: WriteOp[]): void {
    for (let o = 0; o < ops.length; o++) {
      const {stmt: name, rows} = ops[o]
      const stmt = this.statements.get(name)
      if (stmt === undefined) throw new RequestFailure(new CodedError('ERR_UNKNOWN_STATEMENT', `unknown statement "${name}"`), name, o)
      let r = 0
      while (r < rows.length) {
        if (stmt.many !== null && rows.length - r >= ROWS_PER_MULTI_INSERT) {
          const values: SqlValue[] = []
          for (let k = r; k < r + ROWS_PER_MULTI_INSERT; k++) for (const value of rows[k]) values.push(value)
          try {
            stmt.many.run(values)
            r += ROWS_PER_MULTI_INSERT
            continue
          } catch (error) {
            // A failed statement leaves no trace, so these rows can run again one by one to find
            // the row at fault, unless the failure ended the transaction or the database.
            if (!this.db.inTransaction || isFatalSqliteCode(codeOf(error))) throw new RequestFailure(error, name, o, r)
          }
        }
        try {
          if (stmt.pragma !== null) this.db.exec(stmt.pragma)
          else stmt.one.run(rows[r])
        } catch (error) {
          throw new RequestFailure(error, name, o, r)
        }
        r++
      }
    }
  }
}
