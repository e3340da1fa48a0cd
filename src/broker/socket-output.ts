/**
 * Buffered output to one client socket: writes made in the same turn of the event loop go
 * out in one `socket.write`, which matters when thousands of acks are sent per second.
 */
import type {Socket} from 'node:net'

export class SocketOutput {
  private chunks: string[] = []
  private queuedBytes = 0
  private scheduled = false

  constructor(
    private readonly socket: Socket,
    /** Above this many buffered bytes, `write` reports the client as slow. */
    private readonly highWaterMark = 1 << 20,
  ) {}

  /** Queues text; returns false when the client is not keeping up. */
  write(text: string): boolean {
    if (this.socket.destroyed) return false
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

  /** Calls back once the buffer is below the high-water mark again. */
  onceDrained(callback: () => void): void {
    if (this.socket.destroyed) return
    if (this.buffered < this.highWaterMark) {
      setImmediate(callback)
      return
    }
    const check = (): void => {
      if (this.socket.destroyed) return
      if (this.buffered < this.highWaterMark) callback()
      else this.socket.once('drain', check)
    }
    this.socket.once('drain', check)
  }

  flush(): void {
    this.scheduled = false
    if (this.chunks.length === 0 || this.socket.destroyed) return
    const text = this.chunks.length === 1 ? this.chunks[0] : this.chunks.join('')
    this.chunks = []
    this.queuedBytes = 0
    this.socket.write(text)
  }

  /** Flushes and half-closes: the client reads what was sent, then sees the end. */
  end(): void {
    this.flush()
    this.socket.end()
  }
}
