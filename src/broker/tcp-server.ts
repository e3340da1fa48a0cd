/**
 * The client TCP port: JSON lines and the PAD text protocol on one port, told apart by the
 * first bytes the client sends.
 *
 * Closing is graceful: the server stops reading requests, answers those in flight (their
 * publishes commit or fail within the commit timeout), sends what is buffered, and only then
 * closes the connections; so no client loses the ack of a message the node stored.
 */
import net from 'node:net'
import {JsonLinesSession} from './json-lines-session.js'
import {PadPublisherSession, PadSubscriberSession} from './pad-session.js'
import type {SessionContext} from './session-context.js'

const PREAMBLE_BYTES = 7
/** Longest wait for the requests in flight at close (a publish gives up at its commit timeout). */
const DRAIN_MS = 5000
/** Longest wait for clients to take what was sent before their connections are cut. */
const END_MS = 1000

export interface Session {
  receive(chunk: Buffer): void
  /** Stops reading requests; resolves once every request read so far is answered. */
  drain(): Promise<void>
  /** Sends what is buffered, then closes the connection. */
  end(): void
}

export class TcpServer {
  private readonly server: net.Server
  private readonly sockets = new Set<net.Socket>()
  private readonly sessions = new Map<net.Socket, Session>()
  private closing = false

  constructor(private readonly context: SessionContext) {
    this.server = net.createServer((socket) => this.accept(socket))
  }

  get connections(): number {
    return this.sockets.size
  }

  listen(port: number, host: string): Promise<void> {
    return listen(this.server, port, host)
  }

  /** Stops accepting, answers the requests in flight, then closes every connection. */
  async close(): Promise<void> {
    this.closing = true
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const socket of this.sockets) if (!this.sessions.has(socket)) socket.destroy()
    await within(Promise.all([...this.sessions.values()].map((session) => session.drain())), DRAIN_MS)
    for (const session of this.sessions.values()) session.end()
    await within(closed, END_MS)
    for (const socket of this.sockets) socket.destroy()
    await closed
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy()
      return
    }
    this.sockets.add(socket)
    socket.setNoDelay(true)
    socket.on('close', () => {
      this.sockets.delete(socket)
      this.sessions.delete(socket)
    })
    socket.on('error', (error) => this.context.logger.debug('client socket error', {error: error.message}))
    let session: Session | null = null
    let head: Buffer = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      if (session) {
        session.receive(chunk)
        return
      }
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk])
      const chosen = this.choose(socket, head)
      if (chosen === 'wait') return
      session = chosen.session
      this.sessions.set(socket, session)
      session.receive(chosen.rest)
    })
  }

  /** Picks the protocol from the first bytes, or waits for more of a possible preamble. */
  private choose(socket: net.Socket, head: Buffer): 'wait' | {session: Session; rest: Buffer} {
    const start = head.toString('latin1', 0, PREAMBLE_BYTES)
    if (start === 'PUBLISH') {
      return {session: new PadPublisherSession(socket, this.context), rest: head.subarray(PREAMBLE_BYTES)}
    }
    if (start === 'SUBSCRI') {
      return {session: new PadSubscriberSession(socket, this.context), rest: head}
    }
    if (head.length < PREAMBLE_BYTES && ('PUBLISH'.startsWith(start) || 'SUBSCRI'.startsWith(start))) return 'wait'
    return {session: new JsonLinesSession(socket, this.context), rest: head}
  }
}

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([promise.catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))])
  clearTimeout(timer)
}

/** Listens, turning "address in use" into an error that names the port. */
export function listen(server: net.Server, port: number, host: string, what = 'TCP'): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      if (error.code === 'EADDRINUSE') reject(new Error(`${what} port ${port} on ${host} is already in use`))
      else if (error.code === 'EACCES') reject(new Error(`no permission to listen on ${what} port ${port} on ${host}`))
      else if (error.code === 'EADDRNOTAVAIL') reject(new Error(`address ${host} is not available on this machine (${what} port ${port})`))
      else reject(error)
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
}
