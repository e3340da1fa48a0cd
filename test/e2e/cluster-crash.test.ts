/**
 * Crashes through the real `pad-cli`: a node that dies of a signal nobody in the cluster
 * manager sent (SIGSEGV, SIGABRT, sent here by pid) or that fails by itself (its HTTP port
 * taken) is `crashed`, with the end of its log, in `status` and in the timeline; a node
 * killed with `pad-cli kill` stays `exited`. Without --restart a crashed node stays down;
 * with `--restart on-failure` it comes back after its back-off and rejoins, and the cluster
 * keeps the policy for its next `up`.
 */
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import {expect} from 'chai'
import type {ClusterEvent} from '../../src/cluster/events.js'
import {FIRST_DELAY_MS} from '../../src/cluster/restart-policy.js'
import {sleep} from '../../src/util/time.js'
import type {ClusterStatus} from '../../src/cluster/status.js'
import {CliCluster, HOST, clusterHooks, eventually, expectEventShape, expectStatusShape} from './cluster-helpers.js'

const UP_TIMING = ['--wait', '60s', '--election-timeout', '200ms', '--heartbeat', '50ms']
/** How long after an exit a node must still be down to show that no restart is coming. */
const NO_RESTART_WITHIN_MS = 2.5 * FIRST_DELAY_MS

/** A running follower's index and pid. */
function follower(status: ClusterStatus, not: number[] = []): {index: number; pid: number} {
  const node = status.nodes.find((n) => n.role === 'FOLLOWER' && n.pid !== null && !not.includes(n.index))
  if (!node) throw new Error(`no running follower in ${JSON.stringify(status.nodes.map((n) => [n.index, n.process, n.role]))}`)
  return {index: node.index, pid: node.pid!}
}

function exitOf(events: ClusterEvent[], pid: number): ClusterEvent | undefined {
  return events.find((e) => e.type === 'exit' && e.pid === pid)
}

