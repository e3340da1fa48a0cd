/**
 * The node's HTTP API (README, Protocols). Every answer is JSON, errors included:
 * `{"ok": false, "error": {"code", "message"}}` with the matching status.
 */
import http from 'node:http'
import {DEFAULT_LOG_TAIL, MAX_LOG_TAIL, type ErrorBody, type MessagePage, type PublishAnswer, type TopicsAnswer} from '../api/node-http.js'
import {BrokerError, asBrokerError} from './errors.js'
import {HttpAccess, type HttpAccessOptions} from './http-access.js'
import type {Logger} from './logger.js'
import {parsePublishRequest} from './publisher.js'
import {answerRefusedBody} from './refused-body.js'
import type {NodeView} from './node-view.js'
import {listen} from './tcp-server.js'
import {topicError} from './topics.js'
import {DASHBOARD_HTML} from './web-dashboard.js'

type Handler = (request: http.IncomingMessage, url: URL) => Promise<unknown> | unknown

export interface HttpRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  handler: Handler
  /** Streams its own response (Server-Sent Events) instead of returning JSON. */
  stream?: (request: http.IncomingMessage, response: http.ServerResponse, url: URL) => void
}

const MAX_LIMIT = 1000
/** Headers a page of an allowed origin may send: JSON bodies and the admin token. */
const ALLOWED_HEADERS = 'content-type, authorization'
const PREFLIGHT_MAX_AGE_S = 600
/** Longest wait at close for the requests in flight (a publish gives up at its commit timeout). */
const CLOSE_GRACE_MS = 5000

export class HttpApi {
  private readonly server: http.Server
  private readonly routes = new Map<string, HttpRoute[]>()
  private readonly streams = new Set<http.ServerResponse>()
  private readonly access: HttpAccess
  private closing = false

  constructor(
    private readonly node: NodeView,
    private readonly logger: Logger,
    access: HttpAccessOptions,
    extraRoutes: HttpRoute[] = [],
  ) {
    this.access = new HttpAccess(access, () => memberAddresses(node))
    for (const route of [...this.coreRoutes(), ...extraRoutes]) {
      const list = this.routes.get(route.path) ?? []
      list.push(route)
      this.routes.set(route.path, list)
    }
    this.server = http.createServer((request, response) => void this.handle(request, response))
    this.server.keepAliveTimeout = 30_000
  }

  listen(port: number, host: string): Promise<void> {
    return listen(this.server, port, host, 'HTTP')
  }

  /**
   * Stops accepting, ends the event streams, lets the requests in flight get their answers
   * (bounded), then closes every connection: a publish that commits is never left unanswered.
   */
  async close(): Promise<void> {
    this.closing = true
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeIdleConnections()
    for (const response of this.streams) response.end()
    const timer = setTimeout(() => this.server.closeAllConnections(), CLOSE_GRACE_MS)
    await closed
    clearTimeout(timer)
  }

  private coreRoutes(): HttpRoute[] {
    const node = this.node
    return [
      {method: 'POST', path: '/publish', handler: (request) => this.publish(request)},
      {method: 'GET', path: '/messages', handler: (_, url) => listMessages(node, url)},
      {method: 'GET', path: '/raft', handler: () => node.raftInfo()},
      {method: 'GET', path: '/raft/log', handler: (_, url) => node.raftLog(logTailLength(url.searchParams))},
      {method: 'GET', path: '/status', handler: () => node.statusInfo()},
      {method: 'GET', path: '/stats', handler: () => node.stats()},
      {method: 'GET', path: '/topics', handler: () => topicsAnswer(node)},
      {method: 'GET', path: '/subscribers', handler: () => ({subscribers: node.subscribers()})},
      {method: 'GET', path: '/health', handler: () => node.health()},
      {method: 'GET', path: '/metrics', handler: () => new PlainText(node.prometheusMetrics())},
      {method: 'GET', path: '/cluster', handler: () => node.clusterInfo()},
      {method: 'GET', path: '/', handler: () => new PlainText(DASHBOARD_HTML, 'text/html; charset=utf-8')},
    ]
  }

