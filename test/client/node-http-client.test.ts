import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {expect} from 'chai'
import {execa} from 'execa'
import {followEvents} from '../../src/client/node-events.js'
import {MAX_ANSWER_BYTES, NodeHttpError, callJson, requestJson, type NodeAddress} from '../../src/client/node-http-client.js'

// The node HTTP client against small local servers that behave as a node may: answer, answer
// too much, or (paused) accept the connection and never answer.

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

interface Seen {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: string
}

describe('node HTTP client', () => {
  const servers: http.Server[] = []
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  async function serve(handler: (request: http.IncomingMessage, response: http.ServerResponse, seen: Seen) => void): Promise<{node: NodeAddress; seen: Seen[]}> {
    const seen: Seen[] = []
    const server = http.createServer((request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        const entry = {method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8')}
        seen.push(entry)
        handler(request, response, entry)
      })
    })
    server.keepAliveTimeout = 60_000
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return {node: {host: '127.0.0.1', http_port: (server.address() as AddressInfo).port}, seen}
  }

  const json = (response: http.ServerResponse, status: number, body: unknown): void => {
    response.writeHead(status, {'content-type': 'application/json'})
    response.end(JSON.stringify(body))
  }

  it('sends the token, JSON content type on state-changing requests only, and reads the JSON answer', async () => {
    const {node, seen} = await serve((_request, response) => json(response, 200, {ok: true}))
    expect(await callJson(node, 'GET', '/raft')).to.deep.equal({ok: true})
    expect(await callJson(node, 'PUT', '/admin/faults', {body: {peers: [1], drop: true}, token: 'secret-token-123'})).to.deep.equal({ok: true})
    expect(await callJson(node, 'DELETE', '/admin/faults', {token: 'secret-token-123'})).to.deep.equal({ok: true})
    expect(seen[0].headers['content-type']).to.equal(undefined)
    expect(seen[0].headers.authorization).to.equal(undefined)
    expect(seen[1]).to.deep.include({method: 'PUT', url: '/admin/faults', body: '{"peers":[1],"drop":true}'})
    expect(seen[1].headers).to.deep.include({'content-type': 'application/json', authorization: 'Bearer secret-token-123'})
    expect(seen[2].headers['content-type']).to.equal('application/json')
    expect(seen[2].body).to.equal('')
  })

  it("refuses with the node's message on a non-2xx status; requestJson returns it as is", async () => {
    const {node} = await serve((_request, response) => json(response, 409, {error: {code: 'NODE_STATE', message: 'not the leader'}}))
    const error = await callJson(node, 'POST', '/admin/transfer-leader', {body: {to: 1}}).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(NodeHttpError)
    expect((error as Error).message).to.equal(`POST /admin/transfer-leader on 127.0.0.1:${node.http_port}: not the leader`)
    expect(await requestJson(node, 'GET', '/x')).to.deep.equal({status: 409, json: {error: {code: 'NODE_STATE', message: 'not the leader'}}})
  })

  it('gives up on a node that takes the connection and never answers (a paused node)', async () => {
    const {node} = await serve(() => {})
    const error = await requestJson(node, 'GET', '/raft', {timeoutMs: 300}).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(NodeHttpError)
    expect((error as Error).message).to.equal(`GET http://127.0.0.1:${node.http_port}/raft: no answer within 300 ms`)
  })

  it('refuses an answer that is not JSON, or larger than the cap', async () => {
    const {node} = await serve((request, response) => {
      if (request.url === '/text') response.end('<html>')
      else response.end(Buffer.alloc(MAX_ANSWER_BYTES + 1, 0x20))
    })
    expect(((await requestJson(node, 'GET', '/text').catch((e: unknown) => e)) as Error).message).to.match(/the answer is not JSON \(status 200\)$/)
    const tooLarge = await requestJson(node, 'GET', '/huge', {timeoutMs: 10_000}).catch((e: unknown) => e)
    expect(tooLarge).to.be.instanceOf(NodeHttpError)
    expect((tooLarge as Error).message).to.match(/answer larger than 16777216 bytes$/)
  })

  it('says "connection refused" when nothing listens', async () => {
    const {node} = await serve(() => {})
    servers[0].closeAllConnections()
    await new Promise((resolve) => servers.splice(0)[0].close(resolve))
    const error = await requestJson(node, 'GET', '/health').catch((e: unknown) => e)
    expect((error as Error).message).to.equal(`GET http://127.0.0.1:${node.http_port}/health: connection refused`)
  })

  it('does not keep a process alive after its requests (keep-alive sockets)', async function () {
    this.timeout(30_000)
    const {node} = await serve((_request, response) => json(response, 200, {ok: true}))
    const script = `import {callJson} from './src/client/node-http-client.ts'
      const answer = await callJson({host: '127.0.0.1', http_port: ${node.http_port}}, 'GET', '/health')
      console.log(JSON.stringify(answer))`
    // The server keeps idle connections for a minute: the child must exit on its own well before.
    const child = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {cwd: REPO_ROOT, reject: false, timeout: 20_000})
    expect(child.timedOut, 'the child still ran after 20 s').to.equal(false)
    expect(child.exitCode).to.equal(0)
    expect(child.stdout).to.equal('{"ok":true}')
  })

  describe('/events stream', () => {
    it('delivers each event, and closes without calling onEnd', async () => {
      const {node} = await serve((_request, response) => {
        response.writeHead(200, {'content-type': 'text/event-stream'})
        response.write(': comment\n\nevent: hello\ndata: {"state":"LEADER"}\n\nevent: role\ndata: {"role":')
        response.write('"FOLLOWER"}\n\n')
      })
      const events: [string, Record<string, unknown>][] = []
      let ended = false
      const close = await new Promise<() => void>((resolve) => {
        const stop = followEvents(
          node,
          (type, data) => {
            events.push([type, data])
            if (events.length === 2) resolve(stop)
          },
          () => (ended = true),
        )
      })
      close()
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(events).to.deep.equal([
        ['hello', {state: 'LEADER'}],
        ['role', {role: 'FOLLOWER'}],
      ])
      expect(ended).to.equal(false)
    })

    it('ends with an error when the node does not answer in time, or sends an endless event', async () => {
      let mode: 'silent' | 'endless' = 'silent'
      const {node} = await serve((_request, response) => {
        if (mode === 'silent') return
        response.writeHead(200, {'content-type': 'text/event-stream'})
        response.write('data: ' + 'x'.repeat(2 * 1024 * 1024))
      })
      const silent = await new Promise<Error | null>((resolve) => followEvents(node, () => {}, resolve, 300))
      expect(silent?.message).to.equal('no answer within 300 ms')
      mode = 'endless'
      const endless = await new Promise<Error | null>((resolve) => followEvents(node, () => {}, resolve, 5000))
      expect(endless?.message).to.equal('event too large')
    })
  })
})
