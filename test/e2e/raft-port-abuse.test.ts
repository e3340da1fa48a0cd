import {expect} from 'chai'
import net from 'node:net'
import {encodeForward, encodeForwardResult} from '../../src/broker/forwarding.js'
import {encodePublish} from '../../src/broker/publish-command.js'
import type {Message} from '../../src/raft/index.js'
import {FRAME_KIND, FrameReader, frame} from '../../src/transport/frames.js'
import {encodeMessage} from '../../src/transport/message-codec.js'
import {encodeChunk, encodeSnapshotFrame, StreamDigest} from '../../src/transport/snapshot-frames.js'
import {decodeChallenge, encodeHello, newNonce, peerKey, type NodeCard} from '../../src/transport/peer-auth.js'
import {TOKEN, TestCluster, getJson} from './helpers/cluster.js'
import {closeAllClients, connectClient} from './helpers/publishing.js'
import {HOST, eventually, nodeFixture, sleep} from './helpers/node-process.js'

// A real three-node cluster, attacked on its Raft ports from this process. Elections are slow
// on purpose, so that the term and leader the tests compare do not move on a busy machine.
const HANDSHAKE_TIMEOUT_MS = 1500
const MAX_RAFT_CONNECTIONS = 6
const ARGS = ['--election-timeout', '1s', '--heartbeat', '100ms', '--handshake-timeout', `${HANDSHAKE_TIMEOUT_MS}ms`, '--max-raft-connections', String(MAX_RAFT_CONNECTIONS)]

interface RawConnection {
  socket: net.Socket
  frames: {kind: number; payload: Buffer}[]
  /** Milliseconds after connecting at which the node closed it; resolves once it has. */
  closed: Promise<number>
}

const open = new Set<net.Socket>()

function connectRaw(port: number): RawConnection {
  const began = Date.now()
  const socket = net.connect({host: HOST, port})
  open.add(socket)
  const frames: RawConnection['frames'] = []
  const reader = new FrameReader()
  socket.on('data', (chunk) => {
    try {
      reader.push(chunk, (kind, payload) => void frames.push({kind, payload: Buffer.from(payload)}))
    } catch {
      socket.destroy()
    }
  })
  socket.on('error', () => {})
  const closed = new Promise<number>((resolve) =>
    socket.once('close', () => {
      open.delete(socket)
      resolve(Date.now() - began)
    }),
  )
  return {socket, frames, closed}
}

/** Resolves with the close time, or null if the connection is still open after `ms`. */
async function closedWithin(connection: RawConnection, ms: number): Promise<number | null> {
  return Promise.race([connection.closed, sleep(ms).then(() => null)])
}

function publishCommand(topic: string): Uint8Array {
  return encodePublish({topic, format: 'JSON', body: '{"evil":true}', id: null, timestamp: Date.now()})
}

/** What a stranger would send to take over `target`, claiming to be member `from`. */
function forgeries(target: number, from: number): Buffer[] {
  const raft = (message: Message): Buffer => frame(FRAME_KIND.raft, encodeMessage(message))
  const entries = [1, 2, 3].map((i) => ({index: 1000 + i, term: 5, type: 'normal' as const, data: publishCommand('evil')}))
  return [
    raft({type: 'app', from, to: target, term: 5, logTerm: 5, index: 1000, commit: 1003, entries}),
    raft({type: 'vote', from, to: target, term: 1000, logTerm: 999, index: 1_000_000}),
    raft({type: 'heartbeat', from, to: target, term: 0xffff_ffff, commit: 1_000_000}),
    raft({type: 'timeoutNow', from, to: target, term: 7}),
    frame(FRAME_KIND.forward, encodeForward(1, publishCommand('evil'))),
    frame(FRAME_KIND.forward, Buffer.from('garbage that is not a publish')),
    frame(FRAME_KIND.forwardResult, encodeForwardResult(1, {ok: true, topic: 'evil', offset: 0, raftIndex: 1, term: 1})),
    ...snapshotForgeries(5),
  ]
}

