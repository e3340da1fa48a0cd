import {expect} from 'chai'
import {BrokerClient, ClientError} from '../../src/client/broker-client.js'
import {TestCluster, admin, type StoredMessage} from './helpers/cluster.js'
import {HOST, eventually, nodeFixture, sleep} from './helpers/node-process.js'

// Three real node processes on ports chosen per test. Time bounds here are generous on purpose
// (a shared 2-core machine runs the whole suite); the failover figures are measured by
// `pad-cli bench --mode failover`, not asserted.

const clients: BrokerClient[] = []
async function connect(cluster: TestCluster, index: number): Promise<BrokerClient> {
  const client = await BrokerClient.connect(HOST, cluster.ports[index].tcp)
  clients.push(client)
  return client
}

function summary(messages: StoredMessage[]): string[] {
  return messages.map((m) => `${m.offset}:${m.body}`)
}

describe('replicated broker: three nodes over Raft', function () {
  this.timeout(60_000)
  const fixture = nodeFixture('each')
  afterEach(() => {
    for (const client of clients.splice(0)) client.close()
  })

  it('elects one leader, and a publish on any node is stored at the same offset on all three', async () => {
    const cluster = await TestCluster.start(fixture)
    const leader = await cluster.leader(undefined, 5000)
    expect((await cluster.raft(leader)).cluster_size).to.equal(3)
    for (let i = 0; i < 3; i++) {
      const client = await connect(cluster, i)
      const ack = await client.publish({topic: 'news', body: JSON.stringify({from: i})})
      expect(ack.offset).to.equal(i)
    }
    await cluster.converged()
    const stored = await Promise.all([0, 1, 2].map((i) => cluster.messages(i, 'news')))
    expect(summary(stored[0])).to.deep.equal(['0:{"from":0}', '1:{"from":1}', '2:{"from":2}'])
    expect(summary(stored[1])).to.deep.equal(summary(stored[0]))
    expect(summary(stored[2])).to.deep.equal(summary(stored[0]))
    expect(stored[1].map((m) => m.index)).to.deep.equal(stored[0].map((m) => m.index))
  })

  it('survives SIGKILL of the leader: a new leader, every ack on both survivors, the old leader catches up', async () => {
    const cluster = await TestCluster.start(fixture)
    const leader = await cluster.leader()
    const client = await connect(cluster, leader)
    const acked: string[] = []
    for (let i = 0; i < 50; i++) {
      const ack = await client.publish({topic: 'orders', body: `{"n":${i}}`})
      acked.push(`${ack.offset}:{"n":${i}}`)
    }
    await cluster.kill(leader)
    const survivors = [0, 1, 2].filter((i) => i !== leader)
    const next = await cluster.leader(survivors, 5000)
    expect(next).to.not.equal(leader)
    // Publishing goes on, through either survivor.
    const other = await connect(cluster, survivors.find((i) => i !== next)!)
    const ack = await other.publish({topic: 'orders', body: '{"n":50}'})
    expect(ack.offset).to.equal(50)
    acked.push('50:{"n":50}')
    await cluster.converged()
    for (const i of survivors) expect(summary(await cluster.messages(i, 'orders'))).to.deep.equal(acked)
    await cluster.restart(leader)
    await cluster.converged()
    expect(summary(await cluster.messages(leader, 'orders'))).to.deep.equal(acked)
  })

  it('cut off from the others, the leader steps down; the majority goes on; after healing all converge', async () => {
    const cluster = await TestCluster.start(fixture, 3, ['--commit-timeout', '1s'])
    const leader = await cluster.leader()
    const client = await connect(cluster, leader)
    await client.publish({topic: 't', body: '"before"'})
    await cluster.isolate(leader)
    // CheckQuorum: having heard from no majority for an election timeout, it becomes a follower.
    await eventually('the cut-off leader to step down', async () => ((await cluster.raft(leader)).state === 'LEADER' ? undefined : true), 3000)
    const majority = [0, 1, 2].filter((i) => i !== leader)
    const next = await cluster.leader(majority, 5000)
    const majorityClient = await connect(cluster, next)
    expect((await majorityClient.publish({topic: 't', body: '"during"'})).offset).to.equal(1)
    // A publish to the cut-off node gets a clear error, not an ack.
    const cutOff = await connect(cluster, leader)
    let refused: unknown = null
    try {
      await cutOff.publish({topic: 't', body: '"refused"'})
    } catch (error) {
      refused = error
    }
    expect(refused).to.be.instanceOf(ClientError)
    expect((refused as ClientError).code).to.equal('NO_LEADER')
    const faults = (await admin(cluster.node(leader), 'GET', '/admin/faults')) as {faults: Record<string, unknown>}
    expect(Object.keys(faults.faults)).to.have.length(2)
    await cluster.heal()
    await cluster.leader(undefined, 5000)
    expect((await majorityClient.publish({topic: 't', body: '"after"'})).offset).to.equal(2)
    await cluster.converged()
    const logs = await Promise.all([0, 1, 2].map((i) => cluster.messages(i, 't')))
    expect(summary(logs[0])).to.deep.equal(['0:"before"', '1:"during"', '2:"after"'])
    expect(summary(logs[1])).to.deep.equal(summary(logs[0]))
    expect(summary(logs[2])).to.deep.equal(summary(logs[0]))
  })

  it('answers publishes forwarded to a leader that stopped answering as soon as another leads, not after the commit timeout', async () => {
    // A commit timeout far longer than any failover: the answers must come from noticing the
    // lost leader. Answers on a connection keep request order, so one stuck forward would hold
    // back every ack behind it.
    const cluster = await TestCluster.start(fixture, 3, ['--commit-timeout', '30s'])
    const leader = await cluster.leader()
    const follower = [0, 1, 2].find((i) => i !== leader)!
    const client = await connect(cluster, follower)
    await client.publish({topic: 'jobs', body: '{"n":0}'})
    cluster.node(leader).signal('SIGSTOP')
    const started = Date.now()
    const stuck = client.publish({topic: 'jobs', body: '{"n":1}', id: 'job-1'}).then(
      () => 'acked',
      (error: ClientError) => `${error.code}: ${error.message}`,
    )
    const outcome = await stuck
    expect(outcome).to.match(/^NO_LEADER: .*outcome is unknown, retry with the same id/)
    expect(Date.now() - started, 'answered well before the 30 s commit timeout').to.be.below(15_000)
    const survivors = [0, 1, 2].filter((i) => i !== leader)
    await cluster.leader(survivors, 10_000)
    // Retrying with the same id stores it once, under the new leader.
    const retried = await client.publish({topic: 'jobs', body: '{"n":1}', id: 'job-1'})
    expect(retried.offset).to.equal(1)
    await cluster.kill(leader)
  })

  for (const role of ['follower', 'leader'] as const) {
  it(`loses no acknowledged message when the ${role} is SIGKILLed in the middle of a write burst`, async () => {
    const cluster = await TestCluster.start(fixture)
    const leader = await cluster.leader()
    const follower = (leader + 1) % 3
    const victim = role === 'leader' ? leader : follower
    // Publish through the node that stays up: a follower forwards to whoever leads.
    const client = await connect(cluster, role === 'leader' ? follower : leader)
    const acked = new Map<number, string>()
    let sent = 0
    let stop = false
    const lane = async (): Promise<void> => {
      while (!stop && sent < 20_000) {
        const body = `{"m":${sent++}}`
        try {
          const ack = await client.publish({topic: 'burst', body})
          acked.set(ack.offset, body)
        } catch {
          // Not acknowledged: allowed to be lost.
        }
      }
    }
    const lanes = Array.from({length: 64}, lane)
    await eventually('the burst to be under way', () => (acked.size > 500 ? true : undefined), 10_000)
    await cluster.kill(victim)
    await sleep(300)
    await cluster.restart(victim)
    await sleep(300)
    stop = true
    await Promise.all(lanes)
    expect(acked.size).to.be.greaterThan(500)
    await cluster.converged(30_000)
    for (const i of [0, 1, 2]) {
      const stored = await cluster.messages(i, 'burst')
      const byOffset = new Map(stored.map((m) => [m.offset, m.body]))
      expect(stored.map((m) => m.offset)).to.deep.equal([...stored.keys()], `node ${i} has a gap in its offsets`)
      for (const [offset, body] of acked) expect(byOffset.get(offset), `node ${i} offset ${offset}`).to.equal(body)
    }
  })
  }
})
