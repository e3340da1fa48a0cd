/**
 * Raft RPC between nodes over TCP (port 6000+i): one outbound PeerLink per peer for what we
 * send, and the peers' own outbound connections, accepted here, for what we receive. Every
 * frame passes the fault filter on its way out and on its way in.
 *
 * Only members count: an accepted connection must authenticate (peer-auth.ts) within the
 * handshake timeout, with frames no larger than a hello until it has, and nothing it sent
 * before reaches the Raft driver. All of that happens once per connection; frames after it
 * take the same path as before.
 *
 * The peer set is dynamic (membership changes, #18): the node says whom to dial (setPeers: the
 * members of its configuration, at their directory addresses) and links to anyone else close.
 * Inbound, any node id that authenticates is accepted: one in the directory from the host the
 * directory lists, one not in it (a node joining; a member of the cluster a node that just joined
 * has not heard of yet) from the host its card names.
 */
import net from 'node:net'
import type {Message} from '../raft/index.js'
import {FaultFilter} from './fault-filter.js'
import {FRAME_KIND, FrameReader, MAX_FRAME_BYTES, frame, type FrameKind} from './frames.js'
import {LogLimiter} from './log-limiter.js'
import {decodeMessage, encodeMessage} from './message-codec.js'
import {
  decodeChallenge,
  encodeChallenge,
  encodeHello,
  encodeWelcome,
  newNonce,
  peerKey,
  verifyHello,
  verifyWelcome,
  type HandshakeParties,
  type NodeCard,
  type PeerKey,
} from './peer-auth.js'
import {PeerLink, type HandshakeAnswer} from './peer-link.js'
import {decodeSnapshotFrame, SNAPSHOT_FRAME_KIND, snapshotFrameKind, type SnapshotFrame} from './snapshot-frames.js'
import type {PeerTransport} from './peer-transport.js'

export type {NodeCard} from './peer-auth.js'

export interface PeerAddress {
  host: string
  port: number
}

/** The bounds on the Raft port, from the node's limits (src/broker/limits.ts). */
export interface RaftPortLimits {
  maxRaftConnections: number
  maxHelloBytes: number
  handshakeTimeoutMs: number
}

export interface TransportHandlers {
  raft(from: number, message: Message): void
  forward(from: number, payload: Buffer): void
  forwardResult(from: number, payload: Buffer): void
  /** A frame of a snapshot stream, decoded (its values are the handler's to check). */
  snapshot(from: number, frame: SnapshotFrame): void
  /** Our connection to `peer` closed: what was queued for it, or in flight, may be lost. */
  peerDisconnected?(peer: number): void
  /** `card` authenticated on an inbound connection (its card may be new to this node). */
  peerAuthenticated?(card: NodeCard): void
}

export interface TransportLogger {
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
}

export interface TransportOptions {
  self: NodeCard
  /** Whom to dial at start, by node id (setPeers changes it). */
  peers: ReadonlyMap<number, PeerAddress>
  /** The host the member directory lists for a node id, if it holds it: inbound connections of that id must come from it. */
  hostOf: (id: number) => string | undefined
  listen: PeerAddress
  handlers: TransportHandlers
  logger: TransportLogger
  /** The cluster's secret; null refuses every connection (a node without peers needs none). */
  secret: string | null
  limits: RaftPortLimits
  faults?: FaultFilter
  maxQueuedBytesPerPeer?: number
}

export class RaftTransport implements PeerTransport {
  readonly faults: FaultFilter
  private readonly server: net.Server
  private readonly links = new Map<number, PeerLink>()
  private readonly inbound = new Set<net.Socket>()
  private readonly cards = new Map<number, NodeCard>()
  /** The authenticated inbound connection of each member: a newer one replaces it. */
  private readonly memberSockets = new Map<number, net.Socket>()
  private readonly key: PeerKey | null
  private readonly limiter: LogLimiter
  droppedByFaults = 0
  refusedConnections = 0
  private targets: Map<number, PeerAddress>
  private started = false

  constructor(private readonly options: TransportOptions) {
    this.faults = options.faults ?? new FaultFilter()
    this.key = options.secret === null ? null : peerKey(options.secret)
    this.limiter = new LogLimiter(options.logger)
    this.targets = new Map(options.peers)
    this.server = net.createServer((socket) => this.accept(socket))
    // A listening socket error after start (not a bind error) must not end the process.
    this.server.on('error', (error) => this.limiter.warn('server', 'the Raft port reported an error', {error: error.message}))
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
    this.started = true
    this.setPeers(this.targets)
  }

