/**
 * Retention on real node processes: `--retention` limits applied through the log, OFFSET_TRIMMED
 * on HTTP and JSON lines, the PAD protocol's history from the first offset kept, and a bad spec.
 */
import {expect} from 'chai'
import type {StatsInfo, TopicsAnswer} from '../../src/api/node-http.js'
import {closeAllSockets, getJson, http, LineSocket} from './helpers/clients.js'
import {TestCluster} from './helpers/cluster.js'
import {eventually, nodeFixture, type NodeProcess} from './helpers/node-process.js'

type Json = Record<string, unknown>

async function publishAll(node: NodeProcess, topic: string, count: number): Promise<void> {
  const socket = await LineSocket.connect(node.ports.tcp)
  const lines = Array.from({length: count}, (_, i) => JSON.stringify({op: 'publish', topic, format: 'JSON', body: JSON.stringify({Topic: topic, n: i}), ref: i}) + '\n')
  await socket.send(lines.join(''))
  const acks = await socket.takeJson(count, 30_000)
  socket.close()
  for (const ack of acks) expect(ack.op, JSON.stringify(ack)).to.equal('ack')
}

async function firstOffset(node: NodeProcess, topic: string): Promise<number | undefined> {
  const {details} = await getJson<TopicsAnswer>(node, '/topics')
  return details.find((d) => d.topic === topic)?.first_offset
}

