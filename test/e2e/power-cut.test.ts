/**
 * Power loss through the real `pad-cli`: a cluster on the lazy layer (`up --lazy-fs`, root and
 * FUSE), N messages acknowledged, then `power-cut --all` (every node SIGKILLed, what it had not
 * fsynced dropped, started again). With the nodes' defaults every acknowledged message is
 * still there; with `--unsafe-no-fsync` (SQLite synchronous=OFF) nothing reached the disk before
 * the cut, and every node comes back without them: the planted bug, lost for certain since all
 * nodes lose power together. Without the lazy layer (not root, no FUSE, binary not built) the
 * tests fail under CI (PAD_CI=1) and are skipped with the reason elsewhere.
 */
import fs from 'node:fs'
import {expect} from 'chai'
import type {TopicsAnswer} from '../../src/api/node-http.js'
import type {ControlAnswers} from '../../src/api/control.js'
import {BrokerClient} from '../../src/client/broker-client.js'
import {callJson} from '../../src/client/node-http-client.js'
import {CliCluster, HOST, clusterHooks, eventually} from './cluster-helpers.js'
import {requireLazyFs} from '../lazyfs/require-lazy-fs.js'

const UP_TIMING = ['--wait', '60s', '--election-timeout', '200ms', '--heartbeat', '50ms']
const MESSAGES = 50
const TOPIC = 'power'

/** Publishes `count` messages through node 0 (it forwards to the leader); resolves once every one is acknowledged. */
async function publishAcked(c: CliCluster, count: number): Promise<void> {
  const client = await BrokerClient.connect(HOST, c.ports.tcp)
  try {
    for (let i = 0; i < count; i++) {
      const ack = await client.publish({topic: TOPIC, body: JSON.stringify({i})})
      expect(ack.offset).to.equal(i)
    }
  } finally {
    client.close()
  }
}

/** Messages of TOPIC each node holds, once every node answers and a leader is elected. */
async function storedPerNode(c: CliCluster): Promise<number[]> {
  return eventually(
    'every node to serve again under a leader',
    async () => {
      const status = await c.status()
      const members = status.nodes.filter((n) => n.membership !== 'removed')
      if (status.leader === null || members.some((n) => n.process !== 'running')) return undefined
      try {
        return await Promise.all(
          members.map(async (n) => {
            const topics = await callJson<TopicsAnswer>({host: HOST, http_port: n.http_port}, 'GET', '/topics', {timeoutMs: 2000})
            return topics.details.find((d) => d.topic === TOPIC)?.messages ?? 0
          }),
        )
      } catch {
        return undefined
      }
    },
    60_000,
    200,
  )
}

