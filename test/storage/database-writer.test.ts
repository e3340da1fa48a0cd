import {execFile} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'
import type {Worker} from 'node:worker_threads'

import Database from 'better-sqlite3'
import {expect} from 'chai'

import {DatabaseWriter, DatabaseWriterError, type WriteOp, type WriterOptions} from '../../src/storage/database-writer.js'

const MIGRATIONS = [
  'CREATE TABLE kv (k INTEGER PRIMARY KEY, v BLOB NOT NULL)',
  `CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, src TEXT NOT NULL, n INTEGER NOT NULL);
   CREATE TABLE migration_runs (version INTEGER NOT NULL);
   INSERT INTO migration_runs (version) VALUES (2);`,
]
const STATEMENTS = {
  put: 'INSERT INTO kv (k, v) VALUES (?, ?)',
  append: 'INSERT INTO log (src, n) VALUES (?, ?)',
}

const put = (k: number | bigint, v: Uint8Array | string = 'v'): WriteOp => ({stmt: 'put', rows: [[k, v]]})
const append = (src: string, n: number): WriteOp => ({stmt: 'append', rows: [[src, n]]})

/** The rejection of `promise`, failing the test when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<DatabaseWriterError> {
  try {
    await promise
  } catch (error) {
    expect(error).to.be.instanceOf(Error)
    return error as DatabaseWriterError
  }
  throw new Error('expected a rejection')
}

/** Settles with the error given to a writeAsync callback (null on success). */
function writeAsync(writer: DatabaseWriter, ops: WriteOp[]): Promise<Error | null> {
  return new Promise((resolve) => writer.writeAsync(ops, resolve))
}

