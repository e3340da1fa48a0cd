import fs from 'node:fs'
import {expect} from 'chai'
import {BrokerClient, type BrokerMessage} from '../../src/client/broker-client.js'
import {admin, type RaftInfo, type StoredMessage} from '../e2e/helpers/cluster.js'
import {HOST, eventually} from '../e2e/helpers/node-process.js'
import {encodeChunk, encodeSnapshotFrame, type SnapshotFrame} from '../../src/transport/snapshot-frames.js'
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

/** Publishes `count` messages on `topic` through `client`, 50 at a time. */
async function publishMany(client: BrokerClient, topic: string, from: number, count: number): Promise<void> {
  for (let at = from; at < from + count; at += 50) {
    const batch: Promise<unknown>[] = []
    for (let n = at; n < Math.min(at + 50, from + count); n++) batch.push(client.publish({topic, body: JSON.stringify({n})}))
    await Promise.all(batch)
  }
}

const rows = (messages: StoredMessage[]): string[] => messages.map((m) => `${m.index}|${m.topic}|${m.offset}|${m.body}`)

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

    // The other follower loses everything it had and starts empty. The leader still remembers how
    // far that member's log went (etcd's leader does too, and the member refuses a commit past its
    // empty log): a new leader, which probes every follower afresh, catches it up by snapshot.
    await cluster.stop(other)
    fs.rmSync(cluster.dataDir(other), {recursive: true, force: true})
    await publishMany(client, 'b', 100, 50)
    await cluster.restart(other)
    await cluster.stop(leader)
    await cluster.restart(leader)
    await cluster.converged(20_000)
    expect((await raftOf(cluster, other)).snapshots_installed).to.equal(1)
    const b = await Promise.all([0, 1, 2].map(async (i) => rows(await cluster.messages(i, 'b'))))
    expect(b[0]).to.have.length(150)
    expect(b[1]).to.deep.equal(b[0])
    expect(b[2]).to.deep.equal(b[0])
    // The timeline says so.
    const installed = cluster.node(other).lines.filter((line) => line.includes('snapshot installed'))
    expect(installed).to.have.length(1)
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
    const begin = (stream: number): SnapshotFrame => ({kind: 'begin', stream, leaderTerm: term, index: 10_000, term, peers: [0, 1, 2], tables: [{name: 'messages', rows: 1}]})
    const forged = [message(1, 'forged')]
    // A member that does not lead.
    send(bystander, begin(1))
    send(bystander, {kind: 'chunk', payload: encodeChunk(1, 0, 'messages', forged).payload})
    send(bystander, {kind: 'end', stream: 1, chunks: 1, digest: Buffer.alloc(32)})
    // The leader's link, but an old term, a corrupt chunk, a chunk out of order, a table not in the state.
    send(leader, {...begin(2), leaderTerm: term - 1} as SnapshotFrame)
    send(leader, begin(3))
    const corrupt = encodeChunk(3, 0, 'messages', forged).payload
    corrupt[20] ^= 1
    send(leader, {kind: 'chunk', payload: corrupt})
    send(leader, begin(4))
    send(leader, {kind: 'chunk', payload: encodeChunk(4, 1, 'messages', forged).payload})
    send(leader, begin(5))
    send(leader, {kind: 'chunk', payload: encodeChunk(5, 0, 'raft_state', [[1, 99, null, 10_000]]).payload})
    send(leader, {...begin(6), tables: [{name: 'messages', rows: 1}, {name: 'raft_log', rows: 1}]} as SnapshotFrame)
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
