import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {ClusterError} from '../../src/cluster/errors.js'
import {readEvents} from '../../src/cluster/events.js'
import {clusterPaths, type ClusterPaths} from '../../src/cluster/layout.js'
import {ensureClusterDir, nodeRecords, readState, writeState, writeToken, DEFAULT_OPTIONS} from '../../src/cluster/state.js'
import {SupervisorCore} from '../../src/cluster/supervisor/core.js'
import type {MembersRequest} from '../../src/api/node-admin.js'
import type {RaftInfo} from '../../src/client/raft-state.js'
import {MembershipChanges} from '../../src/cluster/supervisor/membership.js'
import type {NodeHandle} from '../../src/cluster/supervisor/node-handle.js'

/**
 * The supervisor's add, remove and replace against fake nodes: a leader that keeps a
 * configuration and refuses the way the Raft core does, learners that catch up a step per
 * /raft poll, processes that start and stop at once. What is checked: the order of the
 * steps, cluster.json, the timeline, and every refusal leaving things as they were.
 */
class FakeNodes {
  voters: number[] = [0, 1, 2]
  learners: number[] = []
  leader: number | null = 0
  commit = 1000
  applied = new Map<number, number>()
  running = new Set([0, 1, 2])
  /** Ids the directory holds beyond the supervisor's nodes (a node joined by hand). */
  directory: number[] = [0, 1, 2]
  /** The id a joining node gets, if not its own index. */
  joinAs: number | null = null
  /** How much a learner catches up per poll. */
  step = 400
  calls: string[] = []
  /** Refusals the leader gives before it accepts the next promote. */
  promoteRefusals: string[] = []
  /** Changes whose answer times out although they commit (the node's 503: outcome unknown). */
  lostAnswers = 0
  /** The index of the configuration entry in effect. */
  membershipIndex = 0

  constructor(readonly core: SupervisorCore) {}

  info(index: number): RaftInfo {
    const self = this.applied.has(index) && this.joinAs !== null ? this.joinAs : index
    return {
      node_id: `n${index}`, state: index === this.leader ? 'LEADER' : 'FOLLOWER', current_term: 2, log_length: this.commit, first_index: 1,
      commit_index: this.commit, last_applied: this.applied.get(index) ?? this.commit, cluster_size: this.voters.length, leader_id: null,
      leader_index: this.leader, node_index: self, pre_candidate: false, elections_won: 0, snapshot_index: 0, snapshot_term: 0,
      snapshots_sent: 0, snapshots_installed: 0, disk_bytes: 0, voters: [...this.voters], learners: [...this.learners], membership_index: this.membershipIndex,
      members: this.directory.map((id) => ({id, node_id: `n${id}`, host: '127.0.0.1', raft_port: 6000 + id, tcp_port: 5000 + id, http_port: 8080 + id})),
    }
  }

  refresh = async (): Promise<Map<number, RaftInfo>> => {
    for (const [node, applied] of this.applied) this.applied.set(node, Math.min(this.commit, applied + this.step))
    return new Map([...this.running].map((i) => [i, this.info(i)]))
  }

  leaderOf = (answers: Map<number, RaftInfo>): number | null => [...answers].find(([, info]) => info.state === 'LEADER')?.[0] ?? null

  start = async (node: NodeHandle): Promise<void> => {
    const index = node.record.index
    this.calls.push(`start ${index} via ${node.joinVia}`)
    const id = this.joinAs ?? index
    this.directory.push(id)
    this.learners.push(id)
    this.applied.set(index, 0)
    this.running.add(index)
    node.record.pid = 4000 + index
    node.record.process = 'running'
  }

  stop = async (node: NodeHandle): Promise<void> => {
    this.calls.push(`stop ${node.record.index}`)
    this.running.delete(node.record.index)
    node.record.pid = null
    node.record.process = 'stopped'
  }

  transfer = async (to: NodeHandle): Promise<void> => {
    this.calls.push(`transfer ${to.record.index}`)
    this.leader = to.record.index
  }

