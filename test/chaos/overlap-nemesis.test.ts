import {expect} from 'chai'
import type {AddAnswer, ControlAnswers, RemoveAnswer} from '../../src/api/control.js'
import type {ChaosCluster} from '../../src/chaos/cluster.js'
import {combinedGroups} from '../../src/chaos/combined.js'
import {minority} from '../../src/chaos/fault-context.js'
import type {FaultRecord, History} from '../../src/chaos/history.js'
import {DEFAULT_FAMILIES, FAMILY_HELP, FAULT_FAMILIES, Nemesis, describeFault, planSchedule, type FaultStep, type ScheduleOptions} from '../../src/chaos/nemesis.js'
import {downInterval, mostDownAtOnce} from '../../src/chaos/overlap.js'
import {faultsInForce, overlapLine} from '../../src/chaos/summary.js'
import {planPartition, type Partition, type PartitionRequest} from '../../src/cluster/faults.js'
import type {ClusterMember} from '../../src/cluster/supervised-cluster.js'
import {sleep} from '../../src/util/time.js'

// The families that play several faults: Jepsen's pause-kill and part-kill, overlapping
// windows, and power cuts. Their plans (pure, bounded: never more than a minority down at once
// in a window), and their play against a cluster that keeps process and network state the way
// the supervisor does and notes the worst moment it went through.

const OPTIONS: ScheduleOptions = {nodes: 5, durationMs: 600_000, intervalMs: 1500, minHoldMs: 1000, maxHoldMs: 4000, families: ['pause-kill', 'part-kill', 'overlap']}

const windowsOf = (steps: FaultStep[]): FaultStep[] => steps.filter((s) => s.family === 'overlap')

/** The most faults of a window in force at one instant (any kind). */
function mostAtOnce(faults: FaultStep[]): number {
  return Math.max(0, ...faults.map((f) => faults.filter((g) => g.at <= f.at && f.at < g.at + Math.max(1, g.holdMs)).length))
}

