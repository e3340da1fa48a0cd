import {spawn, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {DataDirError, prepareDataDir} from '../../src/broker/data-dir.js'

// The data dir lock: taken, refused while a live process holds it, taken over from a dead one.

describe('data dir lock', () => {
  let dir: string
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-datadir-'))))
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  it('is taken and released', async () => {
    const lock = await prepareDataDir(dir)
    expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')).to.equal(String(process.pid))
    lock.release()
    expect(fs.existsSync(path.join(dir, 'LOCK'))).to.equal(false)
  })

  it('takes over the lock of a process that is gone', async () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!
    fs.writeFileSync(path.join(dir, 'LOCK'), String(gone))
    const lock = await prepareDataDir(dir)
    expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')).to.equal(String(process.pid))
    lock.release()
  })

  it('waits a bounded time for a live holder, then refuses naming it; takes the lock if the holder ends in that time', async function () {
    this.timeout(20_000)
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {stdio: 'ignore'})
    try {
      fs.writeFileSync(path.join(dir, 'LOCK'), String(holder.pid))
      const refused = await prepareDataDir(dir).then(
        () => null,
        (error: unknown) => error,
      )
      expect(refused).to.be.instanceOf(DataDirError)
      expect((refused as Error).message).to.equal(`data dir ${dir} is in use by another node (pid ${holder.pid})`)
      const taking = prepareDataDir(dir)
      holder.kill('SIGKILL')
      const lock = await taking
      expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')).to.equal(String(process.pid))
      lock.release()
    } finally {
      holder.kill('SIGKILL')
    }
  })
})
