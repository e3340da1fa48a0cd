/**
 * Membership changes through the real `pad-cli`: a 3-node cluster grows to 4 voters with
 * `add --wait`, loses its leader with `remove leader` (3 voters, another leader), swaps a
 * killed node with `replace`, and every acknowledged message is readable on the newest node;
 * after `down` and `up` it runs with the same members. Refusals are one line each.
 */
import {expect} from 'chai'
import type {ClusterStatus} from '../../src/cluster/status.js'
import {CliCluster, clusterHooks, eventually, expectEventShape} from './cluster-helpers.js'

describe('cluster manager: add, remove and replace (pad-cli add / remove / replace)', function () {
  this.timeout(300_000)
  let cluster: CliCluster | null = null
  clusterHooks(() => cluster)

  const voters = (s: ClusterStatus): number[] => s.nodes.filter((n) => n.membership === 'voter').map((n) => n.index)

  it('grows 3 -> 4, removes the leader, replaces a killed node; every acked message stays readable', async () => {
    // Room for six nodes on each port range: three founding, three added over the test.
    const c = (cluster = await CliCluster.create(6))
    const upFlags = c.upFlags().map((flag, i, all) => (all[i - 1] === '--nodes' ? '3' : flag))
    await c.ok(['up', ...upFlags, '--wait', '60s'], {cluster: false})
    const acked: string[] = []
    const publish = async (n: number): Promise<void> => {
      const out = await c.ok(['publish', 'members', `{"n":${n}}`])
      expect(out).to.equal(`stored members@${acked.length} (detected format: JSON)\n`)
      acked.push(`{"n":${n}}`)
    }
    for (let n = 0; n < 5; n++) await publish(n)

    // add --wait: node 3 joins through the leader, catches up, votes.
    const added = JSON.parse(await c.ok(['add', '--wait', '--json'])) as {node: number; membership: string; promoted_at: number; tcp_port: number; http_port: number; raft_port: number}
    expect(added).to.deep.include({node: 3, membership: 'voter', tcp_port: c.ports.tcp + 3, http_port: c.ports.http + 3, raft_port: c.ports.raft + 3})
    expect(added.promoted_at).to.be.a('number')
    const four = await c.status()
    expect(voters(four)).to.deep.equal([0, 1, 2, 3])
    expect(four.membership).to.deep.equal({voters: [0, 1, 2, 3], learners: []})
    expect(four.nodes[3]).to.include({process: 'running', membership: 'voter', node_id: `127.0.0.1:${c.ports.tcp + 3}`})
    const raft3 = await c.raft(3)
    expect(raft3?.node_index).to.equal(3)
    expect(raft3?.voters).to.deep.equal([0, 1, 2, 3])
    expect(await c.ok(['status'])).to.match(/\n3 +127\.0\.0\.1:\d+ +VOTER +\d+ +running +FOLLOWER/)
    for (let n = 5; n < 10; n++) await publish(n)

    // remove leader: leadership moves to another voter first; 3 voters are left and one of them leads.
    const oldLeader = four.leader!
    const removed = JSON.parse(await c.ok(['remove', 'leader', '--json'])) as {node: number; was_leader: boolean; leader: number; voters: number[]; stopped: boolean}
    expect(removed).to.deep.include({node: oldLeader, was_leader: true, stopped: true})
    expect(removed.leader).to.not.equal(oldLeader)
    expect(removed.voters).to.deep.equal([0, 1, 2, 3].filter((i) => i !== oldLeader))
    const three = await eventually('a leader among the 3 voters left', async () => {
      const s = await c.status()
      return s.leader !== null && s.leader !== oldLeader ? s : undefined
    }, 15_000, 200)
    expect(voters(three)).to.deep.equal(removed.voters)
    expect(three.nodes[oldLeader]).to.include({membership: 'removed', process: 'stopped', pid: null})
    for (let n = 10; n < 15; n++) await publish(n)

    // Refusals, one line each: a removed node is not ours to remove, kill or start again.
    expect(await c.fails(['remove', String(oldLeader)])).to.equal(`Error: node ${oldLeader} was removed already`)
    expect(await c.fails(['kill', String(oldLeader)])).to.match(new RegExp(`node ${oldLeader} was removed from the cluster \\(pad-cli remove\\); its data stays in .* until pad-cli down --purge`))

    // replace a killed node: node 4 joins and votes, the killed one leaves.
    const victim = removed.voters.find((i) => i !== three.leader)!
    await c.ok(['kill', String(victim)])
    const replaced = JSON.parse(await c.ok(['replace', String(victim), '--json'])) as {added: {node: number; membership: string}; removed: {node: number; stopped: boolean; voters: number[]}}
    expect(replaced.added).to.deep.include({node: 4, membership: 'voter'})
    expect(replaced.removed).to.deep.include({node: victim, stopped: false})
    const expected = [...removed.voters.filter((i) => i !== victim), 4]
    expect(replaced.removed.voters).to.deep.equal(expected)
    for (let n = 15; n < 20; n++) await publish(n)

    // Every acknowledged message, in order, on the newest node.
    const read = await c.ok(['subscribe', 'members', '--from', 'beginning', '--count', String(acked.length), '--node', '4'])
    expect(read).to.equal(acked.map((body, offset) => `members@${offset} ${body}\n`).join(''))

    const events = await c.events()
    for (const event of events) expectEventShape(event)
    const steps = events.filter((e) => e.type.startsWith('member-')).map((e) => `${e.type} ${e.node as number}`)
    expect(steps).to.deep.equal(['member-add 3', 'member-promote 3', `member-remove ${oldLeader}`, 'member-add 4', 'member-promote 4', `member-remove ${victim}`])
    expect(await c.ok(['events'])).to.match(/member-promote +node 4 is a voter \(configuration entry \d+/)

    // down and up: the same members start again (the added ones rejoin as themselves), the removed ones stay down.
    await c.ok(['down'])
    expect(await c.fails(['up', '--nodes', '5'], 2)).to.match(/has 3 members \(changed with add and remove\): start it without --nodes/)
    await c.ok(['up', '--wait', '60s'])
    const again = await c.status()
    expect(voters(again)).to.deep.equal(expected)
    expect(again.nodes.filter((n) => n.process === 'running').map((n) => n.index)).to.deep.equal(expected)
    expect(again.membership?.voters).to.deep.equal(expected)
    await publish(20)
    const all = await c.ok(['subscribe', 'members', '--from', 'beginning', '--count', String(acked.length), '--node', '3'])
    expect(all.trim().split('\n')).to.have.length(acked.length)
  })
})
