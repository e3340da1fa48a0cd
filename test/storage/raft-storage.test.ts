import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {CompactedError, decodeMembership, encodeMembership, UnavailableError, type Entry} from '../../src/raft/index.js'
import {DatabaseWriter} from '../../src/storage/database-writer.js'
import {RaftStorage} from '../../src/storage/raft-storage.js'
import {MIGRATIONS, STATEMENTS} from '../../src/storage/schema.js'
import {snapshotStatements, STAGING_FILE, STAGING_SCHEMA, stagingSetupSql} from '../../src/storage/state-tables.js'
import {appendEntriesOp, compactLogOps, hardStateOp, installSnapshotOps} from '../../src/storage/schema-rows.js'
import {StoreReader, storedMembership} from '../../src/storage/store-reader.js'

const entry = (index: number, term: number, text = `e${index}`): Entry => ({index, term, type: 'normal', data: Buffer.from(text)})

describe('RaftStorage: the core view of the durable log', () => {
  let dir: string
  let writer: DatabaseWriter
  let reader: StoreReader

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-raft-storage-'))
    const dbPath = path.join(dir, 'node.db')
    writer = await DatabaseWriter.open({
      path: dbPath,
      migrations: MIGRATIONS,
      statements: {...STATEMENTS, ...snapshotStatements()},
      attach: {schema: STAGING_SCHEMA, path: path.join(dir, STAGING_FILE), setupSql: stagingSetupSql()},
    })
    reader = new StoreReader(dbPath)
  })

  afterEach(async () => {
    reader.close()
    await writer.close()
    fs.rmSync(dir, {recursive: true, force: true})
  })

  async function persist(entries: Entry[], hardState = {term: 0, vote: null as number | null, commit: 0}): Promise<void> {
    await writer.write([
      appendEntriesOp(entries),
      hardStateOp(hardState),
    ])
  }

  it('starts empty for a fresh node: term 0, no vote, index 0 has term 0', () => {
    const storage = new RaftStorage(reader, [0, 1, 2])
    expect(storage.initialState()).to.deep.equal({term: 0, vote: null, commit: 0})
    expect(storage.firstIndex()).to.equal(1)
    expect(storage.lastIndex()).to.equal(0)
    expect(storage.term(0)).to.equal(0)
    expect(() => storage.term(1)).to.throw(UnavailableError)
  })

  it('reloads terms, entries and hard state written before a restart', async () => {
    await persist([entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 3), entry(5, 3)], {term: 3, vote: 1, commit: 4})
    const storage = new RaftStorage(reader, [0, 1, 2])
    expect(storage.initialState()).to.deep.equal({term: 3, vote: 1, commit: 4})
    expect(storage.lastIndex()).to.equal(5)
    expect([1, 2, 3, 4, 5].map((i) => storage.term(i))).to.deep.equal([1, 1, 2, 3, 3])
    expect(storage.entries(2, 5, Infinity).map((e) => Buffer.from(e.data).toString())).to.deep.equal(['e2', 'e3', 'e4'])
  })

  it('never reports a commit index below what the state machine already applied', async () => {
    await persist([entry(1, 1), entry(2, 1), entry(3, 1)], {term: 1, vote: 0, commit: 1})
    await writer.write([{stmt: 'setApplied', rows: [[3]]}])
    expect(new RaftStorage(reader, [0, 1, 2]).initialState().commit).to.equal(3)
  })

  it('serves new entries from memory and old ones from the database, within maxBytes but at least one', async () => {
    await persist([entry(1, 1, 'aaaa'), entry(2, 1, 'bbbb')])
    const storage = new RaftStorage(reader, [0, 1, 2])
    storage.append([entry(3, 2, 'cccc'), entry(4, 2, 'dddd')])
    expect(storage.entries(1, 5, Infinity).map((e) => e.index)).to.deep.equal([1, 2, 3, 4])
    expect(storage.entries(1, 5, 9).map((e) => e.index)).to.deep.equal([1, 2])
    expect(storage.entries(3, 5, 1).map((e) => e.index)).to.deep.equal([3])
    expect(() => storage.entries(0, 2, Infinity)).to.throw(CompactedError)
    expect(() => storage.entries(1, 6, Infinity)).to.throw(UnavailableError)
  })

  it('overwrites a conflicting suffix: later terms replace the truncated ones', () => {
    const storage = new RaftStorage(reader, [0, 1, 2])
    storage.append([entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 2)])
    storage.append([entry(3, 3, 'new3')])
    expect(storage.lastIndex()).to.equal(3)
    expect([1, 2, 3].map((i) => storage.term(i))).to.deep.equal([1, 1, 3])
    expect(Buffer.from(storage.entries(3, 4, Infinity)[0].data).toString()).to.equal('new3')
    expect(() => storage.append([entry(9, 3)])).to.throw(/gap/)
  })

  it('keeps the term lookup right across many terms (binary search over runs)', () => {
    const storage = new RaftStorage(reader, [0, 1, 2])
    const entries: Entry[] = []
    for (let i = 1; i <= 1000; i++) entries.push(entry(i, Math.ceil(i / 7)))
    storage.append(entries)
    for (let i = 1; i <= 1000; i += 13) expect(storage.term(i)).to.equal(Math.ceil(i / 7))
  })

  it('compacts up to the durable applied index only; the log then starts after the compaction point, across a restart', async () => {
    await persist([entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2), entry(5, 3), entry(6, 3)], {term: 3, vote: 0, commit: 6})
    await writer.write([{stmt: 'setApplied', rows: [[5]]}])
    const storage = new RaftStorage(reader, [0, 1, 2])
    expect(storage.snapshot()).to.deep.equal({index: 5, term: 3, membership: {voters: [0, 1, 2], learners: []}})
    expect(() => storage.compact({index: 6, term: 3, membership: {voters: [0, 1, 2], learners: []}})).to.throw(/above the durable applied index 5/)
    await writer.write(compactLogOps({index: 3, term: 2, membership: {voters: [0, 1, 2], learners: []}}))
    storage.compact({index: 3, term: 2, membership: {voters: [0, 1, 2], learners: []}})
    const check = (s: RaftStorage): void => {
      expect(s.firstIndex()).to.equal(4)
      expect(s.lastIndex()).to.equal(6)
      expect(s.term(3), 'the compaction point keeps its term').to.equal(2)
      expect([4, 5, 6].map((i) => s.term(i))).to.deep.equal([2, 3, 3])
      expect(() => s.term(2)).to.throw(CompactedError)
      expect(() => s.entries(3, 5, Infinity)).to.throw(CompactedError)
      expect(s.entries(4, 7, Infinity).map((e) => e.index)).to.deep.equal([4, 5, 6])
      expect(s.snapshotPoint()).to.deep.equal({index: 3, term: 2, membership: {voters: [0, 1, 2], learners: []}})
    }
    check(storage)
    check(new RaftStorage(reader, [0, 1, 2]))
    // The point never moves back, on disk or here.
    await writer.write(compactLogOps({index: 2, term: 1, membership: {voters: [0, 1, 2], learners: []}}))
    storage.compact({index: 2, term: 1, membership: {voters: [0, 1, 2], learners: []}})
    check(storage)
    check(new RaftStorage(reader, [0, 1, 2]))
  })

  it('a snapshot and a compaction point carry the configuration as of their own index, not the old point\'s (#18)', async () => {
    const conf = (index: number, m: {voters: number[]; learners: number[]}): Entry => ({index, term: 1, type: 'conf', data: encodeMembership(m)})
    const three = {voters: [0, 1, 2], learners: []}
    const learner = {voters: [0, 1, 2], learners: [3]}
    const four = {voters: [0, 1, 2, 3], learners: []}
    await persist([conf(1, three), entry(2, 1), conf(3, learner), entry(4, 1), conf(5, four), entry(6, 1)], {term: 1, vote: 0, commit: 6})
    await writer.write([{stmt: 'setApplied', rows: [[4]]}])
    const check = (s: RaftStorage): void => {
      expect([0, 1, 2, 3, 4, 5, 6].map((i) => s.membershipAt(i))).to.deep.equal([three, three, three, learner, learner, four, four])
      expect(s.snapshot(), 'the durable applied index is 4: the learner is in').to.deep.equal({index: 4, term: 1, membership: learner})
    }
    const storage = new RaftStorage(reader, [0, 1, 2])
    check(storage)
    check(new RaftStorage(reader, [0, 1, 2]))
    await writer.write(compactLogOps({index: 3, term: 1, membership: storage.membershipAt(3)}))
    storage.compact({index: 3, term: 1, membership: storage.membershipAt(3)})
    for (const s of [storage, new RaftStorage(reader, [0, 1, 2])]) {
      expect(s.snapshotPoint().membership).to.deep.equal(learner)
      expect(s.membershipAt(5)).to.deep.equal(four)
      expect(() => s.membershipAt(2)).to.throw(/below the compaction point/)
    }
    // A new leader overwrote entry 5: its configuration is gone with it.
    storage.append([entry(5, 2)])
    expect(storage.membershipAt(6)).to.deep.equal(learner)
  })

  it('keeps a membership with learners and configuration entries across a restart; reads an old list of peers as voters', async () => {
    const membership = {voters: [0, 2, 3], learners: [5]}
    const conf: Entry = {index: 3, term: 2, type: 'conf', data: encodeMembership(membership)}
    await persist([entry(1, 1), entry(2, 1), conf, entry(4, 2)], {term: 2, vote: 0, commit: 4})
    await writer.write([{stmt: 'setApplied', rows: [[4]]}])
    await writer.write(compactLogOps({index: 2, term: 1, membership}))
    const s = new RaftStorage(reader, [0, 1, 2])
    expect(s.snapshotPoint().membership).to.deep.equal(membership)
    expect(s.entries(3, 4, Infinity)[0]).to.deep.include({type: 'conf'})
    expect(decodeMembership(s.entries(3, 4, Infinity)[0].data)).to.deep.equal(membership)
    // Before membership changes the column held a JSON list of voters.
    expect(storedMembership('[2,0,1]')).to.deep.equal({voters: [0, 1, 2], learners: []})
    expect(() => storedMembership('[0,0]')).to.throw(/not a membership/)
    expect(() => storedMembership('{"voters":[1],"learners":[1]}')).to.throw(/both voter and learner/)
  })

  it('after a snapshot is installed the log is empty and starts after it; appends follow it', async () => {
    await persist([entry(1, 1), entry(2, 1)], {term: 1, vote: 0, commit: 2})
    const storage = new RaftStorage(reader, [0, 1, 2])
    const meta = {index: 40, term: 4, membership: {voters: [0, 1, 2], learners: []}}
    await writer.write([...installSnapshotOps(meta), hardStateOp({term: 4, vote: null, commit: 40})])
    storage.applySnapshot(meta)
    for (const s of [storage, new RaftStorage(reader, [0, 1, 2])]) {
      expect(s.firstIndex()).to.equal(41)
      expect(s.lastIndex()).to.equal(40)
      expect(s.term(40)).to.equal(4)
      expect(() => s.term(39)).to.throw(CompactedError)
      expect(s.initialState().commit).to.equal(40)
      expect(s.snapshot()).to.deep.equal(meta)
    }
    storage.append([entry(41, 4), entry(42, 5)])
    expect([40, 41, 42].map((i) => storage.term(i))).to.deep.equal([4, 4, 5])
    expect(() => storage.append([entry(44, 5)])).to.throw(/gap/)
  })
})

