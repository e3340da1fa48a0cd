/**
 * `pad-cli chaos --netns` through the real binary: a temporary cluster whose nodes each run in
 * their own network namespace, partitions cut in the kernel, kills, then heal, converge and
 * check. Root only (see helpers/netns-only.ts).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {execa} from 'execa'
import {expect} from 'chai'
import type {ChaosSummary} from '../../src/chaos/summary.js'
import {readState} from '../../src/cluster/state.js'
import {clusterPaths} from '../../src/cluster/layout.js'
import {networkOf} from '../../src/cluster/netns.js'
import {REPO_ROOT, cliArgs, freePort} from './helpers/node-process.js'
import {onlyWithNetns} from './helpers/netns-only.js'
import {alive, startedPids} from './helpers/chaos.js'

describe('pad-cli chaos --netns: partitions in the kernel, kills', function () {
  this.timeout(300_000)
  let home: string | null = null

  before(function () {
    onlyWithNetns(this)
  })

  after(() => {
    if (home) fs.rmSync(home, {recursive: true, force: true})
  })

  it('finds nothing lost, duplicated or divergent, and leaves no namespace behind', async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-chaos-netns-'))
    // Ports of its own (the nodes listen in their own namespaces, but the rule is per-test ports anyway).
    const base = 20_000 + ((await freePort()) % 11_000)
    const run = await execa(
      process.execPath,
      cliArgs('chaos', '--netns', '--faults', 'partition,kill', '--duration', '30s', '--seed', '5', '--dir', home, '--keep', '--json',
        '--tcp-port', String(base), '--http-port', String(base + 10), '--raft-port', String(base + 20)),
      {cwd: REPO_ROOT, reject: false, timeout: 240_000, stdin: 'ignore'},
    )
    const summary = JSON.parse(String(run.stdout)) as ChaosSummary
    if (!summary.valid) console.error(String(run.stderr))
    expect(run.exitCode, String(run.stderr)).to.equal(0)
    expect(summary.valid).to.equal(true)
    expect(summary.converged).to.equal(true)
    expect(summary.lost).to.deep.equal([])
    expect(summary.duplicated).to.deep.equal([])
    expect(summary.divergent).to.deep.equal([])
    expect(summary.counts.acks).to.be.greaterThan(500)
    expect(summary.faults_by_kind.partition ?? 0, JSON.stringify(summary.faults_by_kind)).to.be.at.least(1)
    // It ran in namespaces, and they are gone with the nodes.
    const state = readState(clusterPaths('chaos', home))!
    expect(state.options.netns).to.not.equal(undefined)
    expect(state.nodes[0].host).to.match(/^10\.88\.\d+\.2$/)
    expect(String(run.stderr)).to.include('each in its own network namespace')
    expect(networkOf(state.options.netns!.id)).to.deep.equal({namespaces: [], links: []})
    for (const pid of startedPids(path.join(home, 'chaos'))) expect(alive(pid), `pid ${pid} still runs`).to.equal(false)
  })
})
