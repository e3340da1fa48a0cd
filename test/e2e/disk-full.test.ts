/**
 * A full disk, for real: one follower's data dir is a small tmpfs (mounting one needs root, as
 * CI runs; anyone else gets a failure that says so, never a skip). The follower comes back
 * behind the leader's compaction point with too little room to stage or install the snapshot:
 * it must stop non-zero with a line that says the disk is full, its node.db as it was; once
 * the tmpfs is bigger it starts, catches up by snapshot and holds what the leader holds. A full
 * disk while appending ordinary log entries stops a running follower the same way. The leader
 * and the other follower serve publishes throughout.
 */
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import {expect} from 'chai'
import type {BrokerClient} from '../../src/client/broker-client.js'
import {STAGING_FILE} from '../../src/storage/state-tables.js'
import {admin, TestCluster, type StoredMessage} from './helpers/cluster.js'
import {eventually, nodeFixture, sleep, tempDir, type NodeProcess} from './helpers/node-process.js'
import {closeAllClients, connectClient, publishMany} from './helpers/publishing.js'

const MiB = 1024 * 1024
/** Log lines of a node that stopped on a full disk: ours, then SQLite's own words. */
const DISK_FULL_LINE = /the disk is full/
const SQLITE_FULL_TEXT = /SQLITE_FULL|database or disk is full/
const BODY_BYTES = 1000
const TOPIC = 'fill'
const EXIT_TIMEOUT_MS = 60_000
const CATCH_UP_TIMEOUT_MS = 60_000
/** The node on the tmpfs, kept a follower. */
const FOLLOWER = 2

/** Mounting a file system needs root; this test must never pass by doing nothing. */
function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('test/e2e/disk-full.test.ts needs root: it mounts a small tmpfs to fill a disk for real (CI runs as root; run it with sudo)')
  }
}

/** A tmpfs mounted on a directory of its own temp dir, resized in place, unmounted by that path only. */
class Tmpfs {
  private mounted = false

  private constructor(
    readonly parent: string,
    readonly dir: string,
  ) {}

  static mount(bytes: number): Tmpfs {
    const parent = tempDir('pad-disk-full-')
    const disk = new Tmpfs(parent, path.join(parent, 'disk'))
    try {
      fs.mkdirSync(disk.dir, {mode: 0o700})
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', disk.dir], {timeout: 10_000, stdio: 'pipe'})
    } catch (error) {
      fs.rmSync(parent, {recursive: true, force: true})
      throw new Error(`cannot mount a tmpfs on ${disk.dir}: ${(error as Error).message}`)
    }
    disk.mounted = true
    return disk
  }

  /** A new size; smaller than what it holds fails (the kernel refuses). */
  resize(bytes: number): void {
    execFileSync('mount', ['-o', `remount,size=${bytes}`, this.dir], {timeout: 10_000})
  }

  get usedBytes(): number {
    const s = fs.statfsSync(this.dir)
    return (s.blocks - s.bfree) * s.bsize
  }

  /** Unmounts (lazily if something still holds it) and removes the temp dir. */
  unmount(): void {
    if (this.mounted) {
      try {
        execFileSync('umount', [this.dir], {timeout: 10_000, stdio: 'pipe'})
      } catch {
        execFileSync('umount', ['-l', this.dir], {timeout: 10_000, stdio: 'pipe'})
      }
      this.mounted = false
    }
    fs.rmSync(this.parent, {recursive: true, force: true})
  }
}

/** What a node's database holds, read with a read-only connection while the node is down. */
interface StoredState {
  integrity: string
  applied: number
  messages: number
  rows: unknown[]
}

function readState(dataDir: string): StoredState {
  const db = new Database(path.join(dataDir, 'node.db'), {readonly: true, fileMustExist: true})
  try {
    return {
      integrity: String(db.pragma('integrity_check', {simple: true})),
      applied: Number(db.prepare('SELECT last_index FROM applied').pluck().get() ?? 0),
      messages: Number(db.prepare('SELECT count(*) FROM messages').pluck().get()),
      rows: db.prepare('SELECT raft_index, topic, offset, body FROM messages ORDER BY raft_index').raw(true).all(),
    }
  } finally {
    db.close()
  }
}

