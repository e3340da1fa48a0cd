import {expect} from 'chai'
import type {AddAnswer, ControlAnswers, RemoveAnswer} from '../../src/api/control.js'
import type {ChaosCluster, CorruptHow} from '../../src/chaos/cluster.js'
import type {FaultRecord} from '../../src/chaos/history.js'
import {
  DEFAULT_FAMILIES,
  FAULT_FAMILIES,
  MEMBER_ACTIONS,
  Nemesis,
  describeFault,
  memberAction,
  memberAt,
  membersInOrder,
  membershipBounds,
  planSchedule,
  type FaultStep,
  type ScheduleOptions,
} from '../../src/chaos/nemesis.js'
import {membershipLine} from '../../src/chaos/summary.js'
import {nextMember} from '../../src/chaos/workload.js'
import {ClusterError} from '../../src/cluster/errors.js'
import {planPartition, type Partition, type PartitionRequest} from '../../src/cluster/faults.js'
import type {ClusterMember} from '../../src/cluster/supervised-cluster.js'

// The membership nemesis: its plan (pure, bounded), the rules that turn a planned action into
// one the voters allow, the slots that name members that come and go, and its play against a
// cluster that keeps a configuration the way the supervisor does (and refuses what it refuses).

const OPTIONS: ScheduleOptions = {nodes: 5, durationMs: 600_000, intervalMs: 1500, minHoldMs: 1000, maxHoldMs: 4000, families: ['membership', 'kill']}

