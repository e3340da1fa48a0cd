/**
 * Hostile clients against one real node: seeded fuzzing of the JSON-lines and PAD protocols
 * (mutated valid frames, parser bombs, deep nesting, NUL bytes, broken UTF-8, huge and tiny
 * lengths), the HTTP publish path, and the limits on connections, idleness, subscriptions
 * and unsent bytes. After each, the node is up and stores exactly what it acknowledged.
 *
 * The seed is FUZZ_SEED when given, else taken from the clock; it is printed on failure.
 */
import {expect} from 'chai'
import type {TopicsAnswer} from '../../src/api/node-http.js'
import {closeAllSockets, getJson, http, LineSocket, storedMessages, type ApiMessage} from './helpers/clients.js'
import {Fuzz} from './helpers/fuzz.js'
import {eventually, nodeFixture, sleep, type NodeProcess} from './helpers/node-process.js'
import {closeAllClients, connectClient, publishMany} from './helpers/publishing.js'

type Json = Record<string, unknown>

const SEED = Number(process.env.FUZZ_SEED) || Date.now() % 2 ** 31
const MAX_BODY = 256 * 1024
/** Replies a JSON-lines request can get; other lines (messages) are not answers. */
const REPLIES = new Set(['ack', 'error', 'pong', 'subscribed', 'unsubscribed'])



async function topicCounts(node: NodeProcess): Promise<Map<string, number>> {
  const {details} = await getJson<TopicsAnswer>(node, '/topics')
  return new Map(details.map((t) => [t.topic, t.messages]))
}

/** Runs `body`, naming the seed in any failure so the run can be replayed. */
async function withSeed(body: (fuzz: Fuzz) => Promise<void>): Promise<void> {
  try {
    await body(new Fuzz(SEED))
  } catch (error) {
    ;(error as Error).message = `[FUZZ_SEED=${SEED}] ${(error as Error).message}`
    throw error
  }
}

function publishLine(topic: string, body: unknown, extra: Json = {}): string {
  return JSON.stringify({op: 'publish', topic, format: 'JSON', body, ...extra})
}

