/**
 * The Raft driver: runs the pure core (src/raft) against real time, disk and network.
 *
 * - ticks the core on a timer;
 * - steps messages from the transport into it;
 * - batches proposals: every publish that arrives in one turn of the event loop is proposed
 *   together, so a busy leader appends hundreds of entries per Ready;
 * - for each Ready: sends the messages that may leave early (the leader's appends), persists
 *   entries and hard state in one transaction through the write queue, then sends what waited
 *   for durability (votes, append acks), applies what committed, and advances the core;
 * - on a follower, forwards publishes to the leader and relays the answer;
 * - snapshots: compacts the log (log-compactor.ts), streams the state to a follower that needs
 *   compacted entries (snapshot-sender.ts), receives such a stream (snapshot-receiver.ts) and
 *   installs it when the core hands it over in a Ready.
 * A publish is acknowledged only after its entry is applied, so only after a majority has it
 * on disk.
 */
import {EventEmitter} from 'node:events'
import {performance} from 'node:perf_hooks'
import {ConfChangeRefusedError, Raft, type ConfChange, type Entry, type Membership, type HardState, type Message, type Ready, type Role, type SnapshotMeta, type SoftState} from '../raft/index.js'
import type {RaftEvent, SnapshotEvent} from '../api/node-events.js'
import type {RaftRole} from '../api/node-http.js'
import type {RaftStorage} from '../storage/raft-storage.js'
import {appendEntriesOp, hardStateOp, installSnapshotOps, truncateLogOp} from '../storage/schema-rows.js'
import type {StoreReader} from '../storage/store-reader.js'
import type {StoreWriter} from '../storage/store-writer.js'
import type {WriteOp} from '../storage/writer-protocol.js'
import {LogLimiter} from '../transport/log-limiter.js'
import {messageBoundsError, type BoundsContext} from '../transport/message-bounds.js'
import type {PeerTransport} from '../transport/peer-transport.js'
import type {SnapshotBegin, SnapshotFrame} from '../transport/snapshot-frames.js'
import {BrokerError, type ErrorCode} from './errors.js'
import {forwardedPublishError} from './forwarded-publish.js'
import {decodeForward, decodeForwardResult, encodeForward, encodeForwardResult, type ForwardOutcome} from './forwarding.js'
import type {Logger} from './logger.js'
import type {ApplyResult, MessageStore} from './message-store.js'
import type {LogStatus, ReplicatedLog} from './replicated-log.js'
import {LogCompactor, type CompactionOptions} from './log-compactor.js'
import {lostLogProblem} from './lost-log.js'
import {clearStagingOps, SnapshotReceiver} from './snapshot-receiver.js'
import {SnapshotSender, type SentSnapshot} from './snapshot-sender.js'

export interface RaftTiming {
  tickMs: number
  electionTimeoutMs: number
  heartbeatMs: number
}

export interface RaftDriverOptions {
  self: number
  /** Members of the initial configuration, ids 0..clusterSize-1 (--peers); 0 for a node that joins a running cluster (it learns its configuration from the leader). */
  clusterSize: number
  /** The highest node id a peer may have (the member directory's bound); clusterSize - 1 when absent. */
  maxPeerId?: () => number
  timing: RaftTiming
  /** How long a proposal may wait for a leader before it is given up. */
  proposalTimeoutMs: number
  /** Largest publish body a forwarded publish may carry (the node's --max-body). */
  maxBodyBytes: number
  random?: () => number
  /** Compaction and snapshots; without them the log is never compacted and no snapshot is sent or taken. */
  snapshots?: {reader: StoreReader; compaction: CompactionOptions}
}

/** Failure codes a leader's answer may pass on to the publisher as they are; any other becomes NO_LEADER. */
const PASSED_ON_CODES: ReadonlySet<string> = new Set<ErrorCode>(['BAD_REQUEST', 'TOO_LARGE'])

/** Where a control entry (a retention policy, an expiry) committed: it has no publish result. */
export interface ControlCommitted {
  raftIndex: number
  term: number
}

/** Who waits for a publish: its result once applied. */
interface PublishAnswer {
  kind: 'publish'
  resolve: (result: ApplyResult) => void
  reject: (error: Error) => void
}

/** Who waits for a control entry: only that it committed. */
interface ControlAnswer {
  kind: 'control'
  resolve: (committed: ControlCommitted) => void
  reject: (error: Error) => void
}

