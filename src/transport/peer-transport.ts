/**
 * What a broker node needs of its Raft transport. RaftTransport (TCP, authenticated) is the one
 * every node runs; InMemoryTransport carries the same traffic between nodes of one process, for
 * tests (see src/broker/node-seams.ts).
 */
import type {Message} from '../raft/index.js'
import type {FaultFilter} from './fault-filter.js'
import type {NodeCard} from './peer-auth.js'
import type {SnapshotFrame} from './snapshot-frames.js'

export interface PeerTransport {
  /** Faults injected on traffic to and from each peer (the node's /admin/faults). */
  readonly faults: FaultFilter
  start(): Promise<void>
  close(): Promise<void>
  /** Dials exactly these peers (node id -> Raft address) from now on; links to others close. */
  setPeers(peers: ReadonlyMap<number, {host: string; port: number}>): void
  /** What each peer said about itself, once it has connected to us. */
  peerCard(index: number): NodeCard | undefined
  isConnected(peer: number): boolean
  /** Bytes of frames sent to all peers since start, framing included: what catch-up costs the network. */
  bytesSent(): number
  /** Sends what is queued for every peer now. */
  flush(): void
  sendRaft(message: Message): void
  /** False when the frame surely did not leave (no connection, or the queue is full). */
  sendForward(to: number, payload: Uint8Array): boolean
  sendForwardResult(to: number, payload: Uint8Array): void
  /** A frame of the snapshot stream, encoded (snapshot-frames.ts); false when it surely did not leave. */
  sendSnapshot(to: number, kind: SnapshotFrame['kind'], payload: Buffer): boolean
}
