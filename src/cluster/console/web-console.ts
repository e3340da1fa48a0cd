/**
 * The web console: an HTTP server on 127.0.0.1 that serves the page (static-files.ts), streams
 * the cluster live over SSE (stream-hub.ts: node cards, the timeline, sampled Raft messages,
 * log tails, commit rate and latency), and runs the page's actions through the supervisor's
 * control handlers (actions.ts). It opens no stream to the nodes: it listens to what the
 * supervisor's raft-observer already follows, and asks the nodes itself only while a browser
 * watches (samplers.ts). Security model: docs/console.md.
 *
 *   GET  /, /*.js, /style.css   the page (a fixed list)
 *   GET  /api/token             the cluster token, to a same-origin page on 127.0.0.1/localhost only
 *   GET  /api/stream            SSE: hello, then node, timeline, rpc, log, metrics
 *   POST /api/control           a control request (Bearer token)
 *   POST /api/publish           {topic, message} (Bearer token)
 */
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {
  HELLO_EVENTS,
  MAX_CONSOLE_BODY_BYTES,
  MAX_RPC_PER_SECOND,
  MAX_STREAM_CLIENTS,
  type ConsoleErrorBody,
  type ConsoleHello,
  type ConsoleNode,
  type ConsoleTimelineEvent,
} from '../../api/console.js'
import type {ControlHandlers} from '../../api/control.js'
import type {NodeStreamItem} from '../../api/node-events.js'
import {describeEvent, type ClusterEvent} from '../events.js'
import {consoleControl, consolePublish} from './actions.js'
import {HttpRefusal, hostAllowed, parseJsonObject, readBody, sameOrigin, tokenMatches} from './http-guards.js'
import {peerUid} from './peer-uid.js'
import {Samplers} from './samplers.js'
import {staticFile} from './static-files.js'
import {StreamHub} from './stream-hub.js'

const BODY_TIMEOUT_MS = 5000

/** What the console needs of the supervisor (supervisor.ts wires it; the console imports none of its parts). */
export interface ConsoleParts {
  cluster: string
  token: string
  settings: {election_timeout_ms: number; heartbeat_ms: number}
  nodes(): ConsoleNode[]
  leader(): number | null
  /** The newest timeline events already recorded, oldest first. */
  recentEvents(): ClusterEvent[]
  onTimeline(listener: (event: ClusterEvent) => void): () => void
  onNodeItem(listener: (index: number, item: NodeStreamItem) => void): () => void
  handlers: Partial<ControlHandlers>
  log(message: string, fields?: Record<string, unknown>): void
}

export class WebConsole {
  private readonly server: http.Server
  private readonly hub: StreamHub
  private readonly samplers: Samplers
  private readonly unsubscribe: (() => void)[] = []
  private readonly recent: ConsoleTimelineEvent[]
  private readonly sentNodes = new Map<number, string>()
  /** Each node's last log index as its latest log tail said: fresher than /raft, which is read only now and then. */
  private readonly sampledLastIndex = new Map<number, number>()
  private rpcBudget = {second: 0, left: MAX_RPC_PER_SECOND}
  private port = 0

  constructor(private readonly parts: ConsoleParts) {
    this.recent = parts.recentEvents().slice(-HELLO_EVENTS).map(timelineEvent)
    this.samplers = new Samplers({
      nodes: () => parts.nodes(),
      leader: () => parts.leader(),
      log: (data) => {
        this.sampledLastIndex.set(data.node, data.last_index)
        this.hub.send({type: 'log', data})
        this.sendChangedNodes()
      },
      metrics: (data) => this.hub.send({type: 'metrics', data}),
      tick: () => this.sendChangedNodes(),
    })
    this.hub = new StreamHub(MAX_STREAM_CLIENTS, (on) => (on ? this.samplers.start() : this.samplers.stop()))
    this.server = http.createServer((request, response) => void this.route(request, response))
    this.server.headersTimeout = 10_000
    this.server.requestTimeout = 15_000
    // SSE streams are long: the request timeout applies only until the headers are read.
    this.server.maxHeadersCount = 64
    this.unsubscribe.push(parts.onTimeline((event) => this.timeline(event)))
    this.unsubscribe.push(parts.onNodeItem((index, item) => this.nodeItem(index, item)))
  }