  members = async (leader: NodeHandle, body: MembersRequest): Promise<{id: number; index: number; membership: {voters: number[]; learners: number[]}}> => {
    const id = (body as {id: number}).id
    this.calls.push(`${body.op} ${id} on ${leader.record.index}`)
    if (leader.record.index !== this.leader) throw new ClusterError('NO_LEADER', `node ${leader.record.index} no longer leads`)
    if (body.op === 'promote') {
      const refusal = this.promoteRefusals.shift()
      if (refusal !== undefined) throw new ClusterError('CONFLICT', refusal)
      this.learners = this.learners.filter((l) => l !== id)
      this.voters = [...this.voters, id].sort((a, b) => a - b)
    } else if (body.op === 'remove') {
      if (this.voters.length === 1 && this.voters[0] === id) throw new ClusterError('CONFLICT', `n${id} is the last voter`)
      this.voters = this.voters.filter((v) => v !== id)
      this.learners = this.learners.filter((l) => l !== id)
    }
    this.commit += 1
    this.membershipIndex = this.commit
    if (this.lostAnswers > 0) {
      this.lostAnswers--
      throw new ClusterError('NO_LEADER', `node ${leader.record.index} did not commit the ${body.op} in time (it may still): not committed within 2000 ms`)
    }
    return {id, index: this.commit, membership: {voters: [...this.voters], learners: [...this.learners]}}
  }
}