type Waiter = {term: number; deadline: number} & (PublishAnswer | ControlAnswer)

interface Proposal {
  data: Uint8Array
  waiter: PublishAnswer | ControlAnswer
  deadline: number
}

/** A publish forwarded to the node we believed led, waiting for its answer. */
interface Forwarded {
  proposal: Proposal & {waiter: PublishAnswer}
  leader: number
}

/** How often (in ticks) publishes past their deadline are failed. */
const EXPIRY_TICKS = 5

const ROLE_NAMES: Record<Role, RaftRole> = {
  leader: 'LEADER',
  follower: 'FOLLOWER',
  candidate: 'CANDIDATE',
  // A pre-candidate has not started an election (its term is unchanged): the seed calls it a follower.
  precandidate: 'FOLLOWER',
}

export class RaftDriver extends EventEmitter implements ReplicatedLog {
  private readonly raft: Raft
  private softState: SoftState = {role: 'follower', leaderId: null}
  private proposals: Proposal[] = []
  private readonly waiters = new Map<number, Waiter>()
  private readonly forwarded = new Map<number, Forwarded>()
  /** A forward could not leave (no connection to the leader): retry on the next tick, not in a loop. */
  private forwardingBlocked = false
  private nextForwardId = 1
  private persisting = false
  private scheduled = false
  /** A step of the core threw (guarded): nothing more runs. */
  private stepFailed = false
  private closed = false
  private readonly ticker: NodeJS.Timeout
  private lastTerm = 0
  /** The vote last reported in a `vote` event (the web console draws who voted for whom). */
  private lastVote: number | null = null
  /** A hard state whose only change is the commit index, not yet written (see persistOps). */
  private unwrittenHardState: HardState | null = null
  private lastCommitEvent = 0
  /** Refused peer input is logged at most one line per kind so often: a faulty member must not flood the log. */
  private readonly refusals: LogLimiter
  /** What messageBoundsError checks against; one object, updated in place, so a step allocates nothing for it. */
  private readonly bounds: BoundsContext
  elections = 0
  /** Snapshots streamed to a follower to the end, and snapshots received and installed. */
  snapshotsSent = 0
  snapshotsInstalled = 0
  private readonly sender: SnapshotSender | null = null
  private readonly receiver: SnapshotReceiver | null = null
  private readonly compactor: LogCompactor | null = null
  /**
   * The snapshot stepped into the core and accepted, staged until the core hands it over: its
   * index, the base its rows are over (installSnapshotOps), and how many rows came.
   */
  private staged: {index: number; base: number; rows: number} | null = null
  /** The configuration in effect as last seen (the core's frozen object): a new one is announced with 'membership'. */
  private membership: Membership
  /**
   * Sees every Raft message this node sends, when set: NodeEvents sets it only while /events
   * has a reader, so with none a message costs one null check here, and nothing is built.
   */
  rpcTap: ((message: Message) => void) | null = null

  constructor(
    private readonly options: RaftDriverOptions,
    private readonly storage: RaftStorage,
    private readonly writer: StoreWriter,
    private readonly store: MessageStore,
    private readonly transport: PeerTransport,
    private readonly logger: Logger,
  ) {
    super()
    const {timing} = options
    this.raft = new Raft({
      id: options.self,
      peers: Array.from({length: options.clusterSize}, (_, i) => i),
      storage,
      random: options.random ?? Math.random,
      electionTick: Math.max(2, Math.round(timing.electionTimeoutMs / timing.tickMs)),
      heartbeatTick: Math.max(1, Math.round(timing.heartbeatMs / timing.tickMs)),
      applied: store.appliedIndex,
    })
    this.lastTerm = storage.initialState().term
    this.lastVote = storage.initialState().vote
    this.bounds = {self: options.self, maxId: options.clusterSize - 1, currentTerm: this.lastTerm}
    this.membership = this.raft.status({progress: false}).membership
    this.refusals = new LogLimiter(logger)
    if (options.snapshots) {
      const {reader, compaction} = options.snapshots
      this.compactor = new LogCompactor(storage, reader, writer, compaction, (error) => this.logger.warn('compacting the log failed', {error: error.message}))
      this.sender = new SnapshotSender({
        dbPath: writer.path,
        transport,
        termAt: (index) => storage.term(index),
        membershipAt: (index) => storage.membershipAt(index),
        refusals: this.refusals,
        onFinished: (outcome) => this.onSnapshotSent(outcome),
      })
      this.receiver = new SnapshotReceiver({
        self: options.self,
        writer,
        transport,
        refusals: this.refusals,
        leadership: () => ({leader: this.softState.leaderId, term: this.raft.status({progress: false}).term}),
        appliedIndex: () => store.appliedIndex,
        installPending: () => this.staged !== null,
        onComplete: (from, begin, staged) => this.onSnapshotReceived(from, begin, staged),
        onDiskFull: (error) => this.emit('fatal', new Error(`staging a snapshot failed: ${error.message}`, {cause: error})),
      })
    }
    let ticks = 0
    this.ticker = setInterval(() => {
      this.forwardingBlocked = false
      if (!this.guarded(() => this.raft.tick())) return
      if (++ticks % EXPIRY_TICKS === 0) {
        this.expire()
        this.sender?.expire()
      }
      this.process()
    }, timing.tickMs)
    this.process()
  }