describe('chaos nemesis: combined and overlapping faults', () => {
  describe('plan', () => {
    it('is a function of the seed and the options', () => {
      const steps = planSchedule(11, OPTIONS)
      expect(planSchedule(11, OPTIONS)).to.deep.equal(steps)
      expect(planSchedule(12, OPTIONS)).to.not.deep.equal(steps)
      expect(planSchedule(11, {...OPTIONS, families: [...OPTIONS.families, 'power']})).to.not.deep.equal(steps)
      expect(new Set(steps.map((s) => s.family))).to.deep.equal(new Set(OPTIONS.families))
    })

    it('keeps the plans of the default families as they were (a replay without --faults plans the same)', () => {
      // Seed 7, 5 nodes, the defaults: the first steps as the one-at-a-time planner drew them before these families.
      const steps = planSchedule(7, {...OPTIONS, families: DEFAULT_FAMILIES})
      expect(steps.slice(0, 4).map((s) => [s.family, s.at, s.holdMs])).to.deep.equal([
        ['stop', 1564, 3266],
        ['delay', 8986, 2769],
        ['kill', 12837, 1472],
        ['pause', 17514, 2501],
      ])
      expect(steps).to.have.length(101)
      expect(steps.every((s) => s.faults === undefined && s.thenMs === undefined)).to.equal(true)
    })

    it('never has more than a minority of the nodes down at one instant in a window, whatever the seed', () => {
      let windows = 0
      let overlapping = 0
      for (const nodes of [3, 4, 5, 7]) {
        for (let seed = 1; seed <= 150; seed++) {
          const steps = planSchedule(seed, {...OPTIONS, nodes, durationMs: 60_000, families: ['overlap', 'power']})
          for (const window of windowsOf(steps)) {
            windows++
            const faults = window.faults!
            expect(faults.length).to.be.within(1, 6)
            expect(mostDownAtOnce(faults), `seed ${seed}, ${nodes} nodes`).to.be.at.most(minority(nodes))
            // One partition at a time; the window lasts until its last fault ends.
            const partitions = faults.filter((f) => f.family === 'partition')
            expect(mostAtOnce(partitions)).to.be.at.most(1)
            for (const f of faults) {
              expect(f.at + f.holdMs).to.be.at.most(window.holdMs)
              expect(['kill', 'pause', 'partition', 'delay', 'loss', 'power']).to.include(f.family)
              if (f.family === 'power') expect(f.holdMs).to.equal(0)
              // Two process faults on one slot never overlap.
              const span = downInterval(f)
              if (span === null) continue
              for (const g of faults) {
                const other = downInterval(g)
                if (g !== f && other !== null && g.target === f.target) expect(span[0] < other[1] && other[0] < span[1]).to.equal(false)
              }
            }
            if (mostAtOnce(faults) >= 2) overlapping++
          }
        }
      }
      expect(windows).to.be.greaterThan(500)
      // Several faults in force at once is the point: most windows have it.
      expect(overlapping / windows).to.be.greaterThan(0.8)
    })

    it('draws power cuts in windows and combined steps only when power is among the families', () => {
      const without = planSchedule(5, OPTIONS)
      expect(windowsOf(without).flatMap((w) => w.faults!).some((f) => f.family === 'power')).to.equal(false)
      expect(without.some((s) => s.power)).to.equal(false)
      const withPower = planSchedule(5, {...OPTIONS, families: [...OPTIONS.families, 'power']})
      expect(windowsOf(withPower).flatMap((w) => w.faults!).some((f) => f.family === 'power')).to.equal(true)
      expect(withPower.some((s) => s.power === true)).to.equal(true)
      expect(withPower.some((s) => (s.family === 'pause-kill' || s.family === 'part-kill') && !s.power)).to.equal(true)
    })

    it('plans pause-kill and part-kill with two holds, a node order, and the leader half the time', () => {
      const combined = planSchedule(9, OPTIONS).filter((s) => s.family === 'pause-kill' || s.family === 'part-kill')
      expect(combined.length).to.be.greaterThan(20)
      for (const step of combined) {
        expect([...step.order!].sort()).to.deep.equal([0, 1, 2, 3, 4])
        expect(step.holdMs).to.be.within(1000, 4000)
        expect(step.thenMs).to.be.within(1000, 4000)
      }
      expect(combined.some((s) => s.target === 'leader')).to.equal(true)
      expect(combined.some((s) => s.target === undefined)).to.equal(true)
      // Three nodes: no combined step on two.
      expect(planSchedule(9, {...OPTIONS, nodes: 2, families: ['pause-kill']})).to.deep.equal([])
    })

    it('splits the members into a minority, the crasher and the rest', () => {
      expect(combinedGroups([3, 0, 4, 1, 2], [0, 1, 2, 3, 4], null)).to.deep.equal({first: [0, 3], crasher: 4, second: [1, 2]})
      // The leader crashes: the groups are cut from the others.
      expect(combinedGroups([3, 0, 4, 1, 2], [0, 1, 2, 3, 4], 0)).to.deep.equal({first: [3, 4], crasher: 0, second: [1, 2]})
      expect(combinedGroups([2, 1, 0], [0, 1, 2], null)).to.deep.equal({first: [2], crasher: 1, second: [0]})
    })

    it('lists every family once, with its line of help; the new ones are not in the defaults', () => {
      for (const family of ['pause-kill', 'part-kill', 'overlap', 'power', 'power-all'] as const) {
        expect(FAULT_FAMILIES).to.include(family)
        expect(DEFAULT_FAMILIES).to.not.include(family)
      }
      expect(Object.keys(FAMILY_HELP).sort()).to.deep.equal([...FAULT_FAMILIES].sort())
      for (const line of Object.values(FAMILY_HELP)) expect(line).to.not.include('\n')
    })
  })

  describe('play', () => {
    it('pause-kill: pauses a minority, kills one of the others, pauses the rest instead, restarts, resumes', async () => {
      const cluster = new StateCluster(5)
      const step: FaultStep = {at: 0, holdMs: 5, thenMs: 5, family: 'pause-kill', order: [3, 0, 4, 1, 2]}
      const nemesis = new Nemesis(cluster, [step], {clock: () => cluster.now(), nodes: 5, leader: async () => 1}, 1)
      await nemesis.run(0, 60_000)
      expect(cluster.calls).to.deep.equal(['pause 0', 'pause 3', 'kill 4', 'pause 1', 'pause 2', 'resume 0', 'resume 3', 'start 4', 'resume 1', 'resume 2'])
      cluster.expectWhole()
      const [record] = nemesis.records
      expect(record).to.include({kind: 'pause-kill'})
      expect(record.error).to.equal(undefined)
      expect(record.healed_at).to.be.at.least(record.at)
      expect(record.detail).to.include({crasher: 4, power: false})
      expect(describeFault(record)).to.equal('pause-kill: pause 0,3, kill node 4, then pause 1,2 instead')
    })

    it('part-kill with a power cut of the leader: cuts it off alone while it restarts, then flips the isolated side', async () => {
      const cluster = new StateCluster(3)
      const step: FaultStep = {at: 0, holdMs: 5, thenMs: 5, family: 'part-kill', order: [2, 1, 0], target: 'leader', power: true}
      const nemesis = new Nemesis(cluster, [step], {clock: () => cluster.now(), nodes: 3, leader: async () => 0}, 1)
      await nemesis.run(0, 60_000)
      expect(cluster.calls).to.deep.equal(['partition 2 | 0,1', 'partition 2 | 0 | 1', 'power 0', 'partition 1 | 0,2', 'heal'])
      cluster.expectWhole()
      expect(describeFault(nemesis.records[0])).to.equal('part-kill: cut off 2, power cut leader 0, then cut off 1 instead')
    })

    it('undoes at once what a combined step did when a part of it fails', async () => {
      const cluster = new StateCluster(3)
      cluster.failPower = true
      const step: FaultStep = {at: 0, holdMs: 5, thenMs: 5, family: 'pause-kill', order: [0, 1, 2], power: true}
      const nemesis = new Nemesis(cluster, [step], {clock: () => cluster.now(), nodes: 3, leader: async () => 1}, 1)
      await nemesis.run(0, 60_000)
      expect(nemesis.records[0].error).to.match(/lazy-fs/)
      expect(nemesis.records[0].healed_at).to.equal(null)
      cluster.expectWhole()
    })

    it('power and power-all: the nodes are back when the record says healed', async () => {
      const cluster = new StateCluster(3)
      const steps: FaultStep[] = [
        {at: 0, holdMs: 1, family: 'power', target: 'leader'},
        {at: 0, holdMs: 1, family: 'power-all'},
      ]
      const nemesis = new Nemesis(cluster, steps, {clock: () => cluster.now(), nodes: 3, leader: async () => 2}, 1)
      await nemesis.run(0, 60_000)
      expect(cluster.calls).to.deep.equal(['power 2', 'power 0,1,2'])
      expect(nemesis.records.map(describeFault)).to.deep.equal(['power cut leader 2', 'power cut every node (0,1,2 at once)'])
      for (const record of nemesis.records) expect(record.healed_at).to.be.at.least(record.at)
      cluster.expectWhole()
    })

    it('overlap: plays the windows of many seeds with never more than a minority down, and undoes everything', async function () {
      this.timeout(120_000)
      for (const nodes of [3, 5]) {
        for (let seed = 1; seed <= 8; seed++) {
          const cluster = new StateCluster(nodes)
          // Short holds, so that many windows play in a test; the rules are the same.
          const steps = windowsOf(planSchedule(seed, {...OPTIONS, nodes, minHoldMs: 20, maxHoldMs: 60, durationMs: 5000, families: ['overlap', 'power']})).slice(0, 2)
          const nemesis = new Nemesis(cluster, steps.map((s) => ({...s, at: 0})), {clock: () => cluster.now(), nodes, leader: async () => cluster.leader()}, seed)
          await nemesis.run(0, 60_000)
          expect(cluster.mostDown, `seed ${seed}, ${nodes} nodes`).to.be.at.most(minority(nodes))
          cluster.expectWhole()
          const faults = nemesis.records.filter((r) => r.detail?.outcome !== 'skipped')
          for (const record of faults) {
            expect(record.error, describeFault(record)).to.equal(undefined)
            expect(record.healed_at, describeFault(record)).to.not.equal(null)
            expect(record.healed_at!).to.be.at.least(record.at)
            expect(record.detail?.overlap).to.be.oneOf([1, 2])
          }
          expect(faults.length).to.be.at.least(steps.length)
        }
      }
    })

    it('overlap: a partition that ends puts back the delays and losses still in force', async () => {
      const cluster = new StateCluster(5)
      const window: FaultStep = {
        at: 0,
        holdMs: 1000,
        family: 'overlap',
        // The partition (held the shortest hold, 200 ms) ends long before the delay and the loss.
        faults: [
          {at: 0, holdMs: 1000, family: 'delay', target: 1, delayMs: 50, jitterMs: 0},
          {at: 0, holdMs: 10, family: 'partition', shape: 'one', order: [2, 0, 1, 3, 4], target: 2},
          {at: 20, holdMs: 1000, family: 'loss', target: 3, loss: 0.2},
        ],
      }
      const nemesis = new Nemesis(cluster, [window], {clock: () => cluster.now(), nodes: 5, leader: async () => 0}, 1)
      const seen: string[] = []
      cluster.onNetwork = () => seen.push(cluster.networkState())
      await nemesis.run(0, 60_000)
      // After the heal of the partition, node 1's delay and node 3's loss are back before anything else happens.
      const healed = seen.indexOf('')
      expect(healed).to.be.greaterThan(0)
      expect(seen[healed - 1]).to.match(/^partition 2 \| 0,1,3,4, delay 1, loss 3$/)
      expect(seen.slice(healed + 1, healed + 3)).to.deep.equal(['delay 1', 'delay 1, loss 3'])
      expect(seen.at(-1)).to.equal('')
      cluster.expectWhole()
      expect(nemesis.records.map((r) => r.kind).sort()).to.deep.equal(['delay', 'loss', 'partition-one'])
    })
  })

  describe('history', () => {
    const fault = (kind: FaultRecord['kind'], nodes: number[], at: number, healed: number | null, overlap?: number): FaultRecord => ({kind, nodes, at, healed_at: healed, detail: overlap === undefined ? {} : {overlap}})

    it('names the faults in force at an instant, overlapping ones too', () => {
      const faults = [fault('kill', [1], 100, 300, 1), fault('pause', [2], 200, 400, 1), fault('delay', [0], 250, null, 1), {...fault('kill', [0], 0, null), error: 'boom'}]
      expect(faultsInForce(faults, 50)).to.deep.equal([])
      expect(faultsInForce(faults, 260).map((f) => f.kind)).to.deep.equal(['kill', 'pause', 'delay'])
      expect(faultsInForce(faults, 300).map((f) => f.kind)).to.deep.equal(['pause', 'delay'])
      const history = {faults: [...faults, {...fault('kill', [1], 500, 600, 2), detail: {overlap: 2, outcome: 'skipped'}}]} as unknown as History
      expect(overlapLine(history)).to.equal('1 window, 3 faults, up to 3 at once, 1 skipped (a minority was down already)')
      expect(overlapLine({faults: [fault('kill', [1], 0, 1)]} as unknown as History)).to.equal(null)
    })
  })
})

