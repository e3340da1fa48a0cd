/**
 * Snapshots through the real `pad-cli` (processes, the Raft port, the writer thread): `up`
 * passes --snapshot-entries/--trailing-entries to its nodes, a stopped follower that comes back
 * behind the leader's compaction point catches up by snapshot, and `pad-cli snapshot` compacts
 * every running node on demand.
 */
import {expect} from 'chai'
import {BrokerClient} from '../../src/client/broker-client.js'
import {CliCluster, clusterHooks, eventually, HOST} from './cluster-helpers.js'

async function publishMany(client: BrokerClient, topic: string, count: number): Promise<void> {
  for (let at = 0; at < count; at += 100) {
    const batch: Promise<unknown>[] = []
    for (let n = at; n < Math.min(at + 100, count); n++) batch.push(client.publish({topic, body: JSON.stringify({n})}))
    await Promise.all(batch)
  }
}

describe('cluster manager: snapshots (pad-cli up --snapshot-entries, pad-cli snapshot)', function () {
  this.timeout(180_000)
  let cluster: CliCluster | null = null
  clusterHooks(() => cluster)

  it('a follower stopped behind the compaction point catches up by snapshot; pad-cli snapshot compacts every node', async () => {
    const c = (cluster = await CliCluster.create(3))
    for (const [flag, value] of [['--snapshot-entries', '0'], ['--trailing-entries', '-1'], ['--snapshot-entries', '100000001'], ['--snapshot-entries', 'lots']]) {
      expect(await c.fails(['up', ...c.upFlags(), flag, value], 2, {cluster: false}), `${flag} ${value}`).to.match(new RegExp(flag.slice(2) + '|Expected an integer'))
    }
    await c.ok(['up', ...c.upFlags(), '--snapshot-entries', '200', '--trailing-entries', '50', '--wait', '60s'], {cluster: false})
    const leader = (await c.status()).leader!
    const follower = (leader + 1) % 3
    const client = await BrokerClient.connect(HOST, c.ports.tcp + leader)
    try {
      await publishMany(client, 'news', 300)
      await c.ok(['stop', String(follower)])
      await publishMany(client, 'news', 700)
    } finally {
      client.close()
    }
    const compacted = await c.raft(leader, 2000)
    expect(compacted!.first_index, "the leader compacted past the stopped follower's log").to.be.above(300)
    await c.ok(['start', String(follower)])
    const caughtUp = await eventually(
      'the follower to install a snapshot and catch up',
      async () => {
        const [mine, theirs] = [await c.raft(follower), await c.raft(leader)]
        return mine && theirs && mine.snapshots_installed >= 1 && mine.last_applied === theirs.last_applied ? mine : undefined
      },
      30_000,
      200,
    )
    expect(caughtUp.first_index).to.be.above(300)
    expect((await c.raft(leader))!.snapshots_sent).to.be.at.least(1)
    const timeline = await eventually(
      "the supervisor's timeline to hold the snapshot's send and install",
      async () => {
        const events = (await c.ok(['events', '--json'])).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
        const sent = events.find((e) => e.type === 'snapshot-send' && e.node === leader && e.to === follower)
        const installed = events.find((e) => e.type === 'snapshot-install' && e.node === follower)
        return sent && installed ? {sent, installed} : undefined
      },
      10_000,
      200,
    )
    expect(timeline.installed.index).to.equal(timeline.sent.index)
    expect(timeline.sent.bytes).to.be.above(0)
    expect(timeline.installed.rows).to.be.above(0)
    expect(await c.ok(['events'])).to.match(new RegExp(`node ${follower} installed a snapshot at index \\d+ \\([\\d,]+ rows, \\d+\\.\\d s\\)`))
    const read = JSON.parse(await c.ok(['messages', '--topic', 'news', '--node', String(follower), '--json', '--oldest', '--limit', '1000'])) as {messages: {offset: number}[]}
    expect(read.messages.map((m) => m.offset)).to.deep.equal([...Array(1000).keys()])

    const out = await c.ok(['snapshot', '--trailing', '0'])
    const lines = out.trim().split('\n')
    expect(lines).to.have.length(3)
    for (const line of lines) expect(line).to.match(/^node \d: log starts at \d+ \(snapshot index \d+, term \d+\), \d+\.\d MiB on disk$/)
    const json = JSON.parse(await c.ok(['snapshot', 'leader', '--json'])) as {node: number; ok: boolean; first_index: number}[]
    expect(json).to.have.length(1)
    expect(json[0]).to.include({node: leader, ok: true})
    expect((await c.raft(leader))!.first_index).to.equal(json[0].first_index)
    expect(await c.fails(['snapshot', '7'], 2)).to.match(/node 7 is out of range/)
    expect(await c.fails(['snapshot', '--trailing', '-3'], 2)).to.match(/trailing|Expected an integer/)
  })
})
