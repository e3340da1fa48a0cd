import {expect} from 'chai'
import type {ClusterStatus, ControlAnswers, ControlOp, NodeStatus, ProcessState, RequestOf} from '../../src/api/control.js'
import {partitionRequest} from '../../src/chaos/nemesis.js'
import {planPartition, type PartitionRequest} from '../../src/cluster/faults.js'
import {SupervisedCluster} from '../../src/cluster/supervised-cluster.js'

// The chaos runner's faults as the requests they become on the supervisor's control API.

type Answers = {[K in ControlOp]: ControlAnswers[K]}
/** A fixed answer, or one made from the request. */
type Answerers = {[K in ControlOp]?: ControlAnswers[K] | ((request: RequestOf<K>) => ControlAnswers[K])}

function nodeStatus(index: number, process: ProcessState): NodeStatus {
  return {
    index, node_id: `127.0.0.1:${1000 + index}`, membership: 'voter', pid: null, process, exit_code: null, exit_signal: null, crash_log: [], restart_at: null,
    role: null, term: null, commit_index: null, last_applied: null, log_length: null, first_index: null, snapshot_index: null, disk_bytes: null, snapshots_sent: null, snapshots_installed: null, corrupt: null, lag: null, leader_index: null,
    host: '127.0.0.1', tcp_port: 1000 + index, http_port: 2000 + index, raft_port: 3000 + index, faults: [], data_dir: '/nowhere', log_file: '/nowhere/node.log',
  }
}

const STATUS: ClusterStatus = {cluster: 'fake', leader: null, term: null, supervisor_pid: 1, membership: null, nodes: [0, 1, 2, 3, 4].map((i) => nodeStatus(i, 'running'))}
const EXIT = {code: null, signal: 'SIGKILL'}
const ADDED = {node: 5, pid: 1, host: '127.0.0.1', tcp_port: 1005, http_port: 2005, raft_port: 3005, membership: 'voter' as const, leader: 0, promoted_at: 9}
const REMOVED = {node: 0, was_leader: false, leader: 1, index: 10, voters: [1, 2, 3, 4, 5], learners: [], stopped: true}
const PUSHED = {applied: [0, 1, 2, 3, 4], pending: []}

/** What the fake supervisor answers unless a test says otherwise. */
const ANSWERS: Answers = {
  status: STATUS,
  ping: {pid: 1},
  down: {stopped: [], left: []},
  kill: {node: 0, pid: 1, exit: EXIT},
  stop: {node: 0, pid: 1, exit: EXIT},
  start: {node: 0, pid: 1},
  restart: {node: 0, pid: 1, previous_pid: null},
  pause: {node: 0, pid: 1},
  resume: {node: 0, pid: 1},
  partition: {groups: [[0], [1, 2, 3, 4]], shape: null, cuts: [[0, 1]], for_ms: null, ...PUSHED},
  heal: PUSHED,
  transfer: {from: 0, to: 1, leader: 1, term: 2, moved: true},
  delay: {node: 0, ms: 1, jitter_ms: 0, for_ms: null, ...PUSHED},
  loss: {node: 0, percent: 1, for_ms: null, ...PUSHED},
  add: ADDED,
  remove: REMOVED,
  replace: {added: ADDED, removed: REMOVED},
  'power-cut': {nodes: [{node: 0, previous_pid: 1, pid: 2, dropped: {files: 1, bytes: 10, entries: 0}}]},
  corrupt: {node: 1, file: '/nowhere/node.db', how: 'bitflip', bytes_before: 100, bytes_after: 100, flipped: 3, range: [0, 100], bits: [1, 2, 3]},
  repair: {node: 1, reason: 'bad', added: ADDED, removed: REMOVED, kept: '/nowhere.corrupt'},
  say: {seq: 7},
}