describe('DatabaseWriter', function () {
  let dir: string
  let dbPath: string
  let writers: DatabaseWriter[]
  let readers: Database.Database[]

  const options = (more: Partial<WriterOptions> = {}): WriterOptions => ({path: dbPath, migrations: MIGRATIONS, statements: STATEMENTS, ...more})
  const open = async (more: Partial<WriterOptions> = {}): Promise<DatabaseWriter> => {
    const writer = await DatabaseWriter.open(options(more))
    writers.push(writer)
    return writer
  }
  const reader = (): Database.Database => {
    const db = new Database(dbPath, {readonly: true, fileMustExist: true})
    readers.push(db)
    return db
  }
  const count = (db: Database.Database, table: string): number =>
    (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as {n: number}).n

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-writer-test-'))
    dbPath = path.join(dir, 'node.db')
    writers = []
    readers = []
  })

  afterEach(async function () {
    for (const db of readers) db.close()
    for (const writer of writers) await writer.close().catch(() => {})
    fs.rmSync(dir, {recursive: true, force: true})
  })

  describe('group commit', function () {
    it('forms batches under concurrency and writes every row', async function () {
      const writer = await open()
      const writes: Promise<void>[] = []
      for (let i = 0; i < 1000; i++) writes.push(writer.write([put(i)]))
      await Promise.all(writes)
      const m = writer.metrics()
      expect(m.requests).to.equal(1000)
      expect(m.failedRequests).to.equal(0)
      expect(m.batches).to.be.lessThan(100)
      expect(m.maxBatchSize).to.be.greaterThan(1)
      expect(count(reader(), 'kv')).to.equal(1000)
    })

    it('forms batches from clients that each wait for their previous write', async function () {
      const writer = await open()
      // 50 clients, 20 sequential writes each: a client's next write waits for its previous one,
      // so batches only form because requests queue while a batch commits.
      const client = async (c: number) => {
        for (let i = 0; i < 20; i++) await writer.write([put(c * 1000 + i)])
      }
      await Promise.all(Array.from({length: 50}, (_, c) => client(c)))
      const m = writer.metrics()
      expect(m.requests).to.equal(1000)
      expect(m.batches).to.be.lessThan(500)
      expect(m.maxBatchSize).to.be.greaterThan(1)
      expect(m.avgBatchSize).to.be.greaterThan(2)
      expect(count(reader(), 'kv')).to.equal(1000)
    })

    it('puts at most maxBatchRequests requests in a transaction', async function () {
      const writer = await open({maxBatchRequests: 64})
      await Promise.all(Array.from({length: 1000}, (_, i) => writer.write([put(i)])))
      const m = writer.metrics()
      expect(m.maxBatchSize).to.equal(64)
      expect(m.batches).to.be.at.least(Math.ceil(1000 / 64))
      expect(count(reader(), 'kv')).to.equal(1000)
    })

    it('applies requests in submission order, across batches and both kinds of write', async function () {
      const writer = await open({maxBatchRequests: 37})
      const pending: Promise<unknown>[] = []
      for (let n = 0; n < 1000; n++) {
        pending.push(n % 3 === 0 ? writeAsync(writer, [append('async', n)]) : writer.write([append('sync', n)]))
        if (n % 100 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
      expect(await Promise.all(pending)).to.satisfy((results: unknown[]) => results.every((r) => r === null || r === undefined))
      const ns = (reader().prepare('SELECT n FROM log ORDER BY seq').all() as {n: number}[]).map((r) => r.n)
      expect(ns).to.deep.equal(Array.from({length: 1000}, (_, n) => n))
      expect(writer.metrics().batches).to.be.greaterThan(1)
    })

    it('resolves write([]) once everything submitted before it is durable', async function () {
      const writer = await open()
      for (let i = 0; i < 100; i++) writer.writeAsync([put(i)])
      await writer.write([])
      expect(count(reader(), 'kv')).to.equal(100)
    })
  })

  describe('durability', function () {
    it('keeps what was written across a close and a reopen', async function () {
      const writer = await open()
      await writer.write([put(1, 'one'), {stmt: 'append', rows: [['a', 1], ['a', 2]]}])
      await writer.close()

      const again = await open()
      expect(again.migrationsApplied).to.equal(0)
      await again.write([put(2, 'two')])
      const db = reader()
      expect(db.pragma('journal_mode', {simple: true})).to.equal('wal')
      const rows = db.prepare('SELECT k, CAST(v AS TEXT) AS v FROM kv ORDER BY k').all()
      expect(rows).to.deep.equal([{k: 1, v: 'one'}, {k: 2, v: 'two'}])
      expect(count(db, 'log')).to.equal(2)
    })

    it('makes a resolved write visible to a separate read connection at once, without close', async function () {
      const writer = await open()
      const db = reader()
      const get = db.prepare('SELECT CAST(v AS TEXT) AS v FROM kv WHERE k = ?')
      for (let i = 0; i < 20; i++) {
        await writer.write([put(i, `value ${i}`)])
        expect(get.get(i)).to.deep.equal({v: `value ${i}`})
      }
    })

    it('flushes queued writes on close, then rejects new ones', async function () {
      const writer = await open()
      const writes = Array.from({length: 500}, (_, i) => writer.write([put(i)]))
      const callbacks: (Error | null)[] = []
      writer.writeAsync([put(1000)], (err) => callbacks.push(err))
      await writer.close()
      await Promise.all(writes)
      expect(callbacks).to.deep.equal([null])
      expect(writer.metrics().queueDepth).to.equal(0)
      expect(count(reader(), 'kv')).to.equal(501)

      const error = await rejectionOf(writer.write([put(2000)]))
      expect(error).to.be.instanceOf(DatabaseWriterError)
      expect(error.code).to.equal('ERR_WRITER_CLOSED')
      expect(error.message).to.match(/closed/)
      expect(await writeAsync(writer, [put(2001)])).to.have.property('code', 'ERR_WRITER_CLOSED')
      await writer.close() // again: a no-op
    })

    it('rejects writes submitted while close() is flushing', async function () {
      const writer = await open()
      const before = writer.write([put(1)])
      const closing = writer.close()
      const error = await rejectionOf(writer.write([put(2)]))
      expect(error.code).to.equal('ERR_WRITER_CLOSED')
      await before
      await closing
      expect(count(reader(), 'kv')).to.equal(1)
    })
  })

  describe('requests of many rows', function () {
    const range = (from: number, to: number): number[] => Array.from({length: to - from}, (_, i) => from + i)

    it('stores every row of a long request, in order, values intact', async function () {
      const writer = await open()
      // 75 rows: two runs of 32 rows per statement, then 11 one at a time.
      await writer.write([{stmt: 'put', rows: range(0, 75).map((k) => [k, `v${k}`])}, {stmt: 'append', rows: range(0, 75).map((n) => ['long', n])}])
      const db = reader()
      const kv = db.prepare('SELECT k, CAST(v AS TEXT) AS v FROM kv ORDER BY k').all() as {k: number; v: string}[]
      expect(kv.map((r) => `${r.k}=${r.v}`)).to.deep.equal(range(0, 75).map((k) => `${k}=v${k}`))
      const log = db.prepare('SELECT seq, n FROM log ORDER BY seq').all() as {seq: number; n: number}[]
      expect(log.map((r) => r.n)).to.deep.equal(range(0, 75))
      expect(log.map((r) => r.seq)).to.deep.equal(range(1, 76))
    })

    it('stores byte values that are slices of larger buffers exactly, empty ones included', async function () {
      const writer = await open()
      // Slices of one network-sized buffer, as a follower's log entries are, and pooled Buffers.
      const source = Buffer.alloc(64 * 1024)
      for (let i = 0; i < source.length; i++) source[i] = i % 251
      const values = range(0, 70).map((k) => (k % 3 === 0 ? Buffer.from(`pooled ${k}`) : source.subarray(k * 100, k * 100 + (k % 7) * 10)))
      await writer.write([{stmt: 'put', rows: values.map((v, k) => [k, v])}])
      const stored = reader().prepare('SELECT k, v FROM kv ORDER BY k').all() as {k: number; v: Buffer}[]
      expect(stored.map((r) => r.v.toString('hex'))).to.deep.equal(values.map((v) => Buffer.from(v).toString('hex')))
      // The caller's buffers are untouched.
      expect(source[7]).to.equal(7)
    })

    it('names the failing row of a long request and stores none of it, the rest of the batch commits', async function () {
      const writer = await open()
      await writer.write([put(1040, 'original')])
      const rows = range(1000, 1075).map((k) => [k, 'new'])
      const failing = writer.write([{stmt: 'put', rows}])
      const ok = writer.write([put(5000)])
      const error = await rejectionOf(failing)
      await ok
      // Row 40 of the request (key 1040, in its second run of 32) is the duplicate.
      expect(error).to.include({code: 'SQLITE_CONSTRAINT_PRIMARYKEY', stmt: 'put', op: 0, row: 40})
      const keys = (reader().prepare('SELECT k FROM kv ORDER BY k').all() as {k: number}[]).map((r) => r.k)
      expect(keys).to.deep.equal([1040, 5000])
    })

    it('names a row with the wrong number of values in a long request', async function () {
      const writer = await open()
      const rows: unknown[][] = range(0, 40).map((k) => [k, 'v'])
      rows[20] = [20] // inside the first run of 32
      const error = await rejectionOf(writer.write([{stmt: 'put', rows: rows as WriteOp['rows']}]))
      expect(error).to.include({code: 'ERR_INVALID_PARAMS', op: 0, row: 20})
      expect(count(reader(), 'kv')).to.equal(0)
    })
  })

  describe('a failing request', function () {
    it('rejects only itself; the rest of its batch commits', async function () {
      const writer = await open()
      await writer.write([put(1, 'original')])
      const batchesBefore = writer.metrics().batches

      const ok1 = writer.write([put(10)])
      const duplicate = writer.write([put(1, 'duplicate')])
      const unknown = writer.write([{stmt: 'nope', rows: [[1]]}])
      const badParams = writer.write([{stmt: 'put', rows: [[11]]}])
      const partial = writer.write([put(12), put(1, 'duplicate again')]) // all or nothing
      const ok2 = writer.write([put(13), append('x', 1)])

      await Promise.all([ok1, ok2])
      const dup = await rejectionOf(duplicate)
      expect(dup.code).to.equal('SQLITE_CONSTRAINT_PRIMARYKEY')
      expect(dup.message).to.match(/UNIQUE constraint failed: kv\.k/)
      expect(dup).to.include({stmt: 'put', op: 0, row: 0})
      const unk = await rejectionOf(unknown)
      expect(unk.code).to.equal('ERR_UNKNOWN_STATEMENT')
      expect(unk.message).to.match(/unknown statement "nope"/)
      const bad = await rejectionOf(badParams)
      expect(bad.code).to.equal('ERR_INVALID_PARAMS')
      const part = await rejectionOf(partial)
      expect(part).to.include({code: 'SQLITE_CONSTRAINT_PRIMARYKEY', op: 1, row: 0})

      const m = writer.metrics()
      expect(m.batches - batchesBefore).to.equal(1) // all six were in one transaction
      expect(m.lastBatchSize).to.equal(6)
      expect(m.failedRequests).to.equal(4)

      const db = reader()
      const keys = (db.prepare('SELECT k FROM kv ORDER BY k').all() as {k: number}[]).map((r) => r.k)
      expect(keys).to.deep.equal([1, 10, 13]) // 12 was rolled back with the rest of its request
      expect(db.prepare('SELECT CAST(v AS TEXT) AS v FROM kv WHERE k = 1').get()).to.deep.equal({v: 'original'})
      expect(count(db, 'log')).to.equal(1)
    })

    it('rejects a failing request that is alone in its batch, and the writer goes on', async function () {
      const writer = await open()
      await writer.write([put(1)])
      const error = await rejectionOf(writer.write([put(1)]))
      expect(error.code).to.equal('SQLITE_CONSTRAINT_PRIMARYKEY')
      await writer.write([put(2)])
      expect(count(reader(), 'kv')).to.equal(2)
    })

    it('rejects values that cannot be bound before they reach the worker', async function () {
      const writer = await open()
      const ok = writer.write([put(1)])
      const bool = await rejectionOf(writer.write([{stmt: 'put', rows: [[2, true as unknown as string]]}]))
      expect(bool.code).to.equal('ERR_INVALID_WRITE')
      expect(bool.message).to.match(/op 0 \("put"\) row 0 column 1: cannot bind boolean/)
      const obj = await rejectionOf(writer.write([{stmt: 'put', rows: [[3, {} as unknown as string]]}]))
      expect(obj.code).to.equal('ERR_INVALID_WRITE')
      const notArray = await rejectionOf(writer.write('put' as unknown as WriteOp[]))
      expect(notArray.code).to.equal('ERR_INVALID_WRITE')
      await ok
      expect(count(reader(), 'kv')).to.equal(1)
    })
  })

  describe('writeAsync', function () {
    it('calls back with null once durable, and with the error on failure', async function () {
      const writer = await open()
      const db = reader()
      let calledSync = false
      const success = new Promise<Error | null>((resolve) => {
        writer.writeAsync([put(1)], (err) => {
          calledSync = true
          resolve(err)
        })
      })
      expect(calledSync).to.equal(false)
      const failure = writeAsync(writer, [put(1)])
      expect(await success).to.equal(null)
      expect(count(db, 'kv')).to.equal(1)
      const err = await failure
      expect(err).to.be.instanceOf(DatabaseWriterError)
      expect(err).to.have.property('code', 'SQLITE_CONSTRAINT_PRIMARYKEY')
      const invalid = await writeAsync(writer, [{stmt: 'put', rows: [[undefined as unknown as null, 'x']]}])
      expect(invalid).to.have.property('code', 'ERR_INVALID_WRITE')
      writer.writeAsync([put(2)]) // no callback at all
      await writer.write([])
      expect(count(db, 'kv')).to.equal(2)
    })
  })

  describe('values', function () {
    it('stores blobs, pooled and offset Buffers, bigints and nulls as given', async function () {
      const writer = await open({
        migrations: [...MIGRATIONS, 'CREATE TABLE vals (id INTEGER PRIMARY KEY, b BLOB, i INTEGER, t TEXT)'],
        statements: {...STATEMENTS, val: 'INSERT INTO vals (id, b, i, t) VALUES (?, ?, ?, ?)'},
      })
      const pooled = Buffer.from('pooled') // a view into Node's shared 8 KiB pool
      expect(pooled.buffer.byteLength).to.be.greaterThan(pooled.byteLength)
      const big = new Uint8Array(100_000).map((_, i) => i % 251)
      const view = big.subarray(10, 20)
      const rowWithView: (Uint8Array | number | null | bigint | string)[] = [3, view, null, null]
      await writer.write([
        {
          stmt: 'val',
          rows: [
            [1, pooled, 2n ** 60n, 'text'],
            [2, new Uint8Array([0, 255]), -1, null],
            rowWithView,
          ],
        },
      ])
      expect(rowWithView[1]).to.equal(view) // the caller's row is not changed
      const db = reader()
      db.defaultSafeIntegers(true)
      const rows = db.prepare('SELECT id, b, i, t FROM vals ORDER BY id').all() as {id: bigint; b: Buffer; i: bigint | null; t: string | null}[]
      expect(rows[0].b.toString()).to.equal('pooled')
      expect(rows[0].i).to.equal(2n ** 60n)
      expect(rows[0].t).to.equal('text')
      expect([...rows[1].b]).to.deep.equal([0, 255])
      expect(rows[1].i).to.equal(-1n)
      expect([...rows[2].b]).to.deep.equal([...view])
    })
  })

  describe('migrations', function () {
    it('run once, and only the new ones run on a later open', async function () {
      const first = await open()
      expect(first.migrationsApplied).to.equal(2)
      expect(first.schemaVersion).to.equal(2)
      await first.close()

      const second = await open()
      expect(second.migrationsApplied).to.equal(0)
      expect(second.schemaVersion).to.equal(2)
      await second.close()

      const third = await open({migrations: [...MIGRATIONS, 'ALTER TABLE kv ADD COLUMN note TEXT']})
      expect(third.migrationsApplied).to.equal(1)
      expect(third.schemaVersion).to.equal(3)
      const db = reader()
      expect(db.pragma('user_version', {simple: true})).to.equal(3)
      expect(count(db, 'migration_runs')).to.equal(1)
    })

    it('rolls back a failing migration and rejects open with its number', async function () {
      await (await open()).close()
      const failing = [...MIGRATIONS, 'CREATE TABLE half (a); INSERT INTO missing VALUES (1)']
      const error = await rejectionOf(DatabaseWriter.open(options({migrations: failing})))
      expect(error).to.be.instanceOf(DatabaseWriterError)
      expect(error.message).to.match(/migration 3 of 3 \(user_version 2 -> 3\) failed: no such table: missing/)
      const db = reader()
      expect(db.pragma('user_version', {simple: true})).to.equal(2)
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).to.equal(undefined)
    })

    it('refuses a database whose schema is newer than the migrations it is given', async function () {
      await (await open()).close()
      const error = await rejectionOf(DatabaseWriter.open(options({migrations: MIGRATIONS.slice(0, 1)})))
      expect(error.code).to.equal('ERR_DB_SCHEMA_TOO_NEW')
      expect(error.message).to.match(/schema version 2 is newer/)
    })

    it('rejects open when a statement does not prepare', async function () {
      const error = await rejectionOf(DatabaseWriter.open(options({statements: {...STATEMENTS, broken: 'INSERT INTO nowhere VALUES (?)'}})))
      expect(error.message).to.match(/statement "broken" cannot be prepared: no such table: nowhere/)
    })
  })

  describe('unusable paths', function () {
    it('rejects a directory where the database file should be', async function () {
      fs.mkdirSync(dbPath)
      const error = await rejectionOf(DatabaseWriter.open(options()))
      expect(error).to.be.instanceOf(DatabaseWriterError)
      expect(error.code).to.equal('ERR_DB_PATH')
      expect(error.message).to.include(dbPath)
      expect(error.message).to.match(/is a directory, not a database file/)
    })

    it('rejects a path under a file', async function () {
      const file = path.join(dir, 'plain-file')
      fs.writeFileSync(file, 'x')
      const error = await rejectionOf(DatabaseWriter.open(options({path: path.join(file, 'sub', 'node.db')})))
      expect(error.code).to.equal('ERR_DB_PATH')
      expect(error.message).to.include(`"${file}" is a file, not a directory`)
    })

    it('rejects a path in a directory that does not exist', async function () {
      const missing = path.join(dir, 'missing')
      const error = await rejectionOf(DatabaseWriter.open(options({path: path.join(missing, 'node.db')})))
      expect(error.message).to.include(`directory "${missing}" does not exist`)
    })

    it('rejects a file that is not a database', async function () {
      fs.writeFileSync(dbPath, 'this is not an SQLite database, just some text that is long enough. '.repeat(20))
      const error = await rejectionOf(DatabaseWriter.open(options()))
      expect(error.message).to.match(/cannot open database ".*node\.db": file is not a database/)
    })

    it('rejects bad options without starting a worker', async function () {
      const error = await rejectionOf(DatabaseWriter.open(options({maxBatchRequests: 0})))
      expect(error.code).to.equal('ERR_INVALID_OPTIONS')
    })
  })

  describe('when the worker stops', function () {
    it('rejects pending and later writes if the thread dies, and never hangs', async function () {
      const writer = await open()
      await writer.write([put(0)])
      // A batch of 100,000 rows takes the worker far longer than terminate() takes to stop it, so
      // the batch is still being written when the thread dies.
      const rows = (first: number) => Array.from({length: 2_000}, (_, i) => [first + i, 'v'])
      const pending = Array.from({length: 50}, (_, i) => rejectionOf(writer.write([{stmt: 'put', rows: rows(1 + i * 2_000)}])))
      await new Promise((resolve) => setImmediate(resolve)) // the first batch is now in flight
      await (writer as unknown as {worker: Worker}).worker.terminate()
      const errors = await Promise.all(pending)
      for (const error of errors) {
        expect(error.code).to.equal('ERR_WRITER_FAILED')
        expect(error.message).to.match(/stopped: the writer thread exited unexpectedly/)
      }
      const later = await rejectionOf(writer.write([put(1_000_000)]))
      expect(later.code).to.equal('ERR_WRITER_FAILED')
      expect(await writeAsync(writer, [put(1_000_001)])).to.have.property('code', 'ERR_WRITER_FAILED')
      await writer.close() // resolves: there is nothing left to flush
    })

    it('abort() rejects what is pending with ERR_WRITER_ABORTED', async function () {
      const writer = await open()
      const pending = Array.from({length: 20}, (_, i) => rejectionOf(writer.write([put(i)])))
      await writer.abort()
      for (const error of await Promise.all(pending)) expect(error.code).to.equal('ERR_WRITER_ABORTED')
      expect((await rejectionOf(writer.write([put(99)]))).code).to.equal('ERR_WRITER_ABORTED')
    })
  })

  describe('metrics', function () {
    it('reports queue, batches and commit latency', async function () {
      const writer = await open()
      const empty = writer.metrics()
      expect(empty).to.include({queueDepth: 0, inFlight: 0, batches: 0, requests: 0, failedRequests: 0})
      expect(empty.commitLatencyMs).to.deep.equal({last: 0, avg: 0, p50: 0, p99: 0, max: 0})

      const writes = Array.from({length: 10}, (_, i) => writer.write([put(i)]))
      expect(writer.metrics().queueDepth).to.equal(10)
      await new Promise((resolve) => setImmediate(resolve))
      expect(writer.metrics().inFlight + writer.metrics().requests).to.equal(10)
      await Promise.all(writes)

      const m = writer.metrics()
      expect(m).to.include({queueDepth: 0, inFlight: 0, requests: 10, rows: 10, batches: 1, lastBatchSize: 10, maxBatchSize: 10, avgBatchSize: 10})
      for (const latency of [m.commitLatencyMs, m.txnLatencyMs]) {
        expect(latency.last).to.be.greaterThan(0)
        expect(latency.p50).to.be.at.most(latency.p99)
        expect(latency.p99).to.be.at.most(latency.max)
      }
      expect(m.txnLatencyMs.max).to.be.at.most(m.commitLatencyMs.max)
    })
  })

  describe('writeNow: small writes on the calling thread', function () {
    // A commit slower than inlineSlowMs sends writes to the thread for a second, and a loaded
    // machine's fsync can take that long: the tests of other behaviour take slowness out.
    const NEVER_SLOW_MS = 60_000

    it('commits a small request at once when the writer is idle: durable and readable before any await', async function () {
      const writer = await open({inlineMaxRows: 4, inlineSlowMs: NEVER_SLOW_MS})
      expect(writer.writeNow([put(1, 'a'), append('now', 1)])).to.equal(true)
      expect(count(reader(), 'kv')).to.equal(1)
      expect(count(reader(), 'log')).to.equal(1)
      const m = writer.metrics()
      expect(m).to.include({inlineWrites: 1, requests: 1, rows: 2, failedRequests: 0})
      expect(m.txnLatencyMs.last).to.be.greaterThan(0)
    })

    it('writes nothing (returns false) for a large request, while a write is queued or in flight, or when not enabled', async function () {
      const off = await open()
      expect(off.writeNow([put(1)])).to.equal(false)
      await off.close()

      const writer = await open({inlineMaxRows: 2, inlineSlowMs: NEVER_SLOW_MS})
      expect(writer.writeNow([{stmt: 'put', rows: [[10, 'a'], [11, 'b'], [12, 'c']]}])).to.equal(false)
      const queued = writer.write([put(20)])
      // The queued write has not committed: writing now would put this one ahead of it.
      expect(writer.writeNow([put(21)])).to.equal(false)
      await queued
      expect(writer.writeNow([put(21)])).to.equal(true)
      const keys = reader().prepare('SELECT k FROM kv ORDER BY rowid').all() as {k: number}[]
      expect(keys.map((r) => r.k)).to.deep.equal([20, 21])
      expect(writer.metrics().inlineWrites).to.equal(1)
    })

    it('leaves a request that uses the attached database to the thread, which alone attaches it', async function () {
      const stagingPath = path.join(dir, 'staging.db')
      const writer = await open({
        inlineMaxRows: 4,
        statements: {...STATEMENTS, stage: 'INSERT INTO staged.box (n) VALUES (?)', unstage: 'INSERT INTO kv (k, v) SELECT n, \'s\' FROM staged.box'},
        inlineSlowMs: NEVER_SLOW_MS,
        attach: {schema: 'staged', path: stagingPath, setupSql: 'PRAGMA staged.locking_mode = EXCLUSIVE; CREATE TABLE IF NOT EXISTS staged.box (n INTEGER)'},
      })
      expect(writer.writeNow([{stmt: 'stage', rows: [[7]]}])).to.equal(false)
      expect(writer.writeNow([put(1), {stmt: 'unstage', rows: [[]]}])).to.equal(false)
      await writer.write([{stmt: 'stage', rows: [[7]]}])
      await writer.write([{stmt: 'unstage', rows: [[]]}])
      // Main-database writes still commit here, although the thread holds the staging file's lock.
      expect(writer.writeNow([put(1)])).to.equal(true)
      expect(reader().prepare('SELECT k FROM kv ORDER BY k').pluck().all()).to.deep.equal([1, 7])
      expect(writer.metrics().inlineWrites).to.equal(1)
    })

    it('throws what write() would reject with, writes none of a failing request, and goes on', async function () {
      const writer = await open({inlineMaxRows: 4, inlineSlowMs: NEVER_SLOW_MS})
      expect(writer.writeNow([put(1)])).to.equal(true)
      let caught: unknown
      try {
        writer.writeNow([append('x', 1), put(1)])
      } catch (error) {
        caught = error
      }
      expect(caught).to.be.instanceOf(DatabaseWriterError)
      expect(caught).to.include({code: 'SQLITE_CONSTRAINT_PRIMARYKEY', stmt: 'put', op: 1, row: 0})
      expect(() => writer.writeNow([{stmt: 'put', rows: [[2, {}]]}] as unknown as WriteOp[])).to.throw(DatabaseWriterError).with.property('code', 'ERR_INVALID_WRITE')
      expect(() => writer.writeNow([{stmt: 'nope', rows: [[1]]}])).to.throw(DatabaseWriterError).with.property('code', 'ERR_UNKNOWN_STATEMENT')
      expect(count(reader(), 'log')).to.equal(0)
      expect(writer.writeNow([put(2)])).to.equal(true)
      await writer.write([put(3)])
      expect(count(reader(), 'kv')).to.equal(3)
      expect(writer.metrics()).to.include({requests: 6, failedRequests: 3})
    })

    it('does not wait on this thread for a lock another connection holds: it leaves the write to the thread', async function () {
      const writer = await open({inlineMaxRows: 4, busyTimeoutMs: 10_000, inlineSlowMs: NEVER_SLOW_MS})
      expect(writer.writeNow([put(1)])).to.equal(true)
      const other = new Database(dbPath)
      readers.push(other)
      other.exec('BEGIN IMMEDIATE')
      const started = Date.now()
      expect(writer.writeNow([put(2)])).to.equal(false)
      expect(Date.now() - started).to.be.below(1000)
      const pending = writer.write([put(2)])
      setTimeout(() => other.exec('COMMIT'), 200)
      await pending
      expect(count(reader(), 'kv')).to.equal(2)
    })

    it('after a slow inline commit, sends writes to the thread for a second instead of blocking this thread again', async function () {
      // Every commit takes longer than 0 ms: each one counts as slow.
      const writer = await open({inlineMaxRows: 4, inlineSlowMs: 0})
      expect(writer.writeNow([put(1)])).to.equal(true)
      expect(writer.writeNow([put(2)])).to.equal(false)
      await writer.write([put(2)])
      expect(writer.writeNow([put(3)])).to.equal(false)
      expect(writer.metrics()).to.include({inlineWrites: 1, inlineSlowWrites: 1})
      await new Promise((resolve) => setTimeout(resolve, 1100))
      expect(writer.writeNow([put(3)])).to.equal(true)
      expect(count(reader(), 'kv')).to.equal(3)
    })

    it('keeps the WAL from growing without bound: every few hundred inline commits one write goes to the thread, which checkpoints', async function () {
      this.timeout(60_000)
      // Slow commits (a loaded machine) send writes to the thread too; this test counts only the
      // checkpointing ones, so no commit may count as slow here.
      const writer = await open({inlineMaxRows: 4, inlineSlowMs: 60_000})
      const blob = Buffer.alloc(8192, 7)
      // 3,000 commits of 3 pages or more each: a WAL never checkpointed would pass 36 MB.
      let viaThread = 0
      for (let k = 0; k < 3000; k++) {
        if (writer.writeNow([put(k, blob)])) continue
        viaThread++
        await writer.write([put(k, blob)])
      }
      expect(viaThread).to.be.within(10, 20)
      expect(writer.metrics().inlineWrites).to.equal(3000 - viaThread)
      const wal = fs.statSync(`${dbPath}-wal`).size
      expect(wal).to.be.below(16 * 1024 * 1024)
      expect(count(reader(), 'kv')).to.equal(3000)
    })
  })

  describe('in a process of its own', function () {
    it('does not keep an idle process alive, and writes from a fresh tsx process', async function () {
      const here = path.dirname(fileURLToPath(import.meta.url))
      const moduleUrl = new URL('../../src/storage/database-writer.ts', import.meta.url).href
      const script = `
        const {DatabaseWriter} = await import(${JSON.stringify(moduleUrl)})
        const w = await DatabaseWriter.open({path: ${JSON.stringify(dbPath)}, migrations: ${JSON.stringify(MIGRATIONS)}, statements: ${JSON.stringify(STATEMENTS)}})
        await w.write([{stmt: 'put', rows: [[7, 'seven']]}])
        console.log('written')
      `
      // No close(): the process must still end by itself once the writer is idle.
      const {stdout} = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {cwd: here, timeout: 15_000})
      expect(stdout.trim()).to.equal('written')
      expect(count(reader(), 'kv')).to.equal(1)
    })
  })
})
