/**
 * Who may talk to a node's HTTP API (real process): Host names, cross-origin writes and CORS
 * preflights, JSON-only writes, garbage and oversized header values; and the /messages page
 * budget and the modes of the node's files.
 */
import fs from 'node:fs'
import httpClient from 'node:http'
import path from 'node:path'
import {expect} from 'chai'
import {http} from './helpers/clients.js'
import {HOST, nodeFixture, type NodeProcess} from './helpers/node-process.js'

interface RawAnswer {
  status: number
  headers: httpClient.IncomingHttpHeaders
  text: string
}

/** One request with exactly the headers given (fetch will not send a Host or Origin of our choosing). */
function send(node: NodeProcess, method: string, pathAndQuery: string, headers: Record<string, string>, body?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpClient.request(
      {host: HOST, port: node.ports.http, method, path: pathAndQuery, headers: {host: `${HOST}:${node.ports.http}`, ...headers}, agent: false, timeout: 10_000},
      (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => resolve({status: response.statusCode!, headers: response.headers, text: Buffer.concat(chunks).toString('utf8')}))
        response.on('error', reject)
      },
    )
    request.on('timeout', () => request.destroy(new Error('request timed out')))
    request.on('error', reject)
    request.end(body)
  })
}

const PUBLISH = JSON.stringify({topic: 'access', format: 'RAW', body: 'x'})
const EXTRA_ORIGIN = 'http://localhost:3999'

function errorCode(answer: RawAnswer): string {
  return (JSON.parse(answer.text) as {error: {code: string}}).error.code
}