type ProcessState = 'running' | 'down' | 'paused'

/**
 * A cluster that keeps what the supervisor keeps (each node's process, the network rules),
 * takes a little time over each request, and notes the most nodes it ever had down at once.
 */
class StateCluster implements ChaosCluster {
  readonly dir = '/nowhere'
  readonly calls: string[] = []
  mostDown = 0
  failPower = false
  onNetwork: (() => void) | null = null
  private readonly state: ProcessState[]
  private partitioned: Partition | null = null
  private readonly delays = new Set<number>()
  private readonly losses = new Set<number>()
  private readonly started = performance.now()

  constructor(nodes: number) {
    this.state = Array.from({length: nodes}, () => 'running' as const)
  }

  now(): number {
    return performance.now() - this.started
  }

  get nodes(): readonly ClusterMember[] {
    return this.state.map((_, index) => ({index, host: '127.0.0.1', tcp_port: 1000 + index, http_port: 2000 + index, raft_port: 3000 + index}))
  }

  /** The lowest running node, as a leader would be elected among them. */
  leader(): number | null {
    const index = this.state.indexOf('running')
    return index < 0 ? null : index
  }

  expectWhole(): void {
    expect(this.state.every((s) => s === 'running'), this.state.join(',')).to.equal(true)
    expect(this.networkState()).to.equal('')
  }

