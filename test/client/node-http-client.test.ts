import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {expect} from 'chai'
import {execa} from 'execa'
import type {MessageItem, MessagePage} from '../../src/api/node-http.js'
import {followEvents, type NodeStreamItem} from '../../src/client/node-events.js'
import {getRaftLog} from '../../src/client/raft-state.js'
import {readTopic} from '../../src/client/stored-messages.js'
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
    it('delivers each event typed, skips one that does not decode, and closes without calling end', async () => {
      const hello = {time: 't0', node_id: 'n0', state: 'LEADER', current_term: 2, log_length: 5, first_index: 1, commit_index: 5, last_applied: 5, cluster_size: 3, leader_id: 'n0', leader_index: 0, node_index: 0, pre_candidate: false, elections_won: 1, snapshot_index: 0, snapshot_term: 0, snapshots_sent: 0, snapshots_installed: 0, disk_bytes: 0}
      const {node} = await serve((_request, response) => {
        response.writeHead(200, {'content-type': 'text/event-stream'})
        response.write(`: comment\n\nevent: hello\ndata: ${JSON.stringify(hello)}\n\nevent: role\ndata: {"type":"role","role":"LEADER","term":"two","leader":0,"time":"t1"}\n\nevent: role\ndata: {"type":"role","role":`)
        response.write('"FOLLOWER","term":3,"leader":null,"time":"t2"}\n\n')
      })
      const events: NodeStreamItem[] = []
      const skipped: [string, number][] = []
      let ended = false
      const close = await new Promise<() => void>((resolve) => {
        const stop = followEvents(node, {
          event: (item) => {
            events.push(item)
            if (events.length === 2) resolve(stop)
          },
          skipped: (reason, count) => skipped.push([reason, count]),
          end: () => (ended = true),
        })
      })
      close()
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(events).to.deep.equal([
        {type: 'hello', ...hello},
        {type: 'role', role: 'FOLLOWER', term: 3, leader: null, time: 't2'},
      ])
      expect(skipped).to.deep.equal([['event "role": term is not a count', 1]])
      expect(ended).to.equal(false)
    })

    it('survives a stream of hostile events: each is skipped, said at the 1st, 10th, 100th, and the good one after them still arrives', async () => {
      const hostile = [
        'data: {"type":"term","term":1,"time":"t"}', // no event name: "message"
        'event: term\ndata: not json',
        'event: term\ndata: [1,2]',
        'event: term\ndata: null',
        'event: term\ndata: {"type":"role","term":1,"time":"t"}',
        'event: term\ndata: {"type":"term","term":-1,"time":"t"}',
        'event: term\ndata: {"type":"term","term":1e400,"time":"t"}',
        'event: term\ndata: {"type":"term","term":1}',
        'event: __proto__\ndata: {"type":"__proto__","time":"t"}',
        'event: constructor\ndata: {"type":"constructor","time":"t"}',
        'event: hello\ndata: {"time":"t","state":"KING"}',
        'event: role\ndata: {"type":"role","role":"LEADER","term":1,"leader":"0","time":"t"}',
        'event: fault\ndata: {"type":"fault","action":"set","peers":[1,"2"],"time":"t"}',
        'event: fault\ndata: {"type":"fault","action":"set","peers":[1],"loss":7,"time":"t"}',
        'event: fault\ndata: {"type":"fault","action":"explode","time":"t"}',
        'event: commit\ndata: {"type":"commit","commit_index":1,"last_applied":{},"time":"t"}',
      ]
      const blocks = Array.from({length: 110}, (_, i) => hostile[i % hostile.length])
      const {node} = await serve((_request, response) => {
        response.writeHead(200, {'content-type': 'text/event-stream'})
        response.end(blocks.join('\n\n') + '\n\nevent: fault\ndata: {"type":"fault","action":"set","peers":[1],"delayMs":5,"__proto__":{"drop":true},"time":"t"}\n\n')
      })
      const events: NodeStreamItem[] = []
      const counts: number[] = []
      const end = await new Promise<Error | null>((resolve) => {
        followEvents(node, {event: (item) => events.push(item), skipped: (_reason, count) => counts.push(count), end: resolve})
      })
      expect(end).to.equal(null)
      expect(counts).to.deep.equal([1, 10, 100])
      expect(events).to.deep.equal([{type: 'fault', action: 'set', peers: [1], delayMs: 5, time: 't'}])
      expect(Object.getPrototypeOf(events[0])).to.equal(Object.prototype)
    })

    it('ends with an error when the node does not answer in time, or sends an endless event', async () => {
      let mode: 'silent' | 'endless' = 'silent'
      const {node} = await serve((_request, response) => {
        if (mode === 'silent') return
        response.writeHead(200, {'content-type': 'text/event-stream'})
        response.write('data: ' + 'x'.repeat(2 * 1024 * 1024))
      })
      const silent = await new Promise<Error | null>((resolve) => followEvents(node, {event: () => {}, skipped: () => {}, end: resolve}, 300))
      expect(silent?.message).to.equal('no answer within 300 ms')
      mode = 'endless'
      const endless = await new Promise<Error | null>((resolve) => followEvents(node, {event: () => {}, skipped: () => {}, end: resolve}, 5000))
      expect(endless?.message).to.equal('event too large')
    })
  })

  it("reads a topic's stored messages across pages the node cut short by its byte limit", async () => {
    // Offsets 0..4; the node answers at most two per page and says where the next page starts.
    const message = (offset: number): MessageItem => ({topic: 't', offset, format: 'text', body: `m${offset}`, content: `m${offset}`, timestamp: 't', index: offset + 1})
    const {node, seen} = await serve((request, response) => {
      const from = Number(new URL(request.url ?? '', 'http://x').searchParams.get('from'))
      const messages = [0, 1, 2, 3, 4].filter((o) => o >= from).slice(0, 2).map(message)
      const page: MessagePage = from + 2 < 5 ? {messages, truncated: true, next_from: from + 2} : {messages}
      json(response, 200, page)
    })
    expect((await readTopic(node, 't')).map((m) => m.offset)).to.deep.equal([0, 1, 2, 3, 4])
    expect(seen.map((s) => new URL(s.url, 'http://x').searchParams.get('from'))).to.deep.equal(['0', '2', '4'])
  })

  it('asks /raft/log for the tail it wants and checks the answer against it, refusing one that is not', async () => {
    const good = {node_index: 0, current_term: 2, snapshot_index: 0, snapshot_term: 0, last_index: 12, commit_index: 12, runs: [{from: 3, to: 9, term: 1}, {from: 10, to: 12, term: 2}]}
    let answer: unknown = good
    const {node, seen} = await serve((_request, response) => json(response, 200, answer))
    expect(await getRaftLog(node, 10)).to.deep.equal(good)
    expect(seen[0].url).to.equal('/raft/log?last=10')
    answer = {...good, runs: [{from: 3, to: 12, term: 1}, {from: 10, to: 12, term: 2}]}
    const refused = await getRaftLog(node, 10).catch((error: unknown) => error)
    expect(refused).to.be.instanceOf(NodeHttpError)
    expect((refused as Error).message).to.match(/^GET \/raft\/log on 127\.0\.0\.1:\d+: \/raft\/log: the run 10\.\.12 does not continue the runs at 13$/)
  })
})
