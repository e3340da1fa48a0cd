import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {expect} from 'chai'
import {readCorruptMarker, writeCorruptMarker, markerPath} from '../../src/broker/corrupt-marker.js'
import {corruptFile, flipBitAt, targetPath} from '../../src/cluster/file-corruption.js'
import {migrate} from '../../src/storage/migrate.js'
import {CorruptionError, entryChecksum, entryProblem, hardStateChecksum, isCorruption} from '../../src/storage/corruption.js'
import {MIGRATIONS, STATEMENTS} from '../../src/storage/schema.js'
import {appendEntriesOp, hardStateOp} from '../../src/storage/schema-rows.js'
import {StoreReader} from '../../src/storage/store-reader.js'
import {inspectWal, walProblem} from '../../src/storage/wal-check.js'
import {truncationProblem} from '../../src/storage/truncation-check.js'
import {writeUntilKilled} from './helpers/killed-writer.js'
import type {Entry} from '../../src/raft/index.js'

// Disk corruption (#19): the checksums on Raft entries and the hard state, what the reader does
// with a row that fails them or a file SQLite calls corrupt, the file nemesis, the data dir's marker.

/** A seeded generator for the tool's draws (the answer says what it did either way). */
function counter(seed: number): () => number {
  let s = seed
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31
    return s / 2 ** 31
  }
}