function fakeCluster(answers: Answerers = {}): {cluster: SupervisedCluster; sent: {op: string; fields: Record<string, unknown>}[]} {
  const sent: {op: string; fields: Record<string, unknown>}[] = []
  const nodes = [0, 1, 2, 3, 4].map((index) => ({index, host: '127.0.0.1', tcp_port: 1000 + index, http_port: 2000 + index, raft_port: 3000 + index}))
  const answer = async <K extends ControlOp>(request: RequestOf<K>): Promise<ControlAnswers[K]> => {
    const {op, ...fields} = request
    sent.push({op, fields})
    const given = (answers as Record<string, unknown>)[request.op] as ControlAnswers[K] | ((r: RequestOf<K>) => ControlAnswers[K]) | undefined
    if (typeof given === 'function') return given(request)
    return given ?? ANSWERS[request.op]
  }
  const cluster = new SupervisedCluster(nodes, '/nowhere', answer, null)
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
    await cluster.corrupt(1, {bitflip: 3, file: 'wal'})
    await cluster.repair(1)
    expect(sent.slice(0, -1)).to.deep.equal([
      {op: 'kill', fields: {node: 1}},
      {op: 'stop', fields: {node: 2}},
      {op: 'start', fields: {node: 2}},
      {op: 'pause', fields: {node: 0}},
      {op: 'resume', fields: {node: 0}},
      {op: 'delay', fields: {node: 3, ms: 40, jitter_ms: 10, for_ms: 5000}},
      {op: 'loss', fields: {node: 4, percent: 25, for_ms: 5000}},
      {op: 'corrupt', fields: {node: 1, bitflip: 3, file: 'wal'}},
      {op: 'repair', fields: {node: 1}},
    ])
    // A repair reshapes the members: the cluster reads them again.
    expect(sent.at(-1)).to.deep.equal({op: 'status', fields: {}})
  })

  it('a power cut of several nodes is one request naming them all (a coordinated loss, not one after the other)', async () => {
    const {cluster, sent} = fakeCluster()
    await cluster.powerCut([2])
    await cluster.powerCut([0, 1, 2, 3, 4])
    expect(sent).to.deep.equal([
      {op: 'power-cut', fields: {nodes: [2]}},
      {op: 'power-cut', fields: {nodes: [0, 1, 2, 3, 4]}},
    ])
  })

  it('a partition goes as planned: groups as groups, shapes with the shuffled node order', async () => {
    const order = [4, 1, 0, 2, 3]
    const ringCuts = planPartition({shape: 'ring', order}, 5).cuts
    // A supervisor that cuts what it is asked for, with the cluster manager's geometry.
    const {cluster, sent} = fakeCluster({partition: (request) => ({...ANSWERS.partition, cuts: planPartition(request as PartitionRequest, 5).cuts})})
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
    const {cluster} = fakeCluster({partition: {...ANSWERS.partition, cuts: indexOrderCuts}})
    let error: Error | null = null
    await cluster.partition(partitionRequest('bridge', [4, 1, 0, 2, 3]), 1000).catch((e: Error) => (error = e))
    expect(error).to.match(/the supervisor cut .* instead of the planned/)
  })

  it('a fault that did not reach every node is an error', async () => {
    const {cluster} = fakeCluster({partition: {...ANSWERS.partition, pending: [1]}, heal: {applied: [0], pending: [2]}})
    let error: Error | null = null
    await cluster.partition(partitionRequest('one', [0, 1, 2, 3, 4]), 1000).catch((e: Error) => (error = e))
    expect(error).to.match(/did not reach node 1/)
    error = null
    await cluster.heal().catch((e: Error) => (error = e))
    expect(error).to.match(/did not reach node 2/)
  })

  it('membership changes wait for the voter, and the members follow the status after each', async () => {
    // After the add, node 5 is a member; after the remove, node 0 is not (the leader's configuration says the voters).
    const statuses: ClusterStatus[] = [
      {...STATUS, membership: {voters: [0, 1, 2, 3, 4, 5], learners: []}, nodes: [0, 1, 2, 3, 4, 5].map((i) => nodeStatus(i, 'running'))},
      {...STATUS, membership: {voters: [1, 2, 3, 4, 5], learners: []}, nodes: [0, 1, 2, 3, 4, 5].map((i) => ({...nodeStatus(i, i === 0 ? 'stopped' : 'running'), membership: i === 0 ? 'removed' as const : 'voter' as const}))},
    ]
    const {cluster, sent} = fakeCluster({status: () => statuses.shift() ?? STATUS})
    await cluster.add()
    expect(cluster.nodes.map((n) => n.index)).to.deep.equal([0, 1, 2, 3, 4, 5])
    await cluster.remove(0)
    expect(cluster.nodes.map((n) => n.index)).to.deep.equal([1, 2, 3, 4, 5])
    expect(cluster.nodes[4]).to.deep.equal({index: 5, host: '127.0.0.1', tcp_port: 1005, http_port: 2005, raft_port: 3005})
    await cluster.replace(3)
    expect(sent.map((s) => [s.op, s.fields])).to.deep.equal([
      ['add', {wait: true}],
      ['status', {}],
      ['remove', {node: 0}],
      ['status', {}],
      ['replace', {node: 3}],
      ['status', {}],
    ])
    // Without a leader, cluster.json's voters.
    expect(await fakeCluster().cluster.voters()).to.deep.equal([0, 1, 2, 3, 4])
  })

  it('restoring resumes the paused nodes, starts the stopped ones, and heals', async () => {
    const processes: ProcessState[] = ['running', 'paused', 'exited', 'stopped', 'running']
    const status = {...STATUS, nodes: processes.map((process, i) => nodeStatus(i, process))}
    const {cluster, sent} = fakeCluster({status})
    await cluster.restoreAll()
    // The last status: any node that found its data corrupt (none here) would be repaired.
    expect(sent.map((s) => `${s.op} ${s.fields.node ?? ''}`.trim())).to.deep.equal(['status', 'resume 1', 'start 2', 'start 3', 'heal', 'status'])
  })

  it('restoring repairs a node that reports its data corrupt (a new member takes its place), and a heal does not count it as missed', async () => {
    const corrupt = {file: '/nowhere/node.db', reason: 'raft log: commit 9 is past the last index 0', detected_at: '2026-12-07T00:00:00Z'}
    const status = {...STATUS, nodes: STATUS.nodes.map((n) => (n.index === 2 ? {...n, corrupt} : n))}
    const {cluster, sent} = fakeCluster({status, heal: {applied: [0, 1, 3, 4], pending: [2]}})
    await cluster.restoreAll()
    // One status after the heal tells both that node 2 missed it as no running node, and that it is corrupt.
    expect(sent.map((s) => `${s.op} ${s.fields.node ?? ''}`.trim())).to.deep.equal(['status', 'heal', 'status', 'repair 2', 'status'])
  })
})
