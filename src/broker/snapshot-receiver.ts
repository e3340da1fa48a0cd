/**
 * The follower's side of a snapshot stream: checks every frame, answers the begin with the
 * applied index whose rows it holds (the leader then plans to send only the rows above it),
 * writes each chunk's rows into staging (the attached snapshot-incoming database, through the
 * node's writer) and acknowledges it once durable. Only when the end verifies (every chunk in
 * order, the total digest, the row count of every table) does the driver step the snapshot
 * into the core, which then has it installed. Anything wrong (a sender that is not the leader of our term, an old term, a chunk
 * out of order, a bad digest, an unknown table) is refused and logged, staging is emptied, and
 * the node's state is untouched; the leader's stream fails and it tries again later.
 */
import {clearStagedStatement, STATE_TABLE_INFO, stageStatement, stateTable} from '../storage/state-tables.js'
import {formatMembership, isMember} from '../raft/index.js'
import type {StoreWriter} from '../storage/store-writer.js'
import type {WriteOp} from '../storage/writer-protocol.js'
import type {LogLimiter} from '../transport/log-limiter.js'
import type {PeerTransport} from '../transport/peer-transport.js'
import {encodeSnapshotFrame, StreamDigest, type SnapshotBegin, type SnapshotChunk, type SnapshotEnd, type SnapshotFrame, type SnapshotPlan} from '../transport/snapshot-frames.js'
import {isDiskFull} from './disk-full.js'

export interface SnapshotReceiverOptions {
  self: number
  writer: StoreWriter
  transport: PeerTransport
  refusals: LogLimiter
  /** Who leads, in which term, as this node sees it now. */
  leadership: () => {leader: number | null; term: number}
  /**
   * The state machine's applied index: a snapshot at or below it is not needed, and the rows of
   * every entry up to it are in the state (written at the latest by the install's transaction).
   */
  appliedIndex: () => number
  /** A stream received earlier waits to be installed from staging: no other may begin. */
  installPending: () => boolean
  /** The whole stream arrived, verified, and its rows are durable in staging: `rows` of them, over `base`. */
  onComplete: (from: number, begin: SnapshotBegin, staged: {base: number; rows: number}) => void
  /** Staging found the disk full: receiving again would only fill it again. */
  onDiskFull: (error: Error) => void
}

interface IncomingStream {
  from: number
  begin: SnapshotBegin
  /** The applied index we told the leader we hold the rows of. */
  holds: number
  /** What the leader streams; no chunk is taken before it. */
  plan: SnapshotPlan | null
  expectedSeq: number
  digest: StreamDigest
  rows: Map<string, number>
  /** Resolves when every chunk written so far is durable; rejects if one failed. */
  written: Promise<void>
}

/** Empties staging: what a refused or finished stream left there is never installed. */
export function clearStagingOps(): WriteOp[] {
  return STATE_TABLE_INFO.map((t) => ({stmt: clearStagedStatement(t.name), rows: [[]]}))
}

export class SnapshotReceiver {
  private current: IncomingStream | null = null

  constructor(private readonly options: SnapshotReceiverOptions) {}

  /** True while a stream is being received. */
  get receiving(): boolean {
    return this.current !== null
  }

  onFrame(from: number, frame: SnapshotFrame): void {
    switch (frame.kind) {
      case 'begin':
        this.onBegin(from, frame)
        return
      case 'plan':
        this.onPlan(from, frame)
        return
      case 'chunk':
        this.onChunk(from, frame)
        return
      case 'end':
        this.onEnd(from, frame)
        return
      case 'ack':
      case 'have':
        this.options.refusals.warn('snapshot-frame', 'dropping a snapshot answer sent to a follower', {from, kind: frame.kind})
    }
  }

  /** The stream in progress is dropped (leadership changed, the node stops). */
  abort(reason: string): void {
    const stream = this.current
    if (stream) this.refuse(stream.from, stream.begin.stream, stream.expectedSeq, reason)
  }

