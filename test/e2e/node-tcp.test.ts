/**
 * The client TCP port of one real node process: the JSON-lines protocol and the PAD text
 * protocol end to end, bad input, and slow clients.
 */
import net from 'node:net'
import {expect} from 'chai'
import type {TopicsAnswer} from '../../src/api/node-http.js'
import {closeAllSockets, getJson, LineSocket, storedMessages} from './helpers/clients.js'
import {eventually, nodeFixture, sleep, type NodeProcess} from './helpers/node-process.js'
import {closeAllClients, connectClient, publishMany} from './helpers/publishing.js'

type Json = Record<string, unknown>



function publishLine(topic: string, body: string, ref?: number, format = 'JSON'): string {
  return JSON.stringify({op: 'publish', topic, format, body, ...(ref === undefined ? {} : {ref})}) + '\n'
}

/** Subscribes on a new connection and waits for the confirmation. */
async function subscriber(node: NodeProcess, topics: string[], from: unknown = 'latest'): Promise<LineSocket> {
  const socket = await LineSocket.connect(node.ports.tcp)
  await socket.sendJson({op: 'subscribe', topics, from, ref: 'sub'})
  const reply = await socket.nextJson()
  expect(reply).to.include({op: 'subscribed', ref: 'sub'})
  return socket
}

/** Publishes over a fresh JSON-lines connection and waits for every ack. */
async function publishAll(node: NodeProcess, messages: [topic: string, body: string][]): Promise<Json[]> {
  const socket = await LineSocket.connect(node.ports.tcp)
  await socket.send(messages.map(([topic, body], i) => publishLine(topic, body, i)).join(''))
  const acks = await socket.takeJson(messages.length)
  socket.close()
  for (const ack of acks) expect(ack.op, JSON.stringify(ack)).to.equal('ack')
  return acks
}

function offsetsOf(lines: Json[]): [unknown, unknown][] {
  return lines.map((m) => [m.topic, m.offset])
}