describe('chaos membership nemesis', () => {
  describe('plan', () => {
    it('is a function of the seed, and draws every action, replaces of a killed node, the leader and slots', () => {
      const steps = planSchedule(18, OPTIONS)
      expect(planSchedule(18, OPTIONS)).to.deep.equal(steps)
      const changes = steps.filter((s) => s.family === 'membership')
      expect(changes.length).to.be.greaterThan(20)
      expect(new Set(changes.map((s) => s.member!.action))).to.deep.equal(new Set(MEMBER_ACTIONS))
      for (const step of changes) {
        // Every step aims at the leader or a slot of the planned nodes (an add may become a remove).
        expect(step.target === 'leader' || (typeof step.target === 'number' && step.target >= 0 && step.target < 5)).to.equal(true)
        if (step.member!.kill) expect(step.member!.action).to.equal('replace')
      }
      expect(changes.some((s) => s.member!.kill)).to.equal(true)
      expect(changes.some((s) => s.member!.action === 'replace' && !s.member!.kill)).to.equal(true)
      expect(changes.some((s) => s.target === 'leader')).to.equal(true)
    })

    it('is not in the default fault list, and is one of the families --faults accepts (nor is corrupt)', () => {
      expect(FAULT_FAMILIES).to.include('membership')
      expect(FAULT_FAMILIES).to.include('corrupt')
      expect(DEFAULT_FAMILIES).to.not.include('membership')
      expect(DEFAULT_FAMILIES).to.deep.equal(['kill', 'stop', 'pause', 'crash', 'partition', 'delay', 'loss'])
    })

    it('corrupt steps aim at one slot (never "the leader") with a bitflip or a truncation of the db or the WAL', () => {
      const steps = planSchedule(19, {...OPTIONS, families: ['corrupt']})
      expect(steps.length).to.be.greaterThan(20)
      for (const step of steps) {
        expect(step.target).to.be.a('number').within(0, 4)
        const c = step.corruption!
        if ('bitflip' in c) expect(c.bitflip).to.be.within(1, 256)
        else expect(c.truncate).to.be.within(1024, 64 * 1024)
      }
      expect(new Set(steps.map((s) => s.corruption!.file))).to.deep.equal(new Set(['db', 'wal']))
      expect(steps.some((s) => 'bitflip' in s.corruption!) && steps.some((s) => 'truncate' in s.corruption!)).to.equal(true)
    })

    it('keeps the voters within nodes-1..nodes+1 (at least 3), whatever the plan prefers', () => {
      expect(membershipBounds(5)).to.deep.equal({min: 4, max: 6})
      expect(membershipBounds(3)).to.deep.equal({min: 3, max: 4})
      for (const nodes of [3, 4, 5, 7]) {
        const bounds = membershipBounds(nodes)
        let voters = nodes
        // Every change succeeds here: the worst case for the bounds.
        for (const step of planSchedule(nodes, {...OPTIONS, nodes, families: ['membership']})) {
          const action = memberAction(step.member!.action, voters, bounds)
          voters += action === 'add' ? 1 : action === 'remove' ? -1 : 0
          expect(voters).to.be.within(bounds.min, bounds.max)
        }
      }
    })

    it('turns an action the bounds forbid into the one that goes the other way', () => {
      const bounds = {min: 4, max: 6}
      expect(memberAction('add', 5, bounds)).to.equal('add')
      expect(memberAction('add', 6, bounds)).to.equal('remove')
      expect(memberAction('remove', 5, bounds)).to.equal('remove')
      expect(memberAction('remove', 4, bounds)).to.equal('add')
      expect(memberAction('replace', 4, bounds)).to.equal('replace')
      // Bounds with no room either way (3 nodes, min 3, max 3 would be it): replace.
      expect(memberAction('add', 3, {min: 3, max: 3})).to.equal('replace')
      expect(memberAction('remove', 3, {min: 3, max: 3})).to.equal('replace')
    })

    it('resolves slots against the members of the moment', () => {
      expect(memberAt(1, [0, 1, 2, 3, 4])).to.equal(1)
      expect(memberAt(1, [5, 0, 3, 4])).to.equal(3)
      expect(memberAt(4, [0, 3, 5, 6])).to.equal(0)
      // Without changes a planned order is the node order; a grown cluster's extra nodes go last.
      expect(membersInOrder([4, 1, 0, 2, 3], [0, 1, 2, 3, 4])).to.deep.equal([4, 1, 0, 2, 3])
      expect(membersInOrder([4, 1, 0, 2, 3], [0, 2, 3, 5, 6, 7])).to.deep.equal([6, 2, 0, 3, 5, 7])
      expect(membersInOrder([4, 1, 0, 2, 3], [2, 5, 6, 7])).to.deep.equal([5, 2, 6, 7])
      const members = [0, 2, 5].map((index) => ({index, host: 'h', tcp_port: 1, http_port: 2, raft_port: 3}))
      expect(nextMember(members, 0).index).to.equal(2)
      expect(nextMember(members, 1).index).to.equal(2)
      expect(nextMember(members, 5).index).to.equal(0)
    })
  })

  describe('play', () => {
    it('adds, removes and replaces; records refusals as skipped; starts again a node it killed for a refused replace', async () => {
      const cluster = new ConfigCluster(5)
      const steps: FaultStep[] = [
        {at: 0, holdMs: 1, family: 'membership', member: {action: 'add', kill: false}, target: 0},
        {at: 0, holdMs: 1, family: 'membership', member: {action: 'add', kill: false}, target: 1}, // 6 voters: becomes a remove
        {at: 0, holdMs: 1, family: 'membership', member: {action: 'replace', kill: true}, target: 0},
        {at: 0, holdMs: 1, family: 'membership', member: {action: 'remove', kill: false}, target: 'leader'},
        {at: 0, holdMs: 1, family: 'kill', target: 3},
      ]
      const changes: number[] = []
      const options = {clock: () => 0, nodes: 5, onMembershipChange: () => changes.push(cluster.nodes.length), leader: async () => 2}
      const nemesis = new Nemesis(cluster, steps, options, 18)
      // The replace is refused: a change is in flight.
      cluster.refuseNext = new ClusterError('CONFLICT', 'a membership change is in flight (adding a node)')
      cluster.refuseAt = 'replace'
      await nemesis.run(0, 60_000)
      const brief = nemesis.records.map((r) => [r.kind, r.nodes, r.detail?.outcome ?? null, r.error ?? null])
      expect(brief).to.deep.equal([
        ['member-add', [5], 'done', null],
        ['member-remove', [1], 'done', null],
        ['member-replace', [0], 'skipped', null],
        ['member-remove', [2], 'done', null],
        // Slot 3 of members 0,3,4,5: node 5.
        ['kill', [5], null, null],
      ])
      expect(nemesis.records[1].detail).to.include({planned: 'add'})
      expect(nemesis.records[1].detail?.voters_before).to.deep.equal([0, 1, 2, 3, 4, 5])
      expect(nemesis.records[3].detail).to.include({target: 'leader'})
      expect(nemesis.records[2].detail).to.include({killed: true})
      expect(String(nemesis.records[2].detail?.reason)).to.match(/in flight/)
      expect(cluster.calls).to.deep.equal(['add', 'remove 1', 'kill 0', 'replace 0', 'start 0', 'remove 2', 'kill 5', 'start 5'])
      expect(changes).to.deep.equal([6, 5, 5, 4])
      expect(describeFault(nemesis.records[0])).to.equal('add node 5')
      expect(describeFault(nemesis.records[3])).to.equal('remove leader 2')
    })

    it('corrupt: kill, damage, start, then repair a node that reports it; one that noticed nothing runs on', async () => {
      const cluster = new ConfigCluster(3)
      cluster.detects.add(1)
      cluster.noWal = true
      const steps: FaultStep[] = [
        {at: 0, holdMs: 1, family: 'corrupt', target: 1, corruption: {bitflip: 64, file: 'wal'}},
        {at: 0, holdMs: 1, family: 'corrupt', target: 0, corruption: {truncate: 4096, file: 'db'}},
      ]
      let changes = 0
      const nemesis = new Nemesis(cluster, steps, {clock: () => 0, nodes: 3, leader: async () => 0, onMembershipChange: () => changes++}, 19)
      await nemesis.run(0, 60_000)
      expect(nemesis.records.map((r) => [r.kind, r.nodes, r.detail?.outcome, r.detail?.file, r.error ?? null])).to.deep.equal([
        // No WAL to damage (the node had checkpointed it): its database instead.
        ['corrupt', [1, 3], 'repaired', 'db', null],
        ['corrupt', [0], 'undetected', 'db', null],
      ])
      expect(cluster.calls).to.deep.equal(['kill 1', 'corrupt 1 wal', 'corrupt 1 db', 'start 1', 'repair 1', 'kill 0', 'corrupt 0 db', 'start 0', 'repair 0'])
      expect(cluster.nodes.map((n) => n.index)).to.deep.equal([0, 2, 3])
      expect(changes).to.equal(2)
      expect(describeFault(nemesis.records[0])).to.equal('corrupt node 1 (64 bits flipped in its db), repaired by node 3')
      expect(describeFault(nemesis.records[1])).to.equal('corrupt node 0 (4096 bytes cut off its db)')
    })

    it('a replace of a killed node takes it out for good; the summary counts changes and skips', async () => {
      const cluster = new ConfigCluster(3)
      const steps: FaultStep[] = [
        {at: 0, holdMs: 1, family: 'membership', member: {action: 'replace', kill: true}, target: 2},
        {at: 0, holdMs: 1, family: 'membership', member: {action: 'remove', kill: false}, target: 1},
      ]
      const nemesis = new Nemesis(cluster, steps, {clock: () => 0, nodes: 3, leader: async () => 0}, 18)
      await nemesis.run(0, 60_000)
      expect(nemesis.records.map((r) => [r.kind, r.nodes])).to.deep.equal([
        ['member-replace', [2, 3]],
        // 3 voters is the floor for 3 nodes: the remove becomes an add.
        ['member-add', [4]],
      ])
      expect(describeFault(nemesis.records[0])).to.equal('replace killed node 2 by node 3')
      expect(cluster.calls).to.deep.equal(['kill 2', 'replace 2', 'add'])
      expect(cluster.nodes.map((n) => n.index)).to.deep.equal([0, 1, 3, 4])
      const skipped: FaultRecord = {kind: 'member-remove', nodes: [0], at: 0, healed_at: null, detail: {outcome: 'skipped'}}
      const history = {meta: {voters: [0, 1, 3, 4]}, faults: [...nemesis.records, skipped]} as unknown as Parameters<typeof membershipLine>[0]
      expect(membershipLine(history)).to.equal('2 changes (replace 1, add 1), 1 skipped (refused), 0 failed; voters at the end 0,1,3,4')
    })
  })
})