/** A whole snapshot stream replacing the state with one evil message, as leader of `term`. */
function snapshotForgeries(term: number): Buffer[] {
  const chunk = encodeChunk(9, 0, 'messages', [[5000, 'evil', 0, 'JSON', '{"evil":true}', Date.now(), null]])
  const digest = new StreamDigest()
  digest.add(chunk.digest)
  return [
    frame(FRAME_KIND.snapshotBegin, encodeSnapshotFrame({kind: 'begin', stream: 9, leaderTerm: term, index: 5000, term, membership: {voters: [0, 1, 2], learners: []}})),
    frame(FRAME_KIND.snapshotPlan, encodeSnapshotFrame({kind: 'plan', stream: 9, base: 0})),
    frame(FRAME_KIND.snapshotChunk, chunk.payload),
    frame(FRAME_KIND.snapshotEnd, encodeSnapshotFrame({kind: 'end', stream: 9, chunks: 1, tables: [{name: 'messages', rows: 1}], digest: digest.digest()})),
    frame(FRAME_KIND.snapshotAck, encodeSnapshotFrame({kind: 'ack', stream: 9, seq: 0, ok: true})),
    frame(FRAME_KIND.snapshotHave, encodeSnapshotFrame({kind: 'have', stream: 9, applied: 4999})),
  ]
}

interface Snapshot {
  term: number
  leader: number | null
  commit: number
  stored: number
}

async function snapshot(cluster: TestCluster): Promise<Snapshot[]> {
  return Promise.all(
    [0, 1, 2].map(async (i) => {
      const raft = await cluster.raft(i)
      const stats = (await getJson(cluster.node(i), '/stats')) as {messages_stored: number}
      return {term: raft.current_term, leader: raft.leader_index, commit: raft.commit_index, stored: stats.messages_stored}
    }),
  )
}

/** Authenticates as member `as` to `target` with the cluster's secret; resolves with the connection once welcomed. */
async function authenticate(cluster: TestCluster, target: number, as: number): Promise<RawConnection> {
  const connection = connectRaw(cluster.ports[target].raft)
  await eventually('a challenge', () => (connection.frames.length >= 1 ? true : undefined), 3000, 10)
  const nonce = decodeChallenge(connection.frames[0].payload)
  if (typeof nonce === 'string') throw new Error(nonce)
  const name = ((await getJson(cluster.node(target), '/cluster')) as {cluster: string}).cluster
  const card: NodeCard = {index: as, node_id: `impostor-${as}`, host: HOST, raft_port: cluster.ports[as].raft, tcp_port: cluster.ports[as].tcp, http_port: cluster.ports[as].http, cluster: name}
  connection.socket.write(frame(FRAME_KIND.hello, encodeHello(peerKey(TOKEN), card, target, nonce, newNonce())))
  await eventually('a welcome', () => (connection.frames.some((f) => f.kind === FRAME_KIND.welcome) ? true : undefined), 3000, 10)
  return connection
}

