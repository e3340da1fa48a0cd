import fs from 'node:fs'
import {expect} from 'chai'
import {checkHistory} from '../../src/chaos/checker.js'
import {readHistory} from '../../src/chaos/history.js'
import {formatSummary} from '../../src/chaos/summary.js'
import type {SupervisedCluster} from '../../src/cluster/supervised-cluster.js'
import {alive, runChaosOnFreePorts, startedPids} from './helpers/chaos.js'
import {tempDir} from './helpers/node-process.js'

// `pad-cli chaos --faults membership,kill` on three nodes: the nemesis adds, removes and
// replaces members (seed 7 plans a replace of a node it kills first, an add, and another
// replace of a killed node) while it kills nodes; the workload follows the members, and the
// voters at the end hold every acknowledged message, in agreement.

describe('pad-cli chaos: membership changes under kills, on three nodes', function () {
  this.timeout(240_000)
  const dirs: string[] = []
  let cluster: SupervisedCluster | null = null

  after(async () => {
    await cluster?.close()
    for (const dir of dirs) fs.rmSync(dir, {recursive: true, force: true})
  })

  it('changes the membership at least once and finds nothing lost, duplicated or divergent among the voters', async () => {
    const dir = tempDir('pad-chaos-members-')
    dirs.push(dir)
    const lines: string[] = []
    const result = await runChaosOnFreePorts(
      dir,
      {
        seed: 7,
        nodes: 3,
        durationMs: 25_000,
        intervalMs: 1000,
        minHoldMs: 1000,
        maxHoldMs: 3000,
        families: ['membership', 'kill'],
        publishers: 3,
        window: 4,
        rate: 100,
        // Low, so a new member catches up from a snapshot as well as from the log.
        snapshotEntries: 500,
        trailingEntries: 100,
        replay: 'pad-cli chaos --seed 7 --nodes 3 --duration 25s --faults membership,kill',
        log: (line) => lines.push(line),
        onCluster: (c) => (cluster = c),
      },
      // Added nodes take the next indexes: room for 100 of them between the port bases.
      100,
    )
    expect(result, 'no free ports for the chaos cluster').to.not.equal(null)
    const {report, history, historyFile} = result!
    const summary = formatSummary(result!)
    if (!report.valid) console.error(`${lines.join('\n')}\n${summary}`)
    expect(report.problems).to.deep.equal([])
    expect(report.valid, summary).to.equal(true)
    expect(history.meta.converged).to.equal(true)
    expect({lost: report.counts.lost, duplicated: report.counts.duplicated, divergent: report.counts.divergent}).to.deep.equal({lost: 0, duplicated: 0, divergent: 0})
    // The membership changed: a step was done, the voters at the end are not the first three.
    expect(report.counts.membership_changes, summary).to.be.at.least(1)
    const voters = history.meta.voters!
    expect(voters.length).to.be.within(3, 4)
    expect(voters, summary).to.not.deep.equal([0, 1, 2])
    // Exactly the voters were read and compared, and each stores every acknowledged message.
    expect(history.stored.map((s) => s.node)).to.deep.equal(voters)
    expect(report.counts.acks).to.be.greaterThan(500)
    for (const node of voters) expect(report.counts.stored[String(node)]).to.be.at.least(report.counts.acks)
    // A node added during the run got subscribers of its own.
    expect(history.subscribers.some((s) => s.node > 2 && s.moved_from === undefined)).to.equal(true)
    expect(checkHistory(readHistory(historyFile)).counts).to.deep.equal(report.counts)
    // Every node process the run started, the added ones too, is gone.
    const pids = startedPids(result!.keptDir!)
    expect(pids.size).to.be.at.least(4)
    for (const pid of pids) expect(alive(pid), `pid ${pid} still runs`).to.equal(false)
    cluster = null
  })
})
