/**
 * The HTTP API of one real node process: the seed's own checks, every endpoint, and every
 * error case a client can run into.
 */
import httpClient from 'node:http'
import {expect} from 'chai'
import type {TopicsAnswer} from '../../src/api/node-http.js'
import {closeAllSockets, getJson, http, LineSocket} from './helpers/clients.js'
import {eventually, HOST, nodeFixture, type NodeProcess} from './helpers/node-process.js'

interface ApiMessage {
  topic: string
  offset: number
  format: string
  body: string
  timestamp: string
  index: number
  id?: string
}

async function messages(node: NodeProcess, query = ''): Promise<ApiMessage[]> {
  return (await getJson<{messages: ApiMessage[]}>(node, `/messages${query}`)).messages
}

async function publish(node: NodeProcess, request: Record<string, unknown>): Promise<Record<string, unknown>> {
  const result = await http(node, 'POST', '/publish', request)
  expect(result.status, result.text).to.equal(200)
  return result.json
}

/**
 * A raw HTTP request, for bodies fetch will not send as we want (chunked, oversized). It
 * settles on every path: with the answer, or with the error that ended the exchange before
 * an answer arrived (a write error after the answer does not matter).
 */
function rawRequest(
  node: NodeProcess,
  method: string,
  path: string,
  body: Buffer,
  headers: Record<string, string | number> = {},
  connection: 'keep-alive' | 'close' = 'keep-alive',
): Promise<{status: number; headers: httpClient.IncomingHttpHeaders; text: string}> {
  const agent = new httpClient.Agent({keepAlive: connection === 'keep-alive'})
  return new Promise<{status: number; headers: httpClient.IncomingHttpHeaders; text: string}>((resolve, reject) => {
    let answered = false
    const request = httpClient.request({host: HOST, port: node.ports.http, method, path, headers, timeout: 10_000, agent}, (response) => {
      answered = true
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({status: response.statusCode!, headers: response.headers, text: Buffer.concat(chunks).toString('utf8')}))
      response.on('error', reject)
      response.on('close', () => {
        if (!response.complete) reject(new Error(`the connection closed in the middle of the ${response.statusCode} answer`))
      })
    })
    request.on('timeout', () => request.destroy(new Error('request timed out')))
    request.on('error', (error) => {
      if (!answered) reject(error)
    })
    request.on('close', () => {
      if (!answered) reject(new Error('the connection closed before an answer arrived'))
    })
    request.end(body)
  }).finally(() => agent.destroy())
}