describe('supervisor: add, remove and replace against fake nodes', () => {
  let home: string
  let paths: ClusterPaths
  let core: SupervisorCore
  let nodes: FakeNodes
  let changes: MembershipChanges
  let taken: Set<number>

  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-members-'))
    paths = clusterPaths('fake', home)
    ensureClusterDir(paths)
    writeToken(paths)
    const options = {...DEFAULT_OPTIONS, nodes: 3}
    writeState(paths, {version: 1, name: 'fake', created_at: '', updated_at: '', options, supervisor: null, nodes: nodeRecords(paths, options)})
    core = new SupervisorCore(paths, {foreground: true})
    for (const node of core.nodes) {
      node.record.process = 'running'
      node.record.pid = 4000 + node.record.index
    }
    nodes = new FakeNodes(core)
    taken = new Set()
    changes = new MembershipChanges({
      core,
      refresh: nodes.refresh,
      leaderOf: nodes.leaderOf,
      start: nodes.start,
      stop: nodes.stop,
      transfer: nodes.transfer,
      members: nodes.members,
      portFree: async (_host, port) => !taken.has(port),
      pollMs: 1,
      catchUpTimeoutMs: () => 2000,
    })
  })
  afterEach(() => fs.rmSync(home, {recursive: true, force: true}))

  const types = (): string[] => readEvents(paths.events).map((e) => e.type).filter((t) => t.startsWith('member-') || t === 'warning')

  it('add --wait: starts the next node with --join through the leader, waits until it caught up, promotes it, records each step', async () => {
    const answer = await changes.add(true)
    expect(answer).to.deep.include({node: 3, membership: 'voter', leader: 0, tcp_port: 5003, http_port: 8083, raft_port: 6003})
    expect(answer.promoted_at).to.equal(1001)
    expect(nodes.calls).to.deep.equal(['start 3 via 127.0.0.1:8080', 'promote 3 on 0'])
    expect(nodes.voters).to.deep.equal([0, 1, 2, 3])
    const saved = readState(paths)!
    expect(saved.nodes[3]).to.include({index: 3, membership: 'voter', joined: true, tcp_port: 5003})
    expect(types()).to.deep.equal(['member-add', 'member-promote'])
    const promote = readEvents(paths.events).find((e) => e.type === 'member-promote')!
    expect(promote).to.include({node: 3, index: 1001, leader: 0})
  })

  it('add without --wait answers once the learner serves; the promotion follows, and another change meanwhile is refused', async () => {
    nodes.step = 1
    nodes.commit = 5
    const answer = await changes.add(false)
    expect(answer).to.deep.include({node: 3, membership: 'learner', promoted_at: null})
    let refusal: unknown
    await changes.remove(core.nodes[1]).catch((error: unknown) => (refusal = error))
    expect(refusal).to.be.instanceOf(ClusterError)
    expect((refusal as ClusterError).code).to.equal('CONFLICT')
    expect((refusal as Error).message).to.equal('a membership change is in flight (adding a node); retry once it is done (see pad-cli events)')
    await changes.background
    expect(nodes.voters).to.deep.equal([0, 1, 2, 3])
    expect(readState(paths)!.nodes[3].membership).to.equal('voter')
    // Done: the next change goes through.
    expect((await changes.add(true)).node).to.equal(4)
  })

  it('asks the leader again while it refuses for a passing reason (the learner behind, a change in flight), and gives up in time otherwise', async () => {
    nodes.promoteRefusals = ['n3 is 900 entries behind the leader (at most 100 to be promoted)', 'a configuration change is in flight (index 9 is not committed yet)']
    expect((await changes.add(true)).membership).to.equal('voter')
    expect(nodes.calls.filter((c) => c.startsWith('promote'))).to.have.length(3)

    nodes.step = 0
    let error: unknown
    await changes.add(true).catch((e: unknown) => (error = e))
    expect((error as ClusterError).code).to.equal('TIMEOUT')
    expect((error as Error).message).to.match(/^node 4 did not catch up within 2 s \(applied 0 of the leader's 1001\): it stays a learner; remove it with pad-cli remove 4$/)
    expect(readState(paths)!.nodes[4].membership).to.equal('learner')
  })

  it('a promote or remove whose answer timed out but committed is not asked again: the configuration says it is done', async () => {
    nodes.lostAnswers = 1
    const added = await changes.add(true)
    expect(added.membership).to.equal('voter')
    expect(nodes.calls.filter((c) => c.startsWith('promote'))).to.have.length(1)
    expect(readState(paths)!.nodes[3].membership).to.equal('voter')
    nodes.lostAnswers = 1
    const removed = await changes.remove(core.nodes[1])
    expect(removed).to.deep.include({node: 1, voters: [0, 2, 3], stopped: true})
    expect(nodes.calls.filter((c) => c.startsWith('remove'))).to.have.length(1)
    expect(readState(paths)!.nodes[1].membership).to.equal('removed')
  })

  it('skips ids the directory already used, and refuses ports in use without recording anything', async () => {
    nodes.directory = [0, 1, 2, 3, 4]
    taken.add(8085)
    let error: unknown
    await changes.add(true).catch((e: unknown) => (error = e))
    expect((error as ClusterError).code).to.equal('PORT_IN_USE')
    expect((error as Error).message).to.equal('node 5 would listen on 8085 on 127.0.0.1, in use by something else: free it and add again')
    expect(readState(paths)!.nodes).to.have.length(3)
    taken.clear()
    expect((await changes.add(true)).node).to.equal(5)
    expect(readState(paths)!.nodes.map((n) => n.membership)).to.deep.equal(['voter', 'voter', 'voter', 'removed', 'removed', 'voter'])
  })

  it('stops a node that joined as another id, and says so', async () => {
    nodes.joinAs = 7
    let error: unknown
    await changes.add(true).catch((e: unknown) => (error = e))
    expect((error as ClusterError).code).to.equal('CONFLICT')
    expect((error as Error).message).to.match(/^node 3 joined as node id 7, not 3/)
    expect(nodes.calls).to.deep.equal(['start 3 via 127.0.0.1:8080', 'stop 3'])
    expect(readState(paths)!.nodes[3].membership).to.equal('removed')
  })

  it('promotes, once the supervisor starts again, a learner an interrupted add left behind', async () => {
    nodes.step = 0
    nodes.commit = 500
    await changes.add(false)
    expect(readState(paths)!.nodes[3].membership).to.equal('learner')
    // The supervisor stops meanwhile: the promotion gives up, the node stays a learner.
    core.stopping = true
    await changes.background
    expect(readEvents(paths.events).filter((e) => e.type === 'warning').map((e) => e.message)).to.deep.equal(['node 3 stays a learner: the cluster is stopping'])
    core.stopping = false
    nodes.step = 400
    changes.resumePromotions()
    await changes.background
    expect(readState(paths)!.nodes[3].membership).to.equal('voter')
    expect(nodes.voters).to.deep.equal([0, 1, 2, 3])
  })

  it('remove leader: hands leadership to a live voter first, removes it on the new leader, then stops it', async () => {
    const answer = await changes.remove(core.nodes[0])
    expect(answer).to.deep.equal({node: 0, was_leader: true, leader: 1, index: 1001, voters: [1, 2], learners: [], stopped: true})
    expect(nodes.calls).to.deep.equal(['transfer 1', 'remove 0 on 1', 'stop 0'])
    expect(readState(paths)!.nodes[0].membership).to.equal('removed')
    expect(readEvents(paths.events).find((e) => e.type === 'member-remove')).to.include({node: 0, index: 1001, leader: 1, was_leader: true})
    let error: unknown
    await changes.remove(core.nodes[0]).catch((e: unknown) => (error = e))
    expect((error as Error).message).to.equal('node 0 was removed already')
  })

  it('refuses a removal that would leave no live quorum or no voter, and changes nothing', async () => {
    nodes.running.delete(2)
    let error: unknown
    await changes.remove(core.nodes[1]).catch((e: unknown) => (error = e))
    expect((error as ClusterError).code).to.equal('CONFLICT')
    expect((error as Error).message).to.equal('removing node 1 would leave 1 live voter of 2, short of a quorum of 2: start node 2 first')
    expect(nodes.calls).to.deep.equal([])

    nodes.voters = [0]
    error = undefined
    await changes.remove(core.nodes[0]).catch((e: unknown) => (error = e))
    expect((error as Error).message).to.match(/^node 0 is the last voter/)
    expect(types()).to.deep.equal([])

    nodes.leader = null
    error = undefined
    await changes.add(true).catch((e: unknown) => (error = e))
    expect((error as ClusterError).code).to.equal('NO_LEADER')
    expect(readState(paths)!.nodes).to.have.length(3)
  })

  it('replace a killed node: adds one, waits until it votes, then removes the dead one (nothing to stop)', async () => {
    nodes.running.delete(2)
    core.nodes[2].record.process = 'exited'
    core.nodes[2].record.pid = null
    const answer = await changes.replace(core.nodes[2])
    expect(answer.added).to.deep.include({node: 3, membership: 'voter'})
    expect(answer.removed).to.deep.include({node: 2, was_leader: false, voters: [0, 1, 3], stopped: false})
    expect(nodes.calls).to.deep.equal(['start 3 via 127.0.0.1:8080', 'promote 3 on 0', 'remove 2 on 0'])
    expect(readState(paths)!.nodes.map((n) => n.membership)).to.deep.equal(['voter', 'voter', 'removed', 'voter'])
    expect(types()).to.deep.equal(['member-add', 'member-promote', 'member-remove'])
  })

  it('replace refuses before it starts anything when the removal could not follow', async () => {
    nodes.running.delete(1)
    nodes.running.delete(2)
    let error: unknown
    await changes.replace(core.nodes[0]).catch((e: unknown) => (error = e))
    expect((error as Error).message).to.equal('removing node 0 would leave 1 live voter of 3, short of a quorum of 2: start nodes 1, 2 first')
    expect(nodes.calls).to.deep.equal([])
    expect(readState(paths)!.nodes).to.have.length(3)

    nodes.running = new Set([0, 1, 2])
    nodes.voters = [0, 1]
    error = undefined
    await changes.replace(core.nodes[2]).catch((e: unknown) => (error = e))
    expect((error as Error).message).to.equal("node 2 is not a member of the cluster's configuration (voters 0,1, learners none)")
    expect(nodes.calls).to.deep.equal([])
  })
})
