/**
 * Raw clients for process-level tests: a TCP socket read line by line (to see exactly what
 * the node sends), and a small JSON-over-HTTP helper. Every wait is bounded.
 */
import net from 'node:net'
import {HOST, type NodeProcess} from './node-process.js'

const DEFAULT_WAIT_MS = 10_000

const openSockets = new Set<LineSocket>()

/** Destroys every LineSocket still open; call from an afterEach/after hook. */
export function closeAllSockets(): void {
  for (const socket of openSockets) socket.close()
  openSockets.clear()
}

export class LineSocket {
  private buffer = ''
  private readonly queue: string[] = []
  private waiter: (() => void) | null = null
  private ended = false
  /** Bytes received so far. */
  bytes = 0

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length
      this.buffer += chunk.toString('utf8')
      const lines = this.buffer.split('\n')
      this.buffer = lines.pop()!
      this.queue.push(...lines)
      this.wake()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.ended = true
      this.wake()
    })
  }

  static connect(port: number): Promise<LineSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({host: HOST, port})
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        const client = new LineSocket(socket)
        openSockets.add(client)
        resolve(client)
      })
    })
  }

  get closed(): boolean {
    return this.ended
  }

  /** Lines received and not yet taken. */
  get buffered(): number {
    return this.queue.length
  }

  send(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (error) => (error ? reject(error) : resolve())))
  }

  sendJson(value: unknown): Promise<void> {
    return this.send(JSON.stringify(value) + '\n')
  }

  /** The next line; throws if none arrives in time or the connection closes first. */
  async nextLine(timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    const [line] = await this.take(1, timeoutMs)
    return line
  }

  async nextJson(timeoutMs = DEFAULT_WAIT_MS): Promise<Record<string, unknown>> {
    const line = await this.nextLine(timeoutMs)
    try {
      return JSON.parse(line) as Record<string, unknown>
    } catch {
      throw new Error(`the node sent a line that is not JSON: ${JSON.stringify(line.slice(0, 200))}`)
    }
  }

  /** The next `count` lines. */
  async take(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<string[]> {
    const deadline = Date.now() + timeoutMs
    while (this.queue.length < count) {
      if (this.ended) throw new Error(`connection closed after ${this.queue.length} of ${count} lines`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`got ${this.queue.length} of ${count} lines within ${timeoutMs} ms: ${JSON.stringify(this.queue.slice(-3))}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiter = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.waiter = null
    }
    return this.queue.splice(0, count)
  }

  async takeJson(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<Record<string, unknown>[]> {
    return (await this.take(count, timeoutMs)).map((line) => JSON.parse(line) as Record<string, unknown>)
  }

  /** Resolves when the node closes the connection (bounded). */
  async waitClosed(timeoutMs = DEFAULT_WAIT_MS): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (!this.ended && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        this.waiter = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.waiter = null
    }
    return this.ended
  }

  close(): void {
    openSockets.delete(this)
    this.socket.destroy()
  }

  private wake(): void {
    this.waiter?.()
  }
}

export interface HttpResult {
  status: number
  headers: Headers
  text: string
  json: Record<string, unknown>
}

/** One HTTP request to a node; `body` is sent as is when a string, else as JSON. */
export async function http(node: NodeProcess, method: string, pathAndQuery: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  const init: RequestInit = {method, headers: {...headers}, signal: AbortSignal.timeout(DEFAULT_WAIT_MS)}
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body)
    ;(init.headers as Record<string, string>)['content-type'] ??= 'application/json'
  }
  const response = await fetch(node.url(pathAndQuery), init)
  const text = await response.text()
  let json: Record<string, unknown> = {}
  if ((response.headers.get('content-type') ?? '').includes('application/json')) json = JSON.parse(text) as Record<string, unknown>
  return {status: response.status, headers: response.headers, text, json}
}

export async function getJson<T = Record<string, unknown>>(node: NodeProcess, pathAndQuery: string): Promise<T> {
  const result = await http(node, 'GET', pathAndQuery)
  if (result.status !== 200) throw new Error(`GET ${pathAndQuery}: ${result.status} ${result.text}`)
  return result.json as T
}

/** A stored message as `/messages` lists it. */
export interface ApiMessage {
  topic: string
  offset: number
  format: string
  body: string
}

/** Every stored message of a topic on one node, oldest first, page by page (bounded). */
export async function storedMessages(node: NodeProcess, topic: string): Promise<ApiMessage[]> {
  const out: ApiMessage[] = []
  for (let page = 0; page < 1000; page++) {
    const {messages} = await getJson<{messages: ApiMessage[]}>(node, `/messages?topic=${encodeURIComponent(topic)}&order=oldest&limit=1000&from=${out.length}`)
    out.push(...messages)
    if (messages.length < 1000) return out
  }
  throw new Error('too many pages')
}
