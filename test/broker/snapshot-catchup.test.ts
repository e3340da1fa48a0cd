import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import {expect} from 'chai'
import {BrokerClient, type BrokerMessage} from '../../src/client/broker-client.js'
import {admin, type RaftInfo, type StoredMessage} from '../e2e/helpers/cluster.js'
import {HOST, eventually} from '../e2e/helpers/node-process.js'
import {encodeChunk, encodeSnapshotFrame, type SnapshotFrame} from '../../src/transport/snapshot-frames.js'
import {STATE_TABLES} from '../../src/storage/schema.js'
import {parseRetention} from '../../src/util/retention-spec.js'
import {InProcessCluster} from './helpers/in-process-cluster.js'

// Three nodes in this process compacting their logs after a few hundred entries: a follower that
// falls behind the compaction point catches up by a snapshot streamed from the leader.

const COMPACTION = {snapshotEntries: 200, trailingEntries: 50}
const clients: BrokerClient[] = []
let clusters: InProcessCluster[] = []

async function connect(cluster: InProcessCluster, index: number): Promise<BrokerClient> {
  const client = await BrokerClient.connect(HOST, cluster.ports[index].tcp)
  clients.push(client)
  return client
}

/** Publishes `count` messages on `topic` through `client`, 50 at a time; with `ids`, each with a dedup id. */
async function publishMany(client: BrokerClient, topic: string, from: number, count: number, ids = false): Promise<void> {
  for (let at = from; at < from + count; at += 50) {
    const batch: Promise<unknown>[] = []
    for (let n = at; n < Math.min(at + 50, from + count); n++) batch.push(client.publish({topic, body: JSON.stringify({n}), ...(ids ? {id: `${topic}-${n}`} : {})}))
    await Promise.all(batch)
  }
}

const rows = (messages: StoredMessage[]): string[] => messages.map((m) => `${m.index}|${m.topic}|${m.offset}|${m.body}`)

/** Every row of every state table of member `index`, as its database holds them now. */
function stateRows(cluster: InProcessCluster, index: number): Record<string, unknown[][]> {
  const db = new Database(path.join(cluster.dataDir(index), 'node.db'), {readonly: true})
  try {
    const out: Record<string, unknown[][]> = {}
    for (const table of STATE_TABLES) out[table] = db.prepare(`SELECT * FROM "${table}" ORDER BY 1`).raw(true).all() as unknown[][]
    return out
  } finally {
    db.close()
  }
}