describe('front ends under hostile input (real node)', function () {
  this.timeout(120_000)
  const fixture = nodeFixture('all')
  let node: NodeProcess
  let sentinel: ApiMessage[]

  before(async () => {
    node = await fixture.start({args: ['--max-body', String(MAX_BODY)]})
    for (let i = 0; i < 5; i++) {
      const result = await http(node, 'POST', '/publish', {topic: 'sentinel', body: JSON.stringify({i})})
      expect(result.status).to.equal(200)
    }
    sentinel = await storedMessages(node, 'sentinel')
  })

  afterEach(async () => {
    closeAllSockets()
    closeAllClients()
    // Every test leaves the node up with the messages it had.
    expect((await getJson(node, '/health')).ok).to.equal(true)
    expect(await storedMessages(node, 'sentinel')).to.deep.equal(sentinel)
  })

  it('JSON lines: every fuzzed line gets one answer, never INTERNAL, and only acknowledged publishes are stored', async () => {
    await withSeed(async (fuzz) => {
      const before = await topicCounts(node)
      const socket = await LineSocket.connect(node.ports.tcp)
      const lines: Buffer[] = []
      for (let i = 0; i < 300; i++) {
        const valid = publishLine('fuzz.json', JSON.stringify({n: i, Topic: 'x'}), {id: `v-${SEED}-${i}`})
        let line: Buffer
        switch (fuzz.int(7)) {
          case 0:
            line = Buffer.from(valid)
            break
          case 1:
          case 2:
            line = fuzz.mutate(valid)
            break
          case 3: {
            const {format, body} = fuzz.hostileBody()
            line = Buffer.from(JSON.stringify({op: 'publish', topic: 'fuzz.hostile', format, body}))
            break
          }
          case 4:
            line = Buffer.from(`{"op":"publish","topic":"fuzz.hostile","body":${'['.repeat(fuzz.pick([300, 50_000]))}${']'.repeat(300)}}`)
            break
          case 5:
            line = Buffer.from(Array.from({length: fuzz.pick([0, 1, 2, 100, 5000])}, () => fuzz.int(256)))
            break
          default:
            line = Buffer.from(fuzz.pick(['{}', '[]', 'null', '"x"', '{"op":null}', '{"op":"publish"}', '{"op":"subscribe","topics":[]}', '\u0000', '{"op":"ping","ref":{"a":[[[[1]]]]}}']))
        }
        // One request per line: a mutation must not split it.
        for (let b = 0; b < line.length; b++) if (line[b] === 0x0a) line[b] = 0x20
        lines.push(line)
      }
      const expected = lines.filter((l) => l.toString('utf8').replace(/\r$/, '').trim() !== '').length
      for (const line of lines) await socket.send(Buffer.concat([line, Buffer.from('\n')]))
      const answers: Json[] = []
      await eventually(
        `${expected} answers`,
        async () => {
          while (socket.buffered > 0) {
            const reply = JSON.parse(await socket.nextLine()) as Json
            if (REPLIES.has(reply.op as string)) answers.push(reply)
          }
          return answers.length >= expected ? true : undefined
        },
        60_000,
      )
      expect(answers.length).to.equal(expected)
      const internal = answers.filter((a) => a.op === 'error' && !['BAD_REQUEST', 'TOO_LARGE', 'UNKNOWN_OP'].includes(a.code as string))
      expect(internal, JSON.stringify(internal.slice(0, 3))).to.deep.equal([])
      // What is stored on each topic is what was acknowledged there.
      const acked = new Map<string, number>()
      for (const a of answers) if (a.op === 'ack' && !a.duplicate) acked.set(a.topic as string, (acked.get(a.topic as string) ?? 0) + 1)
      const after = await topicCounts(node)
      for (const [topic, count] of after) expect(count - (before.get(topic) ?? 0), topic).to.equal(acked.get(topic) ?? 0)
      expect(socket.closed).to.equal(false)
    })
  })

  it('shows event-loop delay and skipped entries in /stats and /metrics', async () => {
    const stats = await getJson<{skipped_entries: number; event_loop_delay_ms: {max: number; p99: number}}>(node, '/stats')
    expect(stats.skipped_entries).to.equal(0)
    expect(stats.event_loop_delay_ms.max).to.be.a('number')
    expect(stats.event_loop_delay_ms.p99).to.be.a('number')
    const metrics = (await http(node, 'GET', '/metrics')).text
    for (const name of ['pad_event_loop_delay_max_ms', 'pad_event_loop_delay_p99_ms', 'pad_skipped_entries_total']) expect(metrics).to.match(new RegExp(`^${name} [0-9.]+$`, 'm'))
  })

  it('JSON lines: deep nesting is a BAD_REQUEST, in the line or in the body', async () => {
    const socket = await LineSocket.connect(node.ports.tcp)
    await socket.send('['.repeat(200_000) + ']'.repeat(200_000) + '\n')
    expect(await socket.nextJson()).to.include({op: 'error', code: 'BAD_REQUEST'})
    await socket.send(publishLine('fuzz.deep', '['.repeat(100_000) + ']'.repeat(100_000), {ref: 1}) + '\n')
    expect(await socket.nextJson()).to.include({op: 'error', code: 'BAD_REQUEST', ref: 1})
    await socket.send(`{"op":"publish","topic":"fuzz.deep","ref":2,"body":${'['.repeat(1000)}${']'.repeat(1000)}}\n`)
    // Refused before it is parsed, so the answer cannot carry the ref.
    const deepLine = await socket.nextJson()
    expect(deepLine).to.include({op: 'error', code: 'BAD_REQUEST'})
    expect(deepLine.message).to.match(/nested deeper/)
    for (const [ref, body] of [
      [3, '<a>'.repeat(200) + '</a>'.repeat(200)],
      [4, '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'],
    ] as const) {
      await socket.sendJson({op: 'publish', topic: 'fuzz.deep', format: 'XML', body, ref})
      const reply = await socket.nextJson()
      expect(reply).to.include({op: 'error', code: 'BAD_REQUEST', ref})
      expect(reply.message).to.match(/nested deeper|DOCTYPE or ENTITY/)
    }
    expect(await storedMessages(node, 'fuzz.deep')).to.deep.equal([])
  })

  it('HTTP: parser bombs and deep nesting answer 400 with a clear message, not 500', async () => {
    const cases: unknown[] = [
      {topic: 'fuzz.http', format: 'XML', body: '<a>'.repeat(200) + '</a>'.repeat(200)},
      {topic: 'fuzz.http', format: 'XML', body: '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'},
      {topic: 'fuzz.http', format: 'JSON', body: '['.repeat(100_000) + ']'.repeat(100_000)},
      `{"topic":"fuzz.http","body":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
    ]
    for (const body of cases) {
      const result = await http(node, 'POST', '/publish', body)
      expect(result.status, result.text.slice(0, 200)).to.equal(400)
      expect((result.json.error as Json).code).to.equal('BAD_REQUEST')
      expect((result.json.error as Json).message).to.match(/nested|DOCTYPE or ENTITY/)
    }
    expect(await storedMessages(node, 'fuzz.http')).to.deep.equal([])
  })

  it('PAD: fuzzed publisher frames never stop the node; valid frames are stored once each', async () => {
    await withSeed(async (fuzz) => {
      const before = (await getJson<{messages_stored: number}>(node, '/stats')).messages_stored
      let valid = 0
      let frames = 0
      for (let c = 0; c < 4; c++) {
        const socket = await LineSocket.connect(node.ports.tcp)
        await socket.send('PUBLISH\n')
        for (let i = 0; i < 60; i++) {
          const good = `FORMAT:JSON|${JSON.stringify({Topic: 'fuzz.pad', n: `${c}-${i}`})}`
          let frame: Buffer
          const kind = fuzz.int(6)
          if (kind === 0) {
            frame = Buffer.from(good)
            valid++
          } else if (kind <= 2) {
            frame = fuzz.mutate(good)
          } else if (kind === 3) {
            const {format, body} = fuzz.hostileBody()
            frame = Buffer.from(`FORMAT:${format}|${body}`)
          } else if (kind === 4) {
            frame = Buffer.from(fuzz.pick([`FORMAT:RAW|${'x'.repeat(MAX_BODY + 10)}`, 'FORMAT:', 'FORMAT:JSON|', '|', 'FORMAT:XML|\u0000\u0000', 'FORMAT:FOO|bar']))
          } else {
            frame = Buffer.from(Array.from({length: fuzz.pick([1, 3, 200, 4096])}, () => fuzz.int(256)))
          }
          for (let b = 0; b < frame.length; b++) if (frame[b] === 0x0a) frame[b] = 0x20
          frames++
          // Large frames go in 4 KiB pieces, as a slow link would deliver them.
          const whole = Buffer.concat([frame, Buffer.from('\n')])
          for (let at = 0; at < whole.length; at += 4096) await socket.send(whole.subarray(at, at + 4096))
        }
        await sleep(50)
      }
      await eventually(
        `the ${valid} valid frames stored`,
        async () => ((await storedMessages(node, 'fuzz.pad')).filter((m) => m.format === 'JSON').length >= valid ? true : undefined),
        30_000,
      )
      await sleep(500)
      const after = (await getJson<{messages_stored: number}>(node, '/stats')).messages_stored
      // Each frame is stored at most once (PAD stores what does not parse as RAW, as the original broker did).
      expect(after - before).to.be.at.most(frames)
    })
  })

  it('PAD: an XML frame nested 200 deep or declaring entities, sent alone, leaves the node serving', async () => {
    for (const body of ['<a>'.repeat(200) + '</a>'.repeat(200), '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>']) {
      const socket = await LineSocket.connect(node.ports.tcp)
      await socket.send(`PUBLISHFORMAT:XML|${body}`)
      await sleep(300)
      expect((await getJson(node, '/health')).ok).to.equal(true)
      socket.close()
    }
    const socket = await LineSocket.connect(node.ports.tcp)
    await socket.send('PUBLISHFORMAT:XML|<m><Topic>fuzz.padxml</Topic></m>')
    await eventually('the valid XML frame stored', async () => ((await storedMessages(node, 'fuzz.padxml')).length === 1 ? true : undefined))
  })

  it('PAD: a body trickled in 4 KiB pieces is stored once, whole, as its format', async () => {
    const body = JSON.stringify({Topic: 'fuzz.trickle', data: 'y'.repeat(200 * 1024)})
    const socket = await LineSocket.connect(node.ports.tcp)
    await socket.send('PUBLISH')
    const frame = Buffer.from(`FORMAT:JSON|${body}`)
    for (let at = 0; at < frame.length; at += 4096) {
      await socket.send(frame.subarray(at, at + 4096))
      await sleep(1)
    }
    const [message] = await eventually('the trickled body stored', async () => {
      const messages = await storedMessages(node, 'fuzz.trickle')
      return messages.length > 0 ? messages : undefined
    })
    expect(message.format).to.equal('JSON')
    expect(message.body).to.equal(body)
    await sleep(300)
    expect(await storedMessages(node, 'fuzz.trickle')).to.have.length(1)
  })

})

// On a node of its own: the fuzzed patterns (`a.*.>` and its mutations) can match topics the
// fuzzed publishers above created, and the history they replay would interleave with the PONG
// this test waits for. Here nothing is stored, so the answers are the only lines.
describe('PAD subscriber under hostile input (real node)', function () {
  this.timeout(120_000)
  const fixture = nodeFixture('all')
  let node: NodeProcess

  before(async () => {
    node = await fixture.start({args: ['--max-body', String(MAX_BODY)]})
  })

  afterEach(async () => {
    closeAllSockets()
    expect((await getJson(node, '/health')).ok).to.equal(true)
  })

  it('PAD subscriber: fuzzed command lines get an ERROR line or nothing, and PING still answers', async () => {
    await withSeed(async (fuzz) => {
      const socket = await LineSocket.connect(node.ports.tcp)
      await socket.send('SUBSCRI\n')
      for (let i = 0; i < 100; i++) {
        const line = fuzz.mutate(fuzz.pick(['SUBSCRIBE:fuzz.sub', 'UNSUBSCRIBE:fuzz.sub', 'PING', 'SUBSCRIBE:a.*.>']))
        for (let b = 0; b < line.length; b++) if (line[b] === 0x0a) line[b] = 0x20
        await socket.send(Buffer.concat([line, Buffer.from('\n')]))
      }
      await socket.send('\nPING\n')
      await eventually('PONG after the fuzzed lines', async () => {
        while (socket.buffered > 0) if ((await socket.nextLine()) === 'PONG' && socket.buffered === 0) return true
        return undefined
      })
      expect(socket.closed).to.equal(false)
    })
  })
})

describe('front-end limits (real node)', function () {
  this.timeout(120_000)
  const fixture = nodeFixture('all')
  let node: NodeProcess

  before(async () => {
    node = await fixture.start({
      args: ['--max-connections', '20', '--idle-timeout', '600ms', '--max-subscriptions', '3', '--max-patterns', '4', '--max-pending', '1048576', '--max-body', '300000'],
    })
  })

  afterEach(async () => {
    closeAllSockets()
    closeAllClients()
    expect((await getJson(node, '/health')).ok).to.equal(true)
  })

  it('refuses connections past --max-connections with one error line, and accepts again once some close', async () => {
    const held: LineSocket[] = []
    for (let i = 0; i < 20; i++) {
      const socket = await LineSocket.connect(node.ports.tcp)
      // A subscriber is never idle, so these stay open.
      await socket.sendJson({op: 'subscribe', topics: [`hold.${i}`]})
      expect(await socket.nextJson()).to.include({op: 'subscribed'})
      held.push(socket)
    }
    const refused = await LineSocket.connect(node.ports.tcp)
    const line = JSON.parse(await refused.nextLine()) as Json
    expect(line).to.include({op: 'error', code: 'TOO_MANY_CONNECTIONS'})
    expect(await refused.waitClosed(3000)).to.equal(true)
    for (const socket of held.splice(0, 5)) socket.close()
    await eventually('room for a new connection', async () => ((await getJson<{connections: number}>(node, '/stats')).connections <= 15 ? true : undefined))
    const again = await LineSocket.connect(node.ports.tcp)
    await again.sendJson({op: 'ping'})
    expect(await again.nextJson()).to.include({op: 'pong'})
  })

  it('closes a connection that holds no subscription and sends nothing for --idle-timeout, with a clear line; a subscriber stays', async () => {
    const idle = await LineSocket.connect(node.ports.tcp)
    const silent = await LineSocket.connect(node.ports.tcp)
    const sub = await LineSocket.connect(node.ports.tcp)
    await sub.sendJson({op: 'subscribe', topics: ['idle.test']})
    expect(await sub.nextJson()).to.include({op: 'subscribed'})
    await idle.sendJson({op: 'ping'})
    expect(await idle.nextJson()).to.include({op: 'pong'})
    const line = JSON.parse(await idle.nextLine(5000)) as Json
    expect(line).to.include({op: 'error', code: 'IDLE_TIMEOUT'})
    expect(await idle.waitClosed(3000)).to.equal(true)
    expect(await silent.waitClosed(5000)).to.equal(true)
    await sleep(1500)
    expect(sub.closed).to.equal(false)
  })

  it('caps subscriptions per connection and patterns per subscription with clear errors (JSON lines and PAD)', async () => {
    const socket = await LineSocket.connect(node.ports.tcp)
    await socket.sendJson({op: 'subscribe', topics: ['a', 'b', 'c', 'd', 'e'], ref: 'many'})
    const tooMany = await socket.nextJson()
    expect(tooMany).to.include({op: 'error', code: 'BAD_REQUEST', ref: 'many'})
    expect(tooMany.message).to.match(/at most 4 topic patterns/)
    for (let i = 0; i < 3; i++) {
      await socket.sendJson({op: 'subscribe', topics: [`cap.${i}`]})
      expect(await socket.nextJson()).to.include({op: 'subscribed'})
    }
    await socket.sendJson({op: 'subscribe', topics: ['cap.3'], ref: 'fourth'})
    const fourth = await socket.nextJson()
    expect(fourth).to.include({op: 'error', code: 'BAD_REQUEST', ref: 'fourth'})
    expect(fourth.message).to.match(/at most 3 subscriptions/)

    const pad = await LineSocket.connect(node.ports.tcp)
    await pad.send('SUBSCRI\nSUBSCRIBE:p1\nSUBSCRIBE:p2\nSUBSCRIBE:p3\nSUBSCRIBE:p4\n')
    expect(await pad.nextLine()).to.match(/^ERROR .*at most 3 subscriptions/)
  })

  it('cuts off a subscriber whose unsent bytes pass --max-pending, with a clear last line; one that reads stays', async () => {
    const slow = await LineSocket.connect(node.ports.tcp)
    await slow.sendJson({op: 'subscribe', topics: ['slow.t']})
    expect(await slow.nextJson()).to.include({op: 'subscribed'})
    const reader = await LineSocket.connect(node.ports.tcp)
    await reader.sendJson({op: 'subscribe', topics: ['slow.t']})
    expect(await reader.nextJson()).to.include({op: 'subscribed'})
    slow.socket.pause()
    const client = await connectClient(node)
    const body = JSON.stringify({pad: 'z'.repeat(16 * 1024)})
    let published = 0
    let received = 0
    const readAll = async (): Promise<void> => {
      while (reader.buffered > 0) if ((await reader.nextLine()).includes('"op":"message"')) received++
    }
    // The kernel's socket buffers take several MiB before the node's own buffer grows.
    await eventually(
      'the slow subscriber cut off',
      async () => {
        await publishMany(client, 100, () => ({topic: 'slow.t', body}), 16)
        published += 100
        await readAll()
        const subscribers = (await getJson<{subscribers: unknown[]}>(node, '/subscribers')).subscribers
        return subscribers.length === 1 ? true : undefined
      },
      60_000,
      10,
    )
    slow.socket.resume()
    expect(await slow.waitClosed(10_000)).to.equal(true)
    const lines: string[] = []
    while (slow.buffered > 0) lines.push(await slow.nextLine())
    expect(lines.at(-1)).to.match(/"code":"TOO_SLOW"/)
    // The subscriber that read gets every message and keeps its connection.
    await eventually(`all ${published} messages at the reading subscriber`, async () => {
      await readAll()
      return received === published ? true : undefined
    })
    expect(reader.closed).to.equal(false)
  })
})