  private async publish(request: http.IncomingMessage): Promise<PublishAnswer> {
    const raw = await readJson(request, this.node.limits.maxBodyBytes * 2 + 4096)
    const publish = parsePublishRequest(raw, this.node.limits.maxBodyBytes)
    const result = await this.node.publisher.publish(publish)
    return {
      ok: true,
      topic: result.topic,
      offset: result.offset,
      index: result.index,
      term: result.term,
      node_id: this.node.nodeId,
      ...(result.duplicate ? {duplicate: true} : {}),
    }
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    if (!this.access.hostAllowed(request.headers.host)) {
      await refuse(request, response, new BrokerError('MISDIRECTED', `this node does not answer for host ${quote(request.headers.host)}: use the address it listens on`))
      return
    }
    let url: URL
    try {
      url = new URL(request.url ?? '/', 'http://localhost')
    } catch {
      sendError(response, new BrokerError('BAD_REQUEST', 'malformed request URL'))
      return
    }
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname
    const candidates = this.routes.get(path)
    if (!candidates) {
      sendError(response, new BrokerError('NOT_FOUND', `no such endpoint: ${request.method} ${path}`))
      request.resume()
      return
    }
    const origin = request.headers.origin
    if (request.method === 'OPTIONS') {
      this.preflight(request, response, candidates, origin)
      return
    }
    const route = candidates.find((r) => r.method === request.method)
    if (!route) {
      const allowed = candidates.map((r) => r.method).join(', ')
      response.setHeader('Allow', allowed)
      sendError(response, new BrokerError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}; use ${allowed}`))
      request.resume()
      return
    }
    if (route.method === 'GET') {
      // Reads are open to pages from other origins: the web dashboard of one node reads them all.
      response.setHeader('Access-Control-Allow-Origin', '*')
    } else {
      // A browser sends Origin with every cross-origin write; a page of another site may not
      // write here, even with a content type that needs no preflight.
      response.setHeader('Vary', 'Origin')
      if (origin !== undefined) {
        if (!this.access.originAllowed(origin)) {
          await refuse(request, response, new BrokerError('FORBIDDEN_ORIGIN', `pages of ${quote(origin)} may not send ${route.method} here: start the node with --cors-origin to allow them`))
          return
        }
        response.setHeader('Access-Control-Allow-Origin', origin)
      }
      // Only a JSON body: a browser must ask first (preflight) before it sends one cross-origin.
      if (!isJson(request.headers['content-type'])) {
        await refuse(request, response, new BrokerError('UNSUPPORTED_MEDIA_TYPE', `${route.method} ${path} takes Content-Type: application/json (got ${quote(request.headers['content-type'] ?? 'none')})`))
        return
      }
    }
    // Once closing, every answer closes its connection, so none is left idle.
    if (this.closing) response.setHeader('Connection', 'close')
    if (route.stream) {
      this.streams.add(response)
      response.once('close', () => this.streams.delete(response))
      // A stream ended by close() may still be written to once: ignore that, do not crash.
      response.on('error', () => {})
      route.stream(request, response, url)
      return
    }
    try {
      const result = await route.handler(request, url)
      if (result instanceof PlainText) {
        response.writeHead(200, {'Content-Type': result.contentType})
        response.end(result.text)
        return
      }
      const body = JSON.stringify(result)
      response.writeHead(200, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)})
      response.end(body)
    } catch (error) {
      const brokerError = asBrokerError(error)
      if (brokerError.code === 'INTERNAL') this.logger.error('http handler failed', {path, error: brokerError.message})
      if (brokerError.code === 'TOO_LARGE') await answerRefusedBody(request, response, () => sendError(response, brokerError))
      else sendError(response, brokerError)
    }
  }

  /** Answers a CORS preflight: granted to the cluster's own pages and --cors-origin, refused to any other. */
  private preflight(request: http.IncomingMessage, response: http.ServerResponse, routes: HttpRoute[], origin: string | undefined): void {
    request.resume()
    response.setHeader('Vary', 'Origin')
    if (origin === undefined || !this.access.originAllowed(origin)) {
      sendError(response, new BrokerError('FORBIDDEN_ORIGIN', `pages of ${quote(origin ?? 'no origin')} may not call this node: start it with --cors-origin to allow them`))
      return
    }
    response.writeHead(204, {
      'Access-Control-Allow-Origin': origin,
      'Access-Control-Allow-Methods': [...routes.map((r) => r.method), 'OPTIONS'].join(', '),
      'Access-Control-Allow-Headers': ALLOWED_HEADERS,
      'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_S),
    })
    response.end()
  }
}

/** Refuses a request before its body is read: the body is drained (bounded) so the client reads the answer. */
function refuse(request: http.IncomingMessage, response: http.ServerResponse, error: BrokerError): Promise<void> {
  return answerRefusedBody(request, response, () => sendError(response, error))
}

/** A header value quoted for an error message, cut short: it may be anything a client sent. */
function quote(value: string | undefined): string {
  const text = value ?? ''
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}...` : text)
}

/** Whether a Content-Type header names JSON (parameters such as charset allowed). */
export function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0].trim().toLowerCase() === 'application/json'
}

/** The other members' HTTP addresses, from what the node knows of them. */
function memberAddresses(node: NodeView): {host: string; httpPort: number}[] {
  return node.clusterInfo().members.flatMap((m) => {
    if (m.http_port === null) return []
    const host = m.raft_address.slice(0, m.raft_address.lastIndexOf(':'))
    return [{host, httpPort: m.http_port}]
  })
}

export class PlainText {
  constructor(
    readonly text: string,
    readonly contentType = 'text/plain; version=0.0.4; charset=utf-8',
  ) {}
}

