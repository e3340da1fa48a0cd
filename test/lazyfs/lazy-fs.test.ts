/**
 * The lazy file system on real mounts: what a cut drops (data not fsynced, namespace ops whose
 * directory was not fsynced) and what it keeps, SQLite through it, and its control socket
 * under abuse. Every test mounts in its own temp dir and unmounts in afterEach.
 */
import {spawn} from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {expect} from 'chai'
import {clearStaleMount, controlSocketPath, lazyFsSupport, mountLazyFs, type LazyMount} from '../../src/cluster/lazy-fs.js'
import {isAlive, waitForExit} from '../../src/cluster/process-util.js'
import {prng} from '../raft/helpers.js'
import {killWhen} from '../storage/helpers/killed-writer.js'

/** Writes `data` at `offset` (creating the file), fsyncing it when `sync`. */
function writeAt(file: string, data: string | Buffer, options: {offset?: number; sync?: boolean; flags?: string} = {}): void {
  const fd = fs.openSync(file, options.flags ?? (fs.existsSync(file) ? 'r+' : 'w'))
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data, 0, undefined, options.offset ?? 0)
    if (options.sync) fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

function fsyncPath(target: string): void {
  const fd = fs.openSync(target, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** A file whose content and name are durable: written, fsynced, its directory fsynced. */
function durableFile(file: string, data: string | Buffer): void {
  writeAt(file, data, {sync: true})
  fsyncPath(path.dirname(file))
}

/** One raw control connection: send lines, read answer lines, see whether the server closed it. */
class RawControl {
  private buffer = ''
  private closed = false
  private readonly socket: net.Socket
  private wake: (() => void) | undefined

  constructor(socketPath: string) {
    this.socket = net.connect(socketPath)
    this.socket.setEncoding('utf8')
    this.socket.on('data', (chunk: string) => {
      this.buffer += chunk
      this.wake?.()
    })
    this.socket.on('close', () => {
      this.closed = true
      this.wake?.()
    })
    this.socket.on('error', () => {})
  }

  send(text: string | Buffer): void {
    this.socket.write(text)
  }

  /** The next answer line, or 'closed' if the server closed the connection first. */
  async next(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const newline = this.buffer.indexOf('\n')
      if (newline !== -1) {
        const line = this.buffer.slice(0, newline)
        this.buffer = this.buffer.slice(newline + 1)
        return line
      }
      if (this.closed) return 'closed'
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    throw new Error('no answer from the control socket in time')
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Runs better-sqlite3 in a child process that commits `rows` rows, then waits to be killed. */
async function commitInChildThenKill(dbFile: string, synchronous: 'FULL' | 'OFF', rows: number): Promise<void> {
  const code = `
    const Database = require('better-sqlite3')
    const db = new Database(process.argv[1])
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = ' + process.argv[2])
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)')
    for (let i = 0; i < Number(process.argv[3]); i++) insert.run('row ' + i)
    process.stdout.write('done\\n')
    setInterval(() => {}, 1000)
  `
  const child = spawn(process.execPath, ['-e', code, dbFile, synchronous, String(rows)], {stdio: ['ignore', 'pipe', 'pipe']})
  await killWhen(child, (stdout) => stdout.includes('done\n'), 'the SQLite child did not finish its commits')
}

function countRows(dbFile: string): {rows: number; integrity: string} {
  const db = new Database(dbFile)
  try {
    const rows = (db.prepare('SELECT count(*) AS n FROM t').get() as {n: number}).n
    const integrity = db.pragma('integrity_check', {simple: true}) as string
    return {rows, integrity}
  } finally {
    db.close()
  }
}

describe('lazy file system (power-cut layer)', function () {
  this.timeout(90_000)
  let tmp: string
  let mount: LazyMount | undefined
  let mnt: string

  before(function () {
    const support = lazyFsSupport()
    if (support.ok) return
    if (process.env.PAD_CI === '1') throw new Error(`the lazy file system cannot run here: ${support.reason}`)
    console.log(`    skipped: the lazy file system cannot run here: ${support.reason}`)
    this.skip()
  })

  beforeEach(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-lazyfs-'))
    mnt = path.join(tmp, 'mnt')
    mount = await mountLazyFs({backing: path.join(tmp, 'backing'), mountPoint: mnt, logFile: path.join(tmp, 'lazyfs.log')})
  })

  afterEach(async () => {
    await mount?.unmount()
    mount = undefined
    fs.rmSync(tmp, {recursive: true, force: true})
  })

  it('drops data written without fsync and restores the file size, even for a reader that cached it', async () => {
    const file = path.join(mnt, 'data')
    durableFile(file, 'durable')
    // 4 bytes overwritten inside the synced size, 11 beyond it: 15 bytes would be dropped.
    writeAt(file, 'LOST-and-longer', {offset: 3})
    expect(fs.readFileSync(file, 'utf8')).to.equal('durLOST-and-longer')
    expect(await mount!.pending()).to.deep.equal({files: 1, bytes: 15, entries: 0})
    const report = await mount!.cut()
    expect(report).to.deep.equal({files: 1, bytes: 15, entries: 0})
    expect(fs.statSync(file).size).to.equal(7)
    expect(fs.readFileSync(file, 'utf8')).to.equal('durable')
    expect(fs.readFileSync(path.join(tmp, 'backing', 'data'), 'utf8')).to.equal('durable')
    expect(await mount!.pending()).to.deep.equal({files: 0, bytes: 0, entries: 0})
  })

  it('keeps data written and fsynced', async () => {
    const file = path.join(mnt, 'data')
    durableFile(file, 'first')
    writeAt(file, 'second version', {sync: true})
    await mount!.cut()
    expect(fs.readFileSync(file, 'utf8')).to.equal('second version')
  })

  it('removes a created file whose directory was not fsynced, even if the file was', async () => {
    const file = path.join(mnt, 'fresh')
    writeAt(file, 'content', {sync: true})
    fs.mkdirSync(path.join(mnt, 'sub'))
    const report = await mount!.cut()
    expect(report.entries).to.equal(2)
    expect(fs.existsSync(file)).to.equal(false)
    expect(fs.existsSync(path.join(mnt, 'sub'))).to.equal(false)
    expect(fs.readdirSync(mnt)).to.deep.equal([])
  })

  it('keeps a created file once the file and its directory are fsynced', async () => {
    fs.mkdirSync(path.join(mnt, 'sub'))
    fsyncPath(mnt)
    const file = path.join(mnt, 'sub', 'fresh')
    durableFile(file, 'content')
    expect(await mount!.pending()).to.deep.equal({files: 0, bytes: 0, entries: 0})
    await mount!.cut()
    expect(fs.readFileSync(file, 'utf8')).to.equal('content')
  })

  it('undoes a rename whose directory was not fsynced, bringing back the target it overwrote', async () => {
    durableFile(path.join(mnt, 'a'), 'content of a')
    durableFile(path.join(mnt, 'b'), 'content of b')
    durableFile(path.join(mnt, 'c'), 'content of c')
    fs.renameSync(path.join(mnt, 'a'), path.join(mnt, 'b'))
    fs.renameSync(path.join(mnt, 'c'), path.join(mnt, 'd'))
    expect(fs.readdirSync(mnt).sort()).to.deep.equal(['b', 'd'])
    expect((await mount!.cut()).entries).to.equal(2)
    expect(fs.readdirSync(mnt).sort()).to.deep.equal(['a', 'b', 'c'])
    expect(fs.readFileSync(path.join(mnt, 'a'), 'utf8')).to.equal('content of a')
    expect(fs.readFileSync(path.join(mnt, 'b'), 'utf8')).to.equal('content of b')
    expect(fs.readFileSync(path.join(mnt, 'c'), 'utf8')).to.equal('content of c')
  })

  it('keeps a rename once its directory is fsynced', async () => {
    durableFile(path.join(mnt, 'a'), 'content of a')
    durableFile(path.join(mnt, 'b'), 'content of b')
    fs.renameSync(path.join(mnt, 'a'), path.join(mnt, 'b'))
    fsyncPath(mnt)
    await mount!.cut()
    expect(fs.readdirSync(mnt)).to.deep.equal(['b'])
    expect(fs.readFileSync(path.join(mnt, 'b'), 'utf8')).to.equal('content of a')
    // The overwritten file was kept aside only until the rename became durable.
    const stash = fs.readdirSync(path.join(tmp, 'backing')).filter((name) => name.startsWith('.lazyfs-stash'))
    expect(stash).to.have.length(1)
    expect(fs.readdirSync(path.join(tmp, 'backing', stash[0]!))).to.deep.equal([])
  })

  it('brings back a file unlinked without a directory fsync, and hides its stash from the mount', async () => {
    const file = path.join(mnt, 'victim')
    durableFile(file, 'still here')
    fs.unlinkSync(file)
    expect(fs.readdirSync(mnt)).to.deep.equal([])
    expect(await mount!.pending()).to.deep.equal({files: 0, bytes: 0, entries: 1})
    await mount!.cut()
    expect(fs.readFileSync(file, 'utf8')).to.equal('still here')
  })

  it('brings back a directory removed without a directory fsync, with its mode; unlink refuses a directory', async () => {
    const dir = path.join(mnt, 'empty')
    fs.mkdirSync(dir, {mode: 0o750})
    fsyncPath(mnt)
    expect(() => fs.unlinkSync(dir)).to.throw(/EISDIR|EPERM/)
    expect(() => fs.rmdirSync(path.join(mnt, 'none'))).to.throw(/ENOENT/)
    fs.rmdirSync(dir)
    expect(fs.existsSync(dir)).to.equal(false)
    expect(await mount!.pending()).to.deep.equal({files: 0, bytes: 0, entries: 1})
    await mount!.cut()
    expect(fs.statSync(dir).isDirectory()).to.equal(true)
    expect(fs.statSync(dir).mode & 0o777).to.equal(0o750)
    // Durable once its parent is fsynced: a cut leaves it removed.
    fs.rmdirSync(dir)
    fsyncPath(mnt)
    await mount!.cut()
    expect(fs.existsSync(dir)).to.equal(false)
  })

  it('forgets the unsynced data of a file once its removal is durable', async () => {
    const file = path.join(mnt, 'scratch')
    durableFile(file, 'x')
    writeAt(file, 'unsynced bytes')
    fs.unlinkSync(file)
    expect(await mount!.pending()).to.deep.equal({files: 1, bytes: 14, entries: 1})
    fsyncPath(mnt)
    expect(await mount!.pending()).to.deep.equal({files: 0, bytes: 0, entries: 0})
  })

  it('restores what a truncate, an O_TRUNC open and an ftruncate cut off', async () => {
    const big = Buffer.alloc(10_000, 'x')
    durableFile(path.join(mnt, 'truncated'), big)
    durableFile(path.join(mnt, 'reopened'), 'old content')
    durableFile(path.join(mnt, 'ftruncated'), 'abcdefgh')
    fs.truncateSync(path.join(mnt, 'truncated'), 100)
    writeAt(path.join(mnt, 'reopened'), 'new', {flags: 'w'})
    const fd = fs.openSync(path.join(mnt, 'ftruncated'), 'r+')
    fs.ftruncateSync(fd, 2)
    fs.ftruncateSync(fd, 20)
    fs.closeSync(fd)
    expect(fs.statSync(path.join(mnt, 'truncated')).size).to.equal(100)
    expect(fs.readFileSync(path.join(mnt, 'reopened'), 'utf8')).to.equal('new')
    await mount!.cut()
    expect(fs.readFileSync(path.join(mnt, 'truncated'))).to.deep.equal(big)
    expect(fs.readFileSync(path.join(mnt, 'reopened'), 'utf8')).to.equal('old content')
    expect(fs.readFileSync(path.join(mnt, 'ftruncated'), 'utf8')).to.equal('abcdefgh')
  })

  it('keeps the pending bytes of a range rewritten many times without fsync to that range', async () => {
    const file = path.join(mnt, 'shm-like')
    const original = Buffer.alloc(8192, 'o')
    durableFile(file, original)
    for (let i = 0; i < 1000; i++) writeAt(file, Buffer.alloc(4096, String(i % 10)))
    expect(await mount!.pending()).to.deep.equal({files: 1, bytes: 4096, entries: 0})
    await mount!.cut()
    expect(fs.readFileSync(file)).to.deep.equal(original)
  })

  it('restores the synced content exactly after random overlapping writes and truncates (seeded)', async () => {
    const random = prng(19)
    const int = (below: number): number => Math.floor(random() * below)
    const bytes = (n: number): Buffer => Buffer.from(Array.from({length: n}, () => int(256)))
    const file = path.join(mnt, 'fuzzed')
    for (let round = 0; round < 20; round++) {
      const original = bytes(int(40_000))
      writeAt(file, original, {flags: 'w', sync: true})
      fsyncPath(mnt)
      const fd = fs.openSync(file, 'r+')
      for (let op = 1 + int(30); op > 0; op--) {
        if (random() < 0.7) fs.writeSync(fd, bytes(1 + int(6000)), 0, undefined, int(50_000))
        else fs.ftruncateSync(fd, int(50_000))
      }
      fs.closeSync(fd)
      await mount!.cut()
      expect(fs.readFileSync(file).equals(original), `round ${round}`).to.equal(true)
    }
  })

  it('keeps SQLite commits made with synchronous=FULL through a SIGKILL and a cut', async () => {
    const dbFile = path.join(mnt, 'broker.db')
    setUpDatabase(dbFile)
    await commitInChildThenKill(dbFile, 'FULL', 50)
    await mount!.cut()
    expect(countRows(dbFile)).to.deep.equal({rows: 50, integrity: 'ok'})
  })

  it('loses SQLite commits made with synchronous=OFF on a cut, and the database stays sound', async () => {
    const dbFile = path.join(mnt, 'broker.db')
    setUpDatabase(dbFile)
    await commitInChildThenKill(dbFile, 'OFF', 50)
    const report = await mount!.cut()
    expect(report.bytes).to.be.greaterThan(0)
    expect(countRows(dbFile)).to.deep.equal({rows: 0, integrity: 'ok'})
  })

  it('torn cut: keeps a seeded whole-sector prefix of the last unsynced write, drops earlier unsynced writes, leaves fsynced data', async () => {
    const file = path.join(mnt, 'data')
    const synced = path.join(mnt, 'synced')
    const original = Buffer.alloc(8192, 'A')
    durableFile(synced, 'kept as is')
    const seen = new Map<number, number>()
    // The same seed twice: the same prefix (the generator is seeded, not the clock).
    for (const seed of [7, 7, 12345, Number.MAX_SAFE_INTEGER]) {
      durableFile(file, original)
      writeAt(file, Buffer.alloc(500, 'B'), {offset: 7000}) // earlier, unsynced: gone
      writeAt(file, Buffer.alloc(300, 'E'), {offset: 8192}) // earlier, past the synced end: gone
      writeAt(synced, 'rewritten and fsynced', {sync: true})
      const last = Buffer.from(Array.from({length: 4096}, (_, i) => 0x61 + (i % 26)))
      writeAt(file, last, {offset: 1024}) // the last write: torn
      const report = await mount!.cut({torn: true, seed})
      expect(report.torn?.count, `seed ${seed}`).to.equal(1)
      expect(report.torn?.files).to.have.length(1)
      const {path: name, kept} = report.torn!.files[0]
      expect(name).to.equal('data')
      expect(kept % 512, `seed ${seed}: ${kept} bytes kept`).to.equal(0)
      expect(kept).to.be.within(0, 4096)
      if (seen.has(seed)) expect(kept, `seed ${seed} again`).to.equal(seen.get(seed))
      seen.set(seed, kept)
      const expected = Buffer.from(original)
      last.copy(expected, 1024, 0, kept)
      expect(fs.readFileSync(file).equals(expected), `seed ${seed}: the prefix and the synced rest`).to.equal(true)
      expect(fs.readFileSync(synced, 'utf8')).to.equal('rewritten and fsynced')
    }
  })

  it('torn cut: the file grows as far as the kept prefix of an append needs; a plain cut answers as before', async () => {
    const file = path.join(mnt, 'log')
    durableFile(file, 'head')
    // Seeds until one keeps part of the append but not all (a bounded search, deterministic).
    let partial = false
    for (let seed = 1; seed <= 40 && !partial; seed++) {
      writeAt(file, Buffer.alloc(1000, 'x'), {offset: 4}) // 1000 bytes: the last sector is partial
      const report = await mount!.cut({torn: true, seed})
      const kept = report.torn!.files[0].kept
      expect([0, 512, 1000]).to.include(kept)
      expect(fs.statSync(file).size).to.equal(4 + kept)
      expect(fs.readFileSync(file, 'utf8')).to.equal('head' + 'x'.repeat(kept))
      partial = kept === 512
      // Back to the synced state for the next seed.
      fs.truncateSync(file, 4)
      fsyncPath(file)
    }
    expect(partial, 'some seed keeps one sector of two').to.equal(true)
    writeAt(file, 'more')
    expect(await mount!.cut()).to.deep.equal({files: 1, bytes: 4, entries: 0})
    expect(fs.readFileSync(file, 'utf8')).to.equal('head')
  })

  it('torn cut: a file created without a directory fsync is still removed, and not reported', async () => {
    writeAt(path.join(mnt, 'fresh'), Buffer.alloc(2048, 'f'))
    const report = await mount!.cut({torn: true, seed: 3})
    expect(report).to.deep.equal({files: 1, bytes: 2048, entries: 1, torn: {count: 0, files: []}})
    expect(fs.existsSync(path.join(mnt, 'fresh'))).to.equal(false)
  })

  it('keeps SQLite commits made with synchronous=FULL through 10 SIGKILLs and torn cuts', async () => {
    const dbFile = path.join(mnt, 'broker.db')
    setUpDatabase(dbFile)
    for (let round = 1; round <= 10; round++) {
      await commitInChildThenKill(dbFile, 'FULL', 20)
      await mount!.cut({torn: true, seed: round * 7919})
      expect(countRows(dbFile), `round ${round}`).to.deep.equal({rows: 20 * round, integrity: 'ok'})
    }
  })

  it('refuses a torn cut with a seed that is not a whole number from 0 to 2^53-1, before sending it', async () => {
    for (const seed of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, Infinity]) {
      await mount!.cut({torn: true, seed}).then(
        () => expect.fail(`seed ${seed} was accepted`),
        (error: Error) => expect(error.message).to.match(/seed must be a whole number/),
      )
    }
  })

  it('clears the mount a killed lazyfs left behind, and mounts again on what the backing dir holds', async () => {
    durableFile(path.join(mnt, 'kept'), 'on disk')
    process.kill(mount!.pid, 'SIGKILL')
    expect(await waitForExit(mount!.pid, 10_000)).to.equal(true)
    // The kernel says the daemon is gone with ENOTCONN, or ECONNABORTED when a request was in flight as it died.
    expect(() => fs.readdirSync(mnt)).to.throw(/ENOTCONN|ECONNABORTED/)
    await clearStaleMount(mnt)
    expect(mounted(fs.realpathSync(mnt))).to.equal(false)
    await clearStaleMount(mnt) // nothing mounted: a no-op
    mount = await mountLazyFs({backing: path.join(tmp, 'backing'), mountPoint: mnt, logFile: path.join(tmp, 'lazyfs.log')})
    expect(fs.readFileSync(path.join(mnt, 'kept'), 'utf8')).to.equal('on disk')
  })

  it('unmounts when the process that mounted it dies', async () => {
    await mount!.unmount()
    mount = undefined
    const wrapper = new URL('../../src/cluster/lazy-fs.ts', import.meta.url).href
    const code = `
      const {mountLazyFs} = await import(${JSON.stringify(wrapper)})
      const m = await mountLazyFs({backing: process.argv[1], mountPoint: process.argv[2]})
      process.stdout.write(m.pid + '\\n')
      setInterval(() => {}, 1000)
    `
    const owner = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, path.join(tmp, 'backing'), mnt], {stdio: ['ignore', 'pipe', 'pipe']})
    const ownerExit = new Promise<void>((resolve) => owner.once('exit', () => resolve()))
    let output = ''
    owner.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    owner.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const lazyPid = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the owner did not mount: ${output}`)), 30_000)
      owner.stdout.on('data', () => {
        const match = /^(\d+)\n/.exec(output)
        if (match) {
          clearTimeout(timer)
          resolve(Number(match[1]))
        }
      })
      owner.once('exit', () => {
        clearTimeout(timer)
        reject(new Error(`the owner exited: ${output}`))
      })
    })
    expect(isAlive(lazyPid)).to.equal(true)
    expect(mounted(fs.realpathSync(mnt))).to.equal(true)
    owner.kill('SIGKILL')
    await ownerExit
    expect(await waitForExit(lazyPid, 10_000)).to.equal(true)
    expect(mounted(fs.realpathSync(mnt))).to.equal(false)
  })

  it('answers garbage on the control socket with an error or by closing, and keeps serving', async () => {
    const socketPath = controlSocketPath(mnt)
    const raw = new RawControl(socketPath)
    raw.send('garbage\n')
    expect(await raw.next()).to.match(/^error /)
    raw.send(Buffer.from([0, 0xff, 0x1b, 0x0a]))
    expect(await raw.next()).to.match(/^error /)
    raw.send('cut now\n')
    expect(await raw.next()).to.match(/^error /)
    // Torn cuts: every malformed option is refused, and nothing is cut.
    writeAt(path.join(mnt, 'unsynced'), 'pending')
    for (const bad of ['cut torn', 'cut seed=1', 'cut torn seed=', 'cut torn seed=-1', 'cut torn seed=1x', 'cut torn seed=0x10', 'cut torn seed=1e3',
      'cut torn seed=9007199254740992', 'cut torn seed=99999999999999999999999999', 'cut torn torn seed=1', 'cut torn seed=1 seed=2', 'cut torn seed=1 now', 'cut\ttorn seed=1']) {
      raw.send(`${bad}\n`)
      expect(await raw.next(), bad).to.match(/^error /)
    }
    expect(await mount!.pending()).to.deep.equal({files: 1, bytes: 7, entries: 1})
    raw.send('cut seed=9007199254740991 torn\n')
    expect(await raw.next()).to.equal('ok files=1 bytes=7 entries=1 torn=0')
    raw.send('ping\n')
    expect(await raw.next()).to.equal('ok')
    raw.send('x'.repeat(300))
    expect(await raw.next()).to.equal('closed')
    raw.close()

    const silent = new RawControl(socketPath)
    silent.send('pending')
    silent.close()

    durableFile(path.join(mnt, 'after-abuse'), 'served')
    expect(fs.readFileSync(path.join(mnt, 'after-abuse'), 'utf8')).to.equal('served')
    expect(await mount!.pending()).to.deep.equal({files: 0, bytes: 0, entries: 0})
  })
})

/** True if something is mounted exactly at `target` (a path without symlinks). */
function mounted(target: string): boolean {
  return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some((line) => line.split(' ')[1] === target)
}

/** A WAL database with an empty table, made durable (the file fsynced, its directory too). */
function setUpDatabase(dbFile: string): void {
  const db = new Database(dbFile)
  db.pragma('journal_mode = WAL')
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)')
  db.close()
  fsyncPath(dbFile)
  fsyncPath(path.dirname(dbFile))
}