describe('cluster manager: crashes', function () {
  this.timeout(300_000)
  let cluster: CliCluster | null = null
  clusterHooks(() => cluster)

  it('shows a crash as crashed with the end of the log, keeps a kill as exited, and restarts nothing by default', async () => {
    const c = (cluster = await CliCluster.create(3))
    expect(await c.fails(['up', ...c.upFlags(), '--restart', 'always'], 2, {cluster: false})).to.equal('Error: --restart must be no or on-failure (got "always")')
    await c.ok(['up', ...c.upFlags(), ...UP_TIMING], {cluster: false})
    const first = await c.status()
    expect(await c.ok(['publish', 'news', '"before"'])).to.equal('stored news@0 (detected format: JSON)\n')

    // A kill on request: exited, not crashed.
    const killed = follower(first)
    await c.ok(['kill', String(killed.index)])
    let status = await c.status()
    expect(status.nodes[killed.index]).to.include({process: 'exited', exit_signal: 'SIGKILL', pid: null})
    expect(status.nodes[killed.index].crash_log).to.deep.equal([])
    expect(exitOf(await c.events(), killed.pid)).to.include({expected: true, crashed: false})

    // A signal the supervisor did not send: crashed, with the end of node.log.
    const victim = follower(first, [killed.index])
    process.kill(victim.pid, 'SIGSEGV')
    status = await eventually('the node to show as crashed', async () => {
      const now = await c.status()
      return now.nodes[victim.index].process === 'crashed' ? now : undefined
    })
    expectStatusShape(status, c.name, 3)
    const crashed = status.nodes[victim.index]
    expect(crashed).to.include({exit_signal: 'SIGSEGV', exit_code: null, pid: null, role: null, restart_at: null})
    const logEnd = fs.readFileSync(crashed.log_file, 'utf8').trimEnd().split('\n').at(-1)
    expect(crashed.crash_log.length).to.be.within(1, 20)
    expect(crashed.crash_log.at(-1)).to.equal(logEnd)
    const table = await c.ok(['status'])
    expect(table).to.match(new RegExp(`\\n${victim.index} .* crashed \\(SIGSEGV\\) `))
    expect(table).to.include(`node ${victim.index} crashed; the end of ${crashed.log_file}:\n  | `)

    let events = await c.events()
    for (const event of events) expectEventShape(event)
    const crash = exitOf(events, victim.pid)!
    expect(crash).to.include({node: victim.index, signal: 'SIGSEGV', expected: false, crashed: true})
    expect(crash.log).to.deep.equal(crashed.crash_log)
    expect(Buffer.byteLength(JSON.stringify(crash.log))).to.be.at.most(4096 + 100)
    expect(await c.ok(['events'])).to.include(`node ${victim.index} crashed: killed by SIGSEGV; log: `)

    // Nobody restarts it: a restart would come FIRST_DELAY_MS after the crash; wait well past that.
    await sleep(Math.max(0, Date.parse(crash.time) + NO_RESTART_WITHIN_MS - Date.now()))
    status = await c.status()
    expect(status.nodes[victim.index].process).to.equal('crashed')
    expect((await c.events()).filter((e) => e.type === 'restart')).to.deep.equal([])

    // A node that cannot start (its HTTP port is taken) crashes by itself, and its log says why.
    // It takes and drops the supervisor's /health probes, so that close() does not wait for them.
    const blocker = net.createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => blocker.listen(c.ports.http + killed.index, HOST, resolve))
    try {
      expect(await c.fails(['start', String(killed.index)])).to.match(new RegExp(`node ${killed.index} did not start: it crashed \\(code \\d+\\)`))
      status = await c.status()
      const failed = status.nodes[killed.index]
      expect(failed.process).to.equal('crashed')
      expect(failed.exit_code).to.be.greaterThan(0)
      expect(failed.crash_log.join('\n')).to.match(/EADDRINUSE|in use/i)
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()))
    }

    // Started by hand, both come back.
    await c.ok(['start', String(victim.index)])
    await c.ok(['start', String(killed.index)])
    status = await c.status()
    expect(status.nodes.map((n) => n.process)).to.deep.equal(['running', 'running', 'running'])
    events = await c.events()
    expect(events.filter((e) => e.type === 'restart')).to.deep.equal([])
  })

  it('with --restart on-failure, starts a crashed node again and it rejoins; a killed one stays down; the policy is kept', async () => {
    const c = (cluster = await CliCluster.create(3))
    await c.ok(['up', ...c.upFlags(), ...UP_TIMING, '--restart', 'on-failure'], {cluster: false})
    const clusterJson = path.join(c.dir, 'cluster.json')
    expect(JSON.parse(fs.readFileSync(clusterJson, 'utf8')).options.restart).to.equal('on-failure')
    const first = await c.status()
    await c.ok(['publish', 'news', '"one"'])

    const victim = follower(first)
    process.kill(victim.pid, 'SIGABRT')
    const back = await eventually(
      'the crashed node to run again',
      async () => {
        const now = await c.status()
        const node = now.nodes[victim.index]
        return node.process === 'running' && node.pid !== victim.pid ? now : undefined
      },
      20_000,
      200,
    )
    const events = await c.events()
    const crash = exitOf(events, victim.pid)!
    expect(crash).to.include({signal: 'SIGABRT', crashed: true})
    const restart = events.find((e) => e.type === 'restart' && e.node === victim.index)!
    expect(restart).to.include({reason: 'crashed', attempt: 1, delay_ms: 1000, pid: victim.pid})
    expect(restart.seq).to.be.greaterThan(crash.seq)
    expect(Date.parse(restart.time) - Date.parse(crash.time)).to.be.at.least(900)
    const start = events.find((e) => e.type === 'start' && e.pid === back.nodes[victim.index].pid)!
    expect(start.seq).to.be.greaterThan(restart.seq)

    // It rejoins: it applies what the cluster commits after its return.
    await c.ok(['publish', 'news', '"two"'])
    await eventually(
      'the restarted node to catch up',
      async () => {
        const now = await c.status()
        const node = now.nodes[victim.index]
        const leader = now.leader === null ? null : now.nodes[now.leader]
        return leader && node.role === 'FOLLOWER' && node.last_applied !== null && node.last_applied >= leader.commit_index! ? true : undefined
      },
      20_000,
      200,
    )
    expect(await c.ok(['messages', '--topic', 'news', '--node', String(victim.index)])).to.include('two')

    // A kill is not a crash: no restart.
    const killed = follower(await c.status(), [victim.index])
    await c.ok(['kill', String(killed.index)])
    await sleep(NO_RESTART_WITHIN_MS)
    const status = await c.status()
    expect(status.nodes[killed.index]).to.include({process: 'exited', exit_signal: 'SIGKILL'})
    expect((await c.events()).filter((e) => e.type === 'restart' && e.pid === killed.pid)).to.deep.equal([])

    // The next up (without the flag) keeps the policy.
    await c.ok(['down'])
    await c.ok(['up', ...c.upFlags(), ...UP_TIMING], {cluster: false})
    expect(JSON.parse(fs.readFileSync(clusterJson, 'utf8')).options.restart).to.equal('on-failure')
  })
})
