import {expect} from 'chai'
import {DEFAULT_FAMILIES, describeFault, partitionName, partitionRequest, planSchedule, shapesFor, type Shape, type ScheduleOptions} from '../../src/chaos/nemesis.js'
import {planPartition, type Partition} from '../../src/cluster/faults.js'
import {derive, mulberry32, shuffle} from '../../src/chaos/random.js'
import {replayCommand} from '../../src/chaos/summary.js'
import {isDefiniteError, valueOf} from '../../src/chaos/workload.js'

const OPTIONS: ScheduleOptions = {nodes: 5, durationMs: 120_000, intervalMs: 1500, minHoldMs: 1000, maxHoldMs: 4000, families: DEFAULT_FAMILIES}

/** The partition a step plans, as the cluster manager computes it. */
function partitionSpec(shape: Shape, order: number[], isolated?: number): Partition {
  return planPartition(partitionRequest(shape, order, isolated), order.length)
}

/** Node pairs that can still talk, for a partition of `n` nodes. */
function reachable(cuts: [number, number][], n: number): number[][] {
  const cut = new Set(cuts.map(([a, b]) => `${a}-${b}`))
  return Array.from({length: n}, (_, a) => Array.from({length: n}, (_, b) => b).filter((b) => a === b || !cut.has(a < b ? `${a}-${b}` : `${b}-${a}`)))
}

