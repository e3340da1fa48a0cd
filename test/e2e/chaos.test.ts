import fs from 'node:fs'
import {expect} from 'chai'
import {checkHistory} from '../../src/chaos/checker.js'
import {readHistory} from '../../src/chaos/history.js'
import {formatSummary} from '../../src/chaos/summary.js'
import type {SupervisedCluster} from '../../src/cluster/supervised-cluster.js'
import {alive, runChaosOnFreePorts, startedPids} from './helpers/chaos.js'
import {tempDir} from './helpers/node-process.js'

// A short chaos run, as `pad-cli chaos` does it: three real node processes, a workload and a
// nemesis on a fixed seed for 20 s of faults, then heal, converge and check. Longer runs are
// the command's job (see README, "Chaos testing"); this one keeps the whole path honest.

describe('pad-cli chaos: a short run on three nodes', function () {
  this.timeout(180_000)
  const dirs: string[] = []
  let cluster: SupervisedCluster | null = null

  after(async () => {
    await cluster?.close()
    for (const dir of dirs) fs.rmSync(dir, {recursive: true, force: true})
  })

  it('injects faults of several kinds, and finds nothing lost, duplicated, divergent or out of order', async () => {
    const dir = tempDir('pad-chaos-test-')
    dirs.push(dir)
    const lines: string[] = []
    const result = await runChaosOnFreePorts(dir, {
      seed: 3,
      nodes: 3,
      durationMs: 20_000,
      intervalMs: 1000,
      minHoldMs: 1000,
      maxHoldMs: 3000,
      publishers: 3,
      window: 4,
      rate: 100,
      replay: 'pad-cli chaos --seed 3',
      log: (line) => lines.push(line),
      onCluster: (c) => (cluster = c),
    })
    expect(result, 'no free ports for the chaos cluster').to.not.equal(null)
    const {report, history, historyFile} = result!
    const summary = formatSummary(result!)
    if (!report.valid) console.error(`${lines.join('\n')}\n${summary}`)
    expect(report.problems).to.deep.equal([])
    expect(report.valid, summary).to.equal(true)
    expect(history.meta.converged).to.equal(true)
    // The run did something: faults of more than one kind, elections, and plenty of acks.
    expect(report.counts.faults).to.be.at.least(3)
    expect(new Set(history.faults.map((f) => f.kind.split('-')[0])).size).to.be.at.least(2)
    expect(report.counts.elections).to.be.at.least(1)
    expect(report.counts.acks).to.be.greaterThan(500)
    expect(report.counts.delivered).to.be.greaterThan(report.counts.acks)
    // The history on disk checks the same.
    expect(checkHistory(readHistory(historyFile)).counts).to.deep.equal(report.counts)
    // Every node process the run started (as the cluster's timeline records them) is gone.
    const pids = startedPids(result!.keptDir!)
    expect(pids.size).to.be.at.least(3)
    for (const pid of pids) expect(alive(pid), `pid ${pid} still runs`).to.equal(false)
    cluster = null
  })
})