function sendError(response: http.ServerResponse, error: BrokerError): void {
  if (response.headersSent) {
    response.end()
    return
  }
  const answer: ErrorBody = {ok: false, error: {code: error.code, message: error.message}}
  if (error.firstOffset !== undefined) answer.first_offset = error.firstOffset
  if (error.leader !== undefined) answer.leader = error.leader
  const body = JSON.stringify(answer)
  const headers: http.OutgoingHttpHeaders = {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)}
  if (error.httpStatus === 503) headers['Retry-After'] = '1'
  response.writeHead(error.httpStatus, headers)
  response.end(body)
}

/** Reads a JSON object body of at most `limit` bytes. */
export function readJson(request: http.IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) {
      request.resume()
      reject(new BrokerError('TOO_LARGE', `request body of ${declared} bytes is over the limit of ${limit} bytes`))
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let refused = false
    request.on('data', (chunk: Buffer) => {
      if (refused) return
      size += chunk.length
      if (size > limit) {
        refused = true
        reject(new BrokerError('TOO_LARGE', `request body is over the limit of ${limit} bytes`))
        return
      }
      chunks.push(chunk)
    })
    // The client went away before its body ended ("aborted"): its fault, not the node's, so no
    // error log line a client could repeat at will.
    request.on('error', (error) => reject(new BrokerError('BAD_REQUEST', `the request body did not arrive whole: ${error.message}`)))
    request.on('end', () => {
      if (refused) return
      const text = Buffer.concat(chunks).toString('utf8')
      if (text.trim() === '') {
        reject(new BrokerError('BAD_REQUEST', 'request body is empty: send a JSON object'))
        return
      }
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch (error) {
        reject(new BrokerError('BAD_REQUEST', `request body is not valid JSON: ${(error as Error).message}`))
        return
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        reject(new BrokerError('BAD_REQUEST', 'request body must be a JSON object'))
        return
      }
      resolve(value as Record<string, unknown>)
    })
  })
}

/** GET /topics: the seed's list of names, and each topic's counts in `details`. */
function topicsAnswer(node: NodeView): TopicsAnswer {
  const details = node.topics()
  return {topics: details.map((t) => t.topic), details}
}

/** One page of GET /messages, its bodies bounded by limits.maxPageBytes (see MessagePage). */
function listMessages(node: NodeView, url: URL): MessagePage {
  const params = url.searchParams
  const topic = params.get('topic') ?? undefined
  if (topic !== undefined) {
    const problem = topicError(topic)
    if (problem) throw new BrokerError('BAD_REQUEST', problem)
  }
  const limit = integerParam(params, 'limit', 100)
  if (limit < 1 || limit > MAX_LIMIT) throw new BrokerError('BAD_REQUEST', `limit must be between 1 and ${MAX_LIMIT}`)
  const from = params.has('from') ? integerParam(params, 'from', 0) : undefined
  // Newest first by default; `from` pages forward: the first `limit` messages from there on.
  const order = params.get('order') ?? (from === undefined ? 'newest' : 'oldest')
  if (order !== 'newest' && order !== 'oldest') throw new BrokerError('BAD_REQUEST', 'order must be "newest" or "oldest"')
  const stored = node.store.list({topic, from, limit, order})
  const page: MessagePage = {messages: []}
  let bytes = 0
  for (const m of stored) {
    bytes += Buffer.byteLength(m.body)
    if (bytes > node.limits.maxPageBytes && page.messages.length > 0) {
      page.truncated = true
      if (order === 'oldest') page.next_from = topic === undefined ? m.raftIndex : m.offset
      break
    }
    page.messages.push({
      topic: m.topic,
      offset: m.offset,
      format: m.format,
      body: m.body,
      content: m.body,
      timestamp: new Date(m.timestamp).toISOString(),
      index: m.raftIndex,
      ...(m.pubId !== null ? {id: m.pubId} : {}),
    })
  }
  return page
}

/**
 * GET /raft/log's one parameter, `last`: an integer from 1 to MAX_LOG_TAIL, at most once. Any
 * other parameter is refused too: a typo must not quietly get the default.
 */
function logTailLength(params: URLSearchParams): number {
  for (const name of params.keys()) {
    if (name !== 'last') throw new BrokerError('BAD_REQUEST', `unknown query parameter ${quote(name)}: /raft/log takes only last`)
  }
  const values = params.getAll('last')
  if (values.length === 0) return DEFAULT_LOG_TAIL
  if (values.length > 1) throw new BrokerError('BAD_REQUEST', 'last is given more than once')
  const value = values[0]
  const last = /^\d{1,9}$/.test(value) ? Number(value) : 0
  if (last < 1 || last > MAX_LOG_TAIL) throw new BrokerError('BAD_REQUEST', `last must be an integer from 1 to ${MAX_LOG_TAIL} (got ${quote(value)})`)
  return last
}

function integerParam(params: URLSearchParams, name: string, fallback: number): number {
  const value = params.get(name)
  if (value === null) return fallback
  if (!/^\d+$/.test(value)) throw new BrokerError('BAD_REQUEST', `${name} must be a non-negative integer (got ${JSON.stringify(value)})`)
  return Number(value)
}
