/**
 * The seed's second scenario through the real `pad-cli`: cut the leader off; it falls back
 * to follower, one of the other two leads, the majority takes publishes, the cut-off node
 * refuses them; after `heal` all three agree again.
 */
import {expect} from 'chai'
import {controlRequest} from '../../src/cluster/control.js'
import {ClusterError} from '../../src/cluster/errors.js'
import {planPartition} from '../../src/cluster/faults.js'
import {clusterPaths} from '../../src/cluster/layout.js'
import {readState} from '../../src/cluster/state.js'
import {CliCluster, clusterHooks, eventually, expectEventShape, expectStatusShape} from './cluster-helpers.js'

describe('cluster manager: network partition (pad-cli partition <leader>, heal)', function () {
  this.timeout(180_000)
  let cluster: CliCluster | null = null
  clusterHooks(() => cluster)

  it('the cut-off leader steps down, the majority goes on, and after heal all three agree', async () => {
    const c = (cluster = await CliCluster.create(3))
    await c.ok(['up', ...c.upFlags(), '--wait', '60s'], {cluster: false})
    const before = await c.status()
    const leader = before.leader!
    const majority = [0, 1, 2].filter((i) => i !== leader)
    expect(await c.ok(['publish', 'orders', '"before"'])).to.equal('stored orders@0 (detected format: JSON)\n')

    expect(await c.ok(['partition', String(leader)])).to.equal(
      `Partitioned: {${leader}} | {${majority.join(',')}}; \`pad-cli heal --cluster ${c.name}\` ends it.\n`,
    )

    // CheckQuorum: the cut-off leader falls back to follower; one of the other two leads.
    await eventually('the cut-off leader to step down', async () => ((await c.raft(leader))?.state === 'FOLLOWER' ? true : undefined), 10_000)
    const next = await eventually(
      'a leader in the majority',
      async () => {
        for (const i of majority) {
          const raft = await c.raft(i)
          if (raft?.state === 'LEADER' && raft.current_term > before.term!) return i
        }
        return undefined
      },
      10_000,
    )

    const during = await c.status()
    expectStatusShape(during, c.name, 3)
    expect(during.leader).to.equal(next)
    expect(during.nodes[leader].role).to.equal('FOLLOWER')
    expect(during.nodes[leader].faults.map((f) => [f.peer, f.drop])).to.deep.equal(majority.map((p) => [p, true]))
    for (const i of majority) expect(during.nodes[i].faults).to.deep.equal([{peer: leader, drop: true, expires_at: null}])

    // Publishes to the majority succeed, through either of its nodes.
    for (const i of majority) expect(await c.ok(['publish', 'orders', `"majority-${i}"`, '--node', String(i)])).to.match(/^stored orders@\d \(detected format: JSON\)\n$/)
    // A publish to the cut-off node is refused with an error.
    const refused = await c.fails(['publish', 'orders', '"minority"', '--node', String(leader)])
    expect(refused).to.match(/^Error: NO_LEADER: /)

    const events = await c.events()
    for (const event of events) expectEventShape(event)
    const partition = events.find((e) => e.type === 'partition')!
    expect(partition).to.deep.include({groups: [[leader], majority], shape: null, for_ms: null, cuts: majority.map((m) => [Math.min(leader, m), Math.max(leader, m)])})

    expect(await c.ok(['heal'])).to.equal('Healed: no network faults remain.\n')
    const agreed = await eventually(
      'all three nodes to agree',
      async () => {
        const all = await Promise.all([0, 1, 2].map((i) => c.raft(i)))
        if (all.some((r) => r === null)) return undefined
        const [a, b, d] = all as NonNullable<(typeof all)[number]>[]
        const same =
          a.leader_index !== null &&
          a.leader_index === b.leader_index &&
          b.leader_index === d.leader_index &&
          a.current_term === b.current_term &&
          b.current_term === d.current_term &&
          a.last_applied === b.last_applied &&
          b.last_applied === d.last_applied &&
          a.commit_index === d.commit_index
        return same ? a : undefined
      },
      15_000,
    )
    expect(agreed.leader_index).to.not.equal(null)

    const healed = await c.status()
    expectStatusShape(healed, c.name, 3)
    expect(healed.nodes.every((n) => n.faults.length === 0 && n.lag === 0)).to.equal(true)
    // The node that was cut off has every message the majority took, in the same order.
    const bodies = async (i: number): Promise<string[]> =>
      (JSON.parse(await c.ok(['messages', '--node', String(i), '--topic', 'orders', '--oldest', '--json'])) as {messages: {body: string}[]}).messages.map((m) => m.body)
    const expected = ['"before"', ...majority.map((i) => `"majority-${i}"`)]
    for (const i of [0, 1, 2]) expect(await bodies(i)).to.deep.equal(expected)

    const after = await c.events()
    expect(after.find((e) => e.type === 'heal' && e.seq > partition.seq)).to.deep.include({reason: 'command'})

    // The control API's node order (what the chaos nemesis sends for its shuffled shapes):
    // hostile orders are refused one by one, a good one cuts exactly the planned links.
    const socket = readState(clusterPaths(c.name, c.home))!.supervisor!.socket
    const refusal = async (fields: Record<string, unknown>): Promise<string> => {
      const error = (await controlRequest(socket, {op: 'partition', ...fields}).catch((e: unknown) => e)) as ClusterError
      expect(error, JSON.stringify(fields)).to.be.instanceOf(ClusterError)
      expect(error.code).to.equal('BAD_ARGUMENT')
      return error.message
    }
    expect(await refusal({shape: 'bridge', order: 'reversed'})).to.equal('order is a list of node indexes')
    expect(await refusal({shape: 'bridge', order: [2, 2, 0]})).to.equal('order names node 2 twice')
    expect(await refusal({shape: 'bridge', order: [2, 1]})).to.equal('order names 2 of the 3 nodes: give each once')
    expect(await refusal({shape: 'bridge', order: [2, 1, 1e9]})).to.equal('order names node 1000000000: this cluster has nodes 0 to 2')
    expect(await refusal({shape: 'bridge', order: [2, 1, '0']})).to.equal('order names node "0": give node indexes')
    expect(await refusal({groups: [[0]], order: [2, 1, 0]})).to.equal('order goes with a shape, not with groups')
    const bridged = await controlRequest(socket, {op: 'partition', shape: 'bridge', order: [2, 1, 0]})
    expect(bridged).to.deep.include({bridge: 1, order: [2, 1, 0], cuts: planPartition({shape: 'bridge', order: [2, 1, 0]}, 3).cuts})
    expect(bridged.cuts).to.deep.equal([[0, 2]])
    expect((await c.status()).nodes.every((n) => n.process === 'running')).to.equal(true)
    expect(await c.ok(['heal'])).to.equal('Healed: no network faults remain.\n')

    await c.ok(['down'])
    expect(c.livePids()).to.deep.equal([])
  })
})
