/**
 * A client of the JSON-lines protocol: many publishes in flight on one connection, and
 * subscriptions delivered to a callback. Used by the CLI commands, the benchmark and tests.
 */
import net from 'node:net'
import {encodeLine, parseServerLine, type AnswerLine, type MessageFormat, type MessageLine, type RequestLine, type StartFrom} from '../api/json-lines.js'

export interface PublishInput {
  topic: string
  format?: MessageFormat
  body: string
  id?: string
}

export interface PublishAck {
  topic: string
  offset: number
  duplicate?: boolean
}

/** A subscribed message as the node sent it. */
export type BrokerMessage = MessageLine

/** Retention deleted messages of `topic` (offsets expected_offset..first_offset-1) before this subscriber read them. */
export interface TrimmedNotice {
  topic: string
  expected_offset: number
  first_offset: number
  message: string
}

/** An error the broker answered with (`code` as in the protocol), or a connection failure. */
export class ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The system error code of a connection failure (e.g. ECONNREFUSED), when there was one. */
    readonly errno?: string,
  ) {
    super(message)
    this.name = 'ClientError'
  }
}

interface Pending {
  resolve: (reply: AnswerLine) => void
  reject: (error: Error) => void
}

export class BrokerClient {
  private readonly pending = new Map<number, Pending>()
  private nextRef = 1
  private buffer = ''
  private messageHandler: ((message: BrokerMessage) => void) | null = null
  private trimmedHandler: ((notice: TrimmedNotice) => void) | null = null
  private closedError: Error | null = null
  private writeBuffer: string[] = []
  private flushScheduled = false

  private constructor(
    private readonly socket: net.Socket,
    readonly address: string,
  ) {
    socket.setEncoding('utf8')
    socket.setNoDelay(true)
    socket.on('data', (chunk: string) => this.receive(chunk))
    socket.on('error', (error) => this.fail(new ClientError('CONNECTION', `connection to ${address} failed: ${error.message}`)))
    socket.on('close', () => this.fail(new ClientError('CONNECTION', `connection to ${address} closed`)))
  }

  static connect(host: string, port: number, timeoutMs = 3000): Promise<BrokerClient> {
    const address = `${host}:${port}`
    return new Promise((resolve, reject) => {
      const socket = net.connect({host, port})
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new ClientError('CONNECTION', `no pad-cli node answered at ${address} within ${timeoutMs} ms`))
      }, timeoutMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve(new BrokerClient(socket, address))
      })
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        const why = error.code === 'ECONNREFUSED' ? 'connection refused; is a node running there?' : error.message
        reject(new ClientError('CONNECTION', `no pad-cli node answered at ${address}: ${why}`, error.code))
      })
    })
  }

  /** Resolves with the ack once the message is committed; rejects with the broker's error. */
  async publish(input: PublishInput): Promise<PublishAck> {
    const reply = await this.request({op: 'publish', topic: input.topic, format: input.format ?? 'JSON', body: input.body, id: input.id})
    if (reply.op !== 'ack') throw this.unexpected('ack', reply)
    return {topic: reply.topic, offset: reply.offset, ...(reply.duplicate ? {duplicate: true} : {})}
  }

  /**
   * Subscribes; `onMessage` gets every message of the topics from `from` on, in order, and
   * `onTrimmed` hears of each gap retention left (the messages go on after it).
   * Resolves once the node has confirmed the subscription.
   */
  async subscribe(
    topics: string[],
    from: StartFrom,
    onMessage: (message: BrokerMessage) => void,
    onTrimmed?: (notice: TrimmedNotice) => void,
  ): Promise<void> {
    this.messageHandler = onMessage
    this.trimmedHandler = onTrimmed ?? null
    const reply = await this.request({op: 'subscribe', topics, from})
    if (reply.op !== 'subscribed') throw this.unexpected('subscribed', reply)
  }

  async ping(): Promise<void> {
    const reply = await this.request({op: 'ping'})
    if (reply.op !== 'pong') throw this.unexpected('pong', reply)
  }

  /** Resolves when the connection closes (by either side); rejects never. */
  closed(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve()
    return new Promise((resolve) => this.socket.once('close', () => resolve()))
  }

  close(): void {
    this.socket.end()
    this.socket.destroy()
  }

  get inFlight(): number {
    return this.pending.size
  }

  /** A node answered a request with another kind of line than the request asks for. */
  private unexpected(wanted: AnswerLine['op'], reply: AnswerLine): ClientError {
    return new ClientError('PROTOCOL', `${this.address} answered "${reply.op}" where "${wanted}" was due`)
  }

  private request(body: RequestLine): Promise<AnswerLine> {
    if (this.closedError) return Promise.reject(this.closedError)
    const ref = this.nextRef++
    return new Promise((resolve, reject) => {
      this.pending.set(ref, {resolve, reject})
      this.writeBuffer.push(encodeLine({...body, ref}))
      if (!this.flushScheduled) {
        this.flushScheduled = true
        // Requests made in one turn of the event loop go out in one write.
        queueMicrotask(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.flushScheduled = false
    if (this.writeBuffer.length === 0 || this.socket.destroyed) return
    this.socket.write(this.writeBuffer.join(''))
    this.writeBuffer = []
  }

  private receive(chunk: string): void {
    if (chunk.indexOf('\n') === -1) {
      this.buffer += chunk
      return
    }
    const lines = (this.buffer + chunk).split('\n')
    this.buffer = lines.pop()!
    for (const line of lines) if (line.trim() !== '') this.handle(line)
  }

  private handle(line: string): void {
    const parsed = parseServerLine(line)
    if (!parsed.ok) {
      const message = /^HTTP\/\d/.test(line)
        ? `${this.address} answered in HTTP: that is a node's HTTP port; give its TCP port`
        : `the node sent a line that is not of the protocol: ${parsed.error}`
      this.fail(new ClientError('PROTOCOL', message))
      this.socket.destroy()
      return
    }
    const reply = parsed.line
    if (reply.op === 'message') {
      this.messageHandler?.(reply)
      return
    }
    const ref = typeof reply.ref === 'number' ? reply.ref : undefined
    const waiter = ref === undefined ? undefined : this.pending.get(ref)
    if (!waiter) {
      // Not an answer: a subscription's gap names its topic (a refused subscribe does not).
      if (reply.op === 'error' && reply.code === 'OFFSET_TRIMMED' && typeof reply.topic === 'string' && typeof reply.expected_offset === 'number' && typeof reply.first_offset === 'number') {
        this.trimmedHandler?.({topic: reply.topic, expected_offset: reply.expected_offset, first_offset: reply.first_offset, message: reply.message})
      } else if (reply.op === 'error' && ref === undefined) {
        // The node's last line before it closes the connection (a node whose data is corrupt sends it at once): the reason, for every request.
        this.fail(new ClientError(reply.code, reply.message))
      }
      return
    }
    this.pending.delete(ref!)
    if (reply.op === 'error') waiter.reject(new ClientError(reply.code, reply.message))
    else waiter.resolve(reply)
  }

  private fail(error: Error): void {
    if (this.closedError) return
    this.closedError = error
    for (const waiter of this.pending.values()) waiter.reject(error)
    this.pending.clear()
  }
}