  /**
   * Dials exactly these peers (by node id; this node's own id is skipped): a link to a peer
   * not among them closes, a peer whose address changed is dialed anew.
   */
  setPeers(peers: ReadonlyMap<number, PeerAddress>): void {
    this.targets = new Map(peers)
    if (!this.started) return
    for (const [index, link] of this.links) {
      const want = peers.get(index)
      if (want && want.host === link.host && want.port === link.port) continue
      link.close()
      this.links.delete(index)
      this.options.handlers.peerDisconnected?.(index)
    }
    for (const [index, address] of peers) {
      if (index === this.options.self.index || this.links.has(index)) continue
      this.links.set(index, this.dial(index, address))
    }
  }

  /** The peers dialed now, by node id. */
  peers(): ReadonlyMap<number, PeerAddress> {
    return this.targets
  }

  private dial(index: number, address: PeerAddress): PeerLink {
    const {limits} = this.options
    return new PeerLink({
          host: address.host,
          port: address.port,
          answer: (challenge) => this.answer(index, challenge),
          maxHandshakeFrameBytes: limits.maxHelloBytes,
          handshakeTimeoutMs: limits.handshakeTimeoutMs,
          maxQueuedBytes: this.options.maxQueuedBytesPerPeer ?? 64 * 1024 * 1024,
          minBackoffMs: 20,
          maxBackoffMs: 1000,
          onDisconnected: () => this.options.handlers.peerDisconnected?.(index),
          onRefused: (reason) =>
            this.limiter.warn(`dial:${index}`, 'could not authenticate to a Raft peer; retrying', {peer: index, address: `${address.host}:${address.port}`, reason}),
          onCallbackError: (error) => this.limiter.warn(`link:${index}`, 'a Raft link callback failed', {peer: index, error: error.message}),
        })
  }