  /** Listens on 127.0.0.1:`port` (0: any free port); resolves with the port. */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject)
        this.server.on('error', (error) => this.parts.log('web console error', {error: error.message}))
        this.port = (this.server.address() as AddressInfo).port
        resolve(this.port)
      })
    })
  }

  close(): Promise<void> {
    for (const off of this.unsubscribe) off()
    this.samplers.stop()
    this.hub.closeAll()
    return new Promise((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }

  private async route(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    try {
      // A rebound DNS name pointing here carries its own Host: nothing is served to it.
      if (!hostAllowed(request, this.port)) throw new HttpRefusal(421, 'WRONG_HOST', `open the console at http://127.0.0.1:${this.port}/`)
      const path = (request.url ?? '/').split('?')[0]
      const method = request.method ?? 'GET'
      const file = path.startsWith('/api/') ? null : staticFile(path)
      if (file) return only(method, ['GET', 'HEAD'], () => send(response, 200, file.type, file.body))
      switch (path) {
        case '/api/token':
          return only(method, ['GET'], () => {
            if (!sameOrigin(request, this.port)) throw new HttpRefusal(403, 'CROSS_ORIGIN', 'the token is only for the console page itself')
            const uid = peerUid(request.socket)
            if (uid !== null && uid !== process.getuid?.()) throw new HttpRefusal(403, 'OTHER_USER', 'the token is only for the user who runs the cluster')
            sendJson(response, 200, {token: this.parts.token})
          })
        case '/api/stream':
          return only(method, ['GET'], () => {
            if (!sameOrigin(request, this.port)) throw new HttpRefusal(403, 'CROSS_ORIGIN', 'the stream is only for the console page itself')
            if (!this.hub.add(response, () => ({type: 'hello', data: this.hello()}))) throw new HttpRefusal(503, 'BUSY', `at most ${MAX_STREAM_CLIENTS} pages may follow the console at once`)
          })
        case '/api/control':
          return await onlyAsync(method, ['POST'], async () => {
            const body = await this.writeBody(request)
            sendJson(response, 200, await consoleControl(body, this.parts.handlers, this.parts.cluster))
          })
        case '/api/publish':
          return await onlyAsync(method, ['POST'], async () => {
            const body = await this.writeBody(request)
            sendJson(response, 200, await consolePublish(body, this.parts.nodes(), this.parts.leader()))
          })
        default:
          throw new HttpRefusal(404, 'NOT_FOUND', `nothing at ${path.slice(0, 200)}`)
      }
    } catch (error) {
      const refusal = error instanceof HttpRefusal ? error : new HttpRefusal(500, 'SUPERVISOR', (error as Error).message)
      if (!(error instanceof HttpRefusal)) this.parts.log('web console request failed', {error: (error as Error).message})
      if (response.headersSent) response.destroy()
      else {
        const body: ConsoleErrorBody = {ok: false, error: {code: refusal.code, message: refusal.message}}
        // A body we did not read (whole) must not be taken for the next request: the connection closes after the answer.
        const unread = !request.complete && (request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined)
        sendJson(response, refusal.status, body, {...(refusal.status === 405 ? {allow: (error as MethodRefusal).allow} : {}), ...(unread ? {connection: 'close'} : {})})
      }
    }
  }

  /** A write: same origin, the token, then a capped JSON object body. */
  private async writeBody(request: http.IncomingMessage): Promise<Record<string, unknown>> {
    if (!sameOrigin(request, this.port)) throw new HttpRefusal(403, 'CROSS_ORIGIN', 'actions come only from the console page itself')
    if (!tokenMatches(request, this.parts.token)) throw new HttpRefusal(401, 'UNAUTHORIZED', 'send the cluster token: Authorization: Bearer <token>')
    return parseJsonObject(request, await readBody(request, MAX_CONSOLE_BODY_BYTES, BODY_TIMEOUT_MS))
  }

  /** The nodes as the page draws them, with the last index of the latest log tail where there is one. */
  private nodes(): ConsoleNode[] {
    return this.parts.nodes().map((node) => {
      const sampled = this.sampledLastIndex.get(node.index)
      return sampled === undefined || node.role === null ? node : {...node, last_index: sampled}
    })
  }

  private hello(): ConsoleHello {
    const nodes = this.nodes()
    for (const node of nodes) this.sentNodes.set(node.index, JSON.stringify(node))
    return {cluster: this.parts.cluster, nodes, leader: this.parts.leader(), events: this.recent, ...this.parts.settings}
  }

  private timeline(event: ClusterEvent): void {
    const item = timelineEvent(event)
    this.recent.push(item)
    if (this.recent.length > HELLO_EVENTS) this.recent.splice(0, this.recent.length - HELLO_EVENTS)
    this.hub.send({type: 'timeline', data: item})
    // Kills, starts and faults change the cards without a word from the node.
    this.sendChangedNodes()
  }

  private nodeItem(index: number, item: NodeStreamItem): void {
    if (this.hub.size === 0) return
    if (item.type !== 'rpc') return this.sendChangedNodes()
    const second = Math.floor(Date.now() / 1000)
    if (second !== this.rpcBudget.second) this.rpcBudget = {second, left: MAX_RPC_PER_SECOND}
    if (this.rpcBudget.left <= 0) return
    this.rpcBudget.left--
    const {kind, from, to, term, entries, reject, time} = item
    this.hub.send({type: 'rpc', data: {kind, from, to, term, entries, reject, time}})
  }

  private sendChangedNodes(): void {
    if (this.hub.size === 0) return
    for (const node of this.nodes()) {
      const text = JSON.stringify(node)
      if (this.sentNodes.get(node.index) === text) continue
      this.sentNodes.set(node.index, text)
      this.hub.send({type: 'node', data: node})
    }
  }
}

function timelineEvent(event: ClusterEvent): ConsoleTimelineEvent {
  const {seq, time, type, ...fields} = event
  let text: string
  try {
    text = describeEvent(event)
  } catch {
    // An event written by hand or by an older version with fields missing.
    text = JSON.stringify(fields)
  }
  return {seq, time, type, text, fields}
}

class MethodRefusal extends HttpRefusal {
  constructor(readonly allow: string) {
    super(405, 'METHOD_NOT_ALLOWED', `use ${allow}`)
  }
}

function only(method: string, allowed: string[], then: () => void): void {
  if (!allowed.includes(method)) throw new MethodRefusal(allowed.join(', '))
  then()
}

async function onlyAsync(method: string, allowed: string[], then: () => Promise<void>): Promise<void> {
  if (!allowed.includes(method)) throw new MethodRefusal(allowed.join(', '))
  await then()
}

/** Every answer: no caching, no sniffing, no framing, and a page that runs only its own scripts. */
const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}

function send(response: http.ServerResponse, status: number, type: string, body: Buffer | string, headers: Record<string, string> = {}): void {
  response.writeHead(status, {...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers})
  response.end(body)
}

function sendJson(response: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(response, status, 'application/json; charset=utf-8', JSON.stringify(value), headers)
}
