/**
 * Seeded fuzzing of the HTTP API on a real node: raw requests, well-formed and not, with
 * bodies made to break parsers. The node must answer every one with a 4xx (or a 2xx for what
 * is valid) or close the connection, never a 5xx; it stays up, and it stores exactly the
 * publishes it acknowledged. The seed is printed on failure: PAD_FUZZ_SEED=<seed> replays it.
 */
import net from 'node:net'
import {expect} from 'chai'
import {getJson} from './helpers/clients.js'
import {Fuzz} from './helpers/fuzz.js'
import {HOST, nodeFixture, type NodeProcess} from './helpers/node-process.js'

const REQUESTS = 400
const ANSWER_TIMEOUT_MS = 5000
const FUZZ_DEADLINE_MS = 60_000

interface Answer {
  /** The status code, or null when the node closed the connection without answering. */
  status: number | null
  text: string
  /** Neither an answer nor a close came in time (fine for a request that is not complete). */
  timedOut: boolean
}

/**
 * Sends raw bytes and reads until the node closes (every request asks for Connection: close).
 * It does not half-close: a client that stops sending still waits for its answer.
 */
function exchange(port: number, request: Buffer): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = net.connect({host: HOST, port})
    const chunks: Buffer[] = []
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      socket.destroy()
    }, ANSWER_TIMEOUT_MS)
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString('latin1')
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text)
      resolve({status: match ? Number(match[1]) : null, text, timedOut})
    })
    socket.on('connect', () => socket.write(request))
  })
}

function nested(open: string, close: string, depth: number, inner = ''): string {
  return open.repeat(depth) + inner + close.repeat(depth)
}

/** Bodies that are valid, almost valid, or made to break a parser. */
function hostileBody(fuzz: Fuzz): {format: string; body: string} {
  const depth = fuzz.pick([2, 64, 200, 5000, 200_000])
  const pick = <T>(items: readonly T[]): T => fuzz.pick(items)
  return pick([
    () => fuzz.hostileBody(),
    () => ({format: 'JSON', body: '{"a":1}'}),
    () => ({format: 'JSON', body: nested('[', ']', depth)}),
    () => ({format: 'JSON', body: nested('{"a":', '}', depth, '1')}),
    () => ({format: 'XML', body: '<Topic>t</Topic>'}),
    () => ({format: 'XML', body: nested('<a>', '</a>', Math.min(depth, 20_000)).replace(/<\/a>/g, '</a>')}),
    () => ({format: 'XML', body: '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'}),
    () => ({format: 'XML', body: '<!DOCTYPE a [<!ENTITY b "bbbbbbbb"><!ENTITY c "&b;&b;&b;&b;&b;&b;">]><a>&c;</a>'}),
    () => ({format: 'XML', body: '<a/><b/>'}),
    () => ({format: 'XML', body: '<a>' + '\u0000'.repeat(10) + '</a>'}),
    () => ({format: 'RAW', body: String.fromCharCode(...Array.from({length: 64}, () => fuzz.int(0xd7ff)))}),
    () => ({format: pick(['json', 'Xml', 'BINARY', '', '\u0000']), body: 'x'}),
  ])()
}

