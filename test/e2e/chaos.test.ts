import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import {expect} from 'chai'
import {checkHistory} from '../../src/chaos/checker.js'
import {readHistory} from '../../src/chaos/history.js'
import {describeFault} from '../../src/chaos/nemesis.js'
import type {ChaosRunResult} from '../../src/chaos/run.js'
import {formatSummary} from '../../src/chaos/summary.js'
import type {SupervisedCluster} from '../../src/cluster/supervised-cluster.js'
import {alive, runChaosOnFreePorts, startedPids} from './helpers/chaos.js'
import {cliArgs, tempDir} from './helpers/node-process.js'
import {requireLazyFs} from '../lazyfs/require-lazy-fs.js'

// Short chaos runs, as `pad-cli chaos` does them: three real node processes, a workload and a
// nemesis on a fixed seed for 20-25 s of faults, then heal, converge and check. Longer runs are
// the command's job (see README, "Chaos testing"); these keep the whole path honest.

describe('pad-cli chaos: short runs on three nodes', function () {
  this.timeout(240_000)
  const dirs: string[] = []
  let cluster: SupervisedCluster | null = null

  after(async () => {
    await cluster?.close()
    for (const dir of dirs) fs.rmSync(dir, {recursive: true, force: true})
  })

  /** A temp dir that is removed after the tests, and the run's progress lines. */
  function setup(): {dir: string; lines: string[]; log: (line: string) => void; onCluster: (c: SupervisedCluster | null) => void} {
    const dir = tempDir('pad-chaos-test-')
    dirs.push(dir)
    const lines: string[] = []
    return {dir, lines, log: (line) => lines.push(line), onCluster: (c) => (cluster = c)}
  }

  /** The checks every run must pass; returns the summary, for the messages of further checks. */
  function expectClean(result: ChaosRunResult | null, lines: string[], minPids: number): string {
    expect(result, 'no free ports for the chaos cluster').to.not.equal(null)
    const {report, history, historyFile} = result!
    const summary = formatSummary(result!)
    if (!report.valid) console.error(`${lines.join('\n')}\n${summary}`)
    expect(report.problems).to.deep.equal([])
    expect(report.valid, summary).to.equal(true)
    expect(history.meta.converged).to.equal(true)
    expect(report.counts.acks).to.be.greaterThan(500)
    // The history on disk checks the same.
    expect(checkHistory(readHistory(historyFile)).counts).to.deep.equal(report.counts)
    // Every node process the run started (as the cluster's timeline records them) is gone.
    const pids = startedPids(result!.keptDir!)
    expect(pids.size).to.be.at.least(minPids)
    for (const pid of pids) expect(alive(pid), `pid ${pid} still runs`).to.equal(false)
    cluster = null
    return summary
  }

  it('injects faults of several kinds, and finds nothing lost, duplicated, divergent or out of order', async () => {
    const {dir, lines, log, onCluster} = setup()
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
      log,
      onCluster,
    })
    expectClean(result, lines, 3)
    const {report, history} = result!
    // The run did something: faults of more than one kind, elections, and subscribers served.
    expect(report.counts.faults).to.be.at.least(3)
    expect(new Set(history.faults.map((f) => f.kind.split('-')[0])).size).to.be.at.least(2)
    expect(report.counts.elections).to.be.at.least(1)
    expect(report.counts.delivered).to.be.greaterThan(report.counts.acks)
  })

  // --faults membership,kill: seed 7 plans a replace of a node the nemesis kills first, an add,
  // and another replace of a killed node, among kills; the workload follows the members, and
  // the voters at the end hold every acknowledged message, in agreement.
  it('changes the membership under kills, and the voters at the end agree and hold every ack', async () => {
    const {dir, lines, log, onCluster} = setup()
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
        log,
        onCluster,
      },
      // Added nodes take the next indexes: room for 100 of them between the port bases.
      100,
    )
    const summary = expectClean(result, lines, 4)
    const {report, history} = result!
    expect({lost: report.counts.lost, duplicated: report.counts.duplicated, divergent: report.counts.divergent}).to.deep.equal({lost: 0, duplicated: 0, divergent: 0})
    // The membership changed: the voters at the end are not the first three.
    expect(report.counts.membership_changes, summary).to.be.at.least(1)
    const voters = history.meta.voters!
    expect(voters.length).to.be.within(3, 4)
    expect(voters, summary).to.not.deep.equal([0, 1, 2])
    // Exactly the voters were read and compared, and each stores every acknowledged message.
    expect(history.stored.map((s) => s.node)).to.deep.equal(voters)
    for (const node of voters) expect(report.counts.stored[String(node)]).to.be.at.least(report.counts.acks)
    // A node added during the run got subscribers of its own.
    expect(history.subscribers.some((s) => s.node > 2 && s.moved_from === undefined)).to.equal(true)
  })

  // --faults pause-kill,part-kill,overlap: seed 12 plans Jepsen's pause-kill (with the leader
  // as the node killed), then a window of a kill, two delays and a partition of the leader
  // overlapping, then a part-kill. The cluster comes back from each with every ack, once.
  it('plays the combined and overlapping faults, and finds nothing lost, duplicated or divergent', async () => {
    const {dir, lines, log, onCluster} = setup()
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
      log,
      onCluster,
    })
    const summary = expectClean(result, lines, 4)
    const {report, history} = result!
    expect({lost: report.counts.lost, duplicated: report.counts.duplicated, divergent: report.counts.divergent}).to.deep.equal({lost: 0, duplicated: 0, divergent: 0})
    // The first two steps of the plan were played in full: the pause-kill, then the window.
    const pauseKill = history.faults.find((f) => f.kind === 'pause-kill')
    expect(pauseKill, summary).to.not.equal(undefined)
    expect(pauseKill!.error, describeFault(pauseKill!)).to.equal(undefined)
    expect(pauseKill!.healed_at).to.be.greaterThan(pauseKill!.at)
    const window = history.faults.filter((f) => f.detail?.overlap === 1 && f.detail.outcome !== 'skipped')
    const kinds = window.map((f) => f.kind.replace(/^partition-.*/, 'partition')).sort()
    expect(kinds, window.map(describeFault).join('; ')).to.deep.equal(['delay', 'delay', 'kill', 'partition'])
    for (const fault of window) {
      expect(fault.error, describeFault(fault)).to.equal(undefined)
      expect(fault.healed_at, describeFault(fault)).to.be.at.least(fault.at)
    }
    expect(summary).to.match(/overlap {5}1 window/)
  })

  it('refuses an unknown fault family with the list of the known ones', () => {
    const run = spawnSync(process.execPath, cliArgs('chaos', '--faults', 'pause-kill,overlapp'), {encoding: 'utf8', timeout: 60_000})
    expect(run.status).to.equal(2)
    expect(run.stderr).to.match(/unknown fault "overlapp": use kill, stop, .*pause-kill, part-kill, overlap, power, power-all/)
  })
})

