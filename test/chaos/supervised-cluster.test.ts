import {expect} from 'chai'
import {partitionRequest} from '../../src/chaos/nemesis.js'
import {planPartition, type PartitionRequest} from '../../src/cluster/faults.js'
import {SupervisedCluster} from '../../src/cluster/supervised-cluster.js'

// The chaos runner's faults as the requests they become on the supervisor's control API.

type Answer = Record<string, unknown> | ((fields: Record<string, unknown>) => Record<string, unknown>)

function fakeCluster(answers: Record<string, Answer> = {}): {cluster: SupervisedCluster; sent: {op: string; fields: Record<string, unknown>}[]} {
  const sent: {op: string; fields: Record<string, unknown>}[] = []
  const nodes = [0, 1, 2, 3, 4].map((index) => ({index, host: '127.0.0.1', tcp_port: 1000 + index, http_port: 2000 + index, raft_port: 3000 + index}))
  const cluster = new SupervisedCluster(nodes, '/nowhere', async (op, fields = {}) => {
    sent.push({op, fields})
    const answer = answers[op] ?? {}
    return typeof answer === 'function' ? answer(fields) : answer
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

  it('a partition goes as planned: groups as groups, shapes with the shuffled node order', async () => {
    const order = [4, 1, 0, 2, 3]
    const ringCuts = planPartition({shape: 'ring', order}, 5).cuts
    // A supervisor that cuts what it is asked for, with the cluster manager's geometry.
    const {cluster, sent} = fakeCluster({partition: (fields) => ({cuts: planPartition(fields as PartitionRequest, 5).cuts, pending: []})})
    const one = await cluster.partition(partitionRequest('one', order), 3000)
    const ring = await cluster.partition(partitionRequest('ring', order), 3000)
    expect(sent.map((s) => s.fields)).to.deep.equal([
      {groups: [[4]], for_ms: 3000},
      {shape: 'ring', order, for_ms: 3000},
    ])
    expect(one.groups).to.deep.equal([[4], [0, 1, 2, 3]])
    expect(ring.cuts).to.deep.equal(ringCuts)
    expect(ring.order).to.deep.equal(order)
    // In index order, the ring would cut other links: the order is what makes it this ring.
    expect(planPartition({shape: 'ring'}, 5).cuts).to.not.deep.equal(ringCuts)
  })

  it('a supervisor that cuts other links than the planned ones is an error, not a silent change', async () => {
    const indexOrderCuts = planPartition({shape: 'bridge'}, 5).cuts
    const {cluster} = fakeCluster({partition: {cuts: indexOrderCuts, applied: [0, 1, 2, 3, 4], pending: []}})
    let error: Error | null = null
    await cluster.partition(partitionRequest('bridge', [4, 1, 0, 2, 3]), 1000).catch((e: Error) => (error = e))
    expect(error).to.match(/the supervisor cut .* instead of the planned/)
  })

  it('a fault that did not reach every node is an error', async () => {
    const {cluster} = fakeCluster({partition: {cuts: [[0, 1]], pending: [1]}, heal: {applied: [0], pending: [2]}})
    let error: Error | null = null
    await cluster.partition(partitionRequest('one', [0, 1, 2, 3, 4]), 1000).catch((e: Error) => (error = e))
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