describe('retention (real processes)', function () {
  this.timeout(90_000)
  const nodes = nodeFixture('each')
  afterEach(() => closeAllSockets())

  describe('one node with --retention max-messages=5', () => {
    let node: NodeProcess

    beforeEach(async () => {
      node = await nodes.start({args: ['--retention', 'max-messages=5', '--retention', 'topic:r.small:max-messages=2']})
      await publishAll(node, 'r.a', 12)
      await eventually('the trims', async () => ((await firstOffset(node, 'r.a')) === 7 ? true : undefined))
    })

    it('lists the kept offsets in /topics and answers OFFSET_TRIMMED with the first offset on GET /messages', async () => {
      const {details} = await getJson<TopicsAnswer>(node, '/topics')
      expect(details.find((d) => d.topic === 'r.a')).to.deep.equal({topic: 'r.a', messages: 5, next_offset: 12, first_offset: 7})
      const trimmed = await http(node, 'GET', '/messages?topic=r.a&from=0')
      expect(trimmed.status).to.equal(410)
      expect(trimmed.json).to.deep.include({ok: false, first_offset: 7})
      expect((trimmed.json.error as Json).code).to.equal('OFFSET_TRIMMED')
      expect((trimmed.json.error as Json).message).to.match(/first offset is 7/)
      const kept = await getJson<{messages: {offset: number}[]}>(node, '/messages?topic=r.a&from=7')
      expect(kept.messages.map((m) => m.offset)).to.deep.equal([7, 8, 9, 10, 11])
      const newest = await getJson<{messages: {offset: number}[]}>(node, '/messages?topic=r.a')
      expect(newest.messages.map((m) => m.offset)).to.deep.equal([11, 10, 9, 8, 7])
    })

    it('refuses a JSON-lines subscription from a trimmed offset, and keeps the connection', async () => {
      const socket = await LineSocket.connect(node.ports.tcp)
      await socket.sendJson({op: 'subscribe', topics: ['r.a'], from: 3, ref: 's1'})
      expect(await socket.nextJson()).to.deep.include({op: 'error', code: 'OFFSET_TRIMMED', first_offset: 7, ref: 's1'})
      await socket.sendJson({op: 'subscribe', topics: ['r.*'], from: '0', ref: 's2'})
      expect(await socket.nextJson()).to.deep.include({op: 'error', code: 'OFFSET_TRIMMED', first_offset: 7, ref: 's2'})
      await socket.sendJson({op: 'subscribe', topics: ['r.a'], from: 9, ref: 's3'})
      expect(await socket.nextJson()).to.deep.include({op: 'subscribed', ref: 's3'})
      expect((await socket.takeJson(3)).map((m) => m.offset)).to.deep.equal([9, 10, 11])
      await socket.sendJson({op: 'subscribe', topics: ['other'], from: 'beginning', ref: 's4'})
      expect(await socket.nextJson()).to.deep.include({op: 'subscribed', ref: 's4'})
    })

    it('gives a PAD subscriber the history from the first offset kept', async () => {
      const sub = await LineSocket.connect(node.ports.tcp)
      await sub.send('SUBSCRI\nSUBSCRIBE:r.a\n')
      expect(await sub.take(5)).to.deep.equal([7, 8, 9, 10, 11].map((n) => `FORMAT:JSON|{"Topic":"r.a","n":${n}}`))
      await sub.send('PING\n')
      expect(await sub.nextLine()).to.equal('PONG')
    })

    it('applies a topic limit below the cluster one, and keeps both after a restart', async () => {
      await publishAll(node, 'r.small', 4)
      await eventually('the topic trim', async () => ((await firstOffset(node, 'r.small')) === 2 ? true : undefined))
      const stats = await getJson<StatsInfo>(node, '/stats')
      // Five kept over the whole store: the oldest of the store went first.
      expect(stats.total_messages).to.equal(5)
      expect(stats.retention).to.deep.equal({cluster: {maxMessages: 5}, topics: {'r.small': {maxMessages: 2}}})
      const before = await getJson<TopicsAnswer>(node, '/topics')
      await node.stop()
      const again = await nodes.start({dataDir: node.dataDir, args: node.args})
      expect(await getJson<TopicsAnswer>(again, '/topics')).to.deep.equal(before)
    })
  })

  it('tells a JSON-lines subscriber that stopped reading which offsets retention deleted, once, and goes on from the first kept', async () => {
    const node = await nodes.start({args: ['--retention', 'topic:r.gap:max-messages=20']})
    const sub = await LineSocket.connect(node.ports.tcp)
    await sub.sendJson({op: 'subscribe', topics: ['r.gap'], ref: 'g'})
    expect(await sub.nextJson()).to.deep.include({op: 'subscribed', ref: 'g'})
    sub.socket.pause()
    // Far more than the socket buffers hold: the subscriber falls behind and the node trims what it has not read.
    const total = 600
    const body = 'x'.repeat(32 * 1024)
    const publisher = await LineSocket.connect(node.ports.tcp)
    for (let at = 0; at < total; at += 50) {
      const lines = Array.from({length: 50}, (_, i) => JSON.stringify({op: 'publish', topic: 'r.gap', format: 'RAW', body: `${at + i} ${body}`, ref: at + i}) + '\n')
      await publisher.send(lines.join(''))
      for (const ack of await publisher.takeJson(50, 30_000)) expect(ack.op, JSON.stringify(ack).slice(0, 200)).to.equal('ack')
    }
    await eventually('the trims', async () => ((await firstOffset(node, 'r.gap')) === total - 20 ? true : undefined))
    sub.socket.resume()
    const offsets: number[] = []
    const notices: Json[] = []
    while (offsets.at(-1) !== total - 1) {
      const line = await sub.nextJson(30_000)
      if (line.op === 'message') offsets.push(line.offset as number)
      else notices.push(line)
    }
    expect(notices).to.have.length(1)
    const notice = notices[0]
    expect(notice).to.deep.include({op: 'error', code: 'OFFSET_TRIMMED', topic: 'r.gap', ref: 'g'})
    const [expected, first] = [notice.expected_offset as number, notice.first_offset as number]
    expect(first).to.be.above(expected)
    expect(notice.message).to.equal(`retention deleted ${first - expected} messages of topic r.gap (offsets ${expected} to ${first - 1}) before this subscriber read them; it goes on from offset ${first}`)
    const run = (from: number, to: number): number[] => Array.from({length: to - from}, (_, i) => from + i)
    expect(offsets).to.deep.equal([...run(0, expected), ...run(first, total)])
    // The connection stays: the subscription is live again.
    await sub.sendJson({op: 'ping', ref: 'p'})
    expect(await sub.nextJson()).to.deep.include({op: 'pong', ref: 'p'})
  })

  it('refuses a bad --retention with one line naming the part at fault', async () => {
    const node = await nodes.start({waitHealthy: false, args: ['--retention', 'max-messages=5,max-age=soon']})
    const exit = await node.waitExit(20_000)
    expect(exit?.code).to.equal(2)
    expect(node.output).to.match(/--retention "max-age=soon": max-age: "soon" is not a duration/)
    expect(node.output).to.not.match(/ at .*\.[jt]s:\d+/)
  })

  it('keeps exactly offsets 400..499 on every node of a 3-node cluster with --retention max-messages=100', async () => {
    const cluster = await TestCluster.start(nodes, 3, ['--retention', 'max-messages=100'])
    await publishAll(cluster.node(0), 'r.big', 500)
    for (const node of cluster.nodes) {
      const member = node!
      await eventually(`node ${member.ports.tcp} applies the trims`, async () => ((await firstOffset(member, 'r.big')) === 400 ? true : undefined), 20_000)
      const kept: number[] = []
      for (let from = 400; from < 500; from += 50) {
        const page = await getJson<{messages: {offset: number}[]}>(member, `/messages?topic=r.big&from=${from}&limit=50`)
        kept.push(...page.messages.map((m) => m.offset))
      }
      expect(kept).to.deep.equal(Array.from({length: 100}, (_, i) => 400 + i))
      const stats = await getJson<{total_messages: number}>(member, '/stats')
      expect(stats.total_messages).to.equal(100)
      const trimmed = await http(member, 'GET', '/messages?topic=r.big&from=0')
      expect(trimmed.status).to.equal(410)
      expect(trimmed.json).to.deep.include({first_offset: 400})
      expect((trimmed.json.error as Json).code).to.equal('OFFSET_TRIMMED')
    }
  })
})
