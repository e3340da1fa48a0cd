// The deterministic simulation as part of `npm test`: SEEDS_PER_SIZE seeds for each of a 3-node
// and a 5-node cluster, every safety property checked after every step, liveness at the end.
// Longer runs: `npm run sim -- --seeds 100000 --nodes 3,5`.
import {expect} from 'chai'
import {replayCommand, runSimulation, SEEDS_PER_SIZE, type SimResult} from './sim.js'

function runSeeds(nodes: number): {failures: SimResult[]; steps: number; faults: number} {
  const failures: SimResult[] = []
  let steps = 0
  let faults = 0
  for (let seed = 1; seed <= SEEDS_PER_SIZE; seed++) {
    const r = runSimulation({seed, nodes})
    steps += r.steps
    faults += r.faults.crashes + r.faults.partitions + r.faults.dropped + r.faults.duplicated
    if (!r.ok) failures.push(r)
  }
  return {failures, steps, faults}
}

describe('simulation: safety after every step and liveness after healing', function () {
  this.timeout(120_000)

  for (const nodes of [3, 5]) {
    it(`holds for ${SEEDS_PER_SIZE} seeded schedules of a ${nodes}-node cluster`, () => {
      const {failures, steps} = runSeeds(nodes)
      const report = failures.map((r) => `seed ${r.seed}: ${r.violation}\n  replay: ${replayCommand(r.seed, r.nodes)}`).join('\n')
      expect(failures, report).to.have.length(0)
      expect(steps).to.be.greaterThan(SEEDS_PER_SIZE * 1000)
    })
  }

  it('replays a seed exactly: the same seed gives the same run', () => {
    const a = runSimulation({seed: 4242, nodes: 5, trace: true})
    const b = runSimulation({seed: 4242, nodes: 5, trace: true})
    expect(b.steps).to.equal(a.steps)
    expect(b.trace).to.deep.equal(a.trace)
    expect(b.faults).to.deep.equal(a.faults)
  })

  it('injects every kind of fault across the seeds', () => {
    const total = {dropped: 0, duplicated: 0, reordered: 0, partitions: 0, crashes: 0, compactions: 0, transfers: 0, confChanges: 0, confRefusals: 0}
    let snapshotsInstalled = 0
    let catchUps = 0
    for (let seed = 1; seed <= 20; seed++) {
      const r = runSimulation({seed, nodes: 3})
      for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += r.faults[k]
      snapshotsInstalled += r.snapshotsInstalled
      if (r.snapshotsInstalled > 0) catchUps++
    }
    for (const [k, v] of Object.entries(total)) expect(v, k).to.be.greaterThan(0)
    // Compaction is frequent enough that most schedules catch a follower up by a snapshot.
    expect(catchUps, 'schedules with a snapshot installed').to.be.greaterThan(10)
    expect(snapshotsInstalled).to.be.greaterThan(20)
  })
})