describe('cluster manager: power cuts on the lazy layer', function () {
  this.timeout(300_000)
  let cluster: CliCluster | null = null
  clusterHooks(() => cluster)

  before(function () {
    requireLazyFs(this)
  })

  it('keeps every acknowledged message through a power cut of every node, says what was dropped, and unmounts at down', async () => {
    const c = (cluster = await CliCluster.create(3))
    // Refused without the lazy layer, with the reason.
    await c.ok(['up', ...c.upFlags(), ...UP_TIMING], {cluster: false})
    expect(await c.fails(['power-cut', '--all'])).to.match(/does not run on the lazy layer.*pad-cli up --lazy-fs/)
    expect(await c.fails(['power-cut', '0', '0'], 2)).to.match(/named twice/)
    await c.ok(['down'])
    expect(await c.fails(['up', ...c.upFlags(), '--lazy-fs'], 2, {cluster: false})).to.match(/has data written without the lazy layer/)
    await c.ok(['down', '--purge'])

    const upText = await c.ok(['up', ...c.upFlags(), '--lazy-fs', ...UP_TIMING], {cluster: false})
    expect(upText).to.match(/data on the lazy layer \(power-cut works\)/)
    const before = await c.status()
    expect(before.lazy_fs).to.equal(true)
    expect(before.unsafe_no_fsync).to.equal(false)
    for (const node of before.nodes) {
      expect(node.data_dir).to.equal(`${c.dir}/node-${node.index}/data`)
      expect(node.lazy_fs?.backing).to.equal(`${c.dir}/node-${node.index}/disk`)
      expect(node.lazy_fs?.pid).to.be.a('number')
    }
    await publishAcked(c, MESSAGES)

    const answer = JSON.parse(await c.ok(['power-cut', '--all', '--json'])) as ControlAnswers['power-cut']
    expect(answer.nodes.map((n) => n.node)).to.deep.equal([0, 1, 2])
    for (const n of answer.nodes) {
      expect(n.previous_pid).to.equal(before.nodes[n.node].pid)
      expect(n.pid).to.be.a('number').and.not.equal(n.previous_pid)
      expect(n.dropped).to.have.all.keys('files', 'bytes', 'entries')
    }
    expect(await storedPerNode(c)).to.deep.equal([MESSAGES, MESSAGES, MESSAGES])

    const events = await c.events()
    const cut = events.find((e) => e.type === 'power-cut')
    expect(cut).to.include.keys('nodes', 'dropped')
    expect(cut!.nodes).to.deep.equal([0, 1, 2])
    // Nothing odd afterwards: no crash, every node running as a voter.
    expect(events.filter((e) => e.type === 'exit' && e.crashed === true)).to.deep.equal([])
    const after = await c.status()
    expect(after.nodes.map((n) => [n.process, n.membership])).to.deep.equal([['running', 'voter'], ['running', 'voter'], ['running', 'voter']])

    // One node: the text says what it dropped and the new pid.
    expect(await c.ok(['power-cut', '1'])).to.match(/^node 1: power cut \(pid \d+ killed\); dropped .*; started again \(pid \d+\)\n$/)
    expect(await storedPerNode(c)).to.deep.equal([MESSAGES, MESSAGES, MESSAGES])

    // Repair on the lazy layer: the node's mount goes, its backing dir is set aside, a new member serves.
    const repaired = JSON.parse(await c.ok(['repair', '2', '--force', '--json'], {timeoutMs: 120_000})) as ControlAnswers['repair']
    expect(repaired.kept).to.match(new RegExp(`node-2/disk\\.corrupt-`))
    expect(fs.existsSync(repaired.kept!)).to.equal(true)
    expect(fs.readFileSync('/proc/self/mounts', 'utf8')).to.not.include(`${c.dir}/node-2/data`)
    const replacement = repaired.added.node
    expect(await storedPerNode(c)).to.deep.equal([MESSAGES, MESSAGES, MESSAGES])
    expect((await c.status()).nodes.find((n) => n.index === replacement)?.membership).to.equal('voter')

    await c.ok(['down'])
    const mounts = fs.readFileSync('/proc/self/mounts', 'utf8')
    expect(mounts).to.not.include(c.dir)
    // The data stays in the backing dirs, and the next up runs on the lazy layer again.
    for (const i of [0, 1, replacement]) expect(fs.existsSync(`${c.dir}/node-${i}/disk/node.db`)).to.equal(true)
  })

  it('with --unsafe-no-fsync loses acknowledged messages when every node loses power', async () => {
    const c = (cluster = await CliCluster.create(3))
    const upText = await c.ok(['up', ...c.upFlags(), '--lazy-fs', '--unsafe-no-fsync', ...UP_TIMING], {cluster: false})
    expect(upText).to.match(/UNSAFE: nodes do not fsync/)
    expect((await c.status()).unsafe_no_fsync).to.equal(true)
    const log = fs.readFileSync(`${c.dir}/node-0/node.log`, 'utf8')
    expect(log.match(/UNSAFE: --unsafe-no-fsync/g)).to.have.length(1)
    await publishAcked(c, MESSAGES)

    await c.ok(['power-cut', '--all'])
    const stored = await storedPerNode(c)
    const lost = MESSAGES - Math.max(...stored)
    expect(lost, `acknowledged messages lost (stored per node: ${stored.join(', ')})`).to.be.greaterThan(0)
  })
})

describe('pad-cli bench --mode failover --power-cut (real processes)', function () {
  this.timeout(240_000)
  let cluster: CliCluster | null = null
  clusterHooks(() => cluster)

  it('refuses --power-cut without --mode failover, in one line', async () => {
    const c = (cluster = await CliCluster.create(3))
    const line = await c.fails(['bench', '--nodes', '3', '--power-cut', '--tcp-port', String(c.ports.tcp)], 1, {cluster: false})
    expect(line).to.match(/--power-cut goes with --mode failover/)
  })

  it('cuts the leader\'s power on a temporary cluster, reports the gap and the time until it is back, and loses nothing acknowledged', async function () {
    requireLazyFs(this)
    const c = (cluster = await CliCluster.create(3))
    const flags = ['--nodes', '3', '--tcp-port', String(c.ports.tcp), '--http-port', String(c.ports.http), '--raft-port', String(c.ports.raft)]
    const result = await c.run(['bench', ...flags, '--mode', 'failover', '--power-cut', '--json'], {cluster: false, timeoutMs: 200_000})
    expect(result.code, result.stderr).to.equal(0)
    const [run, summary] = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(run).to.include({phase: 'failover', fault: 'power-cut', acked_all_stored: true})
    expect(run.gap_s).to.be.a('number')
    expect(run.back_s).to.be.a('number')
    expect(summary).to.include({phase: 'failover-summary', kills: 1, acked_all_stored: true})
    expect(summary.back_s_median).to.equal(run.back_s)
  })
})
