import fs from 'node:fs'
import path from 'node:path'
import {expect} from 'chai'
import {BrokerClient} from '../../src/client/broker-client.js'
import type {MembersAnswer} from '../../src/api/node-admin.js'
import {admin, getJson, TestCluster, TOKEN, type HttpMember, type RaftInfo} from './helpers/cluster.js'
import {HOST, eventually, nodeFixture, sleep, type NodeProcess} from './helpers/node-process.js'

// Membership changes end to end (#18) on real node processes: a cluster started with --peers
// grows by `node --join` (the learner catches up by snapshot, is promoted, restarts as itself)
// and shrinks by removing its leader, whose process keeps running without disturbing the rest.

const COMPACTION = ['--snapshot-entries', '20', '--trailing-entries', '5']

const clients: BrokerClient[] = []
async function publish(port: number, topic: string, count: number): Promise<Map<number, string>> {
  const client = await BrokerClient.connect(HOST, port)
  clients.push(client)
  const acked = new Map<number, string>()
  for (let i = 0; i < count; i++) {
    const body = `{"m":${i}}`
    const ack = await client.publish({topic, body})
    acked.set(ack.offset, body)
  }
  return acked
}

async function members(node: HttpMember, body: unknown, token: string | null = TOKEN): Promise<{status: number; json: Record<string, unknown>}> {
  const response = await fetch(node.url('/admin/members'), {
    method: 'POST',
    headers: {'content-type': 'application/json', ...(token === null ? {} : {authorization: `Bearer ${token}`})},
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  })
  return {status: response.status, json: (await response.json()) as Record<string, unknown>}
}

/** A refusal: the status, and one line saying why. */
async function refused(node: HttpMember, body: unknown, token: string | null = TOKEN): Promise<[number, string]> {
  const {status, json} = await members(node, body, token)
  const message = String((json.error as {message?: string} | undefined)?.message)
  expect(message, JSON.stringify(body)).to.not.include('\n')
  return [status, message]
}

const raft = async (node: HttpMember): Promise<RaftInfo> => (await getJson(node, '/raft')) as RaftInfo

function tokenFile(dir: string): string {
  const file = path.join(dir, 'join-token')
  fs.writeFileSync(file, TOKEN, {mode: 0o600})
  return file
}

