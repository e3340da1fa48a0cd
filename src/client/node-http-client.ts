/**
 * The one HTTP client for a node's API (GET /raft, /health, /messages, /topics, the /admin
 * endpoints), on undici. Whoever talks to a node over HTTP (the supervisor, chaos, bench, the
 * dashboard, the commands) goes through here, so every request keeps the same guarantees:
 *
 * - a timeout on the whole request (connect, headers, body): a paused node accepts the
 *   connection and never answers, and must not hang whoever asked;
 * - a cap on the answer's size, so a confused or hostile peer cannot fill our memory;
 * - the bearer token when one is given, and a JSON content type on every state-changing
 *   request (the node takes those only as JSON, with or without a body);
 * - no open socket keeps the process alive: undici unrefs its idle keep-alive sockets, and
 *   they close after a short idle time anyway, so a command exits once its work is done.
 */
import {Agent, request, type Dispatcher} from 'undici'

export interface NodeAddress {
  host: string
  http_port: number
}

export interface HttpAnswer {
  status: number
  json: Record<string, unknown>
}

export interface RequestOptions {
  body?: unknown
  token?: string
  /** For the whole request; 2 s unless given. */
  timeoutMs?: number
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE'

/** A node did not answer, answered something that is not JSON, or refused (callJson). */
export class NodeHttpError extends Error {
  readonly code = 'NODE_API'

  constructor(message: string) {
    super(message)
    this.name = 'NodeHttpError'
  }
}

export const MAX_ANSWER_BYTES = 16 * 1024 * 1024
const DEFAULT_TIMEOUT_MS = 2000

/**
 * Shared by every request: keep-alive saves a handshake per status poll, but an idle socket
 * is closed after a second (and unref'd meanwhile by undici).
 */
export const nodeDispatcher: Dispatcher = new Agent({keepAliveTimeout: 1000, keepAliveMaxTimeout: 1000, connect: {timeout: 5000}})

export function nodeUrl(node: NodeAddress, path: string): string {
  return `http://${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.http_port}${path}`
}

/** Sends one request and reads the whole JSON answer, whatever its status. */
export async function requestJson(node: NodeAddress, method: HttpMethod, path: string, options: RequestOptions = {}): Promise<HttpAnswer> {
  const {status, text} = await requestText(node, method, path, 'application/json', options)
  try {
    return {status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>)}
  } catch {
    throw new NodeHttpError(`${method} ${nodeUrl(node, path)}: the answer is not JSON (status ${status})`)
  }
}

/** GET of a plain-text page (/metrics): its text when the status is 2xx, else an error. */
export async function getText(node: NodeAddress, path: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
  const {status, text} = await requestText(node, 'GET', path, 'text/plain', {timeoutMs})
  if (status < 200 || status > 299) throw new NodeHttpError(`GET ${path} on ${node.host}:${node.http_port}: status ${status}`)
  return text
}

async function requestText(node: NodeAddress, method: HttpMethod, path: string, accept: string, options: RequestOptions): Promise<{status: number; text: string}> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const headers: Record<string, string> = {accept}
  if (options.body !== undefined || method !== 'GET') headers['content-type'] = 'application/json'
  if (options.token) headers.authorization = `Bearer ${options.token}`
  const signal = AbortSignal.timeout(timeoutMs)
  try {
    const answer = await request(nodeUrl(node, path), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal,
      dispatcher: nodeDispatcher,
    })
    return {status: answer.statusCode, text: await readCapped(answer.body, MAX_ANSWER_BYTES)}
  } catch (error) {
    throw new NodeHttpError(`${method} ${nodeUrl(node, path)}: ${signal.aborted ? `no answer within ${timeoutMs} ms` : failureText(error)}`)
  }
}

/** The answer's JSON when the status is 2xx; otherwise an error with the node's message. */
export async function callJson<T = Record<string, unknown>>(node: NodeAddress, method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
  const answer = await requestJson(node, method, path, options)
  if (answer.status < 200 || answer.status > 299) {
    const error = answer.json.error as {code?: string; message?: string} | undefined
    throw new NodeHttpError(`${method} ${path} on ${node.host}:${node.http_port}: ${error?.message ?? `status ${answer.status}`}`)
  }
  return answer.json as T
}

export function getJson<T = Record<string, unknown>>(node: NodeAddress, pathAndQuery: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
  return callJson<T>(node, 'GET', pathAndQuery, {timeoutMs})
}

/** The body as UTF-8 text; throws (and stops reading) once it passes `maxBytes`. */
async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) {
      body.destroy()
      throw new Error(`answer larger than ${maxBytes} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Why a request failed, in words ("connection refused" rather than ECONNREFUSED). */
export function failureText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (code === 'ECONNREFUSED') return 'connection refused'
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect timed out'
  return error instanceof Error ? error.message : String(error)
}
