import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import {expect} from 'chai'
import {checkHistory} from '../../src/chaos/checker.js'
import {describeFault} from '../../src/chaos/nemesis.js'
import {readHistory} from '../../src/chaos/history.js'
import {formatSummary} from '../../src/chaos/summary.js'
import type {SupervisedCluster} from '../../src/cluster/supervised-cluster.js'
import {alive, runChaosOnFreePorts, startedPids} from './helpers/chaos.js'
import {cliArgs, tempDir} from './helpers/node-process.js'

// Jepsen's combined schedules and overlapping faults on three real node processes, as
// `pad-cli chaos --faults pause-kill,part-kill,overlap` runs them: seed 12 plans a pause-kill,
// then a window of a kill, two delays and a partition at once, then a part-kill. The cluster
// must come back from each with every acknowledged message, once, in agreement.

describe('pad-cli chaos --faults pause-kill,part-kill,overlap: a short run on three nodes', function () {
  this.timeout(240_000)
  const dirs: string[] = []
  let cluster: SupervisedCluster | null = null

  after(async () => {
    await cluster?.close()
    for (const dir of dirs) fs.rmSync(dir, {recursive: true, force: true})
  })

  it('plays the combined and overlapping faults, and finds nothing lost, duplicated or divergent', async () => {
    const dir = tempDir('pad-chaos-overlap-')
    dirs.push(dir)
    const lines: string[] = []
    const result = await runChaosOnFreePorts(dir, {
      seed: 12,
      nodes: 3,
      durationMs: 25_000,
      intervalMs: 1000,
      minHoldMs: 1000,
      maxHoldMs: 3000,
      families: ['pause-kill', 'part-kill', 'overlap'],
      publishers: 3,
      window: 4,
      rate: 100,
      replay: 'pad-cli chaos --seed 12 --nodes 3 --duration 25s --faults pause-kill,part-kill,overlap',
      log: (line) => lines.push(line),
      onCluster: (c) => (cluster = c),
    })
    expect(result, 'no free ports for the chaos cluster').to.not.equal(null)
    const {report, history, historyFile} = result!
    const summary = formatSummary(result!)
    if (!report.valid) console.error(`${lines.join('\n')}\n${summary}`)
    expect(report.problems).to.deep.equal([])
    expect({lost: report.counts.lost, duplicated: report.counts.duplicated, divergent: report.counts.divergent}, summary).to.deep.equal({lost: 0, duplicated: 0, divergent: 0})
    expect(report.valid, summary).to.equal(true)
    expect(history.meta.converged).to.equal(true)
    expect(report.counts.acks).to.be.greaterThan(300)
    expect(checkHistory(readHistory(historyFile)).counts).to.deep.equal(report.counts)

    // The first two steps of the plan were played in full: the pause-kill, then the window.
    const faults = history.faults
    const pauseKill = faults.find((f) => f.kind === 'pause-kill')
    expect(pauseKill, summary).to.not.equal(undefined)
    expect(pauseKill!.error, describeFault(pauseKill!)).to.equal(undefined)
    expect(pauseKill!.healed_at).to.be.greaterThan(pauseKill!.at)
    const window = faults.filter((f) => f.detail?.overlap === 1 && f.detail.outcome !== 'skipped')
    expect(window.map((f) => f.kind.replace(/^partition-.*/, 'partition')).sort(), window.map(describeFault).join('; ')).to.deep.equal(['delay', 'delay', 'kill', 'partition'])
    for (const fault of window) {
      expect(fault.error, describeFault(fault)).to.equal(undefined)
      expect(fault.healed_at, describeFault(fault)).to.be.at.least(fault.at)
    }
    expect(summary).to.match(/overlap {5}1 window/)
    // Every node process the run started (as the cluster's timeline records them) is gone.
    const pids = startedPids(result!.keptDir!)
    expect(pids.size).to.be.at.least(4)
    for (const pid of pids) expect(alive(pid), `pid ${pid} still runs`).to.equal(false)
    cluster = null
  })

  it('refuses an unknown fault family with the list of the known ones', () => {
    const run = spawnSync(process.execPath, cliArgs('chaos', '--faults', 'pause-kill,overlapp'), {encoding: 'utf8', timeout: 60_000})
    expect(run.status).to.equal(2)
    expect(run.stderr).to.match(/unknown fault "overlapp": use kill, stop, .*pause-kill, part-kill, overlap, power, power-all/)
  })
})