  /** Messages from the transport: those out of bounds (message-bounds.ts) are dropped here, before the core. */
  step(message: Message): void {
    if (this.closed) return
    this.bounds.currentTerm = this.lastTerm
    if (this.options.maxPeerId) this.bounds.maxId = this.options.maxPeerId()
    const problem = messageBoundsError(message, this.bounds)
    if (problem !== null) {
      this.refusals.warn('raft', 'dropping a Raft message out of bounds', {from: message.from, type: message.type, problem})
      return
    }
    if (message.type === 'appResp' && message.reject === true && this.softState.role === 'leader') this.checkLostLog(message)
    if (this.guarded(() => this.raft.step(message))) this.schedule()
  }

  /** A follower's rejection that says it lost what it acknowledged: one line (rate-limited) for the operator. */
  private checkLostLog(message: Message): void {
    const problem = lostLogProblem(message, this.raft.status().progress?.[message.from]?.match)
    if (problem !== null) this.refusals.warn('lost-log', problem, {from: message.from})
  }

  /** A frame of a snapshot stream from `from`: a follower's answers are for our streams, the rest for the receiver. */
  onSnapshotFrame(from: number, frame: SnapshotFrame): void {
    if (this.closed) return
    if (frame.kind === 'ack') {
      if (this.sender) this.sender.onAck(from, frame)
      return
    }
    if (frame.kind === 'have') {
      if (this.sender) this.sender.onHave(from, frame)
      return
    }
    if (this.receiver) this.receiver.onFrame(from, frame)
    else this.refusals.warn('snapshot-frame', 'dropping a snapshot frame: this node takes no snapshots', {from, kind: frame.kind})
  }

  /**
   * Compacts the log now, whatever the thresholds, keeping `trailing` entries below the
   * durable applied index (the configured window when absent).
   */
  compactNow(trailing?: number): Promise<SnapshotMeta> {
    if (!this.compactor) return Promise.reject(new BrokerError('INTERNAL', 'this node does not compact its log'))
    // Everything applied counts: what waits to ride along with a later write is written now.
    this.store.flush()
    return this.compactor.compactNow(trailing)
  }

  /** Proposes a publish; resolves with its result once applied. */
  propose(data: Uint8Array): Promise<ApplyResult> {
    if (this.closed) return Promise.reject(new BrokerError('SHUTTING_DOWN', 'the node is shutting down'))
    return new Promise((resolve, reject) => {
      this.proposals.push({data, waiter: {kind: 'publish', resolve, reject}, deadline: Date.now() + this.options.proposalTimeoutMs})
      this.schedule()
    })
  }

  /**
   * Proposes a control entry (retention-proposer.ts) as the leader; resolves once it committed.
   * A follower does not forward it (its leader proposes its own): NO_LEADER.
   */
  proposeControl(data: Uint8Array): Promise<ControlCommitted> {
    if (this.closed) return Promise.reject(new BrokerError('SHUTTING_DOWN', 'the node is shutting down'))
    return new Promise((resolve, reject) => {
      this.proposals.push({data, waiter: {kind: 'control', resolve, reject}, deadline: Date.now() + this.options.proposalTimeoutMs})
      this.schedule()
    })
  }

