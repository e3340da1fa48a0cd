/**
 * The README's walk-through works whoever leads: `kill leader` says how to bring the node
 * back, and `pad-cli start` with no node starts every node that is down.
 */
import {expect} from 'chai'
import {CliCluster, clusterHooks} from './cluster-helpers.js'

describe('cluster manager: pad-cli start with no node starts every node that is down', function () {
  this.timeout(180_000)
  let cluster: CliCluster | null = null
  clusterHooks(() => cluster)

  it('brings back a killed leader and a stopped follower, and says when nothing is down', async () => {
    const c = (cluster = await CliCluster.create(3))
    await c.ok(['up', ...c.upFlags(), '--wait', '60s'], {cluster: false})
    const before = await c.status()
    const leader = before.leader!

    const killed = await c.ok(['kill', 'leader'])
    expect(killed).to.match(new RegExp(`^killed node ${leader} \\(pid \\d+\\): killed by SIGKILL; bring it back with: pad-cli start ${leader} --cluster ${c.name}\\n$`))
    const follower = [0, 1, 2].find((i) => i !== leader)!
    const stopped = await c.ok(['stop', String(follower)])
    expect(stopped).to.include(`; bring it back with: pad-cli start ${follower} --cluster ${c.name}`)

    const started = JSON.parse(await c.ok(['start', '--json'])) as {started: {node: number; pid: number}[]}
    expect(started.started.map((a) => a.node).sort()).to.deep.equal([leader, follower].sort())
    const after = await c.status()
    expect(after.nodes.map((n) => n.process)).to.deep.equal(['running', 'running', 'running'])

    expect(await c.ok(['start'])).to.equal('every node is running (or paused): nothing to start\n')
    expect(JSON.parse(await c.ok(['start', '--json']))).to.deep.equal({started: []})
    // A hostile node argument still gets one line and exit code 2.
    expect(await c.fails(['start', '-1'], 2)).to.match(/^Error: /)
  })
})