  async close(): Promise<void> {
    this.started = false
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

  bytesSent(): number {
    let total = 0
    for (const link of this.links.values()) total += link.sentBytes
    return total
  }

  /** Sends what is queued for every peer now, instead of at the end of this turn of the event loop. */
  flush(): void {
    for (const link of this.links.values()) link.flush()
  }

  sendRaft(message: Message): void {
    let payload: Buffer
    try {
      payload = encodeMessage(message)
    } catch (error) {
      this.limiter.warn('encode', 'not sending a Raft message that cannot be encoded', {to: message.to, type: message.type, error: (error as Error).message})
      return
    }
    this.sendFrame(message.to, FRAME_KIND.raft, payload)
  }

  /** False when the frame surely did not leave (no connection, or the queue is full). */
  sendForward(to: number, payload: Uint8Array): boolean {
    return this.sendFrame(to, FRAME_KIND.forward, payload)
  }

  sendForwardResult(to: number, payload: Uint8Array): void {
    this.sendFrame(to, FRAME_KIND.forwardResult, payload)
  }

  sendSnapshot(to: number, kind: SnapshotFrame['kind'], payload: Buffer): boolean {
    return this.sendFrame(to, SNAPSHOT_FRAME_KIND[kind], payload)
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

  /** This node's hello for one challenge from peer `index`, or why it will not answer it. */
  private answer(index: number, challenge: Buffer): HandshakeAnswer {
    if (this.key === null) return {refuse: 'this node has no secret to prove'}
    const acceptorNonce = decodeChallenge(challenge)
    if (typeof acceptorNonce === 'string') return {refuse: acceptorNonce}
    const {self} = this.options
    const dialerNonce = newNonce()
    const parties: HandshakeParties = {cluster: self.cluster, dialer: self.index, dialerNonce, acceptor: index, acceptorNonce}
    const key = this.key
    return {hello: encodeHello(key, self, index, acceptorNonce, dialerNonce), welcome: (payload) => verifyWelcome(key, parties, payload)}
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => {})
    const remote = socket.remoteAddress
    const {limits} = this.options
    if (this.inbound.size >= limits.maxRaftConnections) {
      this.refuse(socket, 'cap', `refusing a Raft connection: already ${this.inbound.size} open, the most allowed`, remote)
      return
    }
    if (this.key === null) {
      this.refuse(socket, 'no-secret', 'refusing a Raft connection: this node has no secret (--token-file), so it accepts no peers', remote)
      return
    }
    const key = this.key
    this.inbound.add(socket)
    socket.setNoDelay(true)
    const acceptorNonce = newNonce()
    const reader = new FrameReader(limits.maxHelloBytes)
    let from: number | null = null
    const timer = setTimeout(
      () => this.refuse(socket, 'timeout', `refusing a Raft connection that did not authenticate within ${limits.handshakeTimeoutMs} ms`, remote),
      limits.handshakeTimeoutMs,
    )
    socket.on('close', () => {
      clearTimeout(timer)
      this.inbound.delete(socket)
      if (from !== null && this.memberSockets.get(from) === socket) this.memberSockets.delete(from)
    })
    const greet = (kind: number, payload: Buffer): void => {
      if (kind !== FRAME_KIND.hello) {
        this.refuse(socket, 'no-hello', `refusing a Raft connection that sent frame kind ${kind} before authenticating`, remote)
        return
      }
      const verdict = verifyHello({key, self: this.options.self, hostOf: this.options.hostOf, acceptorNonce, remoteAddress: remote}, payload)
      if (!verdict.ok) {
        this.refuse(socket, `hello:${verdict.kind}`, `refusing a Raft connection: ${verdict.reason}`, remote)
        return
      }
      clearTimeout(timer)
      from = verdict.card.index
      this.cards.set(from, verdict.card)
      const previous = this.memberSockets.get(from)
      this.memberSockets.set(from, socket)
      previous?.destroy()
      reader.maxFrameBytes = MAX_FRAME_BYTES
      socket.write(frame(FRAME_KIND.welcome, encodeWelcome(key, verdict.parties)))
      try {
        this.options.handlers.peerAuthenticated?.(verdict.card)
      } catch (error) {
        this.limiter.warn('authenticated', 'a Raft peer handler failed', {from, error: (error as Error).message})
      }
    }
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, (kind, payload) => {
          if (socket.destroyed) return
          if (from === null) greet(kind, payload)
          else this.receive(from, socket, kind, payload)
        })
      } catch (error) {
        if (from === null) this.refuse(socket, 'bad-frame', `refusing a Raft connection: ${(error as Error).message}`, remote)
        else this.dropMember(socket, from, error as Error)
      }
    })
    socket.write(frame(FRAME_KIND.challenge, encodeChallenge(acceptorNonce)))
  }

  /** Closes a connection that is not (yet) a member's, with one log line per kind of refusal at most so often. */
  private refuse(socket: net.Socket, kind: string, message: string, remote: string | undefined): void {
    if (socket.destroyed) return
    this.refusedConnections++
    this.limiter.warn(kind, message, {remote})
    socket.destroy()
  }

  /** A member's connection sent something that is no frame of ours: that connection goes, the member may reconnect. */
  private dropMember(socket: net.Socket, from: number, error: Error): void {
    if (socket.destroyed) return
    this.limiter.warn(`bad-frame:${from}`, 'dropping a Raft connection that sent a bad frame', {from, error: error.message})
    socket.destroy()
  }

  private receive(from: number, socket: net.Socket, kind: number, payload: Buffer): void {
    const verdict = this.faults.judge(from)
    if (verdict.kind === 'drop') {
      this.droppedByFaults++
      return
    }
    const deliver = (): void => this.dispatch(from, socket, kind, payload)
    if (verdict.kind === 'delay') setTimeout(deliver, verdict.ms)
    else deliver()
  }

  /**
   * Hands one frame of an authenticated member to the driver. A frame that does not decode
   * closes that member's connection (it reconnects); what the driver's handlers throw is
   * logged, never thrown into the socket's event handler.
   */
  private dispatch(from: number, socket: net.Socket, kind: number, payload: Buffer): void {
    const {handlers} = this.options
    let message: Message | null = null
    let snapshot: SnapshotFrame | null = null
    try {
      const snapshotKind = snapshotFrameKind(kind)
      if (kind === FRAME_KIND.raft) {
        message = decodeMessage(payload)
        if (message.from !== from) throw new Error(`message claims to be from ${message.from}`)
      } else if (snapshotKind !== null) {
        snapshot = decodeSnapshotFrame(snapshotKind, payload)
      } else if (kind !== FRAME_KIND.forward && kind !== FRAME_KIND.forwardResult) {
        throw new Error(`unexpected frame kind ${kind}`)
      }
    } catch (error) {
      this.dropMember(socket, from, error as Error)
      return
    }
    try {
      if (message !== null) handlers.raft(from, message)
      else if (snapshot !== null) handlers.snapshot(from, snapshot)
      else if (kind === FRAME_KIND.forward) handlers.forward(from, payload)
      else handlers.forwardResult(from, payload)
    } catch (error) {
      this.limiter.warn(`handler:${kind}`, 'a Raft frame could not be handled', {from, kind, error: (error as Error).message})
    }
  }
}
