/**
 * The outbound connection to one peer: connects, authenticates (answers the peer's challenge
 * and checks its welcome, see peer-auth.ts), then sends frames, reconnecting with exponential
 * backoff when the connection fails or the handshake does.
 *
 * Frames queued in one turn of the event loop leave in one write, at the end of the turn or
 * when the Raft driver flushes (before it waits for a write). Memory per peer is bounded:
 * while the peer is unreachable or too slow, new frames are dropped instead of queued, which
 * Raft tolerates (it retries from the follower's progress).
 */
import net from 'node:net'
import {FRAME_KIND, FrameReader, frame} from './frames.js'

/** How this node answers one challenge: the hello to send, and the check of the welcome it expects. */
export type HandshakeAnswer = {hello: Buffer; welcome: (payload: Buffer) => boolean} | {refuse: string}

export interface PeerLinkOptions {
  host: string
  port: number
  /** Answers the peer's challenge on every new connection. */
  answer: (challenge: Buffer) => HandshakeAnswer
  /** Largest frame accepted before the peer has authenticated. */
  maxHandshakeFrameBytes: number
  /** A connection that has not finished the handshake within this is dropped. */
  handshakeTimeoutMs: number
  /** Bytes that may wait for one peer (queued plus in the socket) before frames are dropped. */
  maxQueuedBytes: number
  minBackoffMs: number
  maxBackoffMs: number
  onConnected?: () => void
  onDisconnected?: (reason: string) => void
  /** The handshake failed: the peer is not who it should be, or speaks another protocol. */
  onRefused?: (reason: string) => void
  /** A callback above threw from a socket event; the link carries on. */
  onCallbackError?: (error: Error) => void
}

export class PeerLink {
  private socket: net.Socket | null = null
  private connected = false
  private queue: Buffer[] = []
  private queuedBytes = 0
  private flushScheduled = false
  private backoffMs: number
  private reconnectTimer: NodeJS.Timeout | null = null
  private closed = false
  dropped = 0
  sentFrames = 0
  /** Bytes of frames written to the peer (after the handshake), for the node's traffic counters. */
  sentBytes = 0

  constructor(private readonly options: PeerLinkOptions) {
    this.backoffMs = options.minBackoffMs
    this.connect()
  }

  /** The address this link dials. */
  get host(): string {
    return this.options.host
  }

  get port(): number {
    return this.options.port
  }

  get isConnected(): boolean {
    return this.connected
  }

  /** Queues a frame; returns false when it was dropped. */
  send(frame: Buffer): boolean {
    if (!this.connected || this.socket === null) {
      this.dropped++
      return false
    }
    if (this.queuedBytes + this.socket.writableLength + frame.length > this.options.maxQueuedBytes) {
      this.dropped++
      return false
    }
    this.queue.push(frame)
    this.queuedBytes += frame.length
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => this.flush())
    }
    return true
  }

  close(): void {
    this.closed = true
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    this.socket?.destroy()
    this.queue = []
    this.queuedBytes = 0
  }

  /** Writes the queued frames now; otherwise they leave at the end of the turn in which the first was queued. */
  flush(): void {
    this.flushScheduled = false
    if (!this.connected || this.socket === null || this.queue.length === 0) return
    const data = this.queue.length === 1 ? this.queue[0] : Buffer.concat(this.queue, this.queuedBytes)
    this.sentFrames += this.queue.length
    this.sentBytes += data.length
    this.queue = []
    this.queuedBytes = 0
    this.socket.write(data)
  }

  private connect(): void {
    if (this.closed) return
    let socket: net.Socket
    try {
      socket = net.connect({host: this.options.host, port: this.options.port})
    } catch (error) {
      // Not even an attempt (a bad address): report it, and try again later like any failed attempt.
      this.options.onRefused?.((error as Error).message)
      this.reconnectTimer = setTimeout(() => this.connect(), this.options.maxBackoffMs)
      return
    }
    this.socket = socket
    socket.setNoDelay(true)
    const reader = new FrameReader(this.options.maxHandshakeFrameBytes)
    let welcome: ((payload: Buffer) => boolean) | null = null
    let timer: NodeJS.Timeout | null = null
    const refuse = (reason: string): void => {
      if (socket.destroyed) return
      this.options.onRefused?.(reason)
      socket.destroy()
    }
    socket.on('connect', () => {
      timer = setTimeout(() => refuse('no welcome within the handshake timeout'), this.options.handshakeTimeoutMs)
    })
    // After the handshake the peer never writes on our outbound connection: anything more is ignored.
    const onData = (chunk: Buffer): void => {
      try {
        reader.push(chunk, (kind, payload) => {
          if (socket.destroyed || this.connected) return
          if (welcome === null) {
            if (kind !== FRAME_KIND.challenge) return refuse(`expected a challenge, got frame kind ${kind}`)
            const answer = this.options.answer(payload)
            if ('refuse' in answer) return refuse(answer.refuse)
            welcome = answer.welcome
            socket.write(frame(FRAME_KIND.hello, answer.hello))
            return
          }
          if (kind !== FRAME_KIND.welcome || !welcome(payload)) return refuse('the peer did not prove it knows the secret (bad welcome)')
          if (timer) clearTimeout(timer)
          socket.off('data', onData)
          socket.on('data', () => {})
          this.connected = true
          this.backoffMs = this.options.minBackoffMs
          this.notify(() => this.options.onConnected?.())
        })
      } catch (error) {
        refuse((error as Error).message)
      }
    }
    socket.on('data', onData)
    socket.on('error', () => {})
    socket.on('close', () => {
      if (timer) clearTimeout(timer)
      const wasConnected = this.connected
      this.connected = false
      this.socket = null
      this.dropped += this.queue.length
      this.queue = []
      this.queuedBytes = 0
      if (wasConnected) this.notify(() => this.options.onDisconnected?.('connection closed'))
      if (this.closed) return
      this.reconnectTimer = setTimeout(() => this.connect(), this.backoffMs)
      this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs)
    })
  }

  /** Runs a callback of the owner from a socket event: what it throws must not end the process. */
  private notify(callback: () => void): void {
    try {
      callback()
    } catch (error) {
      this.options.onCallbackError?.(error as Error)
    }
  }
}