describe('Raft port: strangers change nothing', function () {
  this.timeout(90_000)
  const fixture = nodeFixture('all')
  let cluster: TestCluster
  let leader: number

  before(async function () {
    this.timeout(60_000)
    cluster = await TestCluster.start(fixture, 3, ARGS)
    leader = await cluster.leader(undefined, 20_000)
    const client = await connectClient(cluster.node(leader))
    await client.publish({topic: 'good', body: '"before"'})
    await cluster.converged()
  })
  afterEach(() => {
    for (const socket of open) socket.destroy()
    open.clear()
    closeAllClients()
  })

  it('forged AppendEntries, votes, a heartbeat of term 0xFFFFFFFF, forwards, forward results and TimeoutNow: without a hello, or with a wrong secret', async () => {
    const before = await snapshot(cluster)
    for (const target of [0, 1, 2]) {
      const from = target === leader ? (leader + 1) % 3 : leader
      // No hello at all: every frame is thrown away and the connection closed.
      const bare = connectRaw(cluster.ports[target].raft)
      for (const data of forgeries(target, from)) bare.socket.write(data)
      expect(await closedWithin(bare, 3000), `node ${target} closes a connection without a hello`).to.not.equal(null)

      // A hello with the wrong secret, then the same frames.
      const wrong = connectRaw(cluster.ports[target].raft)
      await eventually('a challenge', () => (wrong.frames.length >= 1 ? true : undefined), 3000, 10)
      const nonce = decodeChallenge(wrong.frames[0].payload) as Buffer
      const card: NodeCard = {index: from, node_id: 'evil', host: HOST, raft_port: 3, tcp_port: 1, http_port: 2, cluster: 'default'}
      wrong.socket.write(frame(FRAME_KIND.hello, encodeHello(peerKey('not-the-cluster-secret'), card, target, nonce, newNonce())))
      for (const data of forgeries(target, from)) wrong.socket.write(data)
      expect(await closedWithin(wrong, 3000), `node ${target} closes a connection with a wrong secret`).to.not.equal(null)
      expect(wrong.frames.map((f) => f.kind)).to.deep.equal([FRAME_KIND.challenge])
    }
    await sleep(500)
    expect(cluster.running()).to.deep.equal([0, 1, 2])
    expect(await snapshot(cluster)).to.deep.equal(before)
    for (const target of [0, 1, 2]) {
      // One clear line per refused connection, naming why.
      const output = cluster.node(target).output
      expect(output.match(/refusing a Raft connection that sent frame kind \d+ before authenticating/g), `node ${target}`).to.have.length(1)
      expect(output.match(/refusing a Raft connection: wrong secret/g), `node ${target}`).to.have.length(1)
    }
    const members = ((await getJson(cluster.node(0), '/cluster')) as {members: {node_id: string; http_port: unknown}[]}).members
    for (const member of members) {
      expect(member.node_id).to.not.equal('evil')
      if (member.http_port !== null) expect(member.http_port).to.be.a('number')
    }
  })

  it('closes at once a connection that announces a 64 MiB frame before its hello', async () => {
    const connection = connectRaw(cluster.ports[leader].raft)
    const prefix = Buffer.alloc(4)
    prefix.writeUInt32LE(64 * 1024 * 1024)
    connection.socket.write(prefix)
    connection.socket.write(Buffer.alloc(64 * 1024, 0x41))
    const closedAfter = await closedWithin(connection, HANDSHAKE_TIMEOUT_MS)
    expect(closedAfter, 'closed before the handshake timeout').to.not.equal(null)
    expect(closedAfter!).to.be.below(HANDSHAKE_TIMEOUT_MS)
    expect(cluster.node(leader).running).to.equal(true)
  })

  it('closes a silent connection after the handshake timeout', async () => {
    const connection = connectRaw(cluster.ports[leader].raft)
    const closedAfter = await closedWithin(connection, HANDSHAKE_TIMEOUT_MS + 5000)
    expect(closedAfter).to.not.equal(null)
    expect(closedAfter!).to.be.within(HANDSHAKE_TIMEOUT_MS - 100, HANDSHAKE_TIMEOUT_MS + 5000)
    expect(connection.frames.map((f) => f.kind)).to.deep.equal([FRAME_KIND.challenge])
  })

  it('holds the connection cap: connections beyond it are closed at once, and the members keep theirs', async () => {
    const target = (leader + 1) % 3
    const connections = Array.from({length: MAX_RAFT_CONNECTIONS + 4}, () => connectRaw(cluster.ports[target].raft))
    await sleep(500)
    const closedEarly = (await Promise.all(connections.map((c) => closedWithin(c, 0)))).filter((t) => t !== null).length
    // Two of the cap are the other members' connections.
    expect(closedEarly).to.be.at.least(connections.length - (MAX_RAFT_CONNECTIONS - 2))
    const client = await connectClient(cluster.node(target))
    const ack = await client.publish({topic: 'good', body: '"during a flood"'})
    expect(ack.offset).to.be.a('number')
    for (const c of connections) c.socket.destroy()
  })

  it('garbage after an authenticated hello closes that connection only; the cluster keeps committing', async () => {
    const target = leader
    const as = (leader + 1) % 3
    const connection = await authenticate(cluster, target, as)
    connection.socket.write(Buffer.from([0x05, 0, 0, 0, 0x63, 1, 2, 3, 4]))
    connection.socket.write(Buffer.alloc(1024, 0xee))
    expect(await closedWithin(connection, 3000)).to.not.equal(null)
    const client = await connectClient(cluster.node(leader))
    for (let i = 0; i < 5; i++) await client.publish({topic: 'good', body: `{"after":${i}}`})
    await cluster.converged()
    const stored = await Promise.all([0, 1, 2].map((i) => cluster.messages(i, 'good')))
    expect(stored[1].map((m) => m.body)).to.deep.equal(stored[0].map((m) => m.body))
    expect(stored[2].map((m) => m.body)).to.deep.equal(stored[0].map((m) => m.body))
    expect(cluster.running()).to.deep.equal([0, 1, 2])
    // The impostor's card was taken while it was authenticated; the real member's replaces it when it reconnects.
    await eventually(
      'the real member to reconnect',
      async () => {
        const members = ((await getJson(cluster.node(target), '/cluster')) as {members: {index: number; node_id: string; connected: boolean}[]}).members
        return members[as].node_id.startsWith('impostor') ? undefined : true
      },
      10_000,
    )
  })

  it('a member that does not lead cannot install a snapshot; a malformed snapshot frame closes its connection only', async () => {
    const target = (leader + 1) % 3
    const as = (leader + 2) % 3
    const before = await snapshot(cluster)
    const connection = await authenticate(cluster, target, as)
    for (const forged of snapshotForgeries(before[target].term)) connection.socket.write(forged)
    await eventually('the refusal', () => (cluster.node(target).output.includes('refusing a snapshot frame') ? true : undefined), 5000)
    expect(cluster.node(target).output).to.match(/refusing a snapshot frame.*is not the leader of our term/)
    const raft = await cluster.raft(target)
    expect(raft.snapshots_installed).to.equal(0)
    expect((await cluster.messages(target, 'evil')).length).to.equal(0)
    // A chunk cut short is no frame of ours: that connection goes, with a line that says why.
    const again = await authenticate(cluster, target, as)
    const chunk = encodeChunk(10, 0, 'messages', [[1, 'evil', 0, 'RAW', 'x', 1, null]]).payload
    again.socket.write(frame(FRAME_KIND.snapshotChunk, chunk.subarray(0, 20)))
    expect(await closedWithin(again, 3000)).to.not.equal(null)
    await eventually('the bad frame to be logged', () => (/dropping a Raft connection that sent a bad frame.*snapshot chunk/.test(cluster.node(target).output) ? true : undefined), 5000)
    // So does a follower's answer claiming an applied index that is no count (its log line falls in the same minute as the one above: left out).
    const third = await authenticate(cluster, target, as)
    const have = Buffer.alloc(12)
    have.writeUInt32LE(9, 0)
    have.writeDoubleLE(-1, 4)
    third.socket.write(frame(FRAME_KIND.snapshotHave, have))
    expect(await closedWithin(third, 3000)).to.not.equal(null)
    const after = await snapshot(cluster)
    expect(after.map((a) => a.stored)).to.deep.equal(before.map((b) => b.stored))
    expect(cluster.running()).to.deep.equal([0, 1, 2])
  })
})
