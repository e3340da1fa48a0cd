import {expect} from 'chai'
import {BrokerClient} from '../../src/client/broker-client.js'
import {TestCluster} from './helpers/cluster.js'
import {HOST, eventually, nodeFixture, sleep} from './helpers/node-process.js'

// Three real node processes on ports chosen per test, for what needs a process: a SIGKILL in the
// middle of a write burst, with every acknowledged message still there after the restart.
// Replication, forwarding, partitions and leader loss without a crash run in one process:
// test/broker/replicated-broker.test.ts. Time bounds here are generous on purpose (a shared
// 2-core machine runs the whole suite); the failover figures are measured by
// `pad-cli bench --mode failover`, not asserted.

const clients: BrokerClient[] = []
async function connect(cluster: TestCluster, index: number): Promise<BrokerClient> {
  const client = await BrokerClient.connect(HOST, cluster.ports[index].tcp)
  clients.push(client)
  return client
}

describe('replicated broker: three node processes, crashed in a write burst', function () {
  this.timeout(60_000)
  const fixture = nodeFixture('each')
  afterEach(() => {
    for (const client of clients.splice(0)) client.close()
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
