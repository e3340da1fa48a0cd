// The simulation must prove it can fail: each planted bug (a test-only switch in RaftConfig.bugs)
// must be caught by its checkers within the seeds `npm test` runs (sim.test.ts: seeds
// 1..SEEDS_PER_SIZE for 3 and for 5 nodes). A checker that cannot catch these proves nothing.
import {expect} from 'chai'
import type {PlantedBugs} from '../../src/raft/config.js'
import {runSimulation, SEEDS_PER_SIZE, type SimResult} from './sim.js'

/** The first run within the test's seeds that the bug makes fail (with a violation matching
 * `effects`, when given: a bug may first show as a stall in one seed and as lost data in another). */
function hunt(bugs: PlantedBugs, durabilityChecks = true, effects?: RegExp): SimResult | null {
  for (const nodes of [3, 5]) {
    for (let seed = 1; seed <= SEEDS_PER_SIZE; seed++) {
      const r = runSimulation({seed, nodes, bugs, durabilityChecks})
      if (!r.ok && (effects === undefined || effects.test(r.violation ?? ''))) return r
    }
  }
  return null
}

const END_TO_END = /election safety|log matching|leader completeness|state machine safety/
// Rolling a follower back to an older snapshot shows first as its commit index going back.
const ROLLBACK = /commit decreased|snapshot|election safety|log matching|leader completeness|state machine safety/

const cases: {bug: keyof PlantedBugs; rule: string; effects: RegExp}[] = [
  {bug: 'voteWithoutUpToDateCheck', rule: 'voting without the §5.4.1 up-to-date check', effects: END_TO_END},
  {bug: 'twoVotesPerTerm', rule: 'granting two votes in one term', effects: END_TO_END},
  {bug: 'commitPreviousTermByCounting', rule: 'committing a previous-term entry by counting replicas (Figure 8)', effects: END_TO_END},
  // Acknowledging early shows up as a follower told to commit entries it lost in a crash: the
  // core itself refuses ("commit ... is past the last index; was the log lost").
  {bug: 'replyBeforePersisting', rule: 'answering before the answer is durable', effects: /was the log lost|election safety|log matching|leader completeness|state machine safety/},
  {bug: 'forgetTermOnRestart', rule: 'forgetting the term and vote on restart', effects: END_TO_END},
  {bug: 'installOlderSnapshot', rule: 'installing a snapshot older than the commit index', effects: ROLLBACK},
  {bug: 'sendCompactedEntries', rule: 'sending stand-ins for compacted entries instead of a snapshot', effects: END_TO_END},
  // Two voter changes in flight let a majority of the old configuration and one of the newest
  // miss each other: a leader elected by the former lacks what the latter committed.
  {bug: 'concurrentConfChanges', rule: 'a second membership change while one is uncommitted', effects: END_TO_END},
  // With one change at a time this one is caught by the rule it breaks (§4.1: a node uses the
  // latest configuration in its log), checked whenever a node's log is all durable.
  {bug: 'confOnCommit', rule: 'a configuration taking effect on commit instead of on append', effects: /configuration safety|election safety|log matching|leader completeness|state machine safety/},
  // Safe but wrong: a leader outside the configuration it committed goes on leading it.
  {bug: 'removedLeaderKeepsLeading', rule: 'a removed leader that keeps leading once its removal commits', effects: /configuration safety: .* leads term \d+ although its removal/},
]

function show(bug: string, r: SimResult): void {
  console.log(`      ${bug}: seed ${r.seed}, ${r.nodes} nodes: ${r.violation?.split('\n')[0].slice(0, 160)}`)
}

describe('planted bugs: the simulation catches each one', function () {
  this.timeout(120_000)

  for (const c of cases) {
    it(`catches ${c.rule}`, () => {
      const r = hunt({[c.bug]: true})
      expect(r, `${c.bug} was not caught in ${SEEDS_PER_SIZE} seeds of 3 and 5 nodes`).to.not.equal(null)
      show(c.bug, r as SimResult)
    })
  }

  // The durability checker catches the persistence bugs at their first early promise. These show
  // that the end-to-end properties alone catch every bug too, by its effect on the cluster.
  for (const c of cases) {
    it(`catches ${c.rule} by its effects, without the durability checker`, () => {
      const r = hunt({[c.bug]: true}, false, c.effects)
      expect(r, `${c.bug} was not caught end to end in ${SEEDS_PER_SIZE} seeds of 3 and 5 nodes`).to.not.equal(null)
      expect((r as SimResult).violation).to.match(c.effects)
      show(c.bug, r as SimResult)
    })
  }

  it('finds no violation with no bug planted (the same seeds pass in sim.test.ts)', () => {
    expect(runSimulation({seed: 1, nodes: 3}).ok).to.equal(true)
  })
})