/** A cluster that keeps a configuration as the supervisor would, and answers the membership ops. */
class ConfigCluster implements ChaosCluster {
  readonly dir = '/nowhere'
  readonly calls: string[] = []
  refuseNext: ClusterError | null = null
  refuseAt: string | null = null
  private voterList: number[]
  private next: number

  constructor(nodes: number) {
    this.voterList = Array.from({length: nodes}, (_, i) => i)
    this.next = nodes
  }

  get nodes(): readonly ClusterMember[] {
    return this.voterList.map((index) => ({index, host: '127.0.0.1', tcp_port: 1000 + index, http_port: 2000 + index, raft_port: 3000 + index}))
  }

  async voters(): Promise<number[]> {
    return [...this.voterList]
  }

  private refusal(op: string): void {
    if (this.refuseAt !== op || this.refuseNext === null) return
    const error = this.refuseNext
    this.refuseNext = null
    throw error
  }

  async add(): Promise<AddAnswer> {
    this.calls.push('add')
    this.refusal('add')
    const node = this.next++
    this.voterList.push(node)
    return {node, pid: 1, host: '127.0.0.1', tcp_port: 1000 + node, http_port: 2000 + node, raft_port: 3000 + node, membership: 'voter', leader: 0, promoted_at: 1}
  }