describe('node TCP port (real process)', function () {
  this.timeout(60_000)
  const nodes = nodeFixture('all')
  let node: NodeProcess

  before(async () => {
    node = await nodes.start()
  })
  afterEach(() => {
    closeAllSockets()
    closeAllClients()
  })

  describe('JSON lines', () => {
    it('acks many publishes in flight on one connection in order, with offsets 0..n-1', async () => {
      const n = 2000
      const socket = await LineSocket.connect(node.ports.tcp)
      let batch = ''
      for (let i = 0; i < n; i++) batch += publishLine('inflight', JSON.stringify({i}), i)
      await socket.send(batch)
      const acks = await socket.takeJson(n)
      expect(acks.map((a) => a.ref)).to.deep.equal(Array.from({length: n}, (_, i) => i))
      expect(acks.map((a) => a.offset)).to.deep.equal(Array.from({length: n}, (_, i) => i))
      expect(acks.every((a) => a.op === 'ack' && a.topic === 'inflight')).to.equal(true)
      const page = await storedMessages(node, 'inflight')
      expect(page.slice(0, 3).map((m) => JSON.parse(m.body).i)).to.deep.equal([0, 1, 2])
    })

    it('answers requests in the order they were sent, whatever their kind', async () => {
      const socket = await LineSocket.connect(node.ports.tcp)
      await socket.send(
        publishLine('mixed', '{"a":1}', 1) +
          JSON.stringify({op: 'ping', ref: 2}) + '\n' +
          publishLine('mixed', '{broken', 3) +
          publishLine('mixed', '{"a":2}', 4) +
          JSON.stringify({op: 'nope', ref: 5}) + '\n',
      )
      const replies = await socket.takeJson(5)
      expect(replies.map((r) => [r.ref, r.op])).to.deep.equal([
        [1, 'ack'],
        [2, 'pong'],
        [3, 'error'],
        [4, 'ack'],
        [5, 'error'],
      ])
      expect(replies[0].offset).to.equal(0)
      expect(replies[3].offset).to.equal(1)
    })

    it('answers ping with pong, echoing the ref', async () => {
      const socket = await LineSocket.connect(node.ports.tcp)
      await socket.sendJson({op: 'ping', ref: 'p-1'})
      expect(await socket.nextJson()).to.deep.equal({op: 'pong', ref: 'p-1'})
    })

    it('subscribes from latest: only messages committed after the subscription', async () => {
      await publishAll(node, [['from.latest', '{"n":0}'], ['from.latest', '{"n":1}']])
      const sub = await subscriber(node, ['from.latest'], 'latest')
      await publishAll(node, [['from.latest', '{"n":2}'], ['from.latest', '{"n":3}']])
      const messages = await sub.takeJson(2)
      expect(messages.map((m) => [m.op, m.topic, m.offset, m.format, m.body])).to.deep.equal([
        ['message', 'from.latest', 2, 'JSON', '{"n":2}'],
        ['message', 'from.latest', 3, 'JSON', '{"n":3}'],
      ])
      expect(Date.now() - Date.parse(messages[0].timestamp as string)).to.be.within(-60_000, 60_000)
    })

    it('subscribes from the beginning: history first, then live, with no gap', async () => {
      await publishAll(node, [0, 1, 2].map((n) => ['from.beginning', `{"n":${n}}`]))
      const sub = await subscriber(node, ['from.beginning'], 'beginning')
      const history = await sub.takeJson(3)
      await publishAll(node, [['from.beginning', '{"n":3}']])
      const live = await sub.takeJson(1)
      expect([...history, ...live].map((m) => m.offset)).to.deep.equal([0, 1, 2, 3])
      expect([...history, ...live].map((m) => JSON.parse(m.body as string).n)).to.deep.equal([0, 1, 2, 3])
    })

    it('subscribes from an offset', async () => {
      await publishAll(node, [0, 1, 2, 3].map((n) => ['from.offset', `{"n":${n}}`]))
      const sub = await subscriber(node, ['from.offset'], 2)
      const history = await sub.takeJson(2)
      await publishAll(node, [['from.offset', '{"n":4}']])
      const live = await sub.takeJson(1)
      expect([...history, ...live].map((m) => m.offset)).to.deep.equal([2, 3, 4])
    })

    it('refuses a bad start position and a bad pattern with a clear error', async () => {
      const socket = await LineSocket.connect(node.ports.tcp)
      await socket.sendJson({op: 'subscribe', topics: ['x'], from: 'yesterday', ref: 1})
      await socket.sendJson({op: 'subscribe', topics: ['a.>.b'], ref: 2})
      await socket.sendJson({op: 'subscribe', topics: [], ref: 3})
      const [badFrom, badPattern, empty] = await socket.takeJson(3)
      expect(badFrom).to.include({op: 'error', ref: 1, code: 'BAD_REQUEST'})
      expect(badFrom.message).to.match(/"from" must be/)
      expect(badPattern).to.include({op: 'error', ref: 2, code: 'BAD_REQUEST'})
      expect(badPattern.message).to.match(/">" may only be the last segment/)
      expect(empty).to.include({op: 'error', ref: 3, code: 'BAD_REQUEST'})
    })

    it('matches wildcards: * one segment, > the rest, all everything', async () => {
      const star = await subscriber(node, ['wild.*'])
      const rest = await subscriber(node, ['wild.>'])
      const all = await subscriber(node, ['all'])
      const topics = ['wild', 'wild.a', 'wild.a.b', 'other.a', 'wild.b']
      await publishAll(node, topics.map((t) => [t, '{}']))
      expect((await star.takeJson(2)).map((m) => m.topic)).to.deep.equal(['wild.a', 'wild.b'])
      expect((await rest.takeJson(3)).map((m) => m.topic)).to.deep.equal(['wild.a', 'wild.a.b', 'wild.b'])
      expect((await all.takeJson(5)).map((m) => m.topic)).to.deep.equal(topics)
      // Nothing else arrived: a ping is answered next on each connection.
      for (const socket of [star, rest, all]) {
        await socket.sendJson({op: 'ping'})
        expect(await socket.nextJson()).to.deep.equal({op: 'pong'})
      }
    })

    it('stops delivering a topic after unsubscribe, and keeps the others', async () => {
      const sub = await subscriber(node, ['unsub.a', 'unsub.b'])
      await sub.sendJson({op: 'unsubscribe', topics: ['unsub.a'], ref: 'u'})
      expect(await sub.nextJson()).to.deep.equal({op: 'unsubscribed', topics: ['unsub.a'], ref: 'u'})
      await publishAll(node, [['unsub.a', '{"n":1}'], ['unsub.b', '{"n":2}'], ['unsub.a', '{"n":3}'], ['unsub.b', '{"n":4}']])
      const messages = await sub.takeJson(2)
      expect(messages.map((m) => [m.topic, m.body])).to.deep.equal([
        ['unsub.b', '{"n":2}'],
        ['unsub.b', '{"n":4}'],
      ])
      await sub.sendJson({op: 'unsubscribe', topics: ['unsub.b']})
      expect(await sub.nextJson()).to.include({op: 'unsubscribed'})
      await publishAll(node, [['unsub.b', '{"n":5}']])
      await sub.sendJson({op: 'ping'})
      expect(await sub.nextJson()).to.deep.equal({op: 'pong'})
    })

    it('confirms a subscription before its first message, even behind a publish in flight', async () => {
      const socket = await LineSocket.connect(node.ports.tcp)
      await socket.send(publishLine('confirm.first', '{}', 1) + JSON.stringify({op: 'subscribe', topics: ['confirm.first'], from: 'beginning', ref: 2}) + '\n')
      const lines = await socket.takeJson(3)
      expect(lines.map((l) => l.op)).to.deep.equal(['ack', 'subscribed', 'message'])
    })

    it('delivers the same messages in the same order to subscribers on two connections', async () => {
      const first = await subscriber(node, ['same.>'])
      const second = await subscriber(node, ['same.>'])
      const publishers = await Promise.all([connectClient(node), connectClient(node)])
      const n = 300
      await Promise.all(
        publishers.map((client, p) => publishMany(client, n, (i) => ({topic: `same.p${p}`, body: JSON.stringify({p, i})}), 32)),
      )
      const seenFirst = offsetsOf(await first.takeJson(2 * n))
      const seenSecond = offsetsOf(await second.takeJson(2 * n))
      expect(seenSecond).to.deep.equal(seenFirst)
      for (const p of [0, 1]) {
        expect(seenFirst.filter(([t]) => t === `same.p${p}`).map(([, o]) => o)).to.deep.equal(Array.from({length: n}, (_, i) => i))
      }
    })
  })

  describe('PAD text protocol', () => {
    it('stores frames a publisher sends without newlines, topic taken from the body', async () => {
      const socket = await LineSocket.connect(node.ports.tcp)
      await socket.send(
        'PUBLISH' +
          'FORMAT:JSON|{"Topic":"pad.nonl","headline":"one"}' +
          'FORMAT:XML|<msg><Topic>pad.nonl</Topic><headline>two</headline></msg>' +
          'FORMAT:JSON|{"Topic":"pad.nonl","headline":"three"}',
      )
      const messages = await eventually('three PAD frames stored', async () => {
        const found = await storedMessages(node, 'pad.nonl')
        return found.length >= 3 ? found : undefined
      })
      expect(messages.map((m) => [m.offset, m.format, m.body])).to.deep.equal([
        [0, 'JSON', '{"Topic":"pad.nonl","headline":"one"}'],
        [1, 'XML', '<msg><Topic>pad.nonl</Topic><headline>two</headline></msg>'],
        [2, 'JSON', '{"Topic":"pad.nonl","headline":"three"}'],
      ])
    })

    it('stores newline-terminated frames', async () => {
      const socket = await LineSocket.connect(node.ports.tcp)
      await socket.send('PUBLISH\nFORMAT:JSON|{"Topic":"pad.nl","n":1}\nFORMAT:XML|<m><Topic>pad.nl</Topic><n>2</n></m>\r\n')
      const messages = await eventually('two PAD frames stored', async () => {
        const found = await storedMessages(node, 'pad.nl')
        return found.length >= 2 ? found : undefined
      })
      expect(messages.map((m) => [m.format, m.body])).to.deep.equal([
        ['JSON', '{"Topic":"pad.nl","n":1}'],
        ['XML', '<m><Topic>pad.nl</Topic><n>2</n></m>'],
      ])
    })

    it('reassembles frames split across TCP packets at awkward places', async () => {
      const socket = await LineSocket.connect(node.ports.tcp)
      const pieces = [
        'PUB',
        'LISH',
        'FOR',
        'MAT:JS',
        'ON|{"Topic":"pad.split","te',
        'xt":"héllo ',
        'wörld"}',
        'FORMAT:XML|<msg><Topic>pad.sp',
        'lit</Topic><n>2</n></m',
        'sg>FORMAT:JSON|{"Topic":"pad.split","n":3}',
      ]
      for (const piece of pieces) {
        await socket.send(piece)
        await sleep(30)
      }
      // The multi-byte "ö" split between two packets.
      const bytes = Buffer.from('FORMAT:JSON|{"Topic":"pad.split","text":"wörld"}')
      const cut = bytes.indexOf(0xb6)
      await socket.send(bytes.subarray(0, cut))
      await sleep(30)
      await socket.send(bytes.subarray(cut))
      const messages = await eventually('four PAD frames stored', async () => {
        const found = await storedMessages(node, 'pad.split')
        return found.length >= 4 ? found : undefined
      })
      expect(messages.map((m) => [m.format, m.body])).to.deep.equal([
        ['JSON', '{"Topic":"pad.split","text":"héllo wörld"}'],
        ['XML', '<msg><Topic>pad.split</Topic><n>2</n></msg>'],
        ['JSON', '{"Topic":"pad.split","n":3}'],
        ['JSON', '{"Topic":"pad.split","text":"wörld"}'],
      ])
      expect(await storedMessages(node, 'default').then((all) => all.filter((m) => m.body.includes('pad.split')))).to.deep.equal([])
    })

    it('stores a body that does not parse as its format as RAW on the default topic', async () => {
      const socket = await LineSocket.connect(node.ports.tcp)
      const before = (await storedMessages(node, 'default')).length
      await socket.send('PUBLISH\nFORMAT:JSON|{"Topic": "pad.bad", not json\nFORMAT:XML|<msg><Topic>pad.bad</Topic>\nFORMAT:RAW|plain words\n')
      const messages = await eventually('three frames on the default topic', async () => {
        const found = await storedMessages(node, 'default')
        return found.length >= before + 3 ? found.slice(before) : undefined
      })
      expect(messages.map((m) => [m.format, m.body])).to.deep.equal([
        ['RAW', '{"Topic": "pad.bad", not json'],
        ['RAW', '<msg><Topic>pad.bad</Topic>'],
        ['RAW', 'plain words'],
      ])
      expect(await storedMessages(node, 'pad.bad')).to.deep.equal([])
    })

    it('answers a line that is not a frame with an ERROR line and keeps storing the next frames', async () => {
      const socket = await LineSocket.connect(node.ports.tcp)
      await socket.send('PUBLISH\nHELLO THERE\nFORMAT:JSON|{"Topic":"pad.after.error"}\n')
      expect(await socket.nextLine()).to.match(/^ERROR not a frame/)
      await eventually('the frame after the error', async () => ((await storedMessages(node, 'pad.after.error')).length === 1 ? true : undefined))
    })

    it('sends a PAD subscriber the history, then live messages, as FORMAT lines; PING gets PONG', async () => {
      await publishAll(node, [['pad.sub', '{"Topic":"pad.sub","n":0}'], ['pad.sub', '{"Topic":"pad.sub","n":1}']])
      const sub = await LineSocket.connect(node.ports.tcp)
      await sub.send('SUBSCRI')
      await sleep(20)
      await sub.send('SUBSCRIBE:pad.sub\n')
      expect(await sub.take(2)).to.deep.equal(['FORMAT:JSON|{"Topic":"pad.sub","n":0}', 'FORMAT:JSON|{"Topic":"pad.sub","n":1}'])
      await sub.send('PING\n')
      expect(await sub.nextLine()).to.equal('PONG')
      const publisher = await LineSocket.connect(node.ports.tcp)
      await publisher.send('PUBLISHFORMAT:XML|<m><Topic>pad.sub</Topic></m>')
      expect(await sub.nextLine()).to.equal('FORMAT:XML|<m><Topic>pad.sub</Topic></m>')
      await sub.send('UNSUBSCRIBE:pad.sub\nPING\n')
      await publishAll(node, [['pad.sub', '{"after":"unsubscribe"}']])
      await sub.send('PING\n')
      expect(await sub.take(2)).to.deep.equal(['PONG', 'PONG'])
    })

    it('accepts the preamble glued to the first command, and `all` for every topic', async () => {
      const {messages_stored: count} = await getJson<{messages_stored: number}>(node, '/stats')
      const sub = await LineSocket.connect(node.ports.tcp)
      await sub.send('SUBSCRISUBSCRIBE:all\n')
      const history = await sub.take(count)
      expect(history.every((line) => /^FORMAT:(JSON|XML|RAW)\|/.test(line))).to.equal(true)
      await publishAll(node, [['pad.all.live', '{"live":true}']])
      expect(await sub.nextLine()).to.equal('FORMAT:JSON|{"live":true}')
    })

    it('answers an unknown subscriber command with an ERROR line', async () => {
      const sub = await LineSocket.connect(node.ports.tcp)
      await sub.send('SUBSCRI\nLISTEN:news\nSUBSCRIBE:bad..topic\nPING\n')
      expect(await sub.nextLine()).to.match(/^ERROR unknown command "LISTEN:news"/)
      expect(await sub.nextLine()).to.match(/^ERROR topic pattern "bad..topic" is invalid/)
      expect(await sub.nextLine()).to.equal('PONG')
    })
  })

  describe('bad input', () => {
    it('answers each bad line with a clear error object, keeps the connection usable, and never disturbs other clients', async () => {
      const client = await connectClient(node)
      const n = 3000
      const others = publishMany(client, n, (i) => ({topic: 'bystander', body: JSON.stringify({i})}), 64)

      const bad = await LineSocket.connect(node.ports.tcp)
      // Garbage bytes (not a PAD preamble), then a line over the 2 MiB + 4 KiB line limit.
      await bad.send(Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x0a]))
      const garbage = await bad.nextJson()
      expect(garbage).to.include({op: 'error', code: 'BAD_REQUEST'})
      expect(garbage.message).to.match(/^invalid JSON/)
      await bad.send(Buffer.alloc(3 * 1024 * 1024, 'a'))
      await bad.send('\n')
      const tooLong = await bad.nextJson()
      expect(tooLong).to.include({op: 'error', code: 'TOO_LARGE'})
      expect(tooLong.message).to.match(/line of 3145728 bytes is over the limit of \d+ bytes/)
      await bad.sendJson({op: 'ping', ref: 'still-there'})
      expect(await bad.nextJson()).to.deep.equal({op: 'pong', ref: 'still-there'})

      await bad.send(
        '{"op":"publish","topic":\n' +
          '{"op":"frobnicate","ref":5}\n' +
          '{"ref":6}\n' +
          '[1,2]\n42\n"publish"\nnull\n' +
          JSON.stringify({op: 'publish', topic: 'badinput', format: 'XML', body: '<a><b></a>', ref: 7}) + '\n' +
          JSON.stringify({op: 'publish', topic: 'bad topic!', body: '{}', ref: 8}) + '\n' +
          JSON.stringify({op: 'publish', topic: 'badinput', format: 'JSON', body: '{"ok": true}', ref: 9}) + '\n',
      )
      const replies = await bad.takeJson(10)
      expect(replies.map((r) => [r.op, r.code ?? null, r.ref ?? null])).to.deep.equal([
        ['error', 'BAD_REQUEST', null],
        ['error', 'UNKNOWN_OP', 5],
        ['error', 'UNKNOWN_OP', 6],
        ['error', 'BAD_REQUEST', null],
        ['error', 'BAD_REQUEST', null],
        ['error', 'BAD_REQUEST', null],
        ['error', 'BAD_REQUEST', null],
        ['error', 'BAD_REQUEST', 7],
        ['error', 'BAD_REQUEST', 8],
        ['ack', null, 9],
      ])
      expect(replies[0].message).to.match(/^invalid JSON/)
      expect(replies[1].message).to.match(/unknown op "frobnicate"/)
      expect(replies[2].message).to.match(/"op" field is missing/)
      for (const reply of replies.slice(3, 7)) expect(reply.message).to.equal('each line must be a JSON object')
      expect(replies[7].message).to.match(/not well-formed XML/)
      expect(replies[8].message).to.match(/topic "bad topic!" is invalid/)
      expect(replies[9].offset).to.equal(0)

      const acks = await others
      expect(acks.map((a) => a.offset)).to.deep.equal(Array.from({length: n}, (_, i) => i))
      expect(node.running).to.equal(true)
      expect((await getJson(node, '/health')).ok).to.equal(true)
      expect((await getJson<TopicsAnswer>(node, '/topics')).details.find((t) => t.topic === 'bystander')?.messages).to.equal(n)
    })

    it('drops an oversized PAD frame with an ERROR line and stores the next one', async () => {
      const socket = await LineSocket.connect(node.ports.tcp)
      await socket.send('PUBLISH')
      await socket.send('FORMAT:RAW|' + 'x'.repeat(1024 * 1024 + 100) + '\n')
      expect(await socket.nextLine()).to.match(/^ERROR .*larger than the limit of 1048576 bytes/)
      await socket.send('FORMAT:JSON|{"Topic":"pad.after.big"}\n')
      await eventually('the frame after the oversized one', async () => ((await storedMessages(node, 'pad.after.big')).length === 1 ? true : undefined))
    })
  })
})

