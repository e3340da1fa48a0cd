/**
 * Raft traffic between the nodes of one process, as hashicorp/raft's InmemTransport: a test
 * runs three broker nodes in one process on one InMemoryNetwork instead of three processes
 * talking TCP. Delivery is asynchronous (what is sent in one turn of the event loop arrives in
 * a later one, in order per pair), Raft messages go through the wire codec (the receiver gets
 * its own copy, as over TCP), and every message passes the fault filters on its way out and in,
 * as RaftTransport's frames do. There is no handshake: a started member is connected to every
 * other started member.
 */
import type {Message} from '../raft/index.js'
import {FaultFilter} from './fault-filter.js'
import {FRAME_HEADER_BYTES} from './frames.js'
import {decodeMessage, encodeMessage} from './message-codec.js'
import type {NodeCard} from './peer-auth.js'
import type {PeerTransport} from './peer-transport.js'
import {decodeSnapshotFrame, type SnapshotFrame} from './snapshot-frames.js'
import type {TransportHandlers, TransportLogger, TransportOptions} from './raft-transport.js'

type Delivery = {kind: 'raft'; payload: Buffer} | {kind: 'forward' | 'forwardResult'; payload: Buffer} | {kind: 'snapshot'; frame: SnapshotFrame['kind']; payload: Buffer}

/** The members of one in-process cluster, by index. */
export class InMemoryNetwork {
  private readonly members = new Map<number, InMemoryTransport>()

  /** A transport for the node these options describe, on this network. */
  transport(options: Pick<TransportOptions, 'self' | 'handlers' | 'faults' | 'logger'>): InMemoryTransport {
    return new InMemoryTransport(this, options.self, options.handlers, options.logger, options.faults ?? new FaultFilter())
  }

  /** @internal */
  join(member: InMemoryTransport): void {
    this.members.set(member.card.index, member)
  }

  /** @internal The member leaves: every other loses its connection to it. */
  leave(member: InMemoryTransport): void {
    if (this.members.get(member.card.index) !== member) return
    this.members.delete(member.card.index)
    for (const other of this.members.values()) other.peerLeft(member.card.index)
  }

  /** @internal */
  member(index: number): InMemoryTransport | undefined {
    return this.members.get(index)
  }
}

export class InMemoryTransport implements PeerTransport {
  droppedByFaults = 0
  private sentBytes = 0

  constructor(
    private readonly network: InMemoryNetwork,
    readonly card: NodeCard,
    private readonly handlers: TransportHandlers,
    private readonly logger: TransportLogger,
    readonly faults: FaultFilter,
  ) {}

  start(): Promise<void> {
    this.network.join(this)
    return Promise.resolve()
  }

  close(): Promise<void> {
    this.network.leave(this)
    return Promise.resolve()
  }

  /** No links to open or close: every started member of the network reaches every other. */
  setPeers(): void {}

  peerCard(index: number): NodeCard | undefined {
    return index === this.card.index ? this.card : this.network.member(index)?.card
  }

  isConnected(peer: number): boolean {
    return peer !== this.card.index && this.network.member(peer) !== undefined && this.network.member(this.card.index) === this
  }

  /** As RaftTransport counts them: each payload in its frame. */
  bytesSent(): number {
    return this.sentBytes
  }

  /** Nothing waits to be flushed: every message is on its way once sent. */
  flush(): void {}

  sendRaft(message: Message): void {
    let payload: Buffer
    try {
      payload = encodeMessage(message)
    } catch (error) {
      this.logger.warn('not sending a Raft message that cannot be encoded', {to: message.to, type: message.type, error: (error as Error).message})
      return
    }
    this.send(message.to, {kind: 'raft', payload})
  }

  sendForward(to: number, payload: Uint8Array): boolean {
    return this.send(to, {kind: 'forward', payload: Buffer.from(payload)})
  }

  sendForwardResult(to: number, payload: Uint8Array): void {
    this.send(to, {kind: 'forwardResult', payload: Buffer.from(payload)})
  }

  sendSnapshot(to: number, kind: SnapshotFrame['kind'], payload: Buffer): boolean {
    // A copy, as over TCP: the receiver must not share the sender's buffer.
    return this.send(to, {kind: 'snapshot', frame: kind, payload: Buffer.from(payload)})
  }

  /** @internal */
  peerLeft(peer: number): void {
    this.handlers.peerDisconnected?.(peer)
  }

  /** As RaftTransport.sendFrame: false when the message surely did not leave. */
  private send(to: number, delivery: Delivery): boolean {
    if (!this.isConnected(to)) return false
    const verdict = this.faults.judge(to)
    if (verdict.kind === 'drop') {
      this.droppedByFaults++
      return true
    }
    this.sentBytes += FRAME_HEADER_BYTES + delivery.payload.length
    const from = this.card.index
    const go = (): void => this.network.member(to)?.receive(from, delivery)
    if (verdict.kind === 'delay') setTimeout(go, verdict.ms)
    else setImmediate(go)
    return true
  }

  private receive(from: number, delivery: Delivery): void {
    const verdict = this.faults.judge(from)
    if (verdict.kind === 'drop') {
      this.droppedByFaults++
      return
    }
    if (verdict.kind === 'delay') setTimeout(() => this.dispatch(from, delivery), verdict.ms)
    else this.dispatch(from, delivery)
  }

  private dispatch(from: number, delivery: Delivery): void {
    if (this.network.member(this.card.index) !== this) return
    // As RaftTransport does: what a handler throws is logged, never thrown out of a timer.
    try {
      if (delivery.kind === 'raft') this.handlers.raft(from, decodeMessage(delivery.payload))
      else if (delivery.kind === 'snapshot') this.handlers.snapshot(from, decodeSnapshotFrame(delivery.frame, delivery.payload))
      else if (delivery.kind === 'forward') this.handlers.forward(from, delivery.payload)
      else this.handlers.forwardResult(from, delivery.payload)
    } catch (error) {
      this.logger.warn('a Raft message could not be handled', {from, kind: delivery.kind, error: (error as Error).message})
    }
  }
}
