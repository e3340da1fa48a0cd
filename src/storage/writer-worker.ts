// The DatabaseWriter's worker thread. Its connection makes every write but the small ones the
// main thread makes itself when this thread is idle (DatabaseWriter.writeNow), so the fsync of
// every large or queued commit happens here and does not block the main event loop.
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

import {attachDatabase} from './attached-database.js'
import {migrate} from './migrate.js'
import {BatchFailure, CodedError, codeOf, serialize, SqlBatchRunner} from './sql-batch.js'
import {syncDirectory} from './sync-dir.js'
import {isFatalSqliteCode, JOURNAL_SIZE_LIMIT_BYTES, synchronousPragma, type BatchDoneMessage, type FromWorker, type SerializedError, type ToWorker, type WorkerConfig} from './writer-protocol.js'

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
    // Before the switch to WAL, whose commit (a rollback journal on a new database) would
    // otherwise fsync at the default level even with --unsafe-no-fsync.
    db.pragma(synchronousPragma(config.unsafeNoFsync))
    // No auto_vacuum (SQLite's default): incremental auto-vacuum keeps a pointer map that every page
    // allocation writes, at a cost to every commit that paired benchmarks showed (docs/performance.md).
    // Pages that retention and compaction free are reused for new rows, so the file stops growing at
    // its high-water mark. A database made with incremental auto-vacuum by an earlier version keeps
    // it, and SpaceReclaimer gives its free pages back.
    const mode = db.pragma('journal_mode = WAL', {simple: true})
    if (mode !== 'wal') throw new Error(`journal_mode is "${String(mode)}", WAL could not be enabled`)
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(config.busyTimeoutMs))}`)
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`)
    return db
  } catch (error) {
    db?.close()
    throw new CodedError(codeOf(error) ?? 'ERR_DB_OPEN', `cannot open database "${config.path}": ${(error as Error).message}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

if (parentPort === null) throw new Error('writer-worker.ts must run in a worker thread (see DatabaseWriter)')
const port = parentPort
const config = workerData as WorkerConfig

let db: Database.Database
let runner: SqlBatchRunner
try {
  // SQLite never fsyncs the directory of the main database file (only of its journal and WAL):
  // the name of a database made here is made durable below, once its first commit is.
  const created = !fs.existsSync(config.path)
  db = openDatabase(config)
  try {
    const {before, after} = migrate(db, config.migrations)
    if (created && !config.unsafeNoFsync) syncDirectory(path.dirname(config.path))
    if (config.attach) attachDatabase(db, config.attach, true)
    runner = new SqlBatchRunner(db, config.statements)
    post({type: 'ready', schemaVersionBefore: before, schemaVersion: after})
  } catch (error) {
    db.close()
    throw error
  }
} catch (error) {
  post({type: 'open-failed', error: serialize(error)})
  process.exit(1)
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
    const errors = runner.run(message.requests)
    done = {type: 'done', id: message.id, errors, txnMs: performance.now() - start}
  } catch (caught) {
    const failure = caught instanceof BatchFailure ? caught : new BatchFailure(serialize(caught))
    if (failure.broken || isFatalSqliteCode(failure.error.code)) fatal(failure.error)
    done = {type: 'done', id: message.id, errors: null, batchError: failure.error, txnMs: performance.now() - start}
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