describe('disk corruption: detection', () => {
  let dir: string
  let dbPath: string

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-corruption-'))
    dbPath = path.join(dir, 'node.db')
  })

  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  /** A node database with `entries` and a hard state, written through the statements and ops the node uses. */
  function makeDb(entries: Entry[], hs = {term: 3, vote: 1 as number | null, commit: 2}): void {
    const db = new Database(dbPath)
    db.pragma('journal_mode = WAL')
    migrate(db, MIGRATIONS)
    const append = db.prepare(STATEMENTS.appendEntry)
    for (const row of appendEntriesOp(entries).rows) append.run(...row)
    db.prepare(STATEMENTS.setHardState).run(...hardStateOp(hs).rows[0])
    db.pragma('wal_checkpoint(TRUNCATE)')
    db.close()
  }

  const entries = (n: number): Entry[] => Array.from({length: n}, (_, i) => ({index: i + 1, term: 1 + (i >> 2), type: 'normal', data: Buffer.from(`payload-${i + 1}-${'z'.repeat(40)}`)}))

  it('a checksum covers index, term, type and every byte of the data; a null vote is not node 0', () => {
    const data = Buffer.from('hello')
    const base = entryChecksum(7, 2, 0, data)
    expect(entryChecksum(7, 2, 0, Buffer.from('hello'))).to.equal(base)
    for (const other of [entryChecksum(8, 2, 0, data), entryChecksum(7, 3, 0, data), entryChecksum(7, 2, 2, data), entryChecksum(7, 2, 0, Buffer.from('hellp'))]) expect(other).to.not.equal(base)
    // Indexes and terms above 2^32 count in full.
    expect(entryChecksum(2 ** 32 + 7, 2, 0, data)).to.not.equal(base)
    expect(hardStateChecksum(3, null, 5)).to.not.equal(hardStateChecksum(3, 0, 5))
    expect(entryProblem({index: 7, term: 2, type: 0, data, crc: base})).to.equal(null)
    expect(entryProblem({index: 7, term: 2, type: 0, data, crc: null}), 'a row from before checksums').to.equal(null)
    expect(entryProblem({index: 7, term: 2, type: 0, data, crc: base ^ 1})).to.match(/raft_log entry 7 \(term 2\) fails its checksum/)
  })

  it('reads back sound rows, accepts rows without a checksum, and reports a changed value on every path', () => {
    makeDb(entries(10))
    const db = new Database(dbPath)
    db.prepare('UPDATE raft_log SET crc = NULL WHERE idx = 3').run()
    const reader = new StoreReader(dbPath)
    const reported: CorruptionError[] = []
    reader.onCorruption = (error) => reported.push(error)
    try {
      expect(reader.entries(1, 11).map((e) => e.index)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(reader.hardState()).to.deep.equal({term: 3, vote: 1, commit: 2})
      expect(reader.verifyRaftState()).to.deep.equal({entries: 10})
      expect(reader.quickCheck()).to.equal(null)
      // A bit of entry 6's payload, and the vote, changed behind the checksums' back.
      db.prepare("UPDATE raft_log SET data = CAST('payload-6-flipped' AS BLOB) WHERE idx = 6").run()
      expect(() => reader.entries(5, 8)).to.throw(CorruptionError, /raft_log entry 6 \(term 2\) fails its checksum/)
      expect(() => reader.verifyRaftState()).to.throw(CorruptionError, /entry 6/)
      expect(reader.entries(1, 6)).to.have.length(5)
      db.prepare('UPDATE raft_state SET vote = 2').run()
      expect(() => reader.hardState()).to.throw(CorruptionError, /the hard state \(term 3, vote 2\) fails its checksum/)
      expect(reported.map((e) => e.file)).to.deep.equal([dbPath, dbPath, dbPath])
      expect(isCorruption(reported[0])).to.equal(true)
    } finally {
      reader.close()
      db.close()
    }
  })

  it("a leader's noop (an empty payload) reads back sound: its checksum is the same from the entry and from SQLite's empty blob", () => {
    const noop: Entry = {index: 4, term: 2, type: 'noop', data: new Uint8Array(0)}
    makeDb([...entries(3), noop, {...entries(5)[4]}])
    const reader = new StoreReader(dbPath)
    try {
      expect(reader.entries(1, 6).map((e) => e.type)).to.deep.equal([0, 0, 0, 1, 0])
      expect(reader.verifyRaftState()).to.deep.equal({entries: 5})
    } finally {
      reader.close()
    }
    // What SQLite hands back for a zero-length blob: zlib's crc32 of it with a seed was 0.
    const db = new Database(dbPath, {readonly: true})
    try {
      const row = db.prepare('SELECT data, crc FROM raft_log WHERE idx = 4').get() as {data: Buffer; crc: number}
      expect(row.data.byteLength).to.equal(0)
      expect(entryChecksum(4, 2, 1, row.data)).to.equal(row.crc)
    } finally {
      db.close()
    }
  })

  it('a flipped bit in a Raft entry on disk fails its checksum when the log is read back', () => {
    makeDb(entries(40))
    const bytes = fs.readFileSync(dbPath)
    const at = bytes.indexOf('payload-23-')
    expect(at).to.be.greaterThan(0)
    flipBitAt(dbPath, at + 3, 2)
    const reader = new StoreReader(dbPath)
    try {
      // SQLite sees a sound page holding a different value: only the checksum tells.
      expect(reader.quickCheck()).to.equal(null)
      expect(() => reader.verifyRaftState()).to.throw(CorruptionError, /entry 23/)
    } finally {
      reader.close()
    }
  })

  it("SQLite's own findings are corruption too: a truncated file, and one that is not a database", () => {
    makeDb(entries(400))
    const size = fs.statSync(dbPath).size
    corruptFile(dbPath, {truncate: Math.floor(size / 2)})
    // Found on opening (the schema is read), by quick_check, or by the checksums: never read as sound.
    let found: unknown = null
    let reader: StoreReader | null = null
    try {
      reader = new StoreReader(dbPath)
      found = reader.quickCheck()
      if (found === null) reader.verifyRaftState()
    } catch (error) {
      found = error
    } finally {
      reader?.close()
    }
    expect(found, 'a truncated database is found out').to.not.equal(null)
    if (typeof found !== 'string') expect(found).to.be.instanceOf(CorruptionError)
    fs.writeFileSync(dbPath, Buffer.alloc(8192, 0x5a))
    expect(() => new StoreReader(dbPath)).to.throw(CorruptionError, /not a database/)
  })

  it('isCorruption knows SQLite codes (and their extended forms) through causes, and nothing else', () => {
    const sqlite = (code: string): Error => Object.assign(new Error(code), {code})
    expect(isCorruption(sqlite('SQLITE_CORRUPT'))).to.equal(true)
    expect(isCorruption(sqlite('SQLITE_CORRUPT_INDEX'))).to.equal(true)
    expect(isCorruption(sqlite('SQLITE_NOTADB'))).to.equal(true)
    expect(isCorruption(new Error('wrapped', {cause: sqlite('SQLITE_CORRUPT')}))).to.equal(true)
    expect(isCorruption(sqlite('SQLITE_FULL'))).to.equal(false)
    expect(isCorruption(sqlite('SQLITE_CORRUPTED_BY_NOTHING'))).to.equal(false)
    expect(isCorruption(null)).to.equal(false)
  })
})

