/**
 * What a power cut leaves of a database the writer just created, on the lazy layer (which
 * drops every write not fsynced, and every create whose directory was not fsynced): the data
 * dir, the file and its first commit survive (the node fsyncs the parents of a data dir it
 * made, the writer the directory of a database it made; SQLite's own journal happens to sync
 * that directory too when a new database switches to WAL).
 * With unsafeNoFsync nothing is synced, and the cut takes it all: the flag really is the bug.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {expect} from 'chai'
import {prepareDataDir} from '../../src/broker/data-dir.js'
import {mountLazyFs, type LazyMount} from '../../src/cluster/lazy-fs.js'
import {DatabaseWriter} from '../../src/storage/database-writer.js'
import {truncationProblem} from '../../src/storage/truncation-check.js'
import {inspectWal} from '../../src/storage/wal-check.js'
import {requireLazyFs} from '../lazyfs/require-lazy-fs.js'
import {writeUntilKilled} from './helpers/killed-writer.js'

const MIGRATIONS = ['CREATE TABLE t (x INTEGER)']
const STATEMENTS = {ins: 'INSERT INTO t (x) VALUES (?)'}

describe('storage: a database created, then a power cut', function () {
  this.timeout(180_000)
  let tmp = ''
  let mount: LazyMount | null = null

  before(function () {
    requireLazyFs(this)
  })

  beforeEach(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-power-storage-'))
    mount = await mountLazyFs({backing: path.join(tmp, 'disk'), mountPoint: path.join(tmp, 'data')})
  })

  afterEach(async () => {
    await mount?.unmount()
    mount = null
    fs.rmSync(tmp, {recursive: true, force: true})
  })

  /** A data dir two levels below the mount, a database in it with one committed row, everything closed. */
  async function createAndCommit(unsafeNoFsync: boolean): Promise<string> {
    const dir = path.join(mount!.mountPoint, 'cluster', 'node-0')
    const lock = await prepareDataDir(dir, {syncCreated: !unsafeNoFsync})
    const file = path.join(dir, 'node.db')
    const writer = await DatabaseWriter.open({path: file, migrations: MIGRATIONS, statements: STATEMENTS, unsafeNoFsync})
    await writer.write([{stmt: 'ins', rows: [[42]]}])
    await writer.close()
    lock.release()
    return file
  }

  it('keeps the data dir, the database file and its commit', async () => {
    const file = await createAndCommit(false)
    await mount!.cut()
    expect(fs.existsSync(file), `${file} after the cut`).to.equal(true)
    const db = new Database(file, {readonly: true})
    try {
      expect(db.prepare('SELECT x FROM t').all()).to.deep.equal([{x: 42}])
    } finally {
      db.close()
    }
  })

  it('leaves no file shorter than the pages SQLite will read, after kills mid-write and cuts, again and again', async () => {
    const dir = path.join(mount!.mountPoint, 'node-0')
    fs.mkdirSync(dir)
    const file = path.join(dir, 'node.db')
    // Kills at different points of the checkpoint cycle (one every 20 writes), each followed by a cut.
    for (const writes of [3, 17, 25, 38, 41]) {
      await writeUntilKilled(file, writes)
      await mount!.cut()
      expect(truncationProblem(file, inspectWal(`${file}-wal`).committed), `after a kill at ${writes} writes and a cut`).to.equal(null)
    }
    const db = new Database(file, {readonly: true})
    try {
      expect(db.pragma('quick_check', {simple: true})).to.equal('ok')
    } finally {
      db.close()
    }
  })

  it('with unsafeNoFsync loses all of it, data dir included', async () => {
    await createAndCommit(true)
    const dropped = await mount!.cut()
    expect(dropped.entries).to.be.greaterThan(0)
    expect(fs.existsSync(path.join(mount!.mountPoint, 'cluster'))).to.equal(false)
  })
})