/** One raw request; `complete` when it is whole, so the node must answer or close. */
function hostileRequest(fuzz: Fuzz, port: number): {bytes: Buffer; publish: boolean; complete: boolean} {
  const pick = <T>(items: readonly T[]): T => fuzz.pick(items)
  const host = `${HOST}:${port}`
  const kind = pick(['publish', 'publish', 'publish', 'query', 'garbage', 'headers'] as const)
  if (kind === 'garbage') {
    const bytes = Buffer.from(Array.from({length: 1 + fuzz.int(300)}, () => fuzz.int(256)))
    return {bytes: pick([bytes, Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n'), bytes, Buffer.from('\r\n\r\n')])]), publish: false, complete: false}
  }
  if (kind === 'query') {
    const path = pick(['/messages', '/topics', '/raft', '/raft/log', '/raft/log', '/status', '/stats', '/cluster', '/health', '/metrics', '/subscribers', '/admin/faults', '/nope'])
    const query = pick([
      '',
      '?limit=-1',
      '?limit=99999999999999999999',
      '?topic=%00',
      '?topic=' + 'a'.repeat(5000),
      '?from=1e9',
      '?order=up',
      '?limit=5&limit=6',
      '?%zz',
      // GET /raft/log's `last`: 1..MAX_LOG_TAIL once, nothing else.
      `?last=${pick(['0', '-1', '1', '200', '201', '1.5', '1e2', '0x10', ' 5', '5 ', '%00', '', 'a'.repeat(5000), '9'.repeat(400)])}`,
      '?last=1&last=2',
      '?last=5&limit=5',
      '?last',
    ])
    return {bytes: Buffer.from(`GET ${path}${query} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`), publish: false, complete: true}
  }
  if (kind === 'headers') {
    const header = pick([
      `Content-Length: ${pick(['-1', '1e3', '99999999999999999999', 'abc'])}`,
      `Transfer-Encoding: ${pick(['chunked, chunked', 'gzip', 'x'])}`,
      `X-Big: ${'x'.repeat(pick([100, 20_000, 70_000]))}`,
      `Host: ${pick(['', 'evil.example', '[::1', '127.0.0.1:0'])}`,
    ])
    const bytes = Buffer.from(`POST /publish HTTP/1.1\r\nHost: ${host}\r\n${header}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{}`)
    return {bytes, publish: false, complete: false}
  }
  const {format, body} = hostileBody(fuzz)
  const topic = pick(['fuzz', 'fuzz.a', '', ' ', 'a'.repeat(300), 'a..b', '>', '*', '\u0000', 42, null])
  const envelope = pick([
    () => JSON.stringify({topic, format, body}),
    () => JSON.stringify({topic, format, body}).slice(0, fuzz.int(40)),
    () => JSON.stringify([{topic, format, body}]),
    () => nested('{"x":', '}', pick([10, 100_000]), '1'),
    () => `{"topic":"fuzz","format":"RAW","body":"\\ud800"}`,
  ])()
  const payload = Buffer.from(envelope)
  const head = `POST /publish HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n`
  return {bytes: Buffer.concat([Buffer.from(head), payload]), publish: true, complete: true}
}

describe('HTTP API fuzz (real process)', function () {
  this.timeout(FUZZ_DEADLINE_MS + 60_000)
  const nodes = nodeFixture('each')
  let node: NodeProcess

  beforeEach(async () => {
    node = await nodes.start()
  })

  it('answers every hostile request with a 4xx or a close, never a 5xx, and stores only what it acknowledged', async function () {
    const seed = Number(process.env.PAD_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
    const fuzz = new Fuzz(seed)
    const before = await getJson<{messages_stored: number}>(node, '/stats')
    const raftBefore = await getJson<{current_term: number}>(node, '/raft')
    let acknowledged = 0
    const deadline = Date.now() + FUZZ_DEADLINE_MS
    try {
      for (let i = 0; i < REQUESTS && Date.now() < deadline; i++) {
        const request = hostileRequest(fuzz, node.ports.http)
        const answer = await exchange(node.ports.http, request.bytes)
        const summary = `request ${i}: ${request.bytes.subarray(0, 160).toString('latin1')}\n-> ${answer.text.slice(0, 300)}`
        if (request.complete) expect(answer.timedOut, `no answer and no close within ${ANSWER_TIMEOUT_MS} ms to ${summary}`).to.equal(false)
        if (answer.status !== null) expect(answer.status, summary).to.be.below(500)
        if (answer.status === 200 && request.publish) acknowledged++
        expect(node.running, summary).to.equal(true)
      }
      const after = await getJson<{messages_stored: number}>(node, '/stats')
      expect(after.messages_stored - before.messages_stored).to.equal(acknowledged)
      const raftAfter = await getJson<{current_term: number}>(node, '/raft')
      expect(raftAfter.current_term).to.equal(raftBefore.current_term)
      expect((await getJson<{ok: boolean}>(node, '/health')).ok).to.equal(true)
      // A client's mistakes are answered, not logged as the node's own errors.
      expect(node.output).not.to.match(/ ERROR /)
    } catch (error) {
      console.error(`HTTP fuzz failed with PAD_FUZZ_SEED=${seed}`)
      throw error
    }
  })
})
