import fs from 'node:fs'
import path from 'node:path'
import {expect} from 'chai'
import {checkHistory} from '../../src/chaos/checker.js'
import {readHistory} from '../../src/chaos/history.js'
import {DEFAULT_RUN, runChaos, type ChaosRunResult} from '../../src/chaos/run.js'
import {formatSummary} from '../../src/chaos/summary.js'
import type {SupervisedCluster} from '../../src/cluster/supervised-cluster.js'
import {cliArgs, freePort, tempDir} from './helpers/node-process.js'

// A short chaos run, as `pad-cli chaos` does it: three real node processes, a workload and a
// nemesis on a fixed seed for 20 s of faults, then heal, converge and check. Longer runs are
// the command's job (see README, "Chaos testing"); this one keeps the whole path honest.

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('pad-cli chaos: a short run on three nodes', function () {
  this.timeout(180_000)
  const dirs: string[] = []
  const pids = new Set<number>()
  let cluster: SupervisedCluster | null = null

  after(async () => {
    await cluster?.close()
    for (const dir of dirs) fs.rmSync(dir, {recursive: true, force: true})
  })

  it('injects faults of several kinds, and finds nothing lost, duplicated, divergent or out of order', async () => {
    const dir = tempDir('pad-chaos-test-')
    dirs.push(dir)
    const lines: string[] = []
    let result: ChaosRunResult | null = null
    // Ports come in runs of three from a base; take another base if one of them is in use.
    for (let attempt = 0; attempt < 3 && !result; attempt++) {
      // Below the ephemeral range (32768+), so no outgoing connection holds one of them.
      const base = 20_000 + ((await freePort()) % 12_000)
      try {
        result = await runChaos({
          ...DEFAULT_RUN,
          seed: 3,
          nodes: 3,
          durationMs: 20_000,
          intervalMs: 1000,
          minHoldMs: 1000,
          maxHoldMs: 3000,
          publishers: 3,
          window: 4,
          rate: 100,
          tcpPort: base,
          httpPort: base + 10,
          raftPort: base + 20,
          dir: path.join(dir, `cluster-${attempt}`),
          keep: true,
          cli: {command: process.execPath, args: cliArgs()},
          replay: 'pad-cli chaos --seed 3',
          log: (line) => lines.push(line),
          onCluster: (c) => (cluster = c),
        })
      } catch (error) {
        if (!/in use/.test((error as Error).message)) throw error
      }
    }
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
    const events = fs
      .readFileSync(path.join(result!.keptDir!, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as {type: string; pid?: number})
    for (const event of events) if (event.type === 'start' && typeof event.pid === 'number') pids.add(event.pid)
    expect(pids.size).to.be.at.least(3)
    for (const pid of pids) expect(alive(pid), `pid ${pid} still runs`).to.equal(false)
    cluster = null
  })
})