describe('membership changes: real node processes grow and shrink a cluster', function () {
  this.timeout(120_000)
  const fixture = nodeFixture('each')
  afterEach(() => {
    for (const client of clients.splice(0)) client.close()
  })

  it('a node joins with --join through a follower, catches up by snapshot, is promoted, and restarts as itself', async () => {
    const cluster = await TestCluster.start(fixture, 3, COMPACTION)
    const leader = await cluster.leader()
    const follower = (leader + 1) % 3
    const acked = await publish(cluster.ports[leader].tcp, 'grow', 60)
    await eventually('the leader to compact its log', async () => ((await cluster.raft(leader)).snapshot_index > 0 ? true : undefined), 15_000)

    const dir = fixture.tempDir()
    const args = ['--join', `${HOST}:${cluster.ports[follower].http}`, '--token-file', tokenFile(dir), ...COMPACTION]
    const joiner: NodeProcess = await fixture.start({args, dataDir: path.join(dir, 'data')})
    const joined = await eventually(
      'the new node to catch up as a learner',
      async () => {
        const [mine, theirs] = await Promise.all([raft(joiner), cluster.raft(leader)])
        return mine.last_applied >= theirs.commit_index && mine.learners?.includes(mine.node_index) ? mine : undefined
      },
      30_000,
    )
    expect(joined.node_index, 'ids 0..2 are the founding members').to.equal(3)
    expect(joined.snapshots_installed, 'the log it needed was compacted').to.be.greaterThan(0)
    expect(joined.voters).to.deep.equal([0, 1, 2])
    expect(joined.members?.map((m) => m.id)).to.deep.equal([0, 1, 2, 3])
    const stored = await cluster.messages(0, 'grow')
    const onJoiner = (await getJson(joiner, '/messages?topic=grow&order=oldest&limit=1000&from=0')) as {messages: {offset: number; body: string}[]}
    expect(onJoiner.messages.map((m) => [m.offset, m.body])).to.deep.equal(stored.map((m) => [m.offset, m.body]))
    for (const [offset, body] of acked) expect(onJoiner.messages[offset]?.body).to.equal(body)

    // Promotion goes to the leader; a follower names it.
    const misdirected = await members(cluster.node(follower), {op: 'promote', id: 3})
    expect(misdirected.status).to.equal(421)
    expect(misdirected.json.leader).to.equal(`${HOST}:${cluster.ports[leader].http}`)
    const promoted = await members(cluster.node(leader), {op: 'promote', id: 3})
    expect(promoted.status, JSON.stringify(promoted.json)).to.equal(200)
    expect(promoted.json as unknown as MembersAnswer).to.deep.include({ok: true, id: 3, membership: {voters: [0, 1, 2, 3], learners: []}})
    await eventually('every member to see four voters', async () => {
      const infos = await Promise.all([...[0, 1, 2].map((i) => cluster.raft(i)), raft(joiner)])
      return infos.every((r) => r.voters?.length === 4 && r.cluster_size === 4) ? true : undefined
    })

    // Restarted on its data dir (--join still given: ignored), it is node 3 again.
    await joiner.stop()
    const again = await fixture.start({args, dataDir: joiner.dataDir, ports: joiner.ports})
    expect((await raft(again)).node_index).to.equal(3)
    expect(again.output).to.not.match(/joined the cluster/)
    await publish(again.ports.tcp, 'grow', 5)
    await eventually('the restarted member to apply what it forwarded', async () => {
      const [mine, theirs] = await Promise.all([raft(again), cluster.raft(leader)])
      return mine.last_applied >= theirs.commit_index ? true : undefined
    })
  })

  it('removing the leader: it steps down, the others elect one and keep committing, and the removed process does not disturb them', async () => {
    const cluster = await TestCluster.start(fixture, 3)
    const leader = await cluster.leader()
    const others = [0, 1, 2].filter((i) => i !== leader)
    await publish(cluster.ports[leader].tcp, 'shrink', 5)
    // Every member has applied them, so the leader hears from both followers: a leader that
    // removes itself while a follower is still out of reach (its link not up yet) steps down by
    // CheckQuorum before the change commits, and can then only answer that the outcome is unknown.
    const target = (await cluster.raft(leader)).commit_index
    await eventually('every member to apply the publishes', async () => {
      const states = await Promise.all([0, 1, 2].map((i) => cluster.raft(i)))
      return states.every((r) => r.last_applied >= target) ? true : undefined
    })
    const removed = await members(cluster.node(leader), {op: 'remove', id: leader})
    expect(removed.status, JSON.stringify(removed.json)).to.equal(200)
    expect((removed.json as unknown as MembersAnswer).membership).to.deep.equal({voters: others, learners: []})
    const next = await cluster.leader(others, 15_000)
    expect(others).to.include(next)
    await publish(cluster.ports[others[0]].tcp, 'shrink', 5)
    expect((await cluster.raft(leader)).state, 'the removed node no longer leads').to.not.equal('LEADER')

    const before = await Promise.all(others.map((i) => cluster.raft(i)))
    await sleep(3000)
    const after = await Promise.all(others.map((i) => cluster.raft(i)))
    expect(cluster.running(), 'the removed process keeps running').to.deep.equal([0, 1, 2])
    expect(after.map((r) => r.current_term), 'no term inflation').to.deep.equal(before.map((r) => r.current_term))
    expect(after.map((r) => r.leader_index)).to.deep.equal([next, next])
    const roles = ((await getJson(cluster.node(next), '/cluster')) as {members: {index: number; role: string}[]}).members
    expect(roles.find((m) => m.index === leader)?.role).to.equal('removed')
  })

  it('a follower restarted on a wiped data dir under its old id: it finds its log lost, reports corrupt data and names the way out', async () => {
    const cluster = await TestCluster.start(fixture, 3)
    const leader = await cluster.leader()
    const follower = (leader + 1) % 3
    await publish(cluster.ports[leader].tcp, 'wiped', 5)
    const target = (await cluster.raft(leader)).commit_index
    await eventually('the follower to apply the publishes', async () => ((await cluster.raft(follower)).last_applied >= target ? true : undefined))
    await cluster.stop(follower)
    fs.rmSync(cluster.dataDirs[follower], {recursive: true, force: true})
    // It does not serve: it finds its log shorter than what its leader says was committed (the
    // leader's heartbeat names the commit index), reports corrupt data and takes no part in Raft.
    await cluster.restart(follower, false)
    await eventually('the follower to report corrupt data', async () => (/rebuild it from the leader with pad-cli repair/.test(cluster.node(follower).output) ? true : undefined), 15_000, 100)
    expect(cluster.node(follower).output).to.match(/this node's data is corrupt \(.*was the log lost or truncated\?\): it takes no part in Raft/)
    // The rest of the cluster goes on committing. (The leader's own line, "lost its data", comes
    // only if an append reached the follower before a heartbeat did: test/broker/lost-log.test.ts.)
    await publish(cluster.ports[leader].tcp, 'wiped', 2)
  })

  it('POST /admin/members refuses hostile and impossible requests with one line each, and every node keeps running', async () => {
    const cluster = await TestCluster.start(fixture, 3)
    const leader = await cluster.leader()
    const node = cluster.node(leader)
    const follower = (leader + 1) % 3
    const add = {op: 'add', host: HOST, raft_port: 1, tcp_port: 2, http_port: 3}
    const cases: [unknown, number, RegExp, (string | null)?][] = [
      [{op: 'remove', id: follower}, 401, /token/, null],
      [{op: 'remove', id: follower}, 401, /token/, 'not-the-token'],
      ['{"op":', 400, /JSON/],
      [{op: 'remove', id: 1, pad: 'x'.repeat(5000)}, 413, /limit/],
      [{op: 'grow'}, 400, /op must be/],
      [{op: 7}, 400, /op must be/],
      [{op: 'remove'}, 400, /id must be/],
      [{op: 'remove', id: -1}, 400, /id must be/],
      [{op: 'remove', id: 1e12}, 400, /id must be/],
      [{op: 'promote', id: '1'}, 400, /id must be/],
      [{...add, host: 42}, 400, /host/],
      [{...add, raft_port: 0}, 400, /raft_port/],
      [{...add, http_port: 1e9}, 400, /http_port/],
      [{op: 'remove', id: 77}, 409, /not a member/],
      [{op: 'promote', id: follower}, 409, /already a voter/],
    ]
    for (const [body, status, reason, token] of cases) {
      const [got, message] = await refused(node, body, token === undefined ? TOKEN : token)
      expect([got, message], JSON.stringify(body).slice(0, 60)).to.satisfy(([g, m]: [number, string]) => g === status && reason.test(m))
    }
    const [status, message] = await refused(cluster.node(follower), {op: 'remove', id: follower})
    expect(status).to.equal(421)
    expect(message).to.match(/not the leader/)

    // A change that cannot commit (the leader cut off from both followers) is in flight: a second
    // one is refused at once; the first fails on its own once it cannot commit.
    await admin(node, 'PUT', '/admin/faults', {drop: true})
    const first = members(node, add)
    await eventually('the add to be in flight', async () => {
      const [code, text] = await refused(node, {op: 'remove', id: follower})
      return code === 409 && /in flight/.test(text) ? true : undefined
    })
    const outcome = await first
    expect(outcome.status, JSON.stringify(outcome.json)).to.be.oneOf([409, 421, 503])
    await admin(node, 'DELETE', '/admin/faults')
    await cluster.leader()

    // The last voter cannot go: a node of its own.
    const dir = fixture.tempDir()
    const alone = await fixture.start({args: ['--token-file', tokenFile(dir)]})
    const [lastStatus, lastMessage] = await refused(alone, {op: 'remove', id: 0})
    expect(lastStatus).to.equal(409)
    expect(lastMessage).to.match(/last voter/)

    expect(cluster.running()).to.deep.equal([0, 1, 2])
    expect(alone.running).to.equal(true)
    for (const i of [0, 1, 2]) expect(((await getJson(cluster.node(i), '/health')) as {ok: boolean}).ok).to.equal(true)
  })
})