describe('chaos nemesis', () => {
  describe('schedule', () => {
    it('is a function of the seed', () => {
      expect(planSchedule(42, OPTIONS)).to.deep.equal(planSchedule(42, OPTIONS))
      expect(planSchedule(42, OPTIONS)).to.not.deep.equal(planSchedule(43, OPTIONS))
    })

    it('covers the run with faults of every family, each held within bounds, in time order', () => {
      const steps = planSchedule(7, {...OPTIONS, durationMs: 600_000})
      expect(steps.length).to.be.greaterThan(50)
      expect(new Set(steps.map((s) => s.family))).to.deep.equal(new Set(DEFAULT_FAMILIES))
      expect(new Set(steps.filter((s) => s.family === 'partition').map((s) => s.shape))).to.deep.equal(new Set(['one', 'leader', 'halves', 'ring', 'bridge']))
      for (const [i, step] of steps.entries()) {
        expect(step.holdMs).to.be.within(1000, 4000)
        expect(step.at).to.be.below(600_000)
        if (i > 0) expect(step.at).to.be.greaterThan(steps[i - 1].at + steps[i - 1].holdMs)
      }
      expect(steps.some((s) => s.target === 'leader')).to.equal(true)
      expect(steps.some((s) => typeof s.target === 'number')).to.equal(true)
      const crashes = steps.filter((s) => s.family === 'crash').map((s) => s.nodes!.length)
      expect(new Set(crashes)).to.deep.equal(new Set([3, 5]))
    })

    it('only draws the families asked for, and no ring on three nodes', () => {
      const steps = planSchedule(3, {...OPTIONS, nodes: 3, families: ['partition'], durationMs: 300_000})
      expect(steps.every((s) => s.family === 'partition')).to.equal(true)
      expect(steps.some((s) => s.shape === 'ring')).to.equal(false)
      expect(shapesFor(3)).to.deep.equal(['one', 'leader', 'halves', 'bridge'])
      expect(planSchedule(3, {...OPTIONS, families: []})).to.deep.equal([])
    })
  })

  describe('partition shapes', () => {
    it('one / leader: the node against the rest', () => {
      const spec = partitionSpec('leader', [0, 1, 2], 1)
      expect(spec.cuts).to.deep.equal([
        [0, 1],
        [1, 2],
      ])
      expect(spec.groups).to.deep.equal([[1], [0, 2]])
    })

    it('halves: a minority against a majority, in the given order', () => {
      const spec = partitionSpec('halves', [3, 0, 4, 1, 2])
      expect(spec.groups).to.deep.equal([
        [0, 3],
        [1, 2, 4],
      ])
      expect(spec.cuts).to.have.length(6)
    })

    it('bridge: one node of the majority keeps its links to both halves', () => {
      const spec = partitionSpec('bridge', [3, 0, 4, 1, 2])
      const reach = reachable(spec.cuts, 5)
      expect(reach[4]).to.deep.equal([0, 1, 2, 3, 4])
      expect(reach[0]).to.deep.equal([0, 3, 4])
      expect(reach[1]).to.deep.equal([1, 2, 4])
    })

    it('names each partition by its planned geometry', () => {
      const order = [3, 0, 4, 1, 2]
      const name = (shape: Shape, isolated?: number): string => partitionName(shape, partitionSpec(shape, order, isolated))
      expect(name('one')).to.equal('one (3 | 0,1,2,4)')
      expect(name('leader', 1)).to.equal('leader (1 | 0,2,3,4)')
      expect(name('halves')).to.equal('halves (0,3 | 1,2,4)')
      expect(name('bridge')).to.equal('bridge (0,3 | 1,2,4, bridge 4)')
      expect(name('ring')).to.equal('ring (3-0-4-1-2)')
    })

    it('ring: every node sees a majority, and no two see the same one', () => {
      for (const n of [4, 5, 7]) {
        const order = shuffle(mulberry32(n), [...Array(n).keys()])
        const reach = reachable(partitionSpec('ring', order).cuts, n)
        for (const seen of reach) expect(seen.length).to.be.greaterThan(n / 2)
        expect(new Set(reach.map((r) => r.join(','))).size).to.equal(n)
      }
    })
  })

  it('tears about half of the power family cuts, each with its seed, and leaves every other draw as it was', () => {
    const options = {...OPTIONS, families: ['power', 'power-all', 'kill'] as ScheduleOptions['families'], durationMs: 600_000}
    const steps = planSchedule(11, options)
    const power = steps.filter((s) => s.family === 'power')
    const torn = power.filter((s) => s.tornSeed !== undefined)
    expect(power.length).to.be.greaterThan(20)
    expect(torn.length / power.length).to.be.within(0.25, 0.75)
    for (const s of torn) expect(Number.isSafeInteger(s.tornSeed) && s.tornSeed! >= 0).to.equal(true)
    expect(steps.filter((s) => s.family !== 'power').every((s) => s.tornSeed === undefined)).to.equal(true)
    // The torn draws come from their own stream: times, families and targets are those this seed
    // planned before torn cuts existed (pinned from the schedule of that version).
    expect(steps.slice(0, 6).map((s) => [s.at, s.family, s.target ?? null])).to.deep.equal([
      [1979, 'power', 'leader'],
      [8299, 'kill', 'leader'],
      [14801, 'power-all', null],
      [29615, 'kill', 'leader'],
      [36968, 'power-all', null],
      [51812, 'power-all', null],
    ])
  })

  it('describes faults in words', () => {
    expect(describeFault({kind: 'kill', nodes: [2], at: 0, healed_at: null, detail: {target: 'leader'}})).to.equal('kill leader 2')
    expect(describeFault({kind: 'crash', nodes: [0, 2], at: 0, healed_at: null, detail: {of: 3}})).to.equal('crash nodes 0,2 (SIGKILL 2 of 3 at once)')
    expect(describeFault({kind: 'loss', nodes: [0], at: 0, healed_at: null, detail: {loss: 0.25}})).to.equal('loss node 0 25%')
    expect(describeFault({kind: 'partition-halves', nodes: [0, 1, 2], at: 0, healed_at: null, detail: {name: 'halves (0 | 1,2)'}})).to.equal('partition halves (0 | 1,2)')
  })

  it('derives independent generators from one seed', () => {
    const a = derive(5, 'nemesis')
    const b = derive(5, 'publisher-0')
    expect([a(), a()]).to.not.deep.equal([b(), b()])
    expect(derive(5, 'nemesis')()).to.equal(derive(5, 'nemesis')())
  })
})

describe('chaos workload helpers', () => {
  it('knows which broker errors say the message was not stored', () => {
    expect(isDefiniteError('BAD_REQUEST', 'bad')).to.equal(true)
    expect(isDefiniteError('NO_LEADER', 'leadership changed before the publish committed; it was not stored')).to.equal(true)
    expect(isDefiniteError('NO_LEADER', 'not committed within 2000 ms (no leader or no quorum); the outcome is unknown, retry with the same id')).to.equal(false)
    expect(isDefiniteError('SHUTTING_DOWN', 'the node is shutting down')).to.equal(false)
    expect(isDefiniteError('INTERNAL', 'boom')).to.equal(false)
  })

  it('reads the value of a body', () => {
    expect(valueOf('{"v":"c1.0.3"}')).to.equal('c1.0.3')
    expect(valueOf('{"v":3}')).to.equal('{"v":3}')
    expect(valueOf('plain')).to.equal('plain')
  })

  it('builds the replay command from the arguments, with the seed and without output flags', () => {
    expect(replayCommand('pad-cli', 99, ['--duration', '2m', '--json', '--history', '/tmp/h.json', '--seed=5', '--faults', 'kill,partition'])).to.equal(
      'pad-cli chaos --seed 99 --duration 2m --faults kill,partition',
    )
  })
})