  networkState(): string {
    const parts = [
      ...(this.partitioned ? [`partition ${this.partitioned.groups?.map((g) => g.join(',')).join(' | ')}`] : []),
      ...[...this.delays].sort().map((n) => `delay ${n}`),
      ...[...this.losses].sort().map((n) => `loss ${n}`),
    ]
    return parts.join(', ')
  }

  private async set(index: number, state: ProcessState, call: string): Promise<void> {
    await sleep(1)
    this.calls.push(call)
    this.state[index] = state
    this.mostDown = Math.max(this.mostDown, this.state.filter((s) => s !== 'running').length)
    await sleep(1)
  }

  kill(index: number): Promise<void> {
    return this.set(index, 'down', `kill ${index}`)
  }
  stop(index: number): Promise<void> {
    return this.set(index, 'down', `stop ${index}`)
  }
  start(index: number): Promise<void> {
    return this.set(index, 'running', `start ${index}`)
  }
  pause(index: number): Promise<void> {
    return this.set(index, 'paused', `pause ${index}`)
  }
  resume(index: number): Promise<void> {
    return this.set(index, 'running', `resume ${index}`)
  }

  async powerCut(nodes: number[]): Promise<void> {
    if (this.failPower) throw new Error('power cuts need a cluster started with --lazy-fs')
    this.calls.push(`power ${nodes.join(',')}`)
    for (const n of nodes) this.state[n] = 'down'
    this.mostDown = Math.max(this.mostDown, this.state.filter((s) => s !== 'running').length)
    await sleep(3)
    for (const n of nodes) this.state[n] = 'running'
  }