  /**
   * Proposes a membership change as the leader (raft.proposeConfChange); resolves once its
   * configuration entry committed, with that entry's index. The core's refusal (not the leader,
   * another change in flight, the last voter, a learner too far behind, ...) is CONFLICT with its
   * one-line reason.
   */
  proposeConfChange(change: ConfChange): Promise<ControlCommitted> {
    if (this.closed) return Promise.reject(new BrokerError('SHUTTING_DOWN', 'the node is shutting down'))
    let index: number
    try {
      index = this.raft.proposeConfChange(change)
    } catch (error) {
      if (error instanceof ConfChangeRefusedError) return Promise.reject(new BrokerError('CONFLICT', error.message))
      return Promise.reject(error as Error)
    }
    const term = this.raft.status({progress: false}).term
    return new Promise((resolve, reject) => {
      this.waiters.set(index, {kind: 'control', resolve, reject, term, deadline: Date.now() + this.options.proposalTimeoutMs})
      this.schedule()
    })
  }

  /** The configuration in effect on this node (it changes when a configuration entry is appended). */
  currentMembership(): Membership {
    return this.membership
  }

  /** The log index of the configuration entry in effect (0 for the initial configuration). */
  membershipIndex(): number {
    return this.raft.status({progress: false}).membershipIndex
  }

  /** The configuration in effect at log index `index` (at or above the compaction point). */
  membershipAt(index: number): Membership {
    return this.storage.membershipAt(index)
  }

  /** A follower forwarded a publish to us, believing we lead. Nothing it sends is proposed unchecked. */
  onForward(from: number, payload: Buffer): void {
    let forward: ReturnType<typeof decodeForward>
    try {
      forward = decodeForward(payload)
    } catch (error) {
      // Without a request id there is no one to answer.
      this.refusals.warn('forward', 'dropping a forwarded publish that does not decode', {from, error: (error as Error).message})
      return
    }
    const {requestId, data} = forward
    const reply = (outcome: ForwardOutcome): void => this.transport.sendForwardResult(from, encodeForwardResult(requestId, outcome))
    if (this.softState.role !== 'leader') {
      reply({ok: false, code: 'NOT_LEADER', message: 'not the leader'})
      return
    }
    const refusal = forwardedPublishError(data, this.options.maxBodyBytes)
    if (refusal !== null) {
      this.refusals.warn('forward', 'refusing a forwarded publish', {from, code: refusal.code, error: refusal.message})
      reply({ok: false, code: refusal.code, message: refusal.message})
      return
    }
    this.proposals.push({
      // Copy: the payload is a slice of a network buffer that will be reused.
      data: Buffer.from(data),
      waiter: {
        kind: 'publish',
        resolve: (r) => reply({ok: true, topic: r.topic, offset: r.offset, raftIndex: r.raftIndex, term: r.term, duplicate: r.duplicate}),
        reject: (error) => reply({ok: false, code: error instanceof BrokerError ? error.code : 'NO_LEADER', message: error.message}),
      },
      deadline: Date.now() + this.options.proposalTimeoutMs,
    })
    this.schedule()
  }

  /** The leader answered a publish we forwarded: only the member we forwarded it to may. */
  onForwardResult(from: number, payload: Buffer): void {
    let result: ReturnType<typeof decodeForwardResult>
    try {
      result = decodeForwardResult(payload)
    } catch (error) {
      this.refusals.warn('forwardResult', 'dropping a forward result that does not decode', {from, error: (error as Error).message})
      return
    }
    const {requestId, outcome} = result
    const forwarded = this.forwarded.get(requestId)
    if (!forwarded) return
    if (forwarded.leader !== from) {
      this.refusals.warn('forwardResult', 'dropping a forward result from a member the publish was not forwarded to', {from, to: forwarded.leader})
      return
    }
    const {proposal} = forwarded
    this.forwarded.delete(requestId)
    if (outcome.ok) {
      proposal.waiter.resolve({
        topic: outcome.topic!,
        offset: outcome.offset!,
        raftIndex: outcome.raftIndex!,
        term: outcome.term!,
        duplicate: outcome.duplicate ?? false,
      })
    } else if (outcome.code === 'NOT_LEADER') {
      // Nothing was proposed: safe to send again to whoever leads now.
      this.proposals.push(proposal)
      this.schedule()
    } else {
      const code = PASSED_ON_CODES.has(outcome.code!) ? (outcome.code as ErrorCode) : 'NO_LEADER'
      proposal.waiter.reject(new BrokerError(code, outcome.message ?? 'the leader could not commit the publish'))
    }
  }