describe('disk corruption: the file nemesis', () => {
  let dir: string

  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-file-nemesis-'))))
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  const bitsDiffering = (a: Buffer, b: Buffer): number => {
    let n = 0
    for (let i = 0; i < a.length; i++) for (let x = a[i] ^ b[i]; x !== 0; x &= x - 1) n++
    return n
  }

  it('flips bits within one stretch of the file, and says which', () => {
    const file = path.join(dir, 'node.db')
    const before = Buffer.alloc(300_000, 0xa5)
    fs.writeFileSync(file, before)
    const done = corruptFile(file, {bitflip: 1}, counter(7))
    const after = fs.readFileSync(file)
    expect(after.length).to.equal(before.length)
    expect(bitsDiffering(before, after)).to.equal(1)
    const [start, end] = done.range!
    expect(end - start).to.equal(64 * 1024)
    expect(done.bits).to.have.length(1)
    const bit = done.bits![0]
    expect(bit >> 3).to.be.within(start, end - 1)
    expect((after[bit >> 3] ^ before[bit >> 3]) === 1 << (bit & 7)).to.equal(true)
    // Many flips: within the stretch, at most as many as asked (two draws may hit one bit).
    fs.writeFileSync(file, before)
    const many = corruptFile(file, {bitflip: 500}, counter(8))
    const changed = fs.readFileSync(file)
    expect(bitsDiffering(before, changed)).to.be.within(400, 500)
    for (let i = 0; i < before.length; i++) if (before[i] !== changed[i]) expect(i).to.be.within(many.range![0], many.range![1] - 1)
    expect(many.bits).to.have.length(32)
  })

  it('cuts the end off, all of a small file, and refuses a missing or empty one with the reason', () => {
    const file = path.join(dir, 'node.db-wal')
    fs.writeFileSync(file, Buffer.alloc(10_000, 1))
    expect(corruptFile(file, {truncate: 4096})).to.deep.equal({file, bytes_before: 10_000, bytes_after: 5904, cut: 4096})
    expect(fs.statSync(file).size).to.equal(5904)
    expect(corruptFile(file, {truncate: 1_000_000}).bytes_after).to.equal(0)
    expect(() => corruptFile(file, {bitflip: 1})).to.throw(/is empty: nothing to damage/)
    expect(() => corruptFile(path.join(dir, 'nope'), {truncate: 1})).to.throw(/cannot be read: ENOENT/)
    expect(targetPath('/d', 'db')).to.equal(path.join('/d', 'node.db'))
    expect(targetPath('/d', 'wal')).to.equal(path.join('/d', 'node.db-wal'))
  })

  it("the data dir's marker: the first finding stays, and one that does not read as a marker still means corrupt", () => {
    expect(readCorruptMarker(dir)).to.equal(null)
    const first = {file: '/d/node.db', reason: 'entry 7', detected_at: '2026-01-01T00:00:00.000Z', node_index: 1}
    expect(writeCorruptMarker(dir, first)).to.deep.equal(first)
    expect(writeCorruptMarker(dir, {...first, reason: 'later'})).to.deep.equal(first)
    expect(readCorruptMarker(dir)).to.deep.equal(first)
    for (const junk of ['{"file": 3}', 'not json', '\u0000'.repeat(100), JSON.stringify({...first, node_index: -1, reason: 'x'.repeat(10_000)})]) {
      fs.writeFileSync(markerPath(dir), junk)
      const read = readCorruptMarker(dir)!
      expect(read, junk.slice(0, 20)).to.not.equal(null)
      expect(read.reason.length).to.be.at.most(4096)
      expect(read.node_index).to.equal(null)
    }
  })
})