/** Bytes of a running node's state (every b-tree but the log's), what a snapshot of it stages about as much of. */
function stateBytes(dataDir: string): number {
  const db = new Database(path.join(dataDir, 'node.db'), {readonly: true, fileMustExist: true})
  try {
    return Number(db.prepare("SELECT sum(pgsize) FROM dbstat WHERE name <> 'raft_log'").pluck().get())
  } finally {
    db.close()
  }
}

function body(n: number): string {
  return JSON.stringify({n, pad: 'x'.repeat(BODY_BYTES)})
}

/**
 * Publishes to `client` one small batch at a time until stopped (and at most `maxBatches`
 * batches): every publish must be acknowledged, which is what "the cluster keeps serving" means.
 */
class SteadyPublisher {
  acked = 0
  private stopped = false
  private readonly done: Promise<void>

  constructor(client: BrokerClient, firstN: number, maxBatches = 2000) {
    this.done = (async () => {
      for (let batch = 0; batch < maxBatches && !this.stopped; batch++) {
        const acks = await publishMany(client, 10, (i) => ({topic: TOPIC, body: body(firstN + this.acked + i)}), 10)
        this.acked += acks.length
        await sleep(50)
      }
    })()
  }

  /** Stops, and rethrows the first publish that failed. */
  async stop(): Promise<number> {
    this.stopped = true
    await this.done
    return this.acked
  }
}

