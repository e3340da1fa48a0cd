/**
 * Which Raft messages a node reports on /events (`rpc` events): sampled at the source, so a
 * busy cluster's stream stays small. Elections are rare and are what a picture of the cluster
 * is about, so vote, vote-reply, prevote, prevote-reply, timeout-now and snapshot always pass.
 * Appends, heartbeats and their replies go by the hundred a second under load: each passes
 * only with a token of a bucket that refills at `ratePerSecond` (4 by default).
 *
 * One bucket per kind and destination. One bucket per node (or per kind) would hand every token
 * to whichever peer the core's broadcast loop visits first: the leader sends its heartbeats to
 * its followers in id order, one after the other, so the token that came in since the last
 * broadcast always goes to the first follower, and a console would never see a heartbeat to the
 * others. Per destination, every link is drawn. What a node reports is still bounded whatever
 * the load: `ratePerSecond` per kind per peer (a leader of three: 2 peers x append and
 * heartbeat, 16 a second; a follower: its replies to the one leader, 8 a second).
 *
 * The bucket holds at most one token (`burst`), so the events of a link come evenly spread
 * (one every 250 ms at 4 a second), not in clumps. Pure: the clock is passed in.
 */
import type {RpcKind} from '../api/node-events.js'

const ALWAYS: ReadonlySet<RpcKind> = new Set<RpcKind>(['vote', 'vote-reply', 'prevote', 'prevote-reply', 'timeout-now', 'snapshot'])

/** Tokens are counted in milliseconds of refill (one token is `interval` of them): whole numbers, no drift. */
interface Bucket {
  saved: number
  /** When `saved` was last brought up to date (ms, the clock's). */
  at: number
}

export interface RpcSamplerOptions {
  /** Milliseconds; must never go back (performance.now in the node). */
  now: () => number
  ratePerSecond?: number
  burst?: number
}

export class RpcSampler {
  private readonly now: () => number
  /** Milliseconds a token takes to come back. */
  private readonly interval: number
  /** Most a bucket may save, in milliseconds. */
  private readonly capacity: number
  /** Buckets by kind, then by destination (a member index, of which there are a few). */
  private readonly buckets = new Map<RpcKind, Map<number, Bucket>>()

  constructor(options: RpcSamplerOptions) {
    this.now = options.now
    this.interval = 1000 / (options.ratePerSecond ?? 4)
    this.capacity = this.interval * (options.burst ?? 1)
  }

  /** Whether a message of `kind` to member `to` is reported; takes a token when it is sampled. */
  admit(kind: RpcKind, to: number): boolean {
    if (ALWAYS.has(kind)) return true
    let byPeer = this.buckets.get(kind)
    if (byPeer === undefined) {
      byPeer = new Map()
      this.buckets.set(kind, byPeer)
    }
    const now = this.now()
    const bucket = byPeer.get(to)
    if (bucket === undefined) {
      // A link seen for the first time starts full: its first message is shown at once.
      byPeer.set(to, {saved: this.capacity - this.interval, at: now})
      return true
    }
    bucket.saved = Math.min(this.capacity, bucket.saved + (now - bucket.at))
    bucket.at = now
    if (bucket.saved < this.interval) return false
    bucket.saved -= this.interval
    return true
  }
}
