/**
 * Raft RPC between nodes over TCP (port 6000+i): one outbound PeerLink per peer for what we
 * send, and the peers' own outbound connections, accepted here, for what we receive. Every
 * frame passes the fault filter on its way out and on its way in.
 */
import net from 'node:net'
import type {Message} from '../raft/index.js'
import {FaultFilter} from './fault-filter.js'
import {FRAME_KIND, FrameReader, frame, type FrameKind} from './frames.js'
import {decodeMessage, encodeMessage} from './message-codec.js'
import {PeerLink} from './peer-link.js'

export interface PeerAddress {
  host: string
  port: number
}

/** What a node tells its peers about itself when it connects. */
export interface NodeCard {
  index: number
  node_id: string
  tcp_port: number
  http_port: number
  cluster: string
}

export interface TransportHandlers {
  raft(from: number, message: Message): void
  forward(from: number, payload: Buffer): void
  forwardResult(from: number, payload: Buffer): void
  /** Our connection to `peer` closed: what was queued for it, or in flight, may be lost. */
  peerDisconnected?(peer: number): void
}

export interface TransportLogger {
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
}

export interface TransportOptions {
  self: NodeCard
  peers: PeerAddress[]
  listen: PeerAddress
  handlers: TransportHandlers
  logger: TransportLogger
  faults?: FaultFilter
  maxQueuedBytesPerPeer?: number
}

export class RaftTransport {
  readonly faults: FaultFilter
  private readonly server: net.Server
  private readonly links = new Map<number, PeerLink>()
  private readonly inbound = new Set<net.Socket>()
  private readonly cards = new Map<number, NodeCard>()
  droppedByFaults = 0

  constructor(private readonly options: TransportOptions) {
    this.faults = options.faults ?? new FaultFilter()
    this.server = net.createServer((socket) => this.accept(socket))
  }

  /** Starts listening, then connects to every peer. */
  async start(): Promise<void> {
    const {listen} = this.options
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void =>
        reject(error.code === 'EADDRINUSE' ? new Error(`Raft port ${listen.port} on ${listen.host} is already in use`) : error)
      this.server.once('error', onError)
      this.server.listen(listen.port, listen.host, () => {
        this.server.off('error', onError)
        resolve()
      })
    })
    const hello = frame(FRAME_KIND.hello, Buffer.from(JSON.stringify(this.options.self)))
    for (const [index, address] of this.options.peers.entries()) {
      if (index === this.options.self.index) continue
      this.links.set(
        index,
        new PeerLink({
          host: address.host,
          port: address.port,
          hello,
          maxQueuedBytes: this.options.maxQueuedBytesPerPeer ?? 64 * 1024 * 1024,
          minBackoffMs: 20,
          maxBackoffMs: 1000,
          onDisconnected: () => this.options.handlers.peerDisconnected?.(index),
        }),
      )
    }
  }

  async close(): Promise<void> {
    for (const link of this.links.values()) link.close()
    for (const socket of this.inbound) socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  /** What each peer said about itself, once it has connected to us. */
  peerCard(index: number): NodeCard | undefined {
    return index === this.options.self.index ? this.options.self : this.cards.get(index)
  }

  isConnected(peer: number): boolean {
    return this.links.get(peer)?.isConnected ?? false
  }

  /** Sends what is queued for every peer now, instead of at the end of this turn of the event loop. */
  flush(): void {
    for (const link of this.links.values()) link.flush()
  }

  sendRaft(message: Message): void {
    this.sendFrame(message.to, FRAME_KIND.raft, encodeMessage(message))
  }

  /** False when the frame surely did not leave (no connection, or the queue is full). */
  sendForward(to: number, payload: Uint8Array): boolean {
    return this.sendFrame(to, FRAME_KIND.forward, payload)
  }

  sendForwardResult(to: number, payload: Uint8Array): void {
    this.sendFrame(to, FRAME_KIND.forwardResult, payload)
  }

  stats(): Record<number, {connected: boolean; dropped: number; sent: number}> {
    const out: Record<number, {connected: boolean; dropped: number; sent: number}> = {}
    for (const [peer, link] of this.links) out[peer] = {connected: link.isConnected, dropped: link.dropped, sent: link.sentFrames}
    return out
  }

  /** False when the frame surely did not leave; a frame lost to an injected fault counts as sent. */
  private sendFrame(to: number, kind: FrameKind, payload: Uint8Array): boolean {
    const link = this.links.get(to)
    if (!link) return false
    const verdict = this.faults.judge(to)
    if (verdict.kind === 'drop') {
      this.droppedByFaults++
      return true
    }
    const data = frame(kind, payload)
    if (verdict.kind === 'delay') {
      setTimeout(() => link.send(data), verdict.ms)
      return true
    }
    return link.send(data)
  }

  private accept(socket: net.Socket): void {
    this.inbound.add(socket)
    socket.setNoDelay(true)
    const reader = new FrameReader()
    let from: number | null = null
    socket.on('close', () => this.inbound.delete(socket))
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, (kind, payload) => {
          if (from === null) {
            from = this.greet(kind, payload)
            if (from === null) socket.destroy()
            return
          }
          this.receive(from, kind, payload)
        })
      } catch (error) {
        this.options.logger.warn('dropping a Raft connection that sent a bad frame', {from, error: (error as Error).message})
        socket.destroy()
      }
    })
  }

  /** Checks the hello frame; returns the peer's index, or null to refuse it. */
  private greet(kind: number, payload: Buffer): number | null {
    if (kind !== FRAME_KIND.hello) {
      this.options.logger.warn('refusing a Raft connection that did not say hello')
      return null
    }
    let card: NodeCard
    try {
      card = JSON.parse(payload.toString('utf8')) as NodeCard
    } catch {
      this.options.logger.warn('refusing a Raft connection with a malformed hello')
      return null
    }
    const {index} = card
    if (!Number.isInteger(index) || index < 0 || index >= this.options.peers.length || index === this.options.self.index) {
      this.options.logger.warn('refusing a Raft connection from an unknown member', {index})
      return null
    }
    if (card.cluster !== this.options.self.cluster) {
      this.options.logger.warn('refusing a Raft connection from another cluster', {index, cluster: card.cluster})
      return null
    }
    this.cards.set(index, card)
    return index
  }

  private receive(from: number, kind: number, payload: Buffer): void {
    const verdict = this.faults.judge(from)
    if (verdict.kind === 'drop') {
      this.droppedByFaults++
      return
    }
    const deliver = (): void => this.dispatch(from, kind, payload)
    if (verdict.kind === 'delay') setTimeout(deliver, verdict.ms)
    else deliver()
  }

  private dispatch(from: number, kind: number, payload: Buffer): void {
    const {handlers} = this.options
    try {
      if (kind === FRAME_KIND.raft) {
        const message = decodeMessage(payload)
        if (message.from !== from) throw new Error(`message claims to be from ${message.from}`)
        handlers.raft(from, message)
      } else if (kind === FRAME_KIND.forward) handlers.forward(from, payload)
      else if (kind === FRAME_KIND.forwardResult) handlers.forwardResult(from, payload)
      else throw new Error(`unknown frame kind ${kind}`)
    } catch (error) {
      this.options.logger.warn('ignoring a bad Raft frame', {from, error: (error as Error).message})
    }
  }
}