describe('a full disk (a real tmpfs) stops a node with its state intact; it catches up once space returns', function () {
  this.timeout(300_000)
  const fixture = nodeFixture('each')
  let disk: Tmpfs | null = null
  const unmount = (): void => {
    closeAllClients()
    disk?.unmount()
    disk = null
  }
  // Registered after nodeFixture's hooks, so it runs once the nodes are stopped; `after` too, in
  // case a failed hook kept it from running.
  afterEach(unmount)
  after(unmount)

  async function waitFailedExit(node: NodeProcess): Promise<void> {
    const exit = await node.waitExit(EXIT_TIMEOUT_MS)
    expect(exit, `the node did not stop within ${EXIT_TIMEOUT_MS} ms of its disk filling:\n${node.output}`).to.not.equal(null)
    expect(exit!.signal, node.output).to.equal(null)
    expect(exit!.code, node.output).to.not.equal(0)
    const line = node.output.split('\n').find((l) => DISK_FULL_LINE.test(l))
    expect(line, `no line saying the disk is full:\n${node.output}`).to.be.a('string')
    expect(line).to.match(SQLITE_FULL_TEXT)
  }

  async function sameMessages(cluster: TestCluster, a: number, b: number): Promise<StoredMessage[]> {
    const [mine, theirs] = [await cluster.messages(a, TOPIC), await cluster.messages(b, TOPIC)]
    const key = (m: StoredMessage) => ({index: m.index, topic: m.topic, offset: m.offset, body: m.body})
    expect(mine.map(key)).to.deep.equal(theirs.map(key))
    return mine
  }

  /** Starts a cluster whose node 2 keeps its data on the tmpfs, and makes sure node 2 does not lead. */
  async function startCluster(args: string[]): Promise<{cluster: TestCluster; leader: number; client: BrokerClient}> {
    const cluster = await TestCluster.start(fixture, 3, args, [undefined, undefined, disk!.dir])
    let leader = await cluster.leader()
    if (leader === FOLLOWER) {
      await admin(cluster.node(leader), 'POST', '/admin/transfer-leader', {to: 0})
      leader = await eventually('node 0 to lead', async () => ((await cluster.leader(undefined, 5000)) === 0 ? 0 : undefined), 20_000, 200)
    }
    return {cluster, leader, client: await connectClient(cluster.node(leader))}
  }

  it('a follower with no room to stage or install a snapshot stops with its old state; with room it catches up by snapshot', async () => {
    requireRoot()
    disk = Tmpfs.mount(64 * MiB)
    const {cluster, leader, client} = await startCluster(['--snapshot-entries', '200', '--trailing-entries', '50'])
    await publishMany(client, 100, (n) => ({topic: TOPIC, body: body(n)}), 32)
    await cluster.converged()
    await cluster.stop(FOLLOWER)
    const before = readState(disk.dir)
    expect(before.integrity).to.equal('ok')
    expect(before.messages).to.equal(100)

    // A few MB while it is down: the leader compacts far past what the follower has.
    let published = 100
    await publishMany(client, 3000, (n) => ({topic: TOPIC, body: body(published + n)}), 64)
    published += 3000
    expect((await cluster.raft(leader)).first_index, "the leader compacted past the follower's log").to.be.above(before.applied + 1)

    /** Starts the follower with `room` bytes free on its disk: it must stop, on a full disk, with its state as before. */
    const failingStart = async (room: number, where: RegExp): Promise<void> => {
      disk!.resize(disk!.usedBytes + room)
      const steady = new SteadyPublisher(client, published)
      const node = await cluster.restart(FOLLOWER, false)
      await waitFailedExit(node)
      published += await steady.stop()
      expect(node.output, `room ${room} bytes, ${published} messages stored`).to.match(where)
      expect(fs.readdirSync(disk!.dir), 'staging is removed when the node stops').to.not.include(STAGING_FILE)
      expect(readState(disk!.dir)).to.deep.equal(before)
    }
    // Room for a third of the snapshot: staging it fills the disk.
    await failingStart(Math.round(stateBytes(cluster.dataDirs[leader]) / 3), /staging a snapshot failed/)
    // Room for the staged snapshot, but not for installing it as well (a transaction as big again in node.db's WAL).
    await failingStart(Math.round(stateBytes(cluster.dataDirs[leader]) * 1.5), /installing the snapshot at index \d+ failed and was rolled back/)

    // Space returns: it starts, installs a snapshot and catches up, while publishes go on.
    disk.resize(256 * MiB)
    const steady = new SteadyPublisher(client, published)
    await cluster.restart(FOLLOWER)
    const installed = await eventually(
      'the follower to install a snapshot',
      async () => {
        const raft = await cluster.raft(FOLLOWER)
        return raft.snapshots_installed >= 1 ? raft : undefined
      },
      CATCH_UP_TIMEOUT_MS,
      200,
    )
    published += await steady.stop()
    expect(installed.first_index).to.be.above(before.applied + 1)
    await cluster.converged(CATCH_UP_TIMEOUT_MS)
    expect(await sameMessages(cluster, FOLLOWER, leader)).to.have.length(published)
    await sameMessages(cluster, 3 - FOLLOWER - leader, leader)
  })

  it('a running follower whose disk fills while it appends log entries stops the same way; with room it catches up', async () => {
    requireRoot()
    disk = Tmpfs.mount(3 * MiB)
    const {cluster, leader, client} = await startCluster([])
    const node = cluster.node(FOLLOWER)
    // Each message is on disk twice (its log entry and its row): a few MB fill the tmpfs.
    let published = 0
    for (let batch = 0; batch < 100 && node.running; batch++) {
      await publishMany(client, 100, (i) => ({topic: TOPIC, body: body(published + i)}), 32)
      published += 100
    }
    await waitFailedExit(node)
    const stopped = readState(disk.dir)
    expect(stopped.integrity).to.equal('ok')
    // What it had applied is what the leader holds at those indexes.
    const theirs = await cluster.messages(leader, TOPIC)
    expect(stopped.rows).to.deep.equal(theirs.slice(0, stopped.messages).map((m) => [m.index, m.topic, m.offset, m.body]))

    // The leader and the other follower serve on; with room, the follower catches up.
    await publishMany(client, 100, (i) => ({topic: TOPIC, body: body(published + i)}), 32)
    published += 100
    disk.resize(64 * MiB)
    await cluster.restart(FOLLOWER)
    await cluster.converged(CATCH_UP_TIMEOUT_MS)
    expect(await sameMessages(cluster, FOLLOWER, leader)).to.have.length(published)
    await sameMessages(cluster, 3 - FOLLOWER - leader, leader)
  })
})
