// The DatabaseWriter's worker thread. It owns the only write connection to the database, so the
// fsync of every commit happens here and never blocks the main event loop.
//
// Life: open and check the path, set the pragmas, run the pending migrations, prepare the
// statements, post `ready`. Then, for each `batch` message: one transaction, each request inside
// its own savepoint, one `done` message back. On `close`: close the connection and end.
// Messages are taken off the port synchronously while the thread waits on a shared signal (see
// the loop at the end).
// A fatal SQLite error (I/O, corruption, the file gone) posts `fatal` and ends the thread.

import fs from 'node:fs'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {parentPort, receiveMessageOnPort, workerData} from 'node:worker_threads'

import Database from 'better-sqlite3'

import {
  isFatalSqliteCode,
  type BatchDoneMessage,
  type FromWorker,
  type SerializedError,
  type SqlValue,
  type ToWorker,
  type WorkerConfig,
  type WriteOp,
} from './writer-protocol.js'

/** An error this file raises itself, with a code the main thread can act on. */
class CodedError extends Error {
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

function codeOf(error: unknown): string | undefined {
  const code = (error as {code?: unknown} | null)?.code
  return typeof code === 'string' ? code : undefined
}

function serialize(error: unknown, where?: RequestFailure): SerializedError {
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

function post(message: FromWorker): void {
  port.postMessage(message)
}

// ---------------------------------------------------------------------------------------------
// Opening

/** Throws a CodedError with a message that names the problem when `file` cannot hold a database. */
function checkPath(file: string): void {
  if (file === '' || file === ':memory:' || file.startsWith('file:')) {
    throw new CodedError('ERR_DB_PATH', `database path must be a file path, got ${JSON.stringify(file)}`)
  }
  const dir = path.dirname(file)
  let stat: fs.Stats | undefined
  try {
    stat = fs.statSync(file)
  } catch (error) {
    const code = codeOf(error)
    if (code === 'ENOTDIR') {
      // Some ancestor is a file: name it.
      let parent = dir
      while (parent !== path.dirname(parent)) {
        try {
          if (!fs.statSync(parent).isDirectory()) break
        } catch {
          // not there or not reachable: keep going up
        }
        parent = path.dirname(parent)
      }
      throw new CodedError('ERR_DB_PATH', `cannot use database path "${file}": "${parent}" is a file, not a directory`)
    }
    if (code !== 'ENOENT') throw new CodedError('ERR_DB_PATH', `cannot use database path "${file}": ${(error as Error).message}`)
  }
  if (stat && !stat.isFile()) {
    const what = stat.isDirectory() ? 'a directory' : 'not a regular file'
    throw new CodedError('ERR_DB_PATH', `cannot use database path "${file}": it is ${what}, not a database file`)
  }
  if (!stat) {
    try {
      if (!fs.statSync(dir).isDirectory()) {
        throw new CodedError('ERR_DB_PATH', `cannot use database path "${file}": "${dir}" is not a directory`)
      }
    } catch (error) {
      if (error instanceof CodedError) throw error
      throw new CodedError('ERR_DB_PATH', `cannot use database path "${file}": directory "${dir}" does not exist`)
    }
  }
  // The WAL and shared-memory files are created next to the database, so the directory must be writable.
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK)
  } catch {
    throw new CodedError('ERR_DB_PATH', `cannot use database path "${file}": directory "${dir}" is not writable`)
  }
  if (stat) {
    try {
      fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK)
    } catch {
      throw new CodedError('ERR_DB_PATH', `cannot use database path "${file}": the file is not readable and writable`)
    }
  }
}