describe('disk corruption: the WAL check', () => {
  let dir: string

  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-wal-check-'))))
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  /** A copy of a live WAL of `transactions` committed transactions, one 4 KiB page each, and the frame size. */
  let made = 0
  function walOf(transactions: number): {file: string; frame: number} {
    const name = `live-${++made}`
    const db = new Database(path.join(dir, `${name}.db`))
    db.pragma('journal_mode = WAL')
    db.pragma('wal_autocheckpoint = 0')
    db.exec('CREATE TABLE t (x BLOB)')
    for (let i = 0; i < transactions; i++) db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(3000, i))
    const file = path.join(dir, `${name}-copy.db-wal`)
    fs.copyFileSync(path.join(dir, `${name}.db-wal`), file)
    const frame = 24 + Number(db.pragma('page_size', {simple: true}))
    db.close()
    return {file, frame}
  }

  it('passes a sound WAL, a missing one, and a torn last transaction (a power cut mid-write)', () => {
    const {file, frame} = walOf(6)
    expect(walProblem(file)).to.equal(null)
    expect(walProblem(path.join(dir, 'none-wal'))).to.equal(null)
    const size = fs.statSync(file).size
    // The last frame's page damaged: what a torn write leaves; SQLite drops it, and nothing after it was committed.
    flipBitAt(file, size - 100)
    expect(walProblem(file)).to.equal(null)
    fs.truncateSync(file, size - Math.floor(frame / 2))
    expect(walProblem(file)).to.equal(null)
  })

  it('finds a damaged frame that committed transactions follow, and a damaged header', () => {
    const {file, frame} = walOf(6)
    flipBitAt(file, 32 + 2 * frame + 24 + 500, 3)
    expect(walProblem(file)).to.match(/WAL frame \d+ is damaged, and frame \d+, after it, ends a committed transaction/)
    const other = walOf(3).file
    flipBitAt(other, 17)
    expect(walProblem(other)).to.match(/the WAL header fails its checksum/)
    fs.writeFileSync(other, Buffer.alloc(5000, 7))
    expect(walProblem(other)).to.match(/not a WAL header/)
  })
})