  status(): LogStatus {
    const s = this.raft.status()
    return {
      role: ROLE_NAMES[s.role],
      term: s.term,
      vote: s.vote,
      leader: s.leaderId,
      commitIndex: s.commit,
      lastApplied: this.store.appliedIndex,
      firstIndex: s.firstIndex,
      lastIndex: s.lastIndex,
      snapshotIndex: s.snapshotIndex,
      snapshotTerm: s.snapshotTerm,
      clusterSize: this.membership.voters.length,
    }
  }

  /**
   * The term of the entry at `index` as the core sees the log (a follower's entries not yet
   * durable included), or null when compacted or past the end. Terms are held in memory, so
   * no entry is read.
   */
  termAt(index: number): number | null {
    return this.raft.termAt(index)
  }

  /** The core's own status, with the leader's view of every follower. */
  raftStatus(): ReturnType<Raft['status']> {
    return this.raft.status()
  }

  /** False for a leader that has not yet committed an entry of its own term. */
  knowsCommitIndex(): boolean {
    const status = this.raft.status()
    if (status.role !== 'leader') return true
    return status.commit > 0 && status.commit <= this.storage.lastIndex() && this.storage.term(status.commit) === status.term
  }

  get isPreCandidate(): boolean {
    return this.softState.role === 'precandidate'
  }

