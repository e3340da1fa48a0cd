import {expect} from 'chai'
import {partitionSpec} from '../../src/chaos/nemesis.js'
import {SupervisedCluster} from '../../src/chaos/supervised-cluster.js'

// The chaos runner's faults as the requests they become on the supervisor's control API.

function fakeCluster(answers: Record<string, Record<string, unknown>> = {}): {cluster: SupervisedCluster; sent: {op: string; fields: Record<string, unknown>}[]} {
  const sent: {op: string; fields: Record<string, unknown>}[] = []
  const nodes = [0, 1, 2, 3, 4].map((index) => ({index, host: '127.0.0.1', tcpPort: 1000 + index, httpPort: 2000 + index, raftPort: 3000 + index}))
  const cluster = new SupervisedCluster(nodes, '/nowhere', async (op, fields = {}) => {
    sent.push({op, fields})
    return answers[op] ?? {}
  }, null)
  return {cluster, sent}
}

describe('chaos: faults through the cluster manager', () => {
  it('process faults, delay and loss', async () => {
    const {cluster, sent} = fakeCluster()
    await cluster.kill(1)
    await cluster.stop(2)
    await cluster.start(2)
    await cluster.pause(0)
    await cluster.resume(0)
    await cluster.delay(3, 40, 10, 5000)
    await cluster.loss(4, 0.25, 5000)
    expect(sent).to.deep.equal([
      {op: 'kill', fields: {node: 1}},
      {op: 'stop', fields: {node: 2}},
      {op: 'start', fields: {node: 2}},
      {op: 'pause', fields: {node: 0}},
      {op: 'resume', fields: {node: 0}},
      {op: 'delay', fields: {node: 3, ms: 40, jitter_ms: 10, for_ms: 5000}},
      {op: 'loss', fields: {node: 4, percent: 25, for_ms: 5000}},
    ])
  })

  it('partitions with groups go as groups; bridge and ring as the named shapes, recorded as applied', async () => {
    const {cluster, sent} = fakeCluster({partition: {groups: null, shape: 'ring', cuts: [[0, 2]], applied: [0, 1, 2, 3, 4], pending: []}})
    const halves = partitionSpec('halves', [4, 1, 0, 2, 3])
    await cluster.partition(halves, 3000)
    const ring = await cluster.partition(partitionSpec('ring', [4, 1, 0, 2, 3]), 3000)
    expect(sent.map((s) => s.fields)).to.deep.equal([
      {groups: [[1, 4], [0, 2, 3]], for_ms: 3000},
      {shape: 'ring', for_ms: 3000},
    ])
    expect(ring.cuts).to.deep.equal([[0, 2]])
    expect(ring.name).to.equal('ring (index order)')
  })

  it('a fault that did not reach every node is an error', async () => {
    const {cluster} = fakeCluster({partition: {cuts: [[0, 1]], pending: [1]}, heal: {applied: [0], pending: [2]}})
    let error: Error | null = null
    await cluster.partition(partitionSpec('one', [0, 1, 2, 3, 4]), 1000).catch((e: Error) => (error = e))
    expect(error).to.match(/did not reach node 1/)
    error = null
    await cluster.heal().catch((e: Error) => (error = e))
    expect(error).to.match(/did not reach node 2/)
  })

  it('restoring resumes the paused nodes, starts the stopped ones, and heals', async () => {
    const status = {nodes: [{index: 0, process: 'running'}, {index: 1, process: 'paused'}, {index: 2, process: 'exited'}, {index: 3, process: 'stopped'}, {index: 4, process: 'running'}]}
    const {cluster, sent} = fakeCluster({status})
    await cluster.restoreAll()
    expect(sent.map((s) => `${s.op} ${s.fields.node ?? ''}`.trim())).to.deep.equal(['status', 'resume 1', 'start 2', 'start 3', 'heal'])
  })
})
