/**
 * The seed's first scenario through the real `pad-cli`: kill the leader; one of the others
 * leads within a second and publishing goes on. And the planned way: `pad-cli transfer`.
 */
import {expect} from 'chai'
import {CliCluster, clusterHooks, eventually, expectEventShape, expectStatusShape} from './cluster-helpers.js'

describe('cluster manager: leader failure (pad-cli kill leader) and hand-over (pad-cli transfer)', function () {
  this.timeout(180_000)
  let cluster: CliCluster | null = null
  clusterHooks(() => cluster)

  it('elects another leader within 1 s of the kill, and publishing goes on', async () => {
    const c = (cluster = await CliCluster.create(3))
    const up = await c.ok(['up', ...c.upFlags(), '--wait', '60s'], {cluster: false})
    expect(up).to.match(new RegExp(`Cluster "${c.name}" is up: 3 nodes, node \\d leads \\(term \\d+\\)`))
    expect(up).to.include(`127.0.0.1:${c.ports.tcp + 2}`).and.include(`http://127.0.0.1:${c.ports.http}/`).and.include('pad-cli kill leader')

    const before = await c.status()
    expectStatusShape(before, c.name, 3)
    const leader = before.leader!
    expect(leader).to.be.a('number')
    expect(before.nodes.filter((n) => n.role === 'LEADER')).to.have.length(1)
    expect(before.nodes.every((n) => n.process === 'running' && n.faults.length === 0)).to.equal(true)

    expect(await c.ok(['publish', 'news', '{"n":1}'])).to.equal('stored news@0 (detected format: JSON)\n')

    const killed = await c.ok(['kill', 'leader'])
    expect(killed).to.equal(`killed node ${leader} (pid ${before.nodes[leader].pid}): killed by SIGKILL; bring it back with: pad-cli start ${leader} --cluster ${c.name}\n`)

    // Straight from the survivors: one of them leads, in a newer term.
    const survivors = [0, 1, 2].filter((i) => i !== leader)
    const next = await eventually(
      'a survivor to lead',
      async () => {
        for (const i of survivors) {
          const raft = await c.raft(i)
          if (raft?.state === 'LEADER' && raft.current_term > before.term!) return i
        }
        return undefined
      },
      10_000,
    )

    // The timeline says when: the election came within 1 s of the kill.
    const events = await c.events()
    for (const event of events) expectEventShape(event)
    const kill = events.find((e) => e.type === 'kill' && e.node === leader)!
    expect(kill, 'kill event').to.not.equal(undefined)
    expect(events.find((e) => e.type === 'exit' && e.node === leader && e.seq > kill.seq)).to.include({signal: 'SIGKILL', expected: true})
    const election = events.find((e) => e.type === 'election' && e.seq > kill.seq)
    expect(election, 'election after the kill').to.not.equal(undefined)
    expect(election!.winner).to.be.oneOf(survivors)
    expect(Date.parse(election!.time) - Date.parse(kill.time)).to.be.below(1000)
    expect(events.find((e) => e.type === 'leader' && e.seq > kill.seq && e.leader === election!.winner)).to.not.equal(undefined)

    // Publishing goes on: through the cluster's choice (the leader) and through the other survivor.
    expect(await c.ok(['publish', 'news', '{"n":2}'])).to.equal('stored news@1 (detected format: JSON)\n')
    const follower = survivors.find((i) => i !== next)!
    expect(await c.ok(['publish', 'news', '{"n":3}', '--node', String(follower)])).to.equal('stored news@2 (detected format: JSON)\n')
    const read = await c.ok(['subscribe', 'news', '--from', 'beginning', '--count', '3', '--node', String(follower)])
    expect(read).to.equal('news@0 {"n":1}\nnews@1 {"n":2}\nnews@2 {"n":3}\n')

    const after = await c.status()
    expectStatusShape(after, c.name, 3)
    expect(after.leader).to.equal(next)
    expect(after.nodes[leader]).to.include({process: 'exited', exit_signal: 'SIGKILL', pid: null, role: null})

    // The killed node comes back as a follower and catches up.
    expect(await c.ok(['start', String(leader)])).to.match(new RegExp(`^started node ${leader} \\(pid \\d+\\)`))
    const bodies = await eventually(
      'the restarted node to catch up',
      async () => {
        const answer = JSON.parse(await c.ok(['messages', '--node', String(leader), '--json', '--oldest'])) as {messages: {body: string}[]}
        return answer.messages.length === 3 ? answer.messages.map((m) => m.body) : undefined
      },
      30_000,
      250,
    )
    expect(bodies).to.deep.equal(['{"n":1}', '{"n":2}', '{"n":3}'])

    const pids = c.knownPids()
    expect(pids.length).to.be.at.least(5)
    expect(await c.ok(['down'])).to.match(new RegExp(`^Cluster "${c.name}" is down: stopped 3 node process\\(es\\)`))
    expect(c.livePids()).to.deep.equal([])
    expect(await c.fails(['status'])).to.equal(`Error: cluster "${c.name}" is not up: start it with \`pad-cli up --cluster ${c.name}\``)
  })

  it('moves leadership on request (pad-cli transfer), records it, and publishing goes on', async () => {
    const c = (cluster = await CliCluster.create(3))
    await c.ok(['up', ...c.upFlags(), '--wait', '60s'], {cluster: false})
    const before = await c.status()
    const leader = before.leader!
    const target = (leader + 1) % 3
    expect(await c.ok(['publish', 'news', '{"n":1}'])).to.equal('stored news@0 (detected format: JSON)\n')

    const moved = await c.ok(['transfer', String(target)])
    const term = Number(/^leadership moved from node (\d) to node (\d) \(term (\d+)\)\n$/.exec(moved)?.[3])
    expect(moved).to.equal(`leadership moved from node ${leader} to node ${target} (term ${term})\n`)
    expect(term).to.be.greaterThan(before.term!)
    expect((await c.status()).leader).to.equal(target)
    expect(await c.ok(['transfer', String(target)])).to.equal(`node ${target} already leads (term ${term}): nothing to move\n`)

    // Without a node: a follower takes over.
    const answer = JSON.parse(await c.ok(['transfer', '--json'])) as {from: number; to: number; leader: number; moved: boolean}
    expect(answer).to.include({from: target, moved: true})
    expect(answer.to).to.not.equal(target)
    expect(answer.leader).to.equal(answer.to)

    const events = await c.events()
    for (const event of events) expectEventShape(event)
    expect(events.filter((e) => e.type === 'transfer').map((e) => [e.from, e.to])).to.deep.equal([
      [leader, target],
      [target, answer.to],
    ])

    // Refusals: one line each.
    expect(await c.fails(['transfer', '5'], 2)).to.equal('Error: node 5 is out of range: this cluster has 3 nodes (0 to 2)')
    const stopped = [0, 1, 2].find((i) => i !== answer.to)!
    await c.ok(['stop', String(stopped)])
    expect(await c.fails(['transfer', String(stopped)])).to.equal(
      `Error: node ${stopped} is not running (stopped): it cannot take over; start it with pad-cli start ${stopped}`,
    )

    // Nothing was lost on the way, and the new leader takes publishes.
    expect(await c.ok(['publish', 'news', '{"n":2}'])).to.equal('stored news@1 (detected format: JSON)\n')
    const read = await c.ok(['subscribe', 'news', '--from', 'beginning', '--count', '2'])
    expect(read).to.equal('news@0 {"n":1}\nnews@1 {"n":2}\n')
    await c.ok(['down'])
  })
})
