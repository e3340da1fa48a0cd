/**
 * The leader's snapshot streams: when the core asks to send a follower a snapshot (a 'snap'
 * message), the state tables are read in one read transaction (SnapshotSource) and streamed to
 * the follower as checksummed chunks (src/transport/snapshot-frames.ts), at most WINDOW_CHUNKS
 * unacknowledged at a time, so neither side ever holds more than a few chunks of the state.
 * The begin announces the snapshot; the follower answers with the applied index it holds the
 * rows of, and only the rows it lacks follow (the plan: whole small tables, the delta tables'
 * rows above that index). The stream's outcome goes back to the core (Raft.reportSnapshot).
 */
import {randomInt} from 'node:crypto'

import {SnapshotSource, type SourceChunk} from '../storage/snapshot-source.js'
import type {Membership} from '../raft/index.js'
import type {LogLimiter} from '../transport/log-limiter.js'
import type {PeerTransport} from '../transport/peer-transport.js'
import {encodeChunk, encodeSnapshotFrame, SNAPSHOT_CHUNK_TARGET_BYTES, StreamDigest, type SnapshotAck, type SnapshotHave} from '../transport/snapshot-frames.js'

/** Chunks sent and not yet acknowledged, at most. */
export const WINDOW_CHUNKS = 4
/** A stream whose follower acknowledges nothing for this long has failed. */
export const ACK_TIMEOUT_MS = 10_000

export interface SentSnapshot {
  to: number
  index: number
  ok: boolean
  bytes: number
  ms: number
  /** The follower held the rows up to this index already (0: it was sent every row); null if the stream ended before. */
  base: number | null
  /** Why it failed. */
  reason?: string
}

export interface SnapshotSenderOptions {
  /** The node database, read on a connection of each stream's own. */
  dbPath: string
  transport: PeerTransport
  /** The term of the entry at `index` (the snapshot's term). */
  termAt: (index: number) => number
  /** The configuration in effect at the snapshot's index, sent with it. */
  membershipAt: (index: number) => Membership
  refusals: LogLimiter
  onFinished: (outcome: SentSnapshot) => void
  chunkBytes?: number
  now?: () => number
}

interface OutgoingStream {
  id: number
  to: number
  source: SnapshotSource
  /** Set once the follower has said what it holds: chunks follow only then. */
  base: number | null
  nextSeq: number
  acked: number
  exhausted: boolean
  endSent: boolean
  digest: StreamDigest
  bytes: number
  startedAt: number
  lastProgressAt: number
  /** A turn of the event loop is booked to send the next chunk. */
  pumping: boolean
}

export class SnapshotSender {
  private readonly streams = new Map<number, OutgoingStream>()
  private nextId = randomInt(1, 0x7fff_ffff)
  private readonly now: () => number

  constructor(private readonly options: SnapshotSenderOptions) {
    this.now = options.now ?? Date.now
  }

  /** Streams in progress. */
  get active(): number {
    return this.streams.size
  }

  isStreamingTo(to: number): boolean {
    return this.streams.has(to)
  }

  /**
   * Starts streaming our state to `to` as leader of `leaderTerm`, unless a stream to it is
   * already running (the core asks again only after reportSnapshot, but a new term may ask sooner).
   */
  start(to: number, leaderTerm: number): void {
    if (this.streams.has(to)) return
    let source: SnapshotSource
    try {
      source = new SnapshotSource(this.options.dbPath)
    } catch (error) {
      this.options.onFinished({to, index: 0, ok: false, bytes: 0, ms: 0, base: null, reason: `cannot read the state: ${(error as Error).message}`})
      return
    }
    const now = this.now()
    const stream: OutgoingStream = {
      id: this.nextId++ >>> 0,
      to,
      source,
      base: null,
      nextSeq: 0,
      acked: 0,
      exhausted: false,
      endSent: false,
      digest: new StreamDigest(),
      bytes: 0,
      startedAt: now,
      lastProgressAt: now,
      pumping: false,
    }
    this.streams.set(to, stream)
    let term: number
    let membership: Membership
    try {
      term = this.options.termAt(source.index)
      membership = this.options.membershipAt(source.index)
    } catch (error) {
      this.fail(stream, `no term or configuration for index ${source.index}: ${(error as Error).message}`)
      return
    }
    const begin = encodeSnapshotFrame({
      kind: 'begin',
      stream: stream.id,
      leaderTerm,
      index: source.index,
      term,
      membership,
    })
    if (!this.options.transport.sendSnapshot(to, 'begin', begin)) this.fail(stream, 'the follower cannot be reached')
  }

  /**
   * The follower's answer to our begin: it holds the rows up to `applied`. Only the rows it lacks
   * are streamed. A follower refuses a snapshot at or below its applied index at the begin, so
   * an answer at or past our index comes from a broken follower: every row is sent then, as to
   * an empty member (whatever it holds is replaced).
   */
  onHave(from: number, have: SnapshotHave): void {
    const stream = this.streams.get(from)
    if (!stream || stream.id !== have.stream) {
      this.options.refusals.warn('snapshot-ack', 'dropping a snapshot answer for no stream of ours', {from, stream: have.stream})
      return
    }
    if (stream.base !== null) {
      this.fail(stream, 'the follower answered the begin twice')
      return
    }
    let base = have.applied
    if (base >= stream.source.index) {
      this.options.refusals.warn(`snapshot-have:${from}`, 'a follower says it holds a state at or past the snapshot it accepted; sending it every row', {
        from,
        applied: have.applied,
        index: stream.source.index,
      })
      base = 0
    }
    try {
      stream.source.plan(base)
    } catch (error) {
      this.fail(stream, `reading the state failed: ${(error as Error).message}`)
      return
    }
    stream.base = base
    stream.lastProgressAt = this.now()
    const plan = encodeSnapshotFrame({kind: 'plan', stream: stream.id, base})
    if (!this.options.transport.sendSnapshot(from, 'plan', plan)) {
      this.fail(stream, 'the follower cannot be reached')
      return
    }
    this.pump(stream)
  }