  async remove(index: number): Promise<RemoveAnswer> {
    this.calls.push(`remove ${index}`)
    this.refusal('remove')
    this.voterList = this.voterList.filter((v) => v !== index)
    return {node: index, was_leader: false, leader: this.voterList[0], index: 1, voters: [...this.voterList], learners: [], stopped: true}
  }

  async replace(index: number): Promise<ControlAnswers['replace']> {
    this.calls.push(`replace ${index}`)
    this.refusal('replace')
    this.calls.pop()
    const added = await this.add()
    this.calls.pop()
    const removed = await this.remove(index)
    this.calls.pop()
    this.calls.push(`replace ${index}`)
    return {added, removed}
  }

  /** Nodes whose files `corrupt` damaged: they report corrupt data once started, and repair replaces them. */
  readonly detects = new Set<number>()
  noWal = false

  async corrupt(index: number, how: CorruptHow): Promise<ControlAnswers['corrupt']> {
    this.calls.push(`corrupt ${index} ${how.file}`)
    if (how.file === 'wal' && this.noWal) throw new ClusterError('NODE_STATE', 'node.db-wal cannot be read: ENOENT')
    return {node: index, file: `/nowhere/node.${how.file}`, how: 'bitflip' in how ? 'bitflip' : 'truncate', bytes_before: 10, bytes_after: 10}
  }

  async repair(index: number): Promise<ControlAnswers['repair']> {
    this.calls.push(`repair ${index}`)
    if (!this.detects.has(index)) throw new ClusterError('NODE_STATE', `node ${index}: it does not report corrupt data; nothing to repair`)
    const {added, removed} = await this.replace(index)
    // replace's own record: the repair is the one call.
    this.calls.pop()
    return {node: index, reason: 'raft_log entry 7 fails its checksum', added, removed, kept: '/nowhere.corrupt'}
  }

  async kill(index: number): Promise<void> {
    this.calls.push(`kill ${index}`)
  }

  async start(index: number): Promise<void> {
    this.calls.push(`start ${index}`)
  }

  async stop(index: number): Promise<void> {
    this.calls.push(`stop ${index}`)
  }

  async powerCut(indexes: number[]): Promise<void> {
    this.calls.push(`power-cut ${indexes.join(',')}`)
  }

  async pause(): Promise<void> {}
  async resume(): Promise<void> {}
  async partition(request: PartitionRequest): Promise<Partition> {
    return planPartition(request, this.voterList)
  }
  async delay(): Promise<void> {}
  async loss(): Promise<void> {}
  async heal(): Promise<void> {}
  async restoreAll(): Promise<void> {}
  async close(): Promise<void> {}
  killNow(): void {}
}