describe('node HTTP API (real process)', function () {
  this.timeout(60_000)
  const nodes = nodeFixture('all')
  let node: NodeProcess

  before(async () => {
    node = await nodes.start()
  })
  afterEach(() => closeAllSockets())

  describe("the seed's checks", () => {
    it('stores ten concurrent publishes, each on its own topic, with no "database is locked"', async () => {
      const results = await Promise.all(
        Array.from({length: 10}, (_, i) =>
          http(node, 'POST', '/publish', {topic: `test${i}`, format: 'JSON', body: `{"message": "Test ${i}"}`}),
        ),
      )
      for (const [i, result] of results.entries()) {
        expect(result.status, result.text).to.equal(200)
        expect(result.json).to.include({ok: true, topic: `test${i}`, offset: 0})
        expect(result.text).not.to.include('database is locked')
      }
      for (let i = 0; i < 10; i++) {
        const stored = await messages(node, `?topic=test${i}`)
        expect(stored.map((m) => JSON.parse(m.body))).to.deep.equal([{message: `Test ${i}`}])
      }
      expect(node.output).not.to.include('database is locked')
    })

    it('lists a message published to raft-test in GET /messages', async () => {
      await publish(node, {topic: 'raft-test', format: 'JSON', body: '{"hello": "raft"}'})
      const result = await http(node, 'GET', '/messages')
      expect(result.status).to.equal(200)
      expect(result.text).to.include('raft-test')
      const found = (result.json.messages as ApiMessage[]).find((m) => m.topic === 'raft-test')
      expect(found).to.include({format: 'JSON', body: '{"hello": "raft"}', offset: 0})
    })

    it('reports the Raft state of a single-node cluster at GET /raft', async () => {
      const raft = await getJson(node, '/raft')
      expect(raft).to.include.keys('node_id', 'state', 'current_term', 'log_length', 'commit_index', 'last_applied', 'cluster_size')
      expect(raft.node_id).to.equal(`${HOST}:${node.ports.tcp}`)
      expect(raft.state).to.equal('LEADER')
      expect(raft.current_term).to.be.a('number').at.least(1)
      expect(raft.cluster_size).to.equal(1)
      // At least the eleven publishes above are in the log, committed and applied.
      expect(raft.log_length).to.be.a('number').at.least(11)
      expect(raft.commit_index).to.equal(raft.log_length)
      expect(raft.last_applied).to.equal(raft.commit_index)
    })
  })

  describe('POST /publish', () => {
    it('answers with the topic, offset, raft index, term and node id; offsets count up per topic', async () => {
      const first = await publish(node, {topic: 'orders.eu', format: 'JSON', body: '{"n": 1}'})
      const second = await publish(node, {topic: 'orders.eu', format: 'JSON', body: '{"n": 2}'})
      expect(first).to.include({ok: true, topic: 'orders.eu', offset: 0, node_id: `${HOST}:${node.ports.tcp}`})
      expect(first.index).to.be.a('number')
      expect(first.term).to.be.a('number').at.least(1)
      expect(second).to.include({offset: 1})
      expect(second.index).to.be.greaterThan(first.index as number)
    })

    it('takes `content` as the old name of `body`', async () => {
      await publish(node, {topic: 'legacy', format: 'JSON', content: '{"old": true}'})
      const stored = await messages(node, '?topic=legacy')
      expect(stored.map((m) => m.body)).to.deep.equal(['{"old": true}'])
    })

    it('stores a message once per `id` and answers a repeat with the original offset', async () => {
      const first = await publish(node, {topic: 'dedup', format: 'RAW', body: 'one', id: 'order-1'})
      const other = await publish(node, {topic: 'dedup', format: 'RAW', body: 'two', id: 'order-2'})
      const again = await publish(node, {topic: 'dedup', format: 'RAW', body: 'one, retried', id: 'order-1'})
      expect(first).to.include({offset: 0})
      expect(first).not.to.have.property('duplicate')
      expect(other).to.include({offset: 1})
      expect(again).to.include({ok: true, topic: 'dedup', offset: 0, duplicate: true})
      const stored = await messages(node, '?topic=dedup&order=oldest')
      expect(stored.map((m) => [m.offset, m.body, m.id])).to.deep.equal([
        [0, 'one', 'order-1'],
        [1, 'two', 'order-2'],
      ])
    })

    it('accepts well-formed XML, any RAW text, and a format in lower case', async () => {
      await publish(node, {topic: 'formats', format: 'XML', body: '<order id="7"><item>tea</item></order>'})
      await publish(node, {topic: 'formats', format: 'raw', body: 'not json, not <xml'})
      const stored = await messages(node, '?topic=formats&order=oldest')
      expect(stored.map((m) => [m.format, m.body])).to.deep.equal([
        ['XML', '<order id="7"><item>tea</item></order>'],
        ['RAW', 'not json, not <xml'],
      ])
    })

    it('takes a JSON body given as a JSON value rather than a string, stored as its text', async () => {
      await publish(node, {topic: 'inline', format: 'JSON', body: {order: 7, items: ['tea']}})
      expect((await messages(node, '?topic=inline'))[0].body).to.equal('{"order":7,"items":["tea"]}')
    })

    it('keeps unicode bodies intact', async () => {
      const body = JSON.stringify({text: 'héllo wörld ✓ 日本語 🚀'})
      await publish(node, {topic: 'unicode', format: 'JSON', body})
      expect((await messages(node, '?topic=unicode'))[0].body).to.equal(body)
    })
  })

  describe('GET /messages', () => {
    before(async () => {
      for (let i = 0; i < 5; i++) await publish(node, {topic: 'paging', format: 'JSON', body: `{"i": ${i}}`})
    })

    it('lists newest first with their offsets, raft index and an ISO timestamp', async () => {
      const stored = await messages(node, '?topic=paging')
      expect(stored.map((m) => m.offset)).to.deep.equal([4, 3, 2, 1, 0])
      const indexes = stored.map((m) => m.index)
      expect(indexes).to.deep.equal([...indexes].sort((a, b) => b - a))
      expect(new Date(stored[0].timestamp).toISOString()).to.equal(stored[0].timestamp)
      expect(Date.now() - Date.parse(stored[0].timestamp)).to.be.lessThan(10 * 60_000)
    })

    it('lists every topic, newest first, without a topic filter', async () => {
      const all = await messages(node, '?limit=1000')
      const indexes = all.map((m) => m.index)
      expect(indexes).to.deep.equal([...indexes].sort((a, b) => b - a))
      expect(new Set(all.map((m) => m.topic))).to.include.members(['paging', 'raft-test', 'test3'])
    })

    it('limits the page to the newest `limit` messages', async () => {
      expect((await messages(node, '?topic=paging&limit=2')).map((m) => m.offset)).to.deep.equal([4, 3])
    })

    it('pages forward from an offset with `from` and `limit`', async () => {
      const pages: number[][] = []
      for (let from = 0; from < 5; from += 2) pages.push((await messages(node, `?topic=paging&from=${from}&limit=2`)).map((m) => m.offset))
      expect(pages).to.deep.equal([[0, 1], [2, 3], [4]])
    })

    it('lists the newest messages at or after `from` with order=newest', async () => {
      expect((await messages(node, '?topic=paging&from=2&order=newest')).map((m) => m.offset)).to.deep.equal([4, 3, 2])
    })

    it('returns an empty list for a topic with no messages', async () => {
      expect(await messages(node, '?topic=nothing.here')).to.deep.equal([])
    })

    for (const [query, problem] of [
      ['?limit=0', 'limit'],
      ['?limit=abc', 'limit'],
      ['?limit=100000', 'limit'],
      ['?from=-1', 'from'],
      ['?from=x', 'from'],
      ['?topic=bad%20topic', 'topic'],
      ['?topic=orders.*', 'topic'],
      ['?order=sideways', 'order'],
    ]) {
      it(`answers 400 naming the problem for ${query}`, async () => {
        const result = await http(node, 'GET', `/messages${query}`)
        expect(result.status).to.equal(400)
        expect(result.json).to.deep.include({ok: false})
        expect((result.json.error as {code: string}).code).to.equal('BAD_REQUEST')
        expect((result.json.error as {message: string}).message).to.include(problem)
      })
    }
  })

  describe('status endpoints', () => {
    it('GET /health answers 200 with ok', async () => {
      const health = await http(node, 'GET', '/health')
      expect(health.status).to.equal(200)
      expect(health.json).to.include({ok: true, state: 'LEADER'})
    })

    it('GET /status names the node, its pid, its ports and its raft state', async () => {
      const status = await getJson(node, '/status')
      expect(status).to.include({node_id: `${HOST}:${node.ports.tcp}`, pid: node.pid})
      expect(status.addresses).to.deep.include({tcp_port: node.ports.tcp, http_port: node.ports.http, raft_port: node.ports.raft})
      expect((status.raft as Record<string, unknown>).state).to.equal('LEADER')
      expect(status.messages).to.be.a('number').at.least(11)
    })

    it('GET /stats counts publishes and reports memory and the write queue', async () => {
      const before = await getJson(node, '/stats')
      await publish(node, {topic: 'stats', format: 'RAW', body: 'x'})
      const after = await getJson(node, '/stats')
      expect(after.published).to.equal((before.published as number) + 1)
      expect(after.messages_stored).to.equal((before.messages_stored as number) + 1)
      expect((after.memory as Record<string, number>).rss_bytes).to.be.greaterThan(1_000_000)
      const queue = after.write_queue as Record<string, number>
      expect(queue).to.include.keys('queue_depth', 'batches', 'commit_latency_ms', 'inline_slow_writes')
      // One publish at a time is a small write with the writer idle: it commits on the main thread.
      expect(queue.inline_writes).to.be.at.least(1).and.at.most(queue.requests)
    })

    it('GET /topics lists the topic names, and each topic with its message count in details', async () => {
      const {topics, details} = await getJson<TopicsAnswer>(node, '/topics')
      expect(details.find((t) => t.topic === 'paging')).to.deep.equal({topic: 'paging', messages: 5, next_offset: 5})
      expect(topics).to.deep.equal(details.map((t) => t.topic))
      expect(topics).to.deep.equal([...topics].sort((a, b) => a.localeCompare(b)))
    })

    it('GET /subscribers lists a connected TCP subscriber, and drops it when it disconnects', async () => {
      const subscriber = await LineSocket.connect(node.ports.tcp)
      await subscriber.sendJson({op: 'subscribe', topics: ['watch.*'], ref: 1})
      expect(await subscriber.nextJson()).to.include({op: 'subscribed'})
      type Subscriber = {protocol: string; topics: string[]; remote: string}
      const find = async (): Promise<Subscriber | undefined> =>
        (await getJson<{subscribers: Subscriber[]}>(node, '/subscribers')).subscribers.find((s) => s.topics.includes('watch.*'))
      const listed = await eventually('the subscriber to be listed', find)
      expect(listed).to.include({protocol: 'json'})
      expect(listed.remote).to.include('127.0.0.1')
      subscriber.close()
      await eventually('the subscriber to be gone', async () => ((await find()) === undefined ? true : undefined))
    })

    it('GET /metrics is Prometheus text with HELP/TYPE lines and current values', async () => {
      const result = await http(node, 'GET', '/metrics')
      expect(result.status).to.equal(200)
      expect(result.headers.get('content-type')).to.match(/^text\/plain/)
      const samples = new Map<string, number>()
      for (const line of result.text.split('\n')) {
        if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+|NaN)$/.exec(line)
        expect(match, `not a Prometheus sample line: ${line}`).to.not.equal(null)
        samples.set(match![1], Number(match![3]))
      }
      expect(result.text).to.match(/^# TYPE pad_published_total counter$/m)
      const stats = await getJson(node, '/stats')
      expect(samples.get('pad_published_total')).to.be.at.least(11).and.at.most(stats.published as number)
      expect(samples.get('pad_raft_is_leader')).to.equal(1)
      expect(samples.get('pad_raft_term')).to.be.at.least(1)
    })
  })

  describe('errors', () => {
    it('answers an unknown path with 404 JSON', async () => {
      const result = await http(node, 'GET', '/no/such/thing')
      expect(result.status).to.equal(404)
      expect(result.json).to.deep.equal({ok: false, error: {code: 'NOT_FOUND', message: 'no such endpoint: GET /no/such/thing'}})
    })

    it('answers a wrong method with 405 and an Allow header', async () => {
      const get = await http(node, 'GET', '/publish')
      expect(get.status).to.equal(405)
      expect(get.headers.get('allow')).to.equal('POST')
      expect((get.json.error as {code: string}).code).to.equal('METHOD_NOT_ALLOWED')
      const post = await http(node, 'POST', '/messages', {})
      expect(post.status).to.equal(405)
      expect(post.headers.get('allow')).to.equal('GET')
    })

    const badPublishes: [string, string | Record<string, unknown>, RegExp][] = [
      ['malformed JSON', '{"topic": "t", "body": ', /not valid JSON/],
      ['a JSON array', '[1, 2]', /must be a JSON object/],
      ['an empty request body', '', /empty/],
      ['a missing topic', {format: 'JSON', body: '{}'}, /topic/],
      ['a topic with a wildcard', {topic: 'news.*', format: 'JSON', body: '{}'}, /topic/],
      ['a missing body', {topic: 't', format: 'JSON'}, /body is missing/],
      ['an unknown format', {topic: 't', format: 'YAML', body: 'a: 1'}, /format must be one of JSON, XML, RAW/],
      ['a JSON body that does not parse', {topic: 't', format: 'JSON', body: '{"unterminated": '}, /body is not valid JSON/],
      ['an XML body that is not well-formed', {topic: 't', format: 'XML', body: '<order><item></order>'}, /not well-formed XML/],
      ['an empty id', {topic: 't', format: 'RAW', body: 'x', id: ''}, /id must be/],
    ]
    for (const [what, body, message] of badPublishes) {
      it(`answers 400 with a message naming the problem for ${what}`, async () => {
        const result = await http(node, 'POST', '/publish', body)
        expect(result.status, result.text).to.equal(400)
        expect(result.json.ok).to.equal(false)
        expect((result.json.error as {code: string}).code).to.equal('BAD_REQUEST')
        expect((result.json.error as {message: string}).message).to.match(message)
      })
    }

    it('stores nothing for a refused publish', async () => {
      const before = await getJson(node, '/stats')
      await http(node, 'POST', '/publish', {topic: 'refused', format: 'XML', body: '<a>'})
      const after = await getJson(node, '/stats')
      expect(after.messages_stored).to.equal(before.messages_stored)
      expect(await messages(node, '?topic=refused')).to.deep.equal([])
    })

    it('answers 413 to a body over the limit given in the request', async () => {
      const body = JSON.stringify({topic: 'big', format: 'RAW', body: 'x'.repeat(1024 * 1024 + 1)})
      const result = await http(node, 'POST', '/publish', body)
      expect(result.status).to.equal(413)
      expect((result.json.error as {code: string; message: string}).message).to.match(/larger than the limit of 1048576 bytes/)
    })

    for (const connection of ['keep-alive', 'close'] as const) {
      it(`answers 413 to a request body over the limit, declared or streamed, and keeps serving (Connection: ${connection})`, async () => {
        const huge = Buffer.alloc(3 * 1024 * 1024, 'x')
        const framings: Record<string, string | number>[] = [{'content-length': huge.length}, {'transfer-encoding': 'chunked'}]
        for (const framing of framings) {
          const refused = await rawRequest(node, 'POST', '/publish', huge, {'content-type': 'application/json', ...framing}, connection)
          expect(refused.status, JSON.stringify(framing)).to.equal(413)
          expect(JSON.parse(refused.text).error.code).to.equal('TOO_LARGE')
        }
        expect((await http(node, 'GET', '/health')).status).to.equal(200)
      })
    }

    it('gives up on a refused body that goes on past the drain bound, and keeps serving', async () => {
      // Declares far more than the node drains after a refusal: the node answers, then cuts the connection.
      const endless = Buffer.alloc(40 * 1024 * 1024, 'x')
      const outcome = await rawRequest(node, 'POST', '/publish', endless, {'content-type': 'application/json', 'content-length': endless.length}).then(
        (answer) => answer.status,
        (error: Error) => error.message,
      )
      expect([413, 'write EPIPE', 'read ECONNRESET', 'write ECONNRESET']).to.include(outcome)
      expect((await http(node, 'GET', '/health')).status).to.equal(200)
    })

    it('keeps serving after all of these', async () => {
      const ok = await publish(node, {topic: 'after.errors', format: 'JSON', body: '{}'})
      expect(ok.offset).to.equal(0)
      expect(node.running).to.equal(true)
    })
  })
})