/** Waits until every member's state tables hold the same rows (applied rows reach the disk a moment after they apply). */
async function identicalState(cluster: InProcessCluster): Promise<Record<string, unknown[][]>> {
  let last = ''
  return eventually(
    'every member to hold the same rows in every state table',
    () => {
      // Equal is not enough: every member may not have written its last applied rows yet.
      if ([0, 1, 2].some((i) => cluster.node(i).broker.store.pendingWrites > 0)) return undefined
      const states = [0, 1, 2].map((i) => JSON.stringify(stateRows(cluster, i)))
      last = states.map((s) => s.length).join(', ')
      return states.every((s) => s === states[0]) ? stateRows(cluster, 0) : undefined
    },
    10_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message} (state sizes ${last})`)
  })
}

/** The fields of the node's 'snapshot installed' lines. */
function installs(cluster: InProcessCluster, index: number): {index: number; base: number; rows: number}[] {
  return cluster
    .node(index)
    .lines.filter((line) => line.includes('snapshot installed'))
    .map((line) => JSON.parse(line) as {index: number; base: number; rows: number})
}

async function raftOf(cluster: InProcessCluster, index: number): Promise<RaftInfo> {
  return cluster.raft(index)
}

describe('snapshots: a follower behind the compaction point catches up by snapshot (in process)', function () {
  this.timeout(60_000)
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close()
    await Promise.all(clusters.map((c) => c.close()))
    clusters = []
  })

  it('a stopped follower, and one restarted on an empty data dir, install the leader snapshot and hold the same rows', async () => {
    const cluster = await InProcessCluster.start({compaction: COMPACTION})
    clusters.push(cluster)
    const leader = await cluster.leader(undefined, 5000)
    const [follower, other] = [0, 1, 2].filter((i) => i !== leader)
    const client = await connect(cluster, leader)
    await publishMany(client, 'a', 0, 300)
    await cluster.converged()
    await cluster.stop(follower)
    await publishMany(client, 'a', 300, 500)
    await publishMany(client, 'b', 0, 100)
    const before = await raftOf(cluster, leader)
    expect(before.first_index, 'the leader compacted past what the stopped follower has').to.be.above(300)
    await cluster.restart(follower)
    await cluster.converged(20_000)
    const caughtUp = await raftOf(cluster, follower)
    expect(caughtUp.snapshots_installed).to.be.at.least(1)
    expect((await raftOf(cluster, leader)).snapshots_sent).to.be.at.least(1)
    for (const i of [0, 1, 2]) expect((await raftOf(cluster, i)).first_index, `node ${i}`).to.be.above(1)
    for (const topic of ['a', 'b']) {
      const stored = await Promise.all([0, 1, 2].map(async (i) => rows(await cluster.messages(i, topic))))
      expect(stored[0]).to.have.length(topic === 'a' ? 800 : 100)
      expect(stored[1]).to.deep.equal(stored[0])
      expect(stored[2]).to.deep.equal(stored[0])
    }
    expect(installs(cluster, follower)[0].base, 'the stopped follower got only what it missed').to.be.above(0)
    await identicalState(cluster)

    // The other follower loses everything it had and starts empty. The leader still remembers how
    // far that member's log went (etcd's leader does too, and the member refuses a commit past its
    // empty log): a new leader, which probes every follower afresh, catches it up by snapshot.
    // The old leader goes first: its heartbeats would carry a commit index past the empty log,
    // which the member takes for a lost log (corrupt data, repaired only by a new member id).
    await cluster.stop(other)
    fs.rmSync(cluster.dataDir(other), {recursive: true, force: true})
    await publishMany(client, 'b', 100, 50)
    await cluster.stop(leader)
    await cluster.restart(other)
    await cluster.restart(leader)
    await cluster.converged(20_000)
    expect(cluster.corruptions).to.deep.equal([])
    expect((await raftOf(cluster, other)).snapshots_installed).to.equal(1)
    const b = await Promise.all([0, 1, 2].map(async (i) => rows(await cluster.messages(i, 'b'))))
    expect(b[0]).to.have.length(150)
    expect(b[1]).to.deep.equal(b[0])
    expect(b[2]).to.deep.equal(b[0])
    // The timeline says so.
    const installed = cluster.node(other).lines.filter((line) => line.includes('snapshot installed'))
    expect(installed).to.have.length(1)
    expect(installs(cluster, other)[0].base, 'the empty member got every row').to.equal(0)
    await identicalState(cluster)
  })

  it('a follower that holds most of the state gets only the rows it misses, and drops the rows retention trimmed meanwhile', async () => {
    const cluster = await InProcessCluster.start({compaction: COMPACTION, retention: parseRetention(['topic:r:max-messages=150'])})
    clusters.push(cluster)
    const leader = await cluster.leader(undefined, 5000)
    const follower = [0, 1, 2].find((i) => i !== leader)!
    const client = await connect(cluster, leader)
    await publishMany(client, 'r', 0, 300)
    await publishMany(client, 'k', 0, 200, true)
    const firstOffsetOfR = (): unknown => stateRows(cluster, leader).topics.find((row) => row[0] === 'r')?.[1]
    await eventually('retention to trim r to 150', () => (firstOffsetOfR() === 150 ? true : undefined), 10_000)
    await cluster.converged()
    const held = await identicalState(cluster)
    await cluster.stop(follower)
    // The follower holds r's offsets 150..299; while it is away the leader trims all of them.
    await publishMany(client, 'r', 300, 400)
    await publishMany(client, 'k', 200, 100, true)
    await publishMany(client, 'n', 0, 50)
    await eventually('retention to trim r to 150 again', () => (firstOffsetOfR() === 550 ? true : undefined), 10_000)
    expect((await raftOf(cluster, leader)).first_index, 'the leader compacted past what the stopped follower has').to.be.above(500)
    await cluster.restart(follower)
    await cluster.converged(20_000)
    const state = await identicalState(cluster)
    const [install] = installs(cluster, follower)
    expect(install, 'the follower installed a snapshot').to.not.equal(undefined)
    expect(install.base, 'over the state it held').to.be.above(500)
    // The snapshot is the leader's durable state at install.index: the entries after it came by the log.
    const missed = state.messages.filter((row) => (row[0] as number) > install.base && (row[0] as number) <= install.index).length
    expect(missed, 'some rows it held are kept').to.be.below(state.messages.length)
    expect(install.rows, 'only what it missed: the messages above its applied index, and the small tables whole').to.be.at.most(
      missed + state.topics.length + state.dedup_ids.length + state.retention_policy.length,
    )
    const r = state.messages.filter((row) => row[1] === 'r').map((row) => row[2])
    expect(r).to.deep.equal([...Array(150).keys()].map((n) => 550 + n))
    expect(state.messages.filter((row) => row[1] === 'k')).to.have.length(300)
    expect(state.messages.filter((row) => row[1] === 'n')).to.have.length(50)
    expect(state.topics.map((row) => row.slice(0, 3))).to.deep.equal([['k', 0, 300], ['n', 0, 50], ['r', 550, 700]])
    expect(state.retention_policy).to.have.length(1)
    expect(state.dedup_ids.map((row) => row[1])).to.deep.equal([...Array(300).keys()].map((n) => `k-${n}`))
    // What it held before is still there where the leader kept it, row for row.
    const keptK = held.messages.filter((row) => row[1] === 'k')
    expect(keptK).to.have.length(200)
    expect(state.messages.filter((row) => row[1] === 'k').slice(0, 200)).to.deep.equal(keptK)
  })

  it('a subscriber on a follower cut off and healed sees every message once, in order, across the install', async () => {
    const cluster = await InProcessCluster.start({compaction: COMPACTION})
    clusters.push(cluster)
    const leader = await cluster.leader(undefined, 5000)
    const follower = [0, 1, 2].find((i) => i !== leader)!
    const client = await connect(cluster, leader)
    await publishMany(client, 'feed', 0, 100)
    await cluster.converged()
    const received: BrokerMessage[] = []
    const subscriber = await connect(cluster, follower)
    await subscriber.subscribe(['feed'], 'beginning', (message) => void received.push(message))
    await eventually('the subscriber to read the history', () => (received.length >= 100 ? true : undefined), 10_000)
    for (const i of [0, 1, 2].filter((i) => i !== follower)) await admin(cluster.node(i), 'PUT', '/admin/faults', {peers: [follower], drop: true})
    await admin(cluster.node(follower), 'PUT', '/admin/faults', {drop: true})
    await publishMany(client, 'feed', 100, 600)
    await cluster.heal()
    await cluster.converged(20_000)
    expect((await raftOf(cluster, follower)).snapshots_installed).to.be.at.least(1)
    await eventually('the subscriber to get every message', () => (received.length >= 700 ? true : undefined), 10_000)
    expect(received.map((m) => m.offset)).to.deep.equal([...Array(700).keys()])
    expect(received.map((m) => m.body)).to.deep.equal([...Array(700).keys()].map((n) => JSON.stringify({n})))
  })

  it('POST /admin/snapshot compacts now, keeping the trailing window or none, and says where the log starts', async () => {
    const cluster = await InProcessCluster.start({compaction: {snapshotEntries: 100_000, trailingEntries: 10}})
    clusters.push(cluster)
    const leader = await cluster.leader(undefined, 5000)
    const client = await connect(cluster, leader)
    await publishMany(client, 'x', 0, 120)
    await cluster.converged()
    expect((await raftOf(cluster, leader)).first_index).to.equal(1)
    const applied = (await raftOf(cluster, leader)).last_applied
    const kept = (await admin(cluster.node(leader), 'POST', '/admin/snapshot')) as {snapshot_index: number; snapshot_term: number; first_index: number; disk_bytes: number}
    expect(kept.snapshot_index).to.equal(applied - 10)
    expect(kept.first_index).to.equal(applied - 9)
    expect(kept.snapshot_term).to.be.at.least(1)
    expect(kept.disk_bytes).to.be.above(0)
    const none = (await admin(cluster.node(leader), 'POST', '/admin/snapshot?trailing=0')) as {snapshot_index: number; first_index: number}
    expect(none.snapshot_index).to.equal(applied)
    const info = await raftOf(cluster, leader)
    expect(info).to.include({snapshot_index: applied, first_index: applied + 1})
    for (const bad of ['-1', 'x', '1e3', '1000000000000']) {
      const error = await admin(cluster.node(leader), 'POST', `/admin/snapshot?trailing=${bad}`).then(
        () => null,
        (e: Error) => e.message,
      )
      expect(error, bad).to.match(/400.*trailing must be a whole number/)
    }
    // Still serving, and the log goes on after the compaction point.
    await publishMany(client, 'x', 120, 5)
    await cluster.converged()
    expect((await cluster.messages(leader, 'x')).length).to.equal(125)
  })

  it('forged snapshot frames (a non-leader, a bad checksum, out of order, unknown table) leave a follower unchanged and alive', async () => {
    const cluster = await InProcessCluster.start({compaction: COMPACTION})
    clusters.push(cluster)
    const leader = await cluster.leader(undefined, 5000)
    const [follower, bystander] = [0, 1, 2].filter((i) => i !== leader)
    const client = await connect(cluster, leader)
    await publishMany(client, 'f', 0, 20)
    await cluster.converged()
    const before = rows(await cluster.messages(follower, 'f'))
    const term = (await raftOf(cluster, leader)).current_term
    const send = (from: number, frame: SnapshotFrame | {kind: 'chunk'; payload: Buffer}): void => {
      const payload = 'payload' in frame ? frame.payload : encodeSnapshotFrame(frame)
      cluster.node(from).broker.transport.sendSnapshot(follower, frame.kind, payload)
    }
    const begin = (stream: number): SnapshotFrame => ({kind: 'begin', stream, leaderTerm: term, index: 10_000, term, membership: {voters: [0, 1, 2], learners: []}})
    const plan = (stream: number, base = 0): SnapshotFrame => ({kind: 'plan', stream, base})
    const tables = STATE_TABLES.map((name) => ({name, rows: name === 'messages' ? 1 : 0}))
    const forged = [message(1, 'forged')]
    // A member that does not lead.
    send(bystander, begin(1))
    send(bystander, plan(1))
    send(bystander, {kind: 'chunk', payload: encodeChunk(1, 0, 'messages', forged).payload})
    send(bystander, {kind: 'end', stream: 1, chunks: 1, tables, digest: Buffer.alloc(32)})
    // The leader's link, but an old term, a corrupt chunk, a chunk out of order, a table not in the state.
    send(leader, {...begin(2), leaderTerm: term - 1} as SnapshotFrame)
    send(leader, begin(3))
    send(leader, plan(3))
    const corrupt = encodeChunk(3, 0, 'messages', forged).payload
    corrupt[20] ^= 1
    send(leader, {kind: 'chunk', payload: corrupt})
    send(leader, begin(4))
    send(leader, plan(4))
    send(leader, {kind: 'chunk', payload: encodeChunk(4, 1, 'messages', forged).payload})
    send(leader, begin(5))
    send(leader, plan(5))
    send(leader, {kind: 'chunk', payload: encodeChunk(5, 0, 'raft_state', [[1, 99, null, 10_000]]).payload})
    send(leader, begin(6))
    send(leader, plan(6))
    send(leader, {kind: 'chunk', payload: encodeChunk(6, 0, 'messages', forged).payload})
    send(leader, {kind: 'end', stream: 6, chunks: 1, tables: [...tables, {name: 'raft_log', rows: 1}], digest: Buffer.alloc(32)})
    // Rows the follower holds already (at or below the base), a base above what it holds, no plan at all.
    send(leader, begin(7))
    send(leader, plan(7, 5))
    send(leader, {kind: 'chunk', payload: encodeChunk(7, 0, 'messages', [message(3, 'forged')]).payload})
    send(leader, begin(8))
    send(leader, plan(8, 9_999))
    send(leader, begin(9))
    send(leader, {kind: 'chunk', payload: encodeChunk(9, 0, 'messages', forged).payload})
    await eventually('the refusals to be logged', () => (cluster.node(follower).lines.filter((l) => l.includes('refusing a snapshot frame')).length > 0 ? true : undefined), 5000)
    await new Promise((resolve) => setTimeout(resolve, 200))
    const info = await raftOf(cluster, follower)
    expect(info.snapshots_installed).to.equal(0)
    expect(info.first_index).to.equal(1)
    expect(rows(await cluster.messages(follower, 'f'))).to.deep.equal(before)
    const refusals = cluster.node(follower).lines.filter((l) => l.includes('refusing a snapshot frame')).join('\n')
    expect(refusals).to.match(/is not the leader of our term/)
    // Still a working member.
    await publishMany(client, 'f', 20, 5)
    await cluster.converged()
    expect(rows(await cluster.messages(follower, 'f'))).to.have.length(25)
  })
})

function message(index: number, body: string): (string | number | null)[] {
  return [index, 'f', 0, 'RAW', body, 1_700_000_000_000, null]
}