describe('disk corruption: the truncation check', function () {
  // The killed writers are processes of their own (tsx starts in a second or two on a busy host).
  this.timeout(180_000)
  let dir: string

  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-truncation-'))))
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  /** The check as the node runs it before SQLite opens the file. */
  const check = (file: string): string | null => truncationProblem(file, inspectWal(`${file}-wal`).committed)

  /** What SQLite makes of the file: quick_check's answer and the rows of t. */
  function opened(file: string): {quick: unknown; rows: number} {
    const db = new Database(file)
    try {
      return {quick: db.pragma('quick_check', {simple: true}), rows: (db.prepare('SELECT count(*) AS n FROM t').get() as {n: number}).n}
    } finally {
      db.close()
    }
  }

  /**
   * A database of `base` rows in its main file and `more` rows only in its WAL (one page each),
   * copied as it is on disk while its connection is open (closing would checkpoint it).
   */
  function withWal(base: number, more: number): {file: string; pageSize: number} {
    const live = path.join(dir, 'live.db')
    const db = new Database(live)
    db.pragma('journal_mode = WAL')
    db.exec('CREATE TABLE t (x BLOB)')
    const insert = db.prepare('INSERT INTO t VALUES (?)')
    for (let i = 0; i < base; i++) insert.run(Buffer.alloc(3000, i))
    db.pragma('wal_checkpoint(TRUNCATE)')
    db.pragma('wal_autocheckpoint = 0')
    for (let i = 0; i < more; i++) insert.run(Buffer.alloc(3000, i))
    const file = path.join(dir, 'copy.db')
    fs.copyFileSync(live, file)
    fs.copyFileSync(`${live}-wal`, `${file}-wal`)
    const pageSize = Number(db.pragma('page_size', {simple: true}))
    db.close()
    return {file, pageSize}
  }

  it('passes a new database, one whose newest pages are in the WAL, and a file a kill left mid-checkpoint', () => {
    const fresh = path.join(dir, 'fresh.db')
    const db = new Database(fresh)
    db.pragma('journal_mode = WAL')
    migrate(db, MIGRATIONS)
    expect(check(fresh), 'open').to.equal(null)
    db.close()
    expect(check(fresh), 'closed').to.equal(null)
    expect(check(path.join(dir, 'none.db')), 'no file').to.equal(null)

    const {file, pageSize} = withWal(20, 60)
    expect(check(file)).to.equal(null)
    // A checkpoint copies pages in ascending order: page 1 first, its header already naming the
    // larger database. Killed right after it, the file is shorter than its own valid header says,
    // and nothing is lost: every page it lacks is in the WAL.
    const baseSize = fs.statSync(file).size
    const wal = fs.readFileSync(`${file}-wal`)
    const latest = new Map<number, Buffer>()
    for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) latest.set(wal.readUInt32BE(at), wal.subarray(at + 24, at + 24 + pageSize))
    expect(latest.has(1), 'the WAL holds page 1').to.equal(true)
    const pages = [...latest.keys()].sort((a, b) => a - b)
    const copy = (upTo: number): void => {
      const fd = fs.openSync(file, 'r+')
      for (const page of pages.filter((p) => p <= upTo)) fs.writeSync(fd, latest.get(page)!, 0, pageSize, (page - 1) * pageSize)
      fs.closeSync(fd)
    }
    copy(1)
    const header = fs.readFileSync(file).subarray(0, 100)
    expect(header.readUInt32BE(92), 'the header page count is valid').to.equal(header.readUInt32BE(24))
    expect(header.readUInt32BE(28) * pageSize).to.be.greaterThan(fs.statSync(file).size)
    expect(check(file)).to.equal(null)
    // Killed halfway through the copy: longer, still short of its header.
    copy(pages[Math.floor(pages.length / 2)])
    expect(fs.statSync(file).size).to.be.greaterThan(baseSize)
    expect(check(file)).to.equal(null)
    // The main file cut back to before the checkpoint: the pages cut are all in the WAL, nothing lost.
    fs.truncateSync(file, baseSize)
    expect(check(file)).to.equal(null)
    expect(opened(file)).to.deep.equal({quick: 'ok', rows: 80})
  })

  it('finds a file cut short: past its valid header without a WAL, or past what the WAL holds', () => {
    const {file, pageSize} = withWal(40, 10)
    // Cut into the pages only the main file holds.
    fs.truncateSync(file, fs.statSync(file).size - 20 * pageSize)
    expect(check(file)).to.match(/the file is \d+ bytes, \d+ whole pages of 4096 bytes, but the WAL's last committed transaction makes the database \d+ pages, and \d+ of the pages past its end \(the first: page \d+\) are not in the WAL either: the file was cut short/)

    const plain = path.join(dir, 'plain.db')
    const db = new Database(plain)
    db.pragma('journal_mode = WAL')
    db.exec('CREATE TABLE t (x BLOB)')
    for (let i = 0; i < 30; i++) db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(3000, i))
    db.close()
    expect(fs.existsSync(`${plain}-wal`), 'closed: no WAL').to.equal(false)
    expect(check(plain)).to.equal(null)
    const size = fs.statSync(plain).size
    fs.truncateSync(plain, size - 100)
    expect(check(plain)).to.match(/but its header's page count makes the database \d+ pages, and 1 of the pages past its end/)
    corruptFile(plain, {truncate: 3 * pageSize})
    expect(check(plain)).to.match(/and 4 of the pages past its end/)
    // A header naming 2^32 - 1 pages (valid): counted, not walked.
    const fd = fs.openSync(plain, 'r+')
    const count = Buffer.alloc(4)
    count.writeUInt32BE(0xffff_ffff)
    fs.writeSync(fd, count, 0, 4, 28)
    fs.closeSync(fd)
    expect(check(plain)).to.match(/makes the database 4294967295 pages/)
    // Not a database at all, or empty: SQLite says so on opening; nothing to measure here.
    fs.writeFileSync(plain, Buffer.alloc(8192, 0x5a))
    expect(check(plain)).to.equal(null)
    fs.writeFileSync(plain, '')
    expect(check(plain)).to.equal(null)
  })

  it('passes a database written as the node writes it and killed mid-write, again and again', async () => {
    const file = path.join(dir, 'node.db')
    // Kills at different points of the checkpoint cycle (one every 20 writes).
    for (const writes of [3, 17, 25, 38, 41, 56]) {
      await writeUntilKilled(file, writes)
      expect(check(file), `after a kill at ${writes} writes`).to.equal(null)
    }
    const {quick, rows} = opened(file)
    expect(quick).to.equal('ok')
    expect(rows).to.be.at.least(180 * 50)
  })
})
