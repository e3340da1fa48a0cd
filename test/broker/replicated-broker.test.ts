import {expect} from 'chai'
import {BrokerClient, ClientError} from '../../src/client/broker-client.js'
import {admin, type StoredMessage} from '../e2e/helpers/cluster.js'
import {HOST, eventually} from '../e2e/helpers/node-process.js'
import {InProcessCluster} from './helpers/in-process-cluster.js'

// Three broker nodes in this process (in-memory Raft transport, in-process writer), reached by
// the real client over TCP and HTTP. The crash tests (SIGKILL in a write burst) run three real
// processes: test/e2e/replicated-broker.test.ts.

const clients: BrokerClient[] = []
let clusters: InProcessCluster[] = []

async function start(options?: Parameters<typeof InProcessCluster.start>[0]): Promise<InProcessCluster> {
  const cluster = await InProcessCluster.start(options)
  clusters.push(cluster)
  return cluster
}

async function connect(cluster: InProcessCluster, index: number): Promise<BrokerClient> {
  const client = await BrokerClient.connect(HOST, cluster.ports[index].tcp)
  clients.push(client)
  return client
}

function summary(messages: StoredMessage[]): string[] {
  return messages.map((m) => `${m.offset}:${m.body}`)
}

describe('replicated broker: three nodes over Raft, in one process', function () {
  this.timeout(30_000)
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close()
    await Promise.all(clusters.map((c) => c.close()))
    clusters = []
  })

  it('elects one leader, and a publish on any node is stored at the same offset on all three', async () => {
    const cluster = await start()
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

  it('survives the loss of the leader: a new leader, every ack on both survivors, the old leader catches up', async () => {
    const cluster = await start()
    const leader = await cluster.leader()
    const client = await connect(cluster, leader)
    const acked: string[] = []
    for (let i = 0; i < 50; i++) {
      const ack = await client.publish({topic: 'orders', body: `{"n":${i}}`})
      acked.push(`${ack.offset}:{"n":${i}}`)
    }
    await cluster.stop(leader)
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
    const cluster = await start({commitTimeoutMs: 1000})
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
    // back every ack behind it. The leader goes silent (everything to and from it dropped, as a
    // stopped process would be) while it still believes it leads.
    const cluster = await start({commitTimeoutMs: 30_000})
    const leader = await cluster.leader()
    const follower = [0, 1, 2].find((i) => i !== leader)!
    const client = await connect(cluster, follower)
    await client.publish({topic: 'jobs', body: '{"n":0}'})
    await cluster.isolate(leader)
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
  })
})
