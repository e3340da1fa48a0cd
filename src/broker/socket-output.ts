/**
 * Buffered output to one client socket: writes made in the same turn of the event loop go
 * out in one `socket.write`, which matters when thousands of acks are sent per second.
 *
 * Writers stop at the high-water mark and wait for `onceDrained`; `maxPendingBytes` is the
 * hard bound behind that: a client that lets more than that wait unsent is cut off with one
 * last line, instead of the node buffering for it without end.
 */
import type {Socket} from 'node:net'

export interface SocketOutputOptions {
  /** Above this many buffered bytes, `write` reports the client as slow. */
  highWaterMark?: number
  /** Past this many unsent bytes the connection is cut off. */
  maxPendingBytes?: number
  /** The last line sent to a client cut off for not reading (given the limit in bytes). */
  overflowLine?: (maxPendingBytes: number) => string
  /** Called once when the client is cut off. */
  onOverflow?: () => void
}

/** How long a client cut off may take to receive its last line before the socket is destroyed. */
const CUT_OFF_GRACE_MS = 5000

export class SocketOutput {
  private chunks: string[] = []
  private queuedBytes = 0
  private scheduled = false
  private drainWaiters: (() => void)[] = []
  private listeningForDrain = false
  private readonly highWaterMark: number
  private readonly maxPendingBytes: number
  private cutOff = false

  constructor(
    private readonly socket: Socket,
    private readonly options: SocketOutputOptions = {},
  ) {
    this.highWaterMark = options.highWaterMark ?? 1 << 20
    this.maxPendingBytes = options.maxPendingBytes ?? Number.POSITIVE_INFINITY
  }

  /** Queues text; returns false when the client is not keeping up. */
  write(text: string): boolean {
    if (this.closed || this.cutOff) return false
    if (this.buffered + text.length > this.maxPendingBytes) {
      this.cutOffSlowClient()
      return false
    }
    this.chunks.push(text)
    this.queuedBytes += text.length
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
    return this.buffered < this.highWaterMark
  }

  get buffered(): number {
    return this.queuedBytes + this.socket.writableLength
  }

  /** Whether more than the high-water mark is waiting to be sent. */
  get full(): boolean {
    return this.buffered >= this.highWaterMark
  }

  /** Calls back once the buffer is below the high-water mark again. */
  onceDrained(callback: () => void): void {
    if (this.closed) return
    if (this.buffered < this.highWaterMark) {
      setImmediate(callback)
      return
    }
    this.drainWaiters.push(callback)
    this.checkDrained()
  }

  /**
   * Calls the drain waiters once the buffer is below the mark. Checked after every flush, not
   * only on the socket's 'drain': when the bytes over the mark were still queued here, the
   * socket may take the whole flush at once and then never emit 'drain'.
   */
  private checkDrained(): void {
    if (this.drainWaiters.length === 0 || this.closed) return
    if (this.buffered < this.highWaterMark) {
      const waiters = this.drainWaiters
      this.drainWaiters = []
      for (const waiter of waiters) waiter()
    } else if (!this.listeningForDrain && this.socket.writableLength > 0) {
      this.listeningForDrain = true
      this.socket.once('drain', () => {
        this.listeningForDrain = false
        this.checkDrained()
      })
    }
  }

  /** Whether nothing more can be sent: the socket is destroyed or `end` was called. */
  get closed(): boolean {
    return this.cutOff || this.socket.destroyed || this.socket.writableEnded
  }

  /** Drops what waits, sends one last line (if the client reads it in time) and closes. */
  private cutOffSlowClient(): void {
    this.cutOff = true
    this.chunks = []
    this.queuedBytes = 0
    this.drainWaiters = []
    const line = this.options.overflowLine?.(this.maxPendingBytes) ?? `ERROR too slow: more than ${this.maxPendingBytes} bytes waited to be sent; disconnected\n`
    this.socket.end(line)
    setTimeout(() => this.socket.destroy(), CUT_OFF_GRACE_MS).unref()
    this.options.onOverflow?.()
  }

  /** Sends one line past everything queued and closes: for a connection being refused or failed. */
  endWith(line: string): void {
    if (this.closed) return
    this.flush()
    this.socket.end(line)
    setTimeout(() => this.socket.destroy(), CUT_OFF_GRACE_MS).unref()
  }

  flush(): void {
    this.scheduled = false
    if (this.chunks.length === 0 || this.closed) return
    const text = this.chunks.length === 1 ? this.chunks[0] : this.chunks.join('')
    this.chunks = []
    this.queuedBytes = 0
    this.socket.write(text)
    this.checkDrained()
  }

  /** Flushes and half-closes: the client reads what was sent, then sees the end. */
  end(): void {
    this.flush()
    this.socket.end()
  }
}
