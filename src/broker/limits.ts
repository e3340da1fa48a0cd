/**
 * Every bound a node puts on what clients and peers may make it hold or do, in one place.
 * Each has a `pad-cli node` flag; the defaults follow NATS's where it has one (max payload
 * 1 MiB, max pending 64 MiB per client, 2 s to authenticate).
 */

export interface NodeLimits {
  /** Largest message body in bytes (`--max-body`). */
  maxBodyBytes: number
  /** Open client TCP connections (JSON lines and PAD); more are refused with one error line. */
  maxClientConnections: number
  /** Open connections on the Raft port, authenticated or not. */
  maxRaftConnections: number
  /** Subscriptions one client connection may hold at once. */
  maxSubscriptionsPerConnection: number
  /** Topic patterns in one subscription. */
  maxPatternsPerSubscription: number
  /** Largest hello frame on the Raft port, before the peer has proved who it is. */
  maxHelloBytes: number
  /** How long a Raft connection may take to authenticate before it is closed. */
  handshakeTimeoutMs: number
  /**
   * A client connection that holds no subscription and has sent nothing for this long is
   * closed; a subscriber waiting for messages is never idle.
   */
  idleTimeoutMs: number
  /** Bytes that may wait to be written to one subscriber (TCP or SSE) before it is cut off as too slow. */
  maxPendingBytes: number
  /** Body bytes in one `/messages` page: the page ends early rather than grow past this. */
  maxPageBytes: number
}

export const DEFAULT_LIMITS: NodeLimits = {
  maxBodyBytes: 1024 * 1024,
  maxClientConnections: 4096,
  maxRaftConnections: 64,
  maxSubscriptionsPerConnection: 1024,
  maxPatternsPerSubscription: 256,
  maxHelloBytes: 4096,
  handshakeTimeoutMs: 2000,
  idleTimeoutMs: 5 * 60_000,
  maxPendingBytes: 64 * 1024 * 1024,
  maxPageBytes: 8 * 1024 * 1024,
}

/** Longest JSON line a client may send: a body escaped in JSON can need twice its size. */
export function maxLineBytes(limits: Pick<NodeLimits, 'maxBodyBytes'>): number {
  return limits.maxBodyBytes * 2 + 4096
}

/** Shortest secret accepted for the admin API and peer authentication. */
export const MIN_TOKEN_CHARS = 16