function openDatabase(config: WorkerConfig): Database.Database {
  checkPath(config.path)
  let db: Database.Database | undefined
  try {
    db = new Database(config.path)
    const mode = db.pragma('journal_mode = WAL', {simple: true})
    if (mode !== 'wal') throw new Error(`journal_mode is "${String(mode)}", WAL could not be enabled`)
    db.pragma('synchronous = FULL')
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(config.busyTimeoutMs))}`)
    // Truncate the WAL file back to this size after a checkpoint instead of keeping its high-water mark.
    db.pragma('journal_size_limit = 67108864')
    return db
  } catch (error) {
    db?.close()
    throw new CodedError(codeOf(error) ?? 'ERR_DB_OPEN', `cannot open database "${config.path}": ${(error as Error).message}`)
  }
}

/** Runs migrations[v..] where v is the current user_version, each in its own transaction. */
function migrate(db: Database.Database, migrations: string[]): {before: number; after: number} {
  const before = Number(db.pragma('user_version', {simple: true}))
  if (before > migrations.length) {
    throw new CodedError(
      'ERR_DB_SCHEMA_TOO_NEW',
      `database schema version ${before} is newer than this program knows (${migrations.length} migrations)`,
    )
  }
  for (let version = before; version < migrations.length; version++) {
    try {
      db.exec('BEGIN IMMEDIATE')
      db.exec(migrations[version])
      db.pragma(`user_version = ${version + 1}`)
      db.exec('COMMIT')
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK')
      throw new CodedError(
        codeOf(error) ?? 'ERR_DB_MIGRATION',
        `migration ${version + 1} of ${migrations.length} (user_version ${version} -> ${version + 1}) failed: ${(error as Error).message}`,
      )
    }
  }
  return {before, after: migrations.length}
}

/** Rows per statement when a plain `INSERT ... VALUES (...)` runs for many rows. */
const ROWS_PER_MULTI_INSERT = 32

interface PreparedStatement {
  one: Database.Statement
  /** The same INSERT with ROWS_PER_MULTI_INSERT value lists, or null for other statements. */
  many: Database.Statement | null
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

function prepareAll(db: Database.Database, statements: Record<string, string>): Map<string, PreparedStatement> {
  const prepared = new Map<string, PreparedStatement>()
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
    prepared.set(name, {one, many})
  }
  return prepared
}

// ---------------------------------------------------------------------------------------------
// Writing

if (parentPort === null) throw new Error('writer-worker.ts must run in a worker thread (see DatabaseWriter)')
const port = parentPort
const config = workerData as WorkerConfig

let db: Database.Database
let statements: Map<string, PreparedStatement>
try {
  db = openDatabase(config)
  try {
    const {before, after} = migrate(db, config.migrations)
    statements = prepareAll(db, config.statements)
    post({type: 'ready', schemaVersionBefore: before, schemaVersion: after})
  } catch (error) {
    db.close()
    throw error
  }
} catch (error) {
  post({type: 'open-failed', error: serialize(error)})
  process.exit(1)
}

const begin = db.prepare('BEGIN IMMEDIATE')
const commit = db.prepare('COMMIT')
const rollback = db.prepare('ROLLBACK')
const savepoint = db.prepare('SAVEPOINT request')
const release = db.prepare('RELEASE request')
const rollbackTo = db.prepare('ROLLBACK TO request')

function applyRequest(ops: WriteOp[]): void {
  for (let o = 0; o < ops.length; o++) {
    const {stmt: name, rows} = ops[o]
    const stmt = statements.get(name)
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
          if (!db.inTransaction || isFatalSqliteCode(codeOf(error))) throw new RequestFailure(error, name, o, r)
        }
      }
      try {
        stmt.one.run(rows[r])
      } catch (error) {
        throw new RequestFailure(error, name, o, r)
      }
      r++
    }
  }
}

/** Thrown when the transaction as a whole is lost, with the error that lost it. */
class BatchFailure {
  constructor(readonly error: SerializedError) {}
}

/**
 * One transaction for the whole batch, each request in its own savepoint so a failing request is
 * undone alone. A batch of one request needs no savepoint: if it fails, the transaction is rolled back.
 */
function runBatch(requests: WriteOp[][]): (SerializedError | null)[] | null {
  let errors: (SerializedError | null)[] | null = null
  const single = requests.length === 1
  begin.run()
  for (let i = 0; i < requests.length; i++) {
    if (!single) savepoint.run()
    try {
      applyRequest(requests[i])
      if (!single) release.run()
    } catch (caught) {
      const failure = caught instanceof RequestFailure ? caught : new RequestFailure(caught, '', -1)
      const error = serialize(failure.error, caught instanceof RequestFailure ? failure : undefined)
      // SQLite rolls back the whole transaction on some errors (SQLITE_FULL, SQLITE_IOERR, ...,
      // or a statement with OR ROLLBACK): then nothing of this batch can commit.
      if (isFatalSqliteCode(error.code) || !db.inTransaction) {
        if (db.inTransaction) rollback.run()
        throw new BatchFailure(error)
      }
      if (single) {
        rollback.run()
        return [error]
      }
      rollbackTo.run()
      release.run()
      if (errors === null) errors = new Array<SerializedError | null>(requests.length).fill(null)
      errors[i] = error
    }
  }
  commit.run()
  return errors
}

function fatal(error: SerializedError): never {
  post({type: 'fatal', error})
  try {
    db.close()
  } catch {
    // the connection is already broken; ending the thread is what matters
  }
  process.exit(1)
}

/** Handles one message; returns false when the worker is to end. */
function handle(message: ToWorker): boolean {
  if (message.type === 'close') {
    try {
      db.close()
    } catch (error) {
      fatal(serialize(error))
    }
    post({type: 'closed'})
    return false
  }
  const start = performance.now()
  let done: BatchDoneMessage
  try {
    const errors = runBatch(message.requests)
    done = {type: 'done', id: message.id, errors, txnMs: performance.now() - start}
  } catch (caught) {
    const error = caught instanceof BatchFailure ? caught.error : serialize(caught)
    if (db.inTransaction) {
      try {
        rollback.run()
      } catch {
        fatal(error)
      }
    }
    if (isFatalSqliteCode(error.code)) fatal(error)
    done = {type: 'done', id: message.id, errors: null, batchError: error, txnMs: performance.now() - start}
  }
  post(done)
  return true
}

// The worker has nothing to do but wait for the next message, so it blocks on the shared signal
// (Atomics.wait, a futex) and takes messages off its port synchronously, instead of going back
// to its event loop. Measured on a 2-vCPU VM: a round trip of 0.24 ms at p50 instead of 0.43 ms,
// which is most of what a write adds to its fsync. The main thread posts, then bumps the counter
// and notifies. Reading the counter before checking the port means a wake-up cannot be lost.
const signal = config.signal
for (;;) {
  const seen = Atomics.load(signal, 0)
  const received = receiveMessageOnPort(port)
  if (received === undefined) {
    Atomics.wait(signal, 0, seen)
    continue
  }
  if (!handle(received.message as ToWorker)) break
}
port.close()