  transferLeadership(to: number): void {
    this.raft.transferLeadership(to)
    this.schedule()
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.ticker)
    this.sender?.abortAll('the node is shutting down')
    const error = new BrokerError('SHUTTING_DOWN', 'the node is shutting down')
    for (const proposal of this.proposals) proposal.waiter.reject(error)
    this.proposals = []
    for (const {proposal} of this.forwarded.values()) proposal.waiter.reject(error)
    this.forwarded.clear()
    // A write in flight finishes on its own; the writer's close waits for it.
    for (const waiter of this.waiters.values()) waiter.reject(error)
    this.waiters.clear()
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.process()
    })
  }

  /**
   * Runs a step of the core. The core reads the log through the storage, which throws when an
   * entry read back fails its checksum (or SQLite finds the file corrupt): the node must then stop
   * taking part at once, not go on from a half-done step, so that is a fatal failure, like a
   * write that failed. False once failed.
   */
  private guarded(step: () => void): boolean {
    if (this.closed || this.stepFailed) return false
    try {
      step()
      return true
    } catch (error) {
      this.stepFailed = true
      this.persisting = true
      this.logger.error('a Raft step failed; stopping', {error: (error as Error).message})
      this.emit('fatal', error)
      return false
    }
  }

  private process(): void {
    this.guarded(() => this.processReady())
  }

  private processReady(): void {
    if (this.closed) return
    // Proposals and the appends they cause do not wait for a write in flight: the leader
    // replicates entries it has not made durable yet (it only leaves itself out of their
    // quorum until they are), so its fsync and its followers' overlap.
    this.flushProposals()
    for (const message of this.raft.takeMessages()) this.send(message)
    if (this.persisting || !this.raft.hasReady()) {
      this.transport.flush()
      return
    }
    const ready = this.raft.ready()
    if (ready.softState) this.onSoftState(ready.softState)
    if (ready.hardState && ready.hardState.term !== this.lastTerm) {
      this.lastTerm = ready.hardState.term
      this.emit('event', {type: 'term', term: ready.hardState.term} satisfies RaftEvent)
    }
    if (ready.hardState && ready.hardState.vote !== this.lastVote) {
      this.lastVote = ready.hardState.vote
      this.emit('event', {type: 'vote', term: ready.hardState.term, vote: ready.hardState.vote} satisfies RaftEvent)
    }
    for (const message of ready.messages) this.send(message)
    if (ready.snapshot) {
      this.install(ready, ready.snapshot)
      return
    }
    const ops = this.persistOps(ready)
    if (ops.length === 0) {
      this.finish(ready)
      return
    }
    // Messages applied since an earlier write share this transaction instead of paying for a
    // commit of their own (once enough have gathered, see MessageStore.takeWritesDue).
    const applied = this.store.takeWritesDue()
    if (applied) ops.push(...applied.ops)
    // What this Ready sends (the leader's appends above all) leaves before the write: followers
    // must not wait for the leader's fsync. A small write then commits right here when the
    // writer thread is idle (DatabaseWriter.writeNow), which spares a follower's one-at-a-time
    // append two thread wake-ups. Paired runs against writes on the thread only: one-at-a-time
    // p50 lower in 30 of 36 (medians of three series 1.45 -> 1.28, 1.95 -> 1.83, 2.03 -> 1.61 ms).
    this.transport.flush()
    let durable: boolean
    try {
      durable = this.writer.writeNow(ops)
    } catch (error) {
      this.persistFailed(error as Error, applied)
      return
    }
    if (durable) {
      applied?.written(null)
      this.finish(ready)
      return
    }
    this.persisting = true
    this.writer.write(ops).then(
      () => {
        this.persisting = false
        applied?.written(null)
        if (this.closed) return
        this.finish(ready)
      },
      (error: Error) => this.persistFailed(error, applied),
    )
  }

  /** A message of the core: a 'snap' becomes a snapshot stream, everything else goes as it is. */
  private send(message: Message): void {
    if (this.rpcTap !== null) this.tap(this.rpcTap, message)
    if (message.type !== 'snap') {
      this.transport.sendRaft(message)
      return
    }
    if (this.sender) this.sender.start(message.to, message.term)
    else this.raft.reportSnapshot(message.to, false)
  }

  /** Shows a message to the tap; what the tap does wrong is its own failure, never the Raft step's. */
  private tap(tap: (message: Message) => void, message: Message): void {
    try {
      tap(message)
    } catch (error) {
      this.refusals.warn('rpc-tap', 'reporting a Raft message on /events failed', {type: message.type, error: (error as Error).message})
    }
  }

  private onSnapshotSent(outcome: SentSnapshot): void {
    if (this.closed) return
    this.raft.reportSnapshot(outcome.to, outcome.ok)
    if (outcome.ok) {
      this.snapshotsSent++
      this.logger.info('snapshot sent', {to: outcome.to, index: outcome.index, base: outcome.base, bytes: outcome.bytes, ms: outcome.ms})
      this.emit('event', {type: 'snapshot-send', to: outcome.to, index: outcome.index, bytes: outcome.bytes, ms: outcome.ms} satisfies SnapshotEvent)
    }
    this.schedule()
  }

  /**
   * A whole snapshot arrived and is staged: the core decides whether to install it. If it takes
   * it (its log now starts after the snapshot), staging is kept for the install and no other
   * stream may begin until then; if it declines (its commit index passed the snapshot meanwhile),
   * staging is emptied now.
   */
  private onSnapshotReceived(from: number, begin: SnapshotBegin, staged: {base: number; rows: number}): void {
    if (this.closed) return
    if (!this.guarded(() => this.raft.step({type: 'snap', from, to: this.options.self, term: begin.leaderTerm, snapshot: {index: begin.index, term: begin.term, membership: begin.membership}}))) return
    if (this.raft.status({progress: false}).snapshotIndex === begin.index) {
      this.staged = {index: begin.index, ...staged}
    } else {
      this.logger.info('snapshot declined', {from, index: begin.index, commit_index: this.raft.status({progress: false}).commit})
      this.writer.writeAsync(clearStagingOps())
    }
    this.schedule()
  }

  /**
   * Installs the snapshot of a Ready in one transaction: every state table replaced by the staged
   * rows, the log dropped, the compaction point, the applied index and this Ready's entries and
   * hard state written. Only once that is durable does the node take it as its state (storage,
   * message store, subscribers) and send what the Ready promises.
   */
  private install(ready: Ready, snapshot: SnapshotMeta): void {
    const staged = this.staged
    if (staged === null || staged.index !== snapshot.index) {
      // Only a snapshot this driver staged is ever stepped in: anything else is a bug, and installing it would lose the state.
      this.persistFailed(new Error(`the core installs a snapshot at ${snapshot.index}, staged is ${staged === null ? 'none' : `the one at ${staged.index}`}`), null)
      return
    }
    this.persisting = true
    if (this.compactor) this.compactor.paused = true
    const started = performance.now()
    const previousApplied = this.store.appliedIndex
    // Applied rows not yet written go first: the transaction replaces them, and the store can only
    // reload once nothing it applied is unwritten.
    const applied = this.store.takeWrites()
    const ops = [...(applied?.ops ?? []), ...installSnapshotOps(snapshot, staged.base), ...this.persistOps(ready)]
    this.writer.write(ops).then(
      () => {
        this.persisting = false
        if (this.compactor) this.compactor.paused = false
        applied?.written(null)
        if (this.closed) return
        this.storage.applySnapshot(snapshot)
        this.store.reload()
        // Queued before any later stream's chunks: the next begin is taken only from here on.
        this.staged = null
        this.writer.writeAsync(clearStagingOps())
        this.snapshotsInstalled++
        const ms = Math.round(performance.now() - started)
        this.logger.info('snapshot installed', {index: snapshot.index, term: snapshot.term, base: staged.base, rows: staged.rows, ms})
        this.emit('event', {type: 'snapshot-install', index: snapshot.index, rows: staged.rows, ms} satisfies SnapshotEvent)
        this.emit('installed', previousApplied)
        this.finish(ready)
      },
      (error: Error) => this.persistFailed(new Error(`installing the snapshot at index ${snapshot.index} failed and was rolled back: ${error.message}`, {cause: error}), applied),
    )
  }

  /** A write of the log failed, inline or on the thread: nothing more is persisted, the node stops. */
  private persistFailed(error: Error, applied: ReturnType<MessageStore['takeWritesDue']>): void {
    this.persisting = true
    applied?.written(error)
    this.logger.error('persisting the Raft log failed; stopping', {error: error.message})
    this.emit('fatal', error)
  }

  /**
   * What this Ready needs on disk before it may finish: entries, and a changed term or vote.
   * A hard state that differs only in its commit index does not wait: the commit index is
   * an optimisation (a restarted node re-learns it, and never applies less than it had, see
   * RaftStorage), so it rides along with the next write instead of costing an fsync per commit.
   */
  private persistOps(ready: Ready): WriteOp[] {
    const ops: WriteOp[] = []
    if (ready.entries.length > 0) {
      const first = ready.entries[0].index
      if (first <= this.storage.lastIndex()) ops.push(truncateLogOp(first))
      ops.push(appendEntriesOp(ready.entries))
    }
    const hs = ready.hardState
    if (hs) {
      const stored = this.storage.initialState()
      const votingChanged = hs.term !== stored.term || hs.vote !== stored.vote
      if (votingChanged || ops.length > 0) {
        ops.push(hardStateOp(hs))
        this.unwrittenHardState = null
      } else {
        this.unwrittenHardState = hs
      }
    }
    if (ops.length > 0 && this.unwrittenHardState) {
      ops.push(hardStateOp(this.unwrittenHardState))
      this.unwrittenHardState = null
    }
    return ops
  }

  private finish(ready: Ready): void {
    if (ready.entries.length > 0) this.storage.append(ready.entries)
    if (ready.hardState) this.storage.setHardState(ready.hardState)
    for (const message of ready.persistedMessages) this.send(message)
    this.transport.flush()
    if (ready.committed.length > 0) this.apply(ready.committed)
    this.compactor?.maybeCompact(this.store.appliedIndex)
    this.raft.advance(ready)
    this.checkMembership()
    if (this.raft.hasReady() || this.proposals.length > 0) this.schedule()
  }

  /** Announces a new configuration (appended, or reverted by a truncation, or from a snapshot). */
  private checkMembership(): void {
    const current = this.raft.status({progress: false}).membership
    if (current === this.membership) return
    this.membership = current
    this.logger.info('configuration', {voters: current.voters, learners: current.learners})
    this.emit('membership', current)
  }

  private apply(entries: Entry[]): void {
    const results = this.store.apply(entries)
    for (const entry of entries) {
      const waiter = this.waiters.get(entry.index)
      if (!waiter) continue
      this.waiters.delete(entry.index)
      if (waiter.term !== entry.term) {
        waiter.reject(new BrokerError('NO_LEADER', 'leadership changed before the publish committed; it was not stored'))
        continue
      }
      const result = results.get(entry.index)
      if (waiter.kind === 'control') waiter.resolve({raftIndex: entry.index, term: entry.term})
      else if (result) waiter.resolve(result)
      else waiter.reject(new BrokerError('INTERNAL', `entry ${entry.index} committed without a result`))
    }
    const now = Date.now()
    if (now - this.lastCommitEvent >= 250) {
      this.lastCommitEvent = now
      const last = entries[entries.length - 1].index
      this.emit('event', {type: 'commit', commit_index: last, last_applied: this.store.appliedIndex} satisfies RaftEvent)
    }
  }

  private onSoftState(state: SoftState): void {
    const before = this.softState
    this.softState = state
    if (state.role === 'leader' && before.role !== 'leader') this.elections++
    if (before.role === 'leader' && state.role !== 'leader') this.sender?.abortAll('this node no longer leads')
    if (before.leaderId !== state.leaderId) this.receiver?.abort('the leader changed')
    const term = this.raft.status().term
    if (state.role !== before.role || state.leaderId !== before.leaderId) {
      this.logger.info('raft state', {role: ROLE_NAMES[state.role], raw_role: state.role, term, leader: state.leaderId})
      this.emit('event', {type: 'role', role: ROLE_NAMES[state.role], term, leader: state.leaderId} satisfies RaftEvent)
    }
    if (before.leaderId !== null && before.leaderId !== state.leaderId) this.failForwardsTo(before.leaderId, 'lost its leadership')
    // Entries we proposed as leader may still commit under the next leader (then they resolve),
    // or be overwritten (then they reject when their index is applied): nothing to do for them.
  }

  /** Our connection to a peer closed. */
  onPeerDisconnected(peer: number): void {
    this.failForwardsTo(peer, 'could not be reached')
    this.sender?.peerDisconnected(peer)
  }

  /**
   * Fails the publishes forwarded to a leader that is gone, instead of letting them wait out
   * the commit timeout: the node answers in request order, so each one would hold back every
   * answer behind it, even those the new leader commits at once. Their outcome is unknown (the
   * old leader may have proposed them, and the new one may commit them), which the error says.
   */
  private failForwardsTo(leader: number, why: string): void {
    for (const [id, forwarded] of this.forwarded) {
      if (forwarded.leader !== leader) continue
      this.forwarded.delete(id)
      forwarded.proposal.waiter.reject(
        new BrokerError('NO_LEADER', `the leader (node ${leader}) ${why} before it answered; the outcome is unknown, retry with the same id`),
      )
    }
  }

  /**
   * Fails the publishes that have waited longer than the proposal timeout: still waiting for
   * a leader, forwarded to a leader that never answered, or proposed by a leader that lost
   * its leadership and has not seen the entry committed or overwritten. Their outcome is
   * unknown (the entry may still commit), which the error says. Checked every few ticks
   * rather than with a timer per publish, which would cost more than the publish itself.
   */
  private expire(): void {
    const now = Date.now()
    const timeout = (): BrokerError =>
      new BrokerError(
        'NO_LEADER',
        `not committed within ${this.options.proposalTimeoutMs} ms (no leader or no quorum); the outcome is unknown, retry with the same id`,
      )
    if (this.proposals.length > 0) {
      const waiting: Proposal[] = []
      for (const proposal of this.proposals) {
        if (proposal.deadline > now) waiting.push(proposal)
        else proposal.waiter.reject(timeout())
      }
      this.proposals = waiting
    }
    for (const [id, {proposal}] of this.forwarded) {
      if (proposal.deadline > now) break
      this.forwarded.delete(id)
      proposal.waiter.reject(timeout())
    }
    for (const [index, waiter] of this.waiters) {
      if (waiter.deadline > now) break
      this.waiters.delete(index)
      waiter.reject(timeout())
    }
  }

  /** Proposes (as leader), forwards (as follower), or keeps waiting for a leader. */
  private flushProposals(): void {
    if (this.proposals.length === 0) return
    const live = this.proposals
    this.proposals = []
    const {role, leaderId} = this.softState
    if (role === 'leader') {
      const proposed = this.raft.propose(live.map((p) => p.data))
      if (proposed === null) {
        // Transferring leadership: hold on until there is a leader again.
        this.proposals = live
        return
      }
      for (const [i, proposal] of live.entries()) {
        this.waiters.set(proposed.firstIndex + i, {term: proposed.term, deadline: proposal.deadline, ...proposal.waiter})
      }
      return
    }
    if (leaderId !== null && leaderId !== this.options.self && !this.forwardingBlocked) {
      for (const [i, proposal] of live.entries()) {
        const {waiter} = proposal
        if (waiter.kind === 'control') {
          waiter.reject(new BrokerError('NO_LEADER', 'this node no longer leads: a control entry is proposed by the leader only'))
          continue
        }
        const id = this.nextForwardId++
        if (!this.transport.sendForward(leaderId, encodeForward(id, proposal.data))) {
          // Nothing left, so nothing can have been proposed: wait for a leader we can reach.
          this.forwardingBlocked = true
          this.proposals = live.slice(i)
          return
        }
        this.forwarded.set(id, {proposal: {...proposal, waiter}, leader: leaderId})
      }
      return
    }
    this.proposals = live
  }
}
