/**
 * The rest of the cluster manager through the real `pad-cli`: refusals (not up, already up,
 * a port taken, bad arguments), every process fault (pause, resume, stop, start, restart),
 * delay, loss, partitions that heal by themselves, logs, topics, and what happens when the
 * supervisor itself dies: its nodes stop by themselves, and `up` starts the cluster again.
 */
import net from 'node:net'
import {expect} from 'chai'
import {isAlive} from '../../src/cluster/process-util.js'
import {CliCluster, HOST, clusterHooks, eventually, expectEventShape, expectStatusShape} from './cluster-helpers.js'

describe('cluster manager: lifecycle, faults and refusals', function () {
  this.timeout(300_000)
  let cluster: CliCluster | null = null
  clusterHooks(() => cluster)

  it('refuses politely, drives every fault, and survives the death of its supervisor', async () => {
    const c = (cluster = await CliCluster.create(3))
    const notUp = `Error: cluster "${c.name}" is not up: start it with \`pad-cli up --cluster ${c.name}\``
    expect(await c.fails(['status'])).to.equal(notUp)
    expect(await c.fails(['publish', 'news', '{}', '--node', '0'])).to.equal(notUp)
    expect(await c.fails(['events'])).to.match(/^Error: there is no cluster "t\w+" \(nothing in .*\): start one with `pad-cli up --cluster t\w+`$/)

    // A port that is taken is named.
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(c.ports.http + 1, HOST, resolve))
    try {
      expect(await c.fails(['up', ...c.upFlags()], 1, {cluster: false})).to.equal(
        `Error: port ${c.ports.http + 1} (HTTP of node 1) on 127.0.0.1 is in use: choose other bases with --http-port`,
      )
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()))
    }

    await c.ok(['up', ...c.upFlags(), '--wait', '60s', '--election-timeout', '200ms', '--heartbeat', '50ms'], {cluster: false})
    const first = await c.status()
    expectStatusShape(first, c.name, 3)

    // Up again: refused, and the cluster is shown.
    const again = await c.run(['up', ...c.upFlags()], {cluster: false})
    expect(again.code).to.equal(1)
    expect(again.stderr.trim()).to.equal(`Error: cluster "${c.name}" is already up (supervisor pid ${first.supervisor_pid}); stop it first with \`pad-cli down --cluster ${c.name}\``)
    expect(again.stdout).to.include(`cluster "${c.name}": leader: node ${first.leader}`)

    // Bad arguments: one line each, exit code 2.
    expect(await c.fails(['kill', '3'], 2)).to.equal('Error: node 3 is out of range: this cluster has 3 nodes (0 to 2)')
    expect(await c.fails(['partition', '--shape', 'star'], 2)).to.equal('Error: unknown shape "star": use halves, ring, bridge')
    expect(await c.fails(['partition', '0', '--for', '10x'], 2)).to.equal('Error: --for: "10x" is not a duration: use e.g. 150ms, 10s, 1m')
    expect(await c.fails(['loss', '1', '150'], 2)).to.equal('Error: "150" is not a percentage: give a number from 0 to 100, e.g. 20')
    expect(await c.fails(['delay', '1', 'fast'], 2)).to.equal('Error: delay: "fast" is not a duration: use e.g. 100, 100ms, 1.5s')
    expect(await c.fails(['delay', '1', '40', '--jitter', '2m'], 2)).to.equal('Error: --jitter: 120000 ms is too long (at most 60000 ms)')

    // Process faults.
    const follower = first.nodes.find((n) => n.role === 'FOLLOWER')!.index
    expect(await c.ok(['pause', String(follower)])).to.match(new RegExp(`^paused node ${follower} \\(pid ${first.nodes[follower].pid}\\)`))
    let status = await c.status()
    expect(status.nodes[follower]).to.include({process: 'paused', role: null, pid: first.nodes[follower].pid})
    expect(await c.ok(['publish', 'news', '"while paused"'])).to.equal('stored news@0 (detected format: JSON)\n')
    await c.ok(['resume', String(follower)])
    await c.ok(['stop', String(follower)])
    status = await c.status()
    expect(status.nodes[follower]).to.include({process: 'stopped', exit_code: 0, exit_signal: null, pid: null, role: null})
    expect(await c.fails(['stop', String(follower)])).to.match(/is not running \(stopped\): nothing to stop; start it with pad-cli start/)
    await c.ok(['start', String(follower)])
    const restarted = await c.ok(['restart', String(follower)])
    expect(restarted).to.match(new RegExp(`^restarted node ${follower} \\(pid \\d+, was \\d+\\)`))
    status = await c.status()
    expect(status.nodes[follower].process).to.equal('running')
    expect(status.nodes[follower].pid).to.not.equal(first.nodes[follower].pid)

    // Network faults show in status as the nodes apply them.
    await c.ok(['delay', '1', '40', '--jitter', '10'])
    await c.ok(['loss', '2', '5'])
    // Long enough for the status below to see it, on a loaded machine too.
    expect(await c.ok(['partition', '0', '--for', '5s'])).to.equal('Partitioned: {0} | {1,2}; heals by itself in 5s.\n')
    status = await c.status()
    expect(status.nodes[0].faults.map((f) => [f.peer, f.drop])).to.deep.equal([
      [1, true],
      [2, true],
    ])
    expect(status.nodes[1].faults.find((f) => f.peer === 2)).to.deep.equal({peer: 2, delay_ms: 40, jitter_ms: 10, expires_at: null})
    expect(status.nodes[2].faults.find((f) => f.peer === 1)).to.deep.equal({peer: 1, loss: 0.05, expires_at: null})
    await eventually(
      'the partition to heal by itself',
      async () => {
        const events = await c.events()
        return events.some((e) => e.type === 'heal' && e.reason === 'expired') ? true : undefined
      },
      20_000,
      500,
    )
    status = await c.status()
    expect(status.nodes[0].faults).to.deep.equal([])
    expect(status.nodes[1].faults).to.have.length(2)
    expect(await c.ok(['heal'])).to.equal('Healed: no network faults remain.\n')
    status = await c.status()
    expect(status.nodes.every((n) => n.faults.length === 0)).to.equal(true)

    // Reading what is stored, and the logs.
    expect(await c.ok(['topics'])).to.match(/^TOPIC\s+MESSAGES\s+FIRST OFFSET\s+NEXT OFFSET\nnews\s+1\s+0\s+1\n$/)
    const logLines = (await c.ok(['logs', String(follower), '-n', '3'])).trim().split('\n')
    expect(logLines).to.have.length(3)
    const merged = (await c.ok(['logs', '--json', '-n', '6'])).trim().split('\n').map((l) => JSON.parse(l) as {node: number; line: string})
    expect(merged).to.have.length(6)
    for (const entry of merged) expect(entry.node).to.be.oneOf([0, 1, 2])

    // The timeline has every kind of event we caused, in the documented shape.
    const events = await c.events()
    for (const event of events) expectEventShape(event)
    const types = new Set(events.map((e) => e.type))
    for (const type of ['up', 'start', 'pause', 'resume', 'stop', 'exit', 'restart', 'delay', 'loss', 'partition', 'heal', 'role', 'election', 'leader']) {
      expect(types, type).to.include(type)
    }
    expect(events.map((e) => e.seq)).to.deep.equal(events.map((_, i) => i + 1))

    // The supervisor dies: its nodes notice and stop by themselves; no orphan is left.
    status = await c.status()
    const nodePids = status.nodes.map((n) => n.pid!)
    process.kill(status.supervisor_pid, 'SIGKILL')
    await eventually('the nodes to stop without their supervisor', () => (nodePids.every((pid) => !isAlive(pid)) ? true : undefined), 15_000, 100)
    expect(await c.fails(['status'])).to.equal(notUp)

    // A new `up` starts the cluster again on its data, and notes the recovery.
    await c.ok(['up', '--wait', '60s'])
    expect(await c.ok(['messages', '--topic', 'news'])).to.include('news@0')
    const recovered = (await c.events()).find((e) => e.type === 'recovered')
    expect(recovered).to.deep.include({supervisor_pid: status.supervisor_pid})

    await c.ok(['down', '--purge'])
    expect(c.livePids()).to.deep.equal([])
    expect(await c.fails(['events'])).to.match(/there is no cluster/)
  })

  it('up --foreground streams prefixed node logs; Ctrl-C stops the whole cluster', async () => {
    const c = (cluster = await CliCluster.create(2))
    const {execa} = await import('execa')
    const {REPO_ROOT, cliArgs} = await import('./helpers/node-process.js')
    const child = execa(process.execPath, cliArgs('up', '--foreground', ...c.upFlags()), {
      cwd: REPO_ROOT,
      env: {PAD_HOME: c.home, NO_COLOR: '1'},
      reject: false,
      timeout: 120_000,
      stdin: 'ignore',
    })
    let output = ''
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    try {
      await eventually('the foreground cluster to be up', () => (output.includes('Ctrl-C stops the cluster.') ? true : undefined), 60_000, 100)
      const status = await c.status()
      expectStatusShape(status, c.name, 2)
      expect(status.supervisor_pid).to.equal(child.pid)
      expect(output).to.match(/^node0 \| .*node started/m)
      expect(output).to.match(/^node1 \| .*node started/m)
      expect(output).to.match(/^pad\s+\| .*election/m)
      child.kill('SIGINT')
      const result = await child
      expect(result.exitCode).to.equal(0)
      expect(output).to.match(/^pad\s+\| .*cluster down/m)
      expect(c.livePids()).to.deep.equal([])
    } finally {
      child.kill('SIGKILL')
    }
  })
})