describe('node HTTP API access rules (real process)', function () {
  this.timeout(60_000)
  const nodes = nodeFixture('all')
  let node: NodeProcess
  let own: string

  before(async () => {
    node = await nodes.start({args: ['--cors-origin', EXTRA_ORIGIN, '--max-page-bytes', '1024']})
    own = `http://${HOST}:${node.ports.http}`
  })

  describe('writes take JSON only (415)', () => {
    for (const contentType of [undefined, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'text/json']) {
      it(`refuses POST /publish with Content-Type ${contentType ?? '(none)'}`, async () => {
        const answer = await send(node, 'POST', '/publish', contentType === undefined ? {} : {'content-type': contentType}, PUBLISH)
        expect(answer.status, answer.text).to.equal(415)
        expect(errorCode(answer)).to.equal('UNSUPPORTED_MEDIA_TYPE')
        expect(answer.text).to.include('application/json')
      })
    }

    it('takes application/json with a charset, in any case', async () => {
      const answer = await send(node, 'POST', '/publish', {'content-type': 'Application/JSON; charset=utf-8'}, PUBLISH)
      expect(answer.status, answer.text).to.equal(200)
    })

    it('answers 415 to a large body it never reads, and the client gets the answer', async () => {
      const big = 'x'.repeat(3 * 1024 * 1024)
      const answer = await send(node, 'POST', '/publish', {'content-type': 'text/plain'}, big)
      expect(answer.status).to.equal(415)
      expect((await http(node, 'GET', '/health')).status).to.equal(200)
    })

    it('refuses a bodiless admin write that is not JSON with 415', async () => {
      const answer = await send(node, 'DELETE', '/admin/faults', {})
      expect(answer.status).to.equal(415)
    })
  })

  describe('cross-origin writes and preflights', () => {
    it('refuses a cross-origin text/plain POST from a foreign page (403), and stores nothing', async () => {
      const before = (await http(node, 'GET', '/stats')).json.published
      const answer = await send(node, 'POST', '/publish', {origin: 'http://evil.example', 'content-type': 'text/plain'}, PUBLISH)
      expect(answer.status, answer.text).to.equal(403)
      expect(errorCode(answer)).to.equal('FORBIDDEN_ORIGIN')
      expect(answer.headers['access-control-allow-origin']).to.equal(undefined)
      const json = await send(node, 'POST', '/publish', {origin: 'http://evil.example', 'content-type': 'application/json'}, PUBLISH)
      expect(json.status).to.equal(403)
      expect((await http(node, 'GET', '/stats')).json.published).to.equal(before)
    })

    it("accepts a write from the node's own page and from a --cors-origin, and lets them read the answer", async () => {
      for (const origin of [own, `http://localhost:${node.ports.http}`, EXTRA_ORIGIN]) {
        const answer = await send(node, 'POST', '/publish', {origin, 'content-type': 'application/json'}, PUBLISH)
        expect(answer.status, `${origin}: ${answer.text}`).to.equal(200)
        expect(answer.headers['access-control-allow-origin']).to.equal(origin)
        expect(answer.headers.vary).to.match(/Origin/)
      }
    })

    it("grants a preflight to the node's own origins and a --cors-origin", async () => {
      for (const origin of [own, `http://localhost:${node.ports.http}`, `http://[::1]:${node.ports.http}`, EXTRA_ORIGIN]) {
        for (const pathName of ['/publish', '/admin/faults']) {
          const answer = await send(node, 'OPTIONS', pathName, {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type, authorization',
          })
          expect(answer.status, `${origin} ${pathName}`).to.equal(204)
          expect(answer.headers['access-control-allow-origin']).to.equal(origin)
          expect(answer.headers['access-control-allow-headers']).to.match(/content-type/).and.match(/authorization/)
          expect(answer.headers['access-control-allow-methods']).to.match(pathName === '/publish' ? /POST/ : /PUT.*DELETE/)
          expect(answer.headers.vary).to.match(/Origin/)
        }
      }
    })

    const foreign = (port: number): string[] => [
      'http://evil.example',
      `http://evil.example:${port}`,
      `http://127.0.0.1:${port + 1}`,
      `https://127.0.0.1:${port}`,
      `http://127.0.0.1:${port}.evil.example`,
      `http://127.0.0.1:${port}@evil.example`,
      `http://127.0.0.1:${port}/path`,
      `${EXTRA_ORIGIN}/`,
      'http://localhost:3998',
      'null',
      '',
      '*',
      'javascript:alert(1)',
      'http://' + 'a'.repeat(4000) + '.example',
      '\u00e9vil',
    ]

    it('refuses a preflight from any other origin, garbage included, and one with no Origin', async () => {
      for (const origin of foreign(node.ports.http)) {
        const answer = await send(node, 'OPTIONS', '/publish', {origin: encodeURI(origin), 'access-control-request-method': 'POST'})
        expect(answer.status, JSON.stringify(origin.slice(0, 60))).to.equal(403)
        expect(answer.headers['access-control-allow-origin']).to.equal(undefined)
      }
      expect((await send(node, 'OPTIONS', '/publish', {'access-control-request-method': 'POST'})).status).to.equal(403)
      expect((await send(node, 'OPTIONS', '/no/such/path', {origin: own})).status).to.equal(404)
    })

    it('refuses a write from each of those origins too', async () => {
      for (const origin of foreign(node.ports.http)) {
        const answer = await send(node, 'POST', '/publish', {origin: encodeURI(origin), 'content-type': 'application/json'}, PUBLISH)
        expect(answer.status, JSON.stringify(origin.slice(0, 60))).to.equal(403)
      }
    })

    it('keeps read-only GETs open to every origin (Access-Control-Allow-Origin: *)', async () => {
      for (const pathName of ['/raft', '/cluster', '/messages?limit=1', '/health', '/metrics']) {
        const answer = await send(node, 'GET', pathName, {origin: 'http://evil.example'})
        expect(answer.status, pathName).to.equal(200)
        expect(answer.headers['access-control-allow-origin']).to.equal('*')
      }
    })
  })

  describe('Host header (DNS rebinding)', () => {
    it("answers the node's own names, with or without port", async () => {
      const port = node.ports.http
      for (const host of [`127.0.0.1:${port}`, '127.0.0.1', `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, '[::1]']) {
        const answer = await send(node, 'GET', '/health', {host})
        expect(answer.status, host).to.equal(200)
      }
    })

    it('refuses any other Host with 421 and a clear error', async () => {
      const port = node.ports.http
      for (const host of [
        'evil.example',
        `evil.example:${port}`,
        `127.0.0.1.evil.example:${port}`,
        `localhost.evil.example`,
        '10.0.0.1',
        '[::2]',
        '[::1',
        `127.0.0.1:${port}:${port}`,
        `127.0.0.1:port`,
        `user@127.0.0.1:${port}`,
        ' ',
        'a'.repeat(8000),
      ]) {
        const answer = await send(node, 'GET', '/health', {host})
        expect(answer.status, JSON.stringify(host.slice(0, 60))).to.be.oneOf([400, 421])
        if (answer.status === 421) {
          expect(errorCode(answer)).to.equal('MISDIRECTED')
          expect(JSON.parse(answer.text).error.message).to.match(/does not answer for host/)
        }
      }
      const write = await send(node, 'POST', '/publish', {host: 'evil.example', 'content-type': 'application/json'}, PUBLISH)
      expect(write.status).to.equal(421)
    })

    it('answers oversized headers with 431 and keeps serving', async () => {
      const oversized: Record<string, string>[] = [{host: 'h'.repeat(70_000)}, {origin: 'o'.repeat(70_000)}, {'x-junk': 'j'.repeat(70_000)}]
      for (const headers of oversized) {
        const answer = await send(node, 'GET', '/health', headers).catch((error: Error) => ({status: 0, text: error.message}))
        expect(answer.status === 431 || answer.status === 0, `${answer.status} ${answer.text.slice(0, 80)}`).to.equal(true)
      }
      expect((await http(node, 'GET', '/health')).status).to.equal(200)
    })
  })

  describe('GET /messages page budget', () => {
    it('ends a page early once its bodies pass --max-page-bytes, says so, and pages on from there', async () => {
      for (let i = 0; i < 4; i++) expect((await http(node, 'POST', '/publish', {topic: 'budget', format: 'RAW', body: String(i).repeat(600)})).status).to.equal(200)
      const first = (await http(node, 'GET', '/messages?topic=budget&from=0&limit=10')).json
      expect((first.messages as {offset: number}[]).map((m) => m.offset)).to.deep.equal([0])
      expect(first).to.include({truncated: true, next_from: 1})
      const next = (await http(node, 'GET', '/messages?topic=budget&from=1&limit=10')).json
      expect((next.messages as {offset: number}[]).map((m) => m.offset)).to.deep.equal([1])
      const newest = (await http(node, 'GET', '/messages?topic=budget')).json
      expect((newest.messages as {offset: number}[]).map((m) => m.offset)).to.deep.equal([3])
      expect(newest.truncated).to.equal(true)
      expect(newest).to.not.have.property('next_from')
      const small = (await http(node, 'GET', '/messages?topic=access&limit=2')).json
      expect(small).to.not.have.property('truncated')
    })
  })

  describe('--cors-origin', () => {
    for (const bad of ['localhost:3000', 'http://localhost:3000/app', '*', 'null']) {
      it(`refuses ${JSON.stringify(bad)} at start: exit 2, one line`, async () => {
        const refused = await nodes.start({args: ['--cors-origin', bad], waitHealthy: false})
        expect(await refused.waitExit(30_000), refused.output).to.deep.equal({code: 2, signal: null})
        const lines = refused.output.split('\n').filter((l) => l.replace(/^\[stderr\]/, '').trim() !== '')
        expect(lines, refused.output).to.have.length(1)
        expect(lines[0]).to.match(/--cors-origin .* is not an origin/)
      })
    }
  })

  describe('files', () => {
    it('keeps the data dir 0700 and the database and its WAL 0600', async () => {
      const mode = (file: string): string => (fs.statSync(file).mode & 0o777).toString(8)
      expect(mode(node.dataDir)).to.equal('700')
      for (const file of ['node.db', 'node.db-wal']) expect(mode(path.join(node.dataDir, file)), file).to.equal('600')
      for (const file of fs.readdirSync(node.dataDir)) expect(fs.statSync(path.join(node.dataDir, file)).mode & 0o077, file).to.equal(0)
    })

    it('closes an existing data dir that others could enter', async () => {
      const dataDir = path.join(nodes.tempDir(), 'open')
      fs.mkdirSync(dataDir, {mode: 0o755})
      fs.chmodSync(dataDir, 0o755)
      const other = await nodes.start({dataDir})
      expect((fs.statSync(other.dataDir).mode & 0o777).toString(8)).to.equal('700')
      await other.stop()
    })
  })
})
