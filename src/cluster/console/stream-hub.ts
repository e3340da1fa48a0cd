/**
 * The browsers following GET /api/stream: at most MAX_STREAM_CLIENTS at once, each sent the
 * same events. A client that does not read (its socket buffer passes MAX_BUFFERED_BYTES) is
 * dropped rather than buffered without limit; its page reconnects by itself (EventSource) and
 * starts again from a hello. A comment line every HEARTBEAT_MS keeps proxies from closing a
 * quiet stream. `active` tells the samplers when someone is watching at all.
 */
import type http from 'node:http'
import type {ConsoleStreamEvent} from '../../api/console.js'

const MAX_BUFFERED_BYTES = 512 * 1024
const HEARTBEAT_MS = 15_000

export class StreamHub {
  private readonly clients = new Set<http.ServerResponse>()
  private heartbeat: NodeJS.Timeout | null = null

  constructor(
    private readonly maxClients: number,
    /** Called when the first client comes (true) and when the last one goes (false). */
    private readonly watching: (on: boolean) => void,
  ) {}

  get size(): number {
    return this.clients.size
  }

  /** Takes the response as a stream and sends `hello` first; false when there are too many clients. */
  add(response: http.ServerResponse, hello: () => ConsoleStreamEvent): boolean {
    if (this.clients.size >= this.maxClients) return false
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    response.write('retry: 1000\n\n')
    this.clients.add(response)
    response.on('close', () => this.remove(response))
    response.on('error', () => this.remove(response))
    if (this.clients.size === 1) {
      this.heartbeat = setInterval(() => this.writeAll(': beat\n\n'), HEARTBEAT_MS)
      this.heartbeat.unref()
      this.watching(true)
    }
    this.write(response, frame(hello()))
    return true
  }

  send(event: ConsoleStreamEvent): void {
    if (this.clients.size > 0) this.writeAll(frame(event))
  }

  closeAll(): void {
    for (const client of [...this.clients]) {
      client.end()
      this.remove(client)
    }
  }

  private writeAll(text: string): void {
    for (const client of [...this.clients]) this.write(client, text)
  }

  private write(client: http.ServerResponse, text: string): void {
    if (client.destroyed) return this.remove(client)
    // A client that has not taken what we sent before is too slow: drop it, keep no backlog.
    if (client.writableLength > MAX_BUFFERED_BYTES) {
      client.destroy()
      return this.remove(client)
    }
    client.write(text)
  }

  private remove(client: http.ServerResponse): void {
    if (!this.clients.delete(client)) return
    if (this.clients.size === 0) {
      if (this.heartbeat) clearInterval(this.heartbeat)
      this.heartbeat = null
      this.watching(false)
    }
  }
}

/** One SSE event: its name and its data on one line (JSON has no raw newlines). */
function frame(event: ConsoleStreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`
}