// Power cuts on the lazy layer (root and FUSE): the nodes' defaults lose nothing acknowledged;
// the planted bug, --unsafe-no-fsync (SQLite synchronous=OFF), must lose acknowledged messages
// when every node loses power at once, and the checker must say so.
describe('pad-cli chaos --faults power,power-all: the checker against the planted bug', function () {
  this.timeout(240_000)
  const dirs: string[] = []

  before(function () {
    requireLazyFs(this)
  })

  after(() => {
    for (const dir of dirs) fs.rmSync(dir, {recursive: true, force: true})
  })

  const run = async (seed: number, unsafeNoFsync: boolean): Promise<ChaosRunResult> => {
    const dir = tempDir('pad-chaos-power-')
    dirs.push(dir)
    const lines: string[] = []
    const result = await runChaosOnFreePorts(dir, {
      seed,
      nodes: 3,
      durationMs: 20_000,
      intervalMs: 1000,
      minHoldMs: 1000,
      maxHoldMs: 2000,
      families: ['power', 'power-all'],
      publishers: 3,
      window: 4,
      rate: 100,
      unsafeNoFsync,
      replay: `pad-cli chaos --seed ${seed} --duration 20s --faults power,power-all${unsafeNoFsync ? ' --unsafe-no-fsync' : ''}`,
      log: (line) => lines.push(line),
    })
    expect(result, 'no free ports for the chaos cluster').to.not.equal(null)
    if (!unsafeNoFsync && !result!.report.valid) console.error(`${lines.join('\n')}\n${formatSummary(result!)}`)
    return result!
  }

  it('finds nothing lost through power cuts of one node and of every node', async () => {
    const result = await run(1901, false)
    const {report, history} = result
    expect(history.faults.map((f) => f.kind)).to.include('power-all')
    expect({lost: report.counts.lost, duplicated: report.counts.duplicated, divergent: report.counts.divergent}).to.deep.equal({lost: 0, duplicated: 0, divergent: 0})
    expect(report.valid, formatSummary(result)).to.equal(true)
  })

  it('reports the acknowledged messages that nodes without fsync lose (node --unsafe-no-fsync)', async () => {
    const {report, history} = await run(1901, true)
    expect(history.faults.map((f) => f.kind)).to.include('power-all')
    expect(report.valid).to.equal(false)
    expect(report.counts.lost).to.be.greaterThan(0)
  })
})
