/**
 * The client TCP port: JSON lines and the PAD text protocol on one port, told apart by the
 * first bytes the client sends.
 */
import net from 'node:net'
import {JsonLinesSession} from './json-lines-session.js'
import {PadPublisherSession, PadSubscriberSession} from './pad-session.js'
import type {SessionContext} from './session-context.js'

const PREAMBLE_BYTES = 7

type Session = {receive(chunk: Buffer): void}

export class TcpServer {
  private readonly server: net.Server
  private readonly sockets = new Set<net.Socket>()

  constructor(private readonly context: SessionContext) {
    this.server = net.createServer((socket) => this.accept(socket))
  }

  get connections(): number {
    return this.sockets.size
  }

  listen(port: number, host: string): Promise<void> {
    return listen(this.server, port, host)
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const socket of this.sockets) socket.destroy()
    await closed
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket)
    socket.setNoDelay(true)
    socket.on('close', () => this.sockets.delete(socket))
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
