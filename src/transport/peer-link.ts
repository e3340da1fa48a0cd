/**
 * The outbound connection to one peer: connects, says hello, and sends frames, reconnecting
 * with exponential backoff when the connection fails.
 *
 * Frames queued in one turn of the event loop leave in one write, at the end of the turn or
 * when the Raft driver flushes (before it waits for a write). Memory per peer is bounded:
 * while the peer is unreachable or too slow, new frames are dropped instead of queued, which
 * Raft tolerates (it retries from the follower's progress).
 */
import net from 'node:net'

export interface PeerLinkOptions {
  host: string
  port: number
  /** Sent first on every new connection. */
  hello: Buffer
  /** Bytes that may wait for one peer (queued plus in the socket) before frames are dropped. */
  maxQueuedBytes: number
  minBackoffMs: number
  maxBackoffMs: number
  onConnected?: () => void
  onDisconnected?: (reason: string) => void
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

  constructor(private readonly options: PeerLinkOptions) {
    this.backoffMs = options.minBackoffMs
    this.connect()
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
    this.queue = []
    this.queuedBytes = 0
    this.socket.write(data)
  }

  private connect(): void {
    if (this.closed) return
    const socket = net.connect({host: this.options.host, port: this.options.port})
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('connect', () => {
      this.connected = true
      this.backoffMs = this.options.minBackoffMs
      socket.write(this.options.hello)
      this.options.onConnected?.()
    })
    // The peer never writes on our outbound connection; anything it sends is ignored.
    socket.on('data', () => {})
    socket.on('error', () => {})
    socket.on('close', () => {
      const wasConnected = this.connected
      this.connected = false
      this.socket = null
      this.dropped += this.queue.length
      this.queue = []
      this.queuedBytes = 0
      if (wasConnected) this.options.onDisconnected?.('connection closed')
      if (this.closed) return
      this.reconnectTimer = setTimeout(() => this.connect(), this.backoffMs)
      this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs)
    })
  }
}
