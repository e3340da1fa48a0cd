/**
 * The client TCP port: JSON lines and the PAD text protocol on one port, told apart by the
 * first bytes the client sends.
 *
 * Closing is graceful: the server stops reading requests, answers those in flight (their
 * publishes commit or fail within the commit timeout), sends what is buffered, and only then
 * closes the connections; so no client loses the ack of a message the node stored.
 *
 * No client can take the node down or hold it: connections past the limit are refused with
 * one error line; one that holds no subscription and sends nothing for the idle timeout is
 * closed; and an exception from a session's handlers closes that connection alone, with an
 * error line, never the process.
 */
import net from 'node:net'
// A connection refused or idle before it chose a protocol is told in JSON lines; PAD clients read it as a line.
import {JsonLinesSession, errorLine} from './json-lines-session.js'
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
  /** Sends a last error line in the session's protocol, then closes the connection. */
  fail(code: string, reason: string): void
  /** Whether the client is waiting for messages (a subscriber is never idle). */
  readonly subscribed: boolean
}

export class TcpServer {
  private readonly server: net.Server
  private readonly sockets = new Set<net.Socket>()
  private readonly sessions = new Map<net.Socket, Session>()
  /** When each connection last sent something (Date.now()). */
  private readonly lastHeard = new Map<net.Socket, number>()
  private idleSweep: NodeJS.Timeout | null = null
  private closing = false
  refusedConnections = 0
  idleClosed = 0
  failedSessions = 0

  constructor(private readonly context: SessionContext) {
    this.server = net.createServer((socket) => this.accept(socket))
    const idleMs = context.limits.idleTimeoutMs
    if (idleMs > 0 && Number.isFinite(idleMs)) {
      this.idleSweep = setInterval(() => this.sweepIdle(), Math.max(10, Math.min(1000, Math.floor(idleMs / 4))))
      this.idleSweep.unref()
    }
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
    if (this.idleSweep) clearInterval(this.idleSweep)
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
    socket.on('error', (error) => this.context.logger.debug('client socket error', {error: error.message}))
    const limit = this.context.limits.maxClientConnections
    if (this.sockets.size >= limit) {
      this.refusedConnections++
      if (this.refusedConnections === 1 || this.refusedConnections % 1000 === 0) {
        this.context.logger.warn('client connection refused: too many connections', {limit, refused: this.refusedConnections})
      }
      socket.end(errorLine('TOO_MANY_CONNECTIONS', `the node already has ${limit} client connections; try again later`))
      setTimeout(() => socket.destroy(), 1000).unref()
      return
    }
    this.sockets.add(socket)
    this.lastHeard.set(socket, Date.now())
    socket.setNoDelay(true)
    socket.on('close', () => {
      this.sockets.delete(socket)
      this.sessions.delete(socket)
      this.lastHeard.delete(socket)
    })
    let session: Session | null = null
    let head: Buffer = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      this.lastHeard.set(socket, Date.now())
      try {
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
      } catch (error) {
        this.failSession(socket, session, error)
      }
    })
  }

  /** A session's handler threw: that connection alone is told and closed. */
  private failSession(socket: net.Socket, session: Session | null, error: unknown): void {
    this.failedSessions++
    const message = error instanceof Error ? error.message : String(error)
    this.context.logger.error('client session failed; closing its connection', {remote: `${socket.remoteAddress}:${socket.remotePort}`, error: message})
    const reason = `internal error: ${message}; the connection is closed`
    try {
      if (session) session.fail('INTERNAL', reason)
      else socket.end(errorLine('INTERNAL', reason))
    } catch {
      // Failing to say why must not stop the close.
    }
    setTimeout(() => socket.destroy(), 1000).unref()
  }

  private sweepIdle(): void {
    try {
      this.closeIdle()
    } catch (error) {
      this.context.logger.error('idle sweep failed', {error: error instanceof Error ? error.message : String(error)})
    }
  }

  /** Closes connections that hold no subscription and have sent nothing for the idle timeout. */
  private closeIdle(): void {
    const idleMs = this.context.limits.idleTimeoutMs
    const now = Date.now()
    for (const [socket, heard] of this.lastHeard) {
      if (now - heard < idleMs) continue
      const session = this.sessions.get(socket)
      if (session?.subscribed) {
        this.lastHeard.set(socket, now)
        continue
      }
      this.idleClosed++
      this.lastHeard.delete(socket)
      const reason = `idle for ${idleMs} ms with no subscription; the connection is closed`
      if (session) session.fail('IDLE_TIMEOUT', reason)
      else {
        socket.end(errorLine('IDLE_TIMEOUT', reason))
        setTimeout(() => socket.destroy(), 1000).unref()
      }
    }
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
