/**
 * `pad-cli up --netns` through the real binary: each node in its own network namespace at its
 * own address, a partition cut in the kernel (routes, not the nodes' filters), heal, and a
 * `down` that leaves no namespace, veth or bridge. Root only (see helpers/netns-only.ts).
 */
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {expect} from 'chai'
import {getRaft, type RaftInfo} from '../../src/client/raft-state.js'
import {readState} from '../../src/cluster/state.js'
import {clusterPaths} from '../../src/cluster/layout.js'
import {networkOf} from '../../src/cluster/netns.js'
import {namespaceName, type NetnsRecord} from '../../src/cluster/netns-plan.js'
import type {NodeStatus} from '../../src/cluster/status.js'
import {CliCluster, clusterHooks, eventually} from './cluster-helpers.js'
import {onlyWithNetns} from './helpers/netns-only.js'

describe('cluster manager: nodes in network namespaces (pad-cli up --netns)', function () {
  this.timeout(240_000)
  let cluster: CliCluster | null = null
  clusterHooks(() => cluster)

  before(function () {
    onlyWithNetns(this)
  })

  it('gives every node its own host, cuts a partition in the kernel, heals, and leaves nothing behind', async () => {
    // Room for a fourth node: the one added during the partition.
    const c = (cluster = await CliCluster.create(4))
    const upFlags = c.upFlags().map((flag, i, all) => (all[i - 1] === '--nodes' ? '3' : flag))
    await c.ok(['up', '--netns', ...upFlags, '--wait', '60s'], {cluster: false, timeoutMs: 90_000})
    const netns = readState(clusterPaths(c.name, c.home))!.options.netns as NetnsRecord
    expect(netns.subnet).to.match(/^10\.88\.\d{1,3}\.0\/24$/)
    const status = await c.status()
    const nodes = status.nodes

    // Each node at its own address, in its own namespace, started as on separate machines.
    const prefix = netns.subnet.replace(/0\/24$/, '')
    expect(nodes.map((n) => n.host)).to.deep.equal([2, 3, 4].map((last) => `${prefix}${last}`))
    const ownNet = fs.readlinkSync('/proc/self/ns/net')
    const nets = nodes.map((n) => fs.readlinkSync(`/proc/${n.pid}/ns/net`))
    expect(new Set([...nets, ownNet]).size).to.equal(4)
    for (const n of nodes) {
      expect(execFileSync('ip', ['netns', 'identify', String(n.pid)], {encoding: 'utf8'}).trim()).to.equal(namespaceName(netns, n.index))
      const commandLine = fs.readFileSync(`/proc/${n.pid}/cmdline`, 'utf8').split('\0')
      expect(commandLine[commandLine.indexOf('--host') + 1]).to.equal(n.host)
      expect(commandLine[commandLine.indexOf('--peers') + 1]).to.equal(nodes.map((p) => `${p.host}:${p.raft_port}`).join(','))
      // No way out of the cluster's /24: no default route.
      expect(execFileSync('ip', ['-n', namespaceName(netns, n.index), 'route', 'show', 'default'], {encoding: 'utf8'}).trim()).to.equal('')
    }

    // Publish through the cluster and read it back, from every node's own address.
    expect(await c.ok(['publish', 'orders', '"before"'])).to.equal('stored orders@0 (detected format: JSON)\n')
    for (const n of nodes) await eventually(`node ${n.index} to store it`, async () => ((await messagesOn(c, n.index)).includes('before') ? true : undefined), 15_000)

    // Cut the leader off in the kernel.
    const leader = status.leader!
    const majority = [0, 1, 2].filter((i) => i !== leader)
    const out = await c.ok(['partition', String(leader)])
    expect(out).to.include(`Partitioned: {${leader}} | {${majority.join(',')}}`)
    expect(out).to.include('Cut in the kernel')
    const routesOf = (i: number): string[] =>
      (JSON.parse(execFileSync('ip', ['-j', '-n', namespaceName(netns, i), 'route', 'show', 'type', 'unreachable'], {encoding: 'utf8'}) || '[]') as {dst: string}[]).map((r) => r.dst).sort()
    expect(routesOf(leader)).to.deep.equal(majority.map((i) => nodes[i].host).sort())
    for (const i of majority) expect(routesOf(i)).to.deep.equal([nodes[leader].host])

    // The minority knows no leader; the majority elects one and commits.
    await eventually('the cut-off node to know no leader', async () => ((await raftOf(nodes[leader]))?.leader_index === null ? true : undefined), 20_000)
    const next = await eventually(
      'a leader in the majority',
      async () => {
        const infos = await Promise.all(majority.map((i) => raftOf(nodes[i])))
        const leading = infos.find((r) => r?.state === 'LEADER' && r.current_term > status.term!)
        return leading && infos.every((r) => r?.leader_index === leading.node_index) ? leading.node_index : undefined
      },
      20_000,
    )
    expect(majority).to.include(next)
    expect(await c.ok(['publish', 'orders', '"during"', '--node', String(next)])).to.match(/^stored orders@1 /)
    expect((await raftOf(nodes[leader]))?.leader_index).to.equal(null)
    // The cut is the kernel's: the node's own transport filter holds nothing.
    const token = fs.readFileSync(path.join(c.dir, 'token'), 'utf8').trim()
    for (const n of nodes) expect(await adminFaults(n, token)).to.deep.equal({faults: {}})
    // status shows the cut all the same.
    const during = await c.status()
    expect(during.nodes[leader].faults.map((f) => [f.peer, f.drop])).to.deep.equal(majority.map((p) => [p, true]))

    // A node added now (through the majority's leader) joins the majority's side at once: cut
    // from the old leader in its own namespace, and the old leader from it.
    await c.ok(['add'], {timeoutMs: 90_000})
    const added = (await c.status()).nodes[3]
    expect(added.membership).to.equal('voter')
    expect(routesOf(3)).to.deep.equal([nodes[leader].host])
    expect(routesOf(leader)).to.deep.equal([...majority.map((i) => nodes[i].host), added.host].sort())
    for (const i of majority) expect(routesOf(i)).to.deep.equal([nodes[leader].host])

    // Heal: the routes go, and every node converges on the same log.
    expect(await c.ok(['heal'])).to.include('Removed from the kernel')
    for (const i of [0, 1, 2, 3]) expect(routesOf(i)).to.deep.equal([])
    await eventually(
      'all three to apply the same log',
      async () => {
        const infos = await Promise.all(nodes.map((n) => raftOf(n)))
        if (infos.some((r) => r === null)) return undefined
        const commit = infos[0]!.commit_index
        return infos.every((r) => r!.commit_index === commit && r!.last_applied === commit && r!.leader_index !== null) ? true : undefined
      },
      60_000,
      200,
    )
    expect(await messagesOn(c, leader)).to.include('during')

    // down: no namespace, veth or bridge of this cluster is left.
    const downOut = await c.ok(['down'], {timeoutMs: 60_000})
    expect(downOut).to.include(`Removed its network: ${namespaceName(netns, 0)}`)
    expect(networkOf(netns.id)).to.deep.equal({namespaces: [], links: []})
    for (const n of nodes) expect(fs.existsSync(`/proc/${n.pid}`) && !fs.readFileSync(`/proc/${n.pid}/stat`, 'utf8').includes(') Z ')).to.equal(false)
  })

  it('up and down clean what a supervisor that died left of the network', async () => {
    // Room for a fourth node: the one added during the partition.
    const c = (cluster = await CliCluster.create(4))
    const upFlags = c.upFlags().map((flag, i, all) => (all[i - 1] === '--nodes' ? '3' : flag))
    await c.ok(['up', '--netns', ...upFlags, '--wait', '60s'], {cluster: false, timeoutMs: 90_000})
    const state = readState(clusterPaths(c.name, c.home))!
    const netns = state.options.netns as NetnsRecord
    process.kill(state.supervisor!.pid, 'SIGKILL')
    // Its nodes stop by themselves (--supervisor-pid); its namespaces and bridge stay.
    expect(networkOf(netns.id).namespaces).to.have.length(3)
    // `up` again (still --netns: the cluster keeps it) starts on a clean network.
    await eventually('the old nodes to be gone', () => (state.nodes.every((n) => !fs.existsSync(`/proc/${n.pid}`)) ? true : undefined), 30_000, 200)
    await c.ok(['up', '--cluster', c.name, '--wait', '60s'], {cluster: false, timeoutMs: 90_000})
    expect(readState(clusterPaths(c.name, c.home))!.options.netns).to.deep.equal(netns)
    expect(networkOf(netns.id).namespaces).to.deep.equal([0, 1, 2].map((i) => namespaceName(netns, i)))
    const after = readState(clusterPaths(c.name, c.home))!
    process.kill(after.supervisor!.pid, 'SIGKILL')
    await c.ok(['down'], {timeoutMs: 60_000})
    expect(networkOf(netns.id)).to.deep.equal({namespaces: [], links: []})
  })
})

function raftOf(node: NodeStatus): Promise<RaftInfo | null> {
  return getRaft({host: node.host, http_port: node.http_port}, 700).catch(() => null)
}

async function adminFaults(node: NodeStatus, token: string): Promise<unknown> {
  const response = await fetch(`http://${node.host}:${node.http_port}/admin/faults`, {headers: {authorization: `Bearer ${token}`}, signal: AbortSignal.timeout(3000)})
  return response.json()
}

/** The bodies of topic `orders` on node `index`, through `pad-cli messages` (which reaches it at its own address). */
async function messagesOn(c: CliCluster, index: number): Promise<string[]> {
  const out = await c.run(['messages', '--topic', 'orders', '--node', String(index), '--json'])
  if (out.code !== 0) return []
  const parsed = JSON.parse(out.stdout) as {messages?: {body: string}[]} | {body: string}[]
  const list = Array.isArray(parsed) ? parsed : (parsed.messages ?? [])
  return list.map((m) => JSON.parse(m.body) as string)
}