describe('node TCP port with slow clients (real process)', function () {
  this.timeout(60_000)
  const nodes = nodeFixture('each')
  afterEach(() => {
    closeAllSockets()
    closeAllClients()
  })

  async function rss(node: NodeProcess): Promise<number> {
    return (await getJson<{memory: {rss_bytes: number}}>(node, '/stats')).memory.rss_bytes
  }

  it('keeps memory bounded for subscribers that do not read, then delivers every message in order', async () => {
    const node = await nodes.start()
    const n = 50_000
    const pad = 'x'.repeat(1000)
    // Six subscribers that stop reading (four JSON lines, two PAD): a node that queued
    // everything for them would hold six copies of the 50 MB published.
    const json: LineSocket[] = []
    for (let i = 0; i < 4; i++) json.push(await subscriber(node, ['slow'], 'latest'))
    const pads: LineSocket[] = []
    for (let i = 0; i < 2; i++) {
      const socket = await LineSocket.connect(node.ports.tcp)
      await socket.send('SUBSCRI\nSUBSCRIBE:slow\n')
      pads.push(socket)
    }
    await eventually('six subscribers listed', async () => {
      const {subscribers} = await getJson<{subscribers: unknown[]}>(node, '/subscribers')
      return subscribers.length === 6 ? true : undefined
    })
    for (const socket of [...json, ...pads]) socket.socket.pause()
    const before = await rss(node)
    const client = await connectClient(node)
    await publishMany(client, n, (i) => ({topic: 'slow', body: JSON.stringify({i, pad})}), 512)
    const after = await rss(node)
    const {subscribers} = await getJson<{subscribers: {protocol: string; delivered: number; live: boolean}[]}>(node, '/subscribers')
    expect(subscribers).to.have.length(6)
    for (const slow of subscribers) {
      // The node stopped feeding each of them long before the end.
      expect(slow.delivered, slow.protocol).to.be.lessThan(n / 2)
      expect(slow.live).to.equal(false)
    }
    // Publishing 50 MB grew a node by 70 to 200 MB (the more loaded the machine, the more);
    // queueing for six subscribers adds some 60 MB each.
    expect(after - before, `RSS grew from ${before} to ${after}`).to.be.lessThan(320 * 1024 * 1024)

    // Once one of each kind reads, it gets every message, in order, with no gap (checked
    // page by page), then live ones.
    for (const socket of [...json.slice(1), ...pads.slice(1)]) socket.close()
    const [reader, padReader] = [json[0], pads[0]]
    reader.socket.resume()
    padReader.socket.resume()
    for (let from = 0; from < n; from += 5000) {
      const page = await reader.takeJson(5000, 30_000)
      expect(page.every((m, k) => m.op === 'message' && m.offset === from + k), `offsets ${from}..${from + 4999}`).to.equal(true)
    }
    for (let from = 0; from < n; from += 5000) {
      const page = await padReader.take(5000, 30_000)
      expect(page.every((line, k) => line === `FORMAT:JSON|{"i":${from + k},"pad":"${pad}"}`), `PAD messages ${from}..${from + 4999}`).to.equal(true)
    }
    await client.publish({topic: 'slow', body: '{"live":true}'})
    expect((await reader.nextJson()).offset).to.equal(n)
    expect(await padReader.nextLine()).to.equal('FORMAT:JSON|{"live":true}')
  })

  it('stops reading from a client that does not read its replies, and answers every request once it does', async () => {
    const node = await nodes.start()
    const ref = 'r'.repeat(200)
    const ping = `{"op":"ping","ref":"${ref}"}\n`
    const pong = `{"op":"pong","ref":"${ref}"}\n`
    const lines = 80_000
    const socket = net.connect({host: '127.0.0.1', port: node.ports.tcp})
    socket.on('error', () => {})
    await new Promise((resolve) => socket.once('connect', resolve))
    try {
      socket.pause()
      // 18 MB of pings whose pongs the client does not read: the node must stop reading rather
      // than buffer 18 MB of answers, so this one write cannot complete (the kernel's buffers
      // take a few MB of it).
      let written = false
      socket.write(ping.repeat(lines), () => (written = true))
      // A node that kept reading would take all 18 MB in well under a second.
      await sleep(2000)
      expect(written, 'the client could write everything: the node kept reading').to.equal(false)
      let received = 0
      let wrong = 0
      socket.on('data', (chunk: Buffer) => {
        // The stream must be pongs and nothing else: byte k is pong[k mod its length].
        for (let k = 0; k < chunk.length; k++) if (chunk[k] !== pong.charCodeAt((received + k) % pong.length)) wrong++
        received += chunk.length
      })
      socket.resume()
      await eventually('every pong', () => (received >= lines * pong.length ? true : undefined), 30_000, 50)
      expect(received).to.equal(lines * pong.length)
      expect(wrong).to.equal(0)
    } finally {
      socket.destroy()
    }
  })
})
