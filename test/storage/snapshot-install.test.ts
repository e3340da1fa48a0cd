import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {expect} from 'chai'
import {InProcessWriter} from '../../src/storage/in-process-writer.js'
import {MIGRATIONS, STATE_TABLES, STATEMENTS} from '../../src/storage/schema.js'
import {appendEntriesOp, hardStateOp, installSnapshotOps, insertMessagesOp, setAppliedOp, setTopicsOp} from '../../src/storage/schema-rows.js'
import {SnapshotSource} from '../../src/storage/snapshot-source.js'
import {clearStagedStatement, snapshotStatements, STAGING_FILE, STAGING_SCHEMA, stageStatement, stagingSetupSql, STATE_TABLE_INFO} from '../../src/storage/state-tables.js'
import type {SqlValue} from '../../src/storage/writer-protocol.js'

const message = (index: number, body = `m${index}`, topic = 't', offset = index - 1): SqlValue[] => [index, topic, offset, 'RAW', body, 1_700_000_000_000 + index, null]
const meta = {index: 500, term: 3, membership: {voters: [0, 1, 2], learners: []}}

describe('installing a snapshot: one transaction of the node database', () => {
  let dir: string
  let dbPath: string
  let writer: InProcessWriter

  async function open(extra: Record<string, string> = {}): Promise<InProcessWriter> {
    return InProcessWriter.open({
      path: dbPath,
      migrations: MIGRATIONS,
      statements: {...STATEMENTS, ...snapshotStatements(), ...extra},
      attach: {schema: STAGING_SCHEMA, path: path.join(dir, STAGING_FILE), setupSql: stagingSetupSql()},
    })
  }

  /** Everything a snapshot touches, as one comparable value. */
  function state(): unknown {
    const db = new Database(dbPath, {readonly: true})
    try {
      return {
        messages: db.prepare('SELECT * FROM messages ORDER BY raft_index').raw(true).all(),
        log: db.prepare('SELECT idx, term FROM raft_log ORDER BY idx').raw(true).all(),
        applied: db.prepare('SELECT last_index FROM applied').pluck().get(),
        snapshot: db.prepare('SELECT idx, term, peers FROM raft_snapshot').raw(true).all(),
      }
    } finally {
      db.close()
    }
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-snapshot-install-'))
    dbPath = path.join(dir, 'node.db')
    writer = await open()
    // The old state: ten messages, their log entries, applied 10.
    await writer.write([
      appendEntriesOp(Array.from({length: 10}, (_, i) => ({index: i + 1, term: 1, type: 'normal' as const, data: Buffer.from('e')}))),
      insertMessagesOp(Array.from({length: 10}, (_, i) => message(i + 1))),
      setAppliedOp(10),
      hardStateOp({term: 1, vote: 0, commit: 10}),
    ])
    // The staged snapshot: 200 messages of a longer history.
    await writer.write([{stmt: stageStatement('messages'), rows: Array.from({length: 200}, (_, i) => message(300 + i, 'x'.repeat(200)))}])
  })

  afterEach(async () => {
    await writer.close()
    fs.rmSync(dir, {recursive: true, force: true})
  })

  it('replaces the state tables, drops the log and sets the compaction point and applied index, all at once', async () => {
    await writer.write([...installSnapshotOps(meta), hardStateOp({term: 3, vote: null, commit: 500})])
    const after = state() as {messages: unknown[][]; log: unknown[]; applied: number; snapshot: unknown[]}
    expect(after.messages).to.have.length(200)
    expect(after.messages[0][0]).to.equal(300)
    expect(after.log).to.deep.equal([])
    expect(after.applied).to.equal(500)
    expect(after.snapshot).to.deep.equal([[500, 3, '{"voters":[0,1,2],"learners":[]}']])
  })

  it('over a base: keeps the rows up to it, less those the leader trimmed or whose topic is gone, and takes the staged rows above it', async () => {
    // Ours: t at offsets 0..9 (entries 1..10), and a topic "gone" the leader no longer has.
    await writer.write([
      insertMessagesOp([message(11, 'g', 'gone', 0)]),
      setTopicsOp([
        ['t', 0, 10, 100],
        ['gone', 0, 1, 10],
      ]),
      setAppliedOp(11),
    ])
    // The leader's, over base 9: t trimmed below offset 4, entries 10..20 (10 a row of ours above the base, redone).
    await writer.write([
      ...STATE_TABLE_INFO.map((t) => ({stmt: clearStagedStatement(t.name), rows: [[]]})),
      {stmt: stageStatement('messages'), rows: Array.from({length: 11}, (_, i) => message(10 + i, `leader${10 + i}`))},
      {stmt: stageStatement('topics'), rows: [['t', 4, 20, 160]]},
    ])
    await writer.write(installSnapshotOps({index: 20, term: 3, membership: {voters: [0, 1, 2], learners: []}}, 9))
    const after = state() as {messages: SqlValue[][]; applied: number}
    expect(after.messages).to.deep.equal([...Array.from({length: 5}, (_, i) => message(5 + i)), ...Array.from({length: 11}, (_, i) => message(10 + i, `leader${10 + i}`))])
    expect(after.applied).to.equal(20)
    const db = new Database(dbPath, {readonly: true})
    expect(db.prepare('SELECT * FROM topics').raw(true).all()).to.deep.equal([['t', 4, 20, 160]])
    db.close()
  })

  it('a leader streams only the rows of a delta table above the base, and whole tables whole', async () => {
    await writer.write([setTopicsOp([['t', 0, 10, 100]])])
    const source = new SnapshotSource(dbPath)
    try {
      expect(() => source.plan(11)).to.throw(Error, /base 11 is not in 0..10/)
      source.plan(7)
      expect(() => source.plan(0)).to.throw(Error, /planned already/)
      const chunks = []
      for (let chunk = source.nextChunk(1 << 20); chunk !== null; chunk = source.nextChunk(1 << 20)) chunks.push(chunk)
      expect(chunks).to.deep.equal([
        {table: 'messages', rows: [message(8), message(9), message(10)]},
        {table: 'topics', rows: [['t', 0, 10, 100]]},
      ])
      expect(source.streamed()).to.deep.equal(STATE_TABLES.map((table) => ({table, rows: table === 'messages' ? 3 : table === 'topics' ? 1 : 0})))
    } finally {
      source.close()
    }
  })

  it('staging keeps a small page cache and skips fsync (it never outlives its process)', () => {
    const db = new Database(':memory:')
    try {
      db.exec(`ATTACH DATABASE '${path.join(dir, 'probe.db')}' AS ${STAGING_SCHEMA}`)
      db.exec(stagingSetupSql())
      expect(db.pragma(`${STAGING_SCHEMA}.cache_size`, {simple: true})).to.equal(-1024)
      expect(db.pragma(`${STAGING_SCHEMA}.synchronous`, {simple: true})).to.equal(0)
      expect(db.pragma('main.cache_size', {simple: true}), 'the node database keeps its own').to.not.equal(-1024)
    } finally {
      db.close()
    }
  })

  it('a transaction that does not commit (the writer stops mid-way) leaves the old state whole', async () => {
    const before = state()
    const failed = await writer
      .write([...installSnapshotOps(meta), appendEntriesOp([{index: 501, term: 3, type: 'normal', data: Buffer.from('e')}]), {stmt: 'no such statement', rows: [[]]}])
      .then(() => null, (error: Error) => error)
    expect(failed?.message).to.match(/unknown statement/)
    expect(state()).to.deep.equal(before)
  })

  it('a full disk (SQLITE_FULL) fails the install with its code and leaves the old state whole', async () => {
    await writer.close()
    // Growing the database past its current size fails as a full disk would.
    writer = await open({fillDisk: 'PRAGMA main.max_page_count = 1'})
    const before = state()
    const failed = await writer.write([{stmt: 'fillDisk', rows: [[]]}, ...installSnapshotOps(meta)]).then(() => null, (error: Error & {code?: string}) => error)
    expect(failed?.code).to.equal('SQLITE_FULL')
    expect(state()).to.deep.equal(before)
  })

  it('a leader reads exactly the state of one applied index, in chunks, while the writer goes on', async () => {
    const source = new SnapshotSource(dbPath)
    try {
      expect(source.index).to.equal(10)
      // The test writes messages only: every other state table is there, empty.
      expect(() => source.nextChunk(100)).to.throw(Error, /not planned/)
      source.plan(0)
      await writer.write([insertMessagesOp([message(11)]), setAppliedOp(11)])
      const rows: unknown[][] = []
      for (let chunk = source.nextChunk(100); chunk !== null; chunk = source.nextChunk(100)) {
        expect(chunk.table).to.equal('messages')
        expect(chunk.rows.length).to.be.below(10)
        rows.push(...chunk.rows)
      }
      expect(rows).to.deep.equal(Array.from({length: 10}, (_, i) => message(i + 1)))
      expect(source.streamed()).to.deep.equal(STATE_TABLES.map((table) => ({table, rows: table === 'messages' ? 10 : 0})))
    } finally {
      source.close()
    }
    const next = new SnapshotSource(dbPath)
    expect(next.index).to.equal(11)
    next.close()
  })
})