  private network(call: string | null): void {
    if (call !== null) this.calls.push(call)
    this.onNetwork?.()
  }

  async partition(request: PartitionRequest): Promise<Partition> {
    await sleep(1)
    this.partitioned = planPartition(request, this.state.length)
    this.network(`partition ${this.partitioned.groups?.map((g) => g.join(',')).join(' | ')}`)
    return this.partitioned
  }

  async delay(index: number, delayMs: number, jitterMs: number): Promise<void> {
    await sleep(1)
    if (delayMs === 0 && jitterMs === 0) this.delays.delete(index)
    else this.delays.add(index)
    this.network(null)
  }

  async loss(index: number, share: number): Promise<void> {
    await sleep(1)
    if (share === 0) this.losses.delete(index)
    else this.losses.add(index)
    this.network(null)
  }

  async heal(): Promise<void> {
    await sleep(1)
    this.partitioned = null
    this.delays.clear()
    this.losses.clear()
    this.network('heal')
  }

  async voters(): Promise<number[]> {
    return this.state.map((_, i) => i)
  }
  async add(): Promise<AddAnswer> {
    throw new Error('no membership here')
  }
  async remove(): Promise<RemoveAnswer> {
    throw new Error('no membership here')
  }
  async replace(): Promise<ControlAnswers['replace']> {
    throw new Error('no membership here')
  }
  async corrupt(): Promise<ControlAnswers['corrupt']> {
    throw new Error('no corruption here')
  }
  async repair(): Promise<ControlAnswers['repair']> {
    throw new Error('no corruption here')
  }
  async restoreAll(): Promise<void> {}
  async close(): Promise<void> {}
  killNow(): void {}
}