  /** The follower acknowledged (or refused) a chunk or the end. */
  onAck(from: number, ack: SnapshotAck): void {
    const stream = this.streams.get(from)
    if (!stream || stream.id !== ack.stream) {
      this.options.refusals.warn('snapshot-ack', 'dropping a snapshot acknowledgement for no stream of ours', {from, stream: ack.stream, seq: ack.seq})
      return
    }
    if (!ack.ok) {
      this.fail(stream, `the follower refused it: ${ack.reason ?? 'no reason given'}`)
      return
    }
    if (ack.seq !== stream.acked || ack.seq >= stream.nextSeq + (stream.endSent ? 1 : 0)) {
      this.fail(stream, `acknowledgement ${ack.seq} out of order (expected ${stream.acked})`)
      return
    }
    stream.acked++
    stream.lastProgressAt = this.now()
    if (stream.endSent && stream.acked === stream.nextSeq + 1) {
      this.finish(stream, true)
      return
    }
    this.pump(stream)
  }

  /** Fails the streams whose follower has gone quiet; called on the driver's ticks. */
  expire(): void {
    const now = this.now()
    for (const stream of this.streams.values()) {
      if (now - stream.lastProgressAt > ACK_TIMEOUT_MS) this.fail(stream, `no acknowledgement within ${ACK_TIMEOUT_MS} ms`)
    }
  }

  /** The connection to `peer` closed: its stream cannot go on. */
  peerDisconnected(peer: number): void {
    const stream = this.streams.get(peer)
    if (stream) this.fail(stream, 'the connection to the follower closed')
  }

  /** Stops every stream (leadership lost, or the node stops); each is reported failed. */
  abortAll(reason: string): void {
    for (const stream of [...this.streams.values()]) this.fail(stream, reason)
  }

  /**
   * Sends the next chunk if the window has room, then gives the event loop back before the one
   * after it (reading and encoding a chunk takes milliseconds: a window of them in one turn
   * would hold up the leader's heartbeats).
   */
  private pump(stream: OutgoingStream): void {
    if (stream.pumping || stream.base === null) return
    this.sendChunk(stream)
    if (this.streams.get(stream.to) !== stream || stream.exhausted || stream.nextSeq - stream.acked >= WINDOW_CHUNKS) return
    stream.pumping = true
    setImmediate(() => {
      stream.pumping = false
      if (this.streams.get(stream.to) === stream) this.pump(stream)
    })
  }

  /** Sends the next chunk if the window has room, or the end once every chunk is acknowledged. */
  private sendChunk(stream: OutgoingStream): void {
    if (!stream.exhausted && stream.nextSeq - stream.acked < WINDOW_CHUNKS) {
      let chunk: SourceChunk | null
      try {
        chunk = stream.source.nextChunk(this.options.chunkBytes ?? SNAPSHOT_CHUNK_TARGET_BYTES)
      } catch (error) {
        this.fail(stream, `reading the state failed: ${(error as Error).message}`)
        return
      }
      if (chunk !== null) {
        this.sendEncoded(stream, chunk)
        return
      }
      stream.exhausted = true
      // The read transaction is no longer needed: let the WAL be checkpointed past it.
      stream.source.close()
    }
    if (stream.exhausted && !stream.endSent && stream.acked === stream.nextSeq) {
      stream.endSent = true
      const tables = stream.source.streamed().map((t) => ({name: t.table, rows: t.rows}))
      const end = encodeSnapshotFrame({kind: 'end', stream: stream.id, chunks: stream.nextSeq, tables, digest: stream.digest.digest()})
      if (!this.options.transport.sendSnapshot(stream.to, 'end', end)) this.fail(stream, 'the follower cannot be reached')
    }
  }

  private sendEncoded(stream: OutgoingStream, chunk: SourceChunk): void {
    let encoded: ReturnType<typeof encodeChunk>
    try {
      encoded = encodeChunk(stream.id, stream.nextSeq, chunk.table, chunk.rows)
    } catch (error) {
      this.fail(stream, `a chunk cannot be encoded: ${(error as Error).message}`)
      return
    }
    stream.digest.add(encoded.digest)
    stream.bytes += encoded.payload.length
    if (!this.options.transport.sendSnapshot(stream.to, 'chunk', encoded.payload)) {
      this.fail(stream, 'the follower cannot be reached (or its queue is full)')
      return
    }
    stream.nextSeq++
  }

  private fail(stream: OutgoingStream, reason: string): void {
    this.options.refusals.warn(`snapshot-send:${stream.to}`, 'a snapshot stream to a follower failed; the leader will retry', {to: stream.to, index: stream.source.index, reason})
    this.finish(stream, false, reason)
  }

  private finish(stream: OutgoingStream, ok: boolean, reason?: string): void {
    if (this.streams.get(stream.to) !== stream) return
    this.streams.delete(stream.to)
    stream.source.close()
    const outcome: SentSnapshot = {to: stream.to, index: stream.source.index, ok, bytes: stream.bytes, ms: Math.round(this.now() - stream.startedAt), base: stream.base}
    if (reason !== undefined) outcome.reason = reason
    this.options.onFinished(outcome)
  }
}