  private onBegin(from: number, begin: SnapshotBegin): void {
    const problem = this.beginProblem(from, begin)
    if (problem !== null) {
      this.refuse(from, begin.stream, 0, problem)
      return
    }
    if (this.current) this.discard()
    const holds = this.options.appliedIndex()
    this.current = {
      from,
      begin,
      holds,
      plan: null,
      expectedSeq: 0,
      digest: new StreamDigest(),
      rows: new Map(),
      // Staging is emptied first: requests are written in submission order, so the chunks land in an empty staging.
      written: this.options.writer.write(clearStagingOps()),
    }
    this.current.written.catch(() => {})
    this.send(from, {kind: 'have', stream: begin.stream, applied: holds})
  }

  private beginProblem(from: number, begin: SnapshotBegin): string | null {
    const {leader, term} = this.options.leadership()
    if (from !== leader) return `member ${from} is not the leader of our term ${term} (leader: ${leader ?? 'none'})`
    if (begin.leaderTerm !== term) return `the stream is of term ${begin.leaderTerm}, ours is ${term}`
    if (begin.index <= this.options.appliedIndex()) return `snapshot index ${begin.index} is not past our applied index ${this.options.appliedIndex()}`
    if (begin.term === 0 || begin.term > begin.leaderTerm) return `snapshot term ${begin.term} is not in 1..${begin.leaderTerm}`
    if (!isMember(begin.membership, this.options.self)) return `the snapshot's configuration (${formatMembership(begin.membership)}) does not include this node`
    if (this.options.installPending()) return 'a snapshot received earlier is being installed'
    return null
  }

  /**
   * The stream a frame (`id`, at `seq`) belongs to when it is the current stream of `from` and
   * passes `check`; otherwise the frame is refused (and that stream dropped) and null returned.
   */
  private streamFor(from: number, id: number, seq: number, check: (stream: IncomingStream) => string | null): IncomingStream | null {
    const stream = this.current
    if (!stream || stream.from !== from || stream.begin.stream !== id) {
      this.refuse(from, id, seq, 'no such stream from this member')
      return null
    }
    const problem = check(stream)
    if (problem !== null) {
      this.refuse(from, id, seq, problem)
      return null
    }
    return stream
  }

  private onPlan(from: number, plan: SnapshotPlan): void {
    const stream = this.streamFor(from, plan.stream, 0, (s) => this.planProblem(s, plan))
    if (stream === null) return
    stream.plan = plan
  }

  private planProblem(stream: IncomingStream, plan: SnapshotPlan): string | null {
    const stillLeads = this.leaderProblem(stream)
    if (stillLeads !== null) return stillLeads
    if (stream.plan !== null) return 'the stream is planned twice'
    // Only what we hold may be left out: the rows up to the applied index we announced.
    if (plan.base > stream.holds) return `the plan leaves out rows up to ${plan.base}, we hold those up to ${stream.holds} only`
    return null
  }

  private onChunk(from: number, chunk: SnapshotChunk): void {
    const stream = this.streamFor(from, chunk.stream, chunk.seq, (s) => this.chunkProblem(s, chunk))
    if (stream === null) return
    stream.expectedSeq++
    stream.digest.add(chunk.digest)
    stream.rows.set(chunk.table, (stream.rows.get(chunk.table) ?? 0) + chunk.rows.length)
    const write = this.options.writer.write([{stmt: stageStatement(chunk.table), rows: chunk.rows}])
    stream.written = stream.written.then(() => write)
    // A stream dropped before its end never awaits this: its failure must not go unhandled.
    stream.written.catch(() => {})
    write.then(
      () => {
        if (this.current === stream) this.send(from, {kind: 'ack', stream: chunk.stream, seq: chunk.seq, ok: true})
      },
      (error: Error) => {
        if (this.current === stream) this.refuse(from, chunk.stream, chunk.seq, `staging the chunk failed: ${error.message}`)
        if (isDiskFull(error)) this.options.onDiskFull(error)
      },
    )
  }

