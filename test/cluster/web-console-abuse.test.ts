/**
 * The web console's HTTP server under hostile input, in process with a fake supervisor behind
 * it (the handlers record what reaches them): seeded raw requests, well-formed and not, must
 * each get a 4xx or a 2xx (or a close), never a 5xx or a crash; the rules of docs/console.md
 * hold one by one (Host, Origin, token, size, JSON, method, path, the number of streams).
 * PAD_FUZZ_SEED=<seed> replays a run.
 */
import http from 'node:http'
import net from 'node:net'
import {expect} from 'chai'
import {MAX_CONSOLE_BODY_BYTES, MAX_STREAM_CLIENTS, type ConsoleNode} from '../../src/api/console.js'
import type {ControlHandlers} from '../../src/api/control.js'
import {WebConsole} from '../../src/cluster/console/web-console.js'
import {Fuzz} from '../e2e/helpers/fuzz.js'

const TOKEN = 'console-test-token-0123456789'
const NODE: ConsoleNode = {index: 0, node_id: '<script>x</script>', membership: 'voter', process: 'stopped', pid: null, role: null, term: 1, vote: null, leader: null, commit: 0, applied: 0, last_index: 0, host: '127.0.0.1', http_port: 1, faults: []}

describe('web console HTTP server (hostile input)', function () {
  this.timeout(120_000)
  let web: WebConsole
  let port: number
  const reached: string[] = []

  before(async () => {
    const handlers: Partial<ControlHandlers> = {
      kill: async (r) => {
        reached.push(`kill ${String(r.node)}`)
        return {node: 0, pid: null, exit: {code: null, signal: 'SIGKILL'}}
      },
      down: async () => {
        reached.push('down')
        return {stopped: [], left: []}
      },
    }
    web = new WebConsole({
      cluster: 'fuzz',
      token: TOKEN,
      settings: {election_timeout_ms: 150, heartbeat_ms: 50},
      nodes: () => [NODE],
      leader: () => null,
      recentEvents: () => [{seq: 1, time: new Date().toISOString(), type: 'kill'}],
      onTimeline: () => () => {},
      onNodeItem: () => () => {},
      handlers,
      log: () => {},
    })
    port = await web.listen(0)
  })

  after(() => web.close())

  const request = (method: string, path: string, options: {headers?: Record<string, string>; body?: string} = {}): Promise<{status: number; text: string}> =>
    new Promise((resolve, reject) => {
      const req = http.request({host: '127.0.0.1', port, method, path, headers: {host: `127.0.0.1:${port}`, ...options.headers}, timeout: 5000}, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (text += c))
        res.on('end', () => resolve({status: res.statusCode ?? 0, text}))
      })
      req.on('error', reject)
      req.on('timeout', () => req.destroy(new Error('timeout')))
      req.end(options.body)
    })
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    request('POST', path, {body, headers: {'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers}})

  it('serves the page and its modules from the list, nothing else', async () => {
    expect((await request('GET', '/')).status).to.equal(200)
    expect((await request('GET', '/main.js')).status).to.equal(200)
    for (const path of ['/../package.json', '/web/console/main.js', '/%2e%2e/package.json', '/index.html/..', '/api/', '/api/nothing', '/constructor', '/__proto__']) {
      expect((await request('GET', path)).status, path).to.equal(404)
    }
  })

  it('answers only its own Host (DNS rebinding)', async () => {
    for (const host of ['evil.example:' + port, '127.0.0.1', `127.0.0.1:${port + 1}`, `LOCALHOST.:${port}`]) {
      const answer = await request('GET', '/api/token', {headers: {host}})
      expect(answer.status, host).to.equal(421)
      expect(answer.text).to.not.include(TOKEN)
    }
    expect((await request('GET', '/api/token', {headers: {host: `localhost:${port}`}})).text).to.include(TOKEN)
  })

  it('keeps the token from other origins and refuses their writes', async () => {
    const cross = {origin: 'http://evil.example', 'sec-fetch-site': 'cross-site'}
    expect((await request('GET', '/api/token', {headers: cross})).status).to.equal(403)
    expect((await request('GET', '/api/token', {headers: {'sec-fetch-site': 'same-site'}})).status).to.equal(403)
    expect((await post('/api/control', '{"op":"kill","node":0}', cross)).status).to.equal(403)
    expect(reached).to.deep.equal([])
  })

  it('wants the token, JSON, a small body and a console op', async () => {
    expect((await post('/api/control', '{"op":"kill","node":0}', {authorization: 'Bearer wrong'})).status).to.equal(401)
    expect((await post('/api/control', '{"op":"kill","node":0}', {authorization: ''})).status).to.equal(401)
    expect((await post('/api/control', '{"op":"kill","node":0}', {'content-type': 'text/plain'})).status).to.equal(415)
    expect((await post('/api/control', 'x'.repeat(MAX_CONSOLE_BODY_BYTES + 1))).status).to.equal(413)
    expect((await post('/api/control', '{"op":')).status).to.equal(400)
    expect((await post('/api/control', '[1]')).status).to.equal(400)
    expect((await post('/api/control', '{"op":"kill","node":-1}')).status).to.equal(400)
    expect((await post('/api/control', '{"op":"down"}')).status, 'down is not a console op').to.equal(400)
    expect((await post('/api/publish', '{"topic":5,"message":"x"}')).status).to.equal(400)
    expect(reached).to.deep.equal([])
    const answer = await post('/api/control', '{"op":"kill","node":0}')
    expect(answer.status).to.equal(200)
    expect(JSON.parse(answer.text)).to.deep.include({ok: true, command: 'pad-cli kill 0 --cluster fuzz'})
    expect(reached).to.deep.equal(['kill 0'])
  })

  it('says 405 for a wrong method', async () => {
    expect((await request('DELETE', '/')).status).to.equal(405)
    expect((await request('GET', '/api/control')).status).to.equal(405)
    expect((await request('POST', '/api/stream')).status).to.equal(405)
  })

  it(`lets at most ${MAX_STREAM_CLIENTS} pages follow the stream`, async () => {
    const streams: http.ClientRequest[] = []
    const open = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = http.get({host: '127.0.0.1', port, path: '/api/stream', headers: {host: `127.0.0.1:${port}`}}, (res) => {
          res.once('data', () => resolve(res.statusCode ?? 0))
          res.on('error', () => {})
        })
        req.on('error', reject)
        streams.push(req)
      })
    try {
      for (let i = 0; i < MAX_STREAM_CLIENTS; i++) expect(await open()).to.equal(200)
      expect(await open()).to.equal(503)
    } finally {
      for (const req of streams) req.destroy()
    }
  })

  it('survives seeded raw garbage and answers afterwards, never with a 5xx', async () => {
    const seed = Number(process.env.PAD_FUZZ_SEED ?? Date.now() % 1_000_000)
    const fuzz = new Fuzz(seed)
    const templates = [
      `POST /api/control HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 24\r\nConnection: close\r\n\r\n{"op":"kill","node":0}`,
      `POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 30\r\nConnection: close\r\n\r\n{"topic":"a","message":"{}"}`,
      `GET /api/token HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    ]
    // In rounds of 10 at once: a request left incomplete waits out its 2 s.
    for (let round = 0; round < 15; round++) {
      const raws = Array.from({length: 10}, () => fuzz.mutate(fuzz.pick(templates)))
      const statuses = await Promise.all(raws.map((raw) => exchange(port, raw)))
      statuses.forEach((status, i) => expect(status === null || status < 500, `seed ${seed}: status ${status}\n${raws[i].toString('latin1')}`).to.equal(true))
    }
    expect((await request('GET', '/')).status, `seed ${seed}`).to.equal(200)
  })
})

/** Sends raw bytes, answers the status line's code (null: closed or nothing within 2 s). */
function exchange(port: number, bytes: Buffer): Promise<number | null> {
  return new Promise((resolve) => {
    const socket = net.connect({host: '127.0.0.1', port})
    let text = ''
    const timer = setTimeout(() => socket.destroy(), 2000)
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text)
      resolve(match ? Number(match[1]) : null)
    })
    socket.write(bytes)
  })
}