  private chunkProblem(stream: IncomingStream, chunk: SnapshotChunk): string | null {
    const stillLeads = this.leaderProblem(stream)
    if (stillLeads !== null) return stillLeads
    if (!chunk.intact) return `chunk ${chunk.seq} does not match its checksum`
    if (chunk.seq !== stream.expectedSeq) return `chunk ${chunk.seq} out of order (expected ${stream.expectedSeq})`
    if (stream.plan === null) return `chunk ${chunk.seq} came before the plan`
    const table = stateTable(chunk.table)
    if (!table) return `chunk ${chunk.seq} is of unknown table ${JSON.stringify(chunk.table)}`
    if (chunk.rows.length === 0) return `chunk ${chunk.seq} is empty`
    if (chunk.rows[0].length !== table.columns.length) return `chunk ${chunk.seq} has ${chunk.rows[0].length} columns, table ${table.name} has ${table.columns.length}`
    if (table.delta) {
      // Installing keeps our rows up to the base: a streamed row there would collide with one of them.
      const {keyColumn, key} = table.delta
      const {base} = stream.plan
      const {index} = stream.begin
      for (const row of chunk.rows) {
        const value = row[keyColumn]
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= base || value > index) {
          return `chunk ${chunk.seq}: ${table.name}.${key} ${String(value)} is not in ${base + 1}..${index}`
        }
      }
    }
    return null
  }

  /** The stream's sender must still lead the term it began in. */
  private leaderProblem(stream: IncomingStream): string | null {
    const {leader, term} = this.options.leadership()
    if (leader !== stream.from || term !== stream.begin.leaderTerm) return `member ${stream.from} no longer leads term ${stream.begin.leaderTerm} (now term ${term}, leader ${leader ?? 'none'})`
    return null
  }

  private onEnd(from: number, end: SnapshotEnd): void {
    const stream = this.streamFor(from, end.stream, end.chunks, (s) => this.endProblem(s, end))
    if (stream === null) return
    const {plan} = stream
    if (plan === null) return
    stream.written.then(
      () => {
        if (this.current !== stream) return
        const stale = this.leaderProblem(stream)
        if (stale !== null) {
          this.refuse(from, end.stream, end.chunks, stale)
          return
        }
        this.current = null
        this.send(from, {kind: 'ack', stream: end.stream, seq: end.chunks, ok: true})
        this.options.onComplete(from, stream.begin, {base: plan.base, rows: end.tables.reduce((sum, t) => sum + t.rows, 0)})
      },
      (error: Error) => {
        if (this.current === stream) this.refuse(from, end.stream, end.chunks, `staging failed: ${error.message}`)
      },
    )
  }

  private endProblem(stream: IncomingStream, end: SnapshotEnd): string | null {
    const stillLeads = this.leaderProblem(stream)
    if (stillLeads !== null) return stillLeads
    if (stream.plan === null) return 'the end came before the plan'
    if (end.chunks !== stream.expectedSeq) return `the end counts ${end.chunks} chunks, ${stream.expectedSeq} arrived`
    if (!end.digest.equals(stream.digest.digest())) return 'the stream does not match its total checksum'
    const names = end.tables.map((t) => t.name)
    if (new Set(names).size !== names.length) return 'a table is named twice'
    for (const name of names) if (!stateTable(name)) return `unknown table ${JSON.stringify(name)}`
    for (const table of STATE_TABLE_INFO) if (!names.includes(table.name)) return `table ${table.name} is missing`
    for (const table of end.tables) {
      const got = stream.rows.get(table.name) ?? 0
      if (got !== table.rows) return `table ${table.name}: ${got} rows arrived, ${table.rows} sent`
    }
    return null
  }

  /** Refuses a frame: logged (rate-limited), the sender told, and any stream of its dropped with its staging. */
  private refuse(from: number, stream: number, seq: number, reason: string): void {
    this.options.refusals.warn(`snapshot-refused:${from}`, 'refusing a snapshot frame; the node state is unchanged', {from, stream, seq, reason})
    if (this.current && this.current.from === from) this.discard()
    this.send(from, {kind: 'ack', stream, seq, ok: false, reason})
  }

  private discard(): void {
    this.current = null
    this.options.writer.writeAsync(clearStagingOps())
  }

  private send(to: number, frame: SnapshotFrame): void {
    this.options.transport.sendSnapshot(to, frame.kind, encodeSnapshotFrame(frame))
  }
}
