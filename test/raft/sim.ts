// A deterministic simulation of a Raft cluster: n nodes in one process, virtual time, a
// seeded schedule of network faults, crashes and client proposals, and safety checks after
// every single step. The same seed always produces the same run, so a failing seed is a
// one-line reproduction.
//
// What is simulated:
//  - each node: the Raft core plus a driver that persists every Ready asynchronously (a write
//    takes virtual time), sends persistedMessages only once the write is durable, applies
//    committed entries, and meanwhile sends the leader's new appends (takeMessages());
//  - the network: per-message random delay (so messages reorder), drops, duplicates, and
//    partitions (isolate one node, split in halves, a bridge node, one-way cuts) that heal;
//  - crashes: a node loses everything not yet durable (its in-flight write, its unstable log,
//    its volatile state) and restarts later from its storage and its applied index;
//  - a state machine per node: a running hash of the (index, term, entry) it applied, durable
//    with its applied index;
//  - compaction: often, a node snapshots its state machine at its applied index and discards
//    its log up to there, but for a small random trailing window; a follower that was down or
//    cut off is then caught up by a snapshot. The snapshot travels in the 'snap' message (the
//    broker streams it; here it may be dropped, duplicated or delayed like any message, and the
//    leader's driver learns how the stream ended: reportSnapshot); installing it is a write,
//    lost in a crash before it is durable;
//  - leadership transfers now and then;
//  - membership changes (Jepsen's membership nemesis), interleaved with all of the above: add a
//    learner (a fresh, empty node with an id never used before), promote a learner, remove a
//    voter, remove the leader, replace (add, promote once caught up, remove a voter); sometimes
//    in bursts, so that a second change is asked for while the first is in flight. A removed
//    node keeps running (it is the operator's to stop), and may crash and restart like any other;
//  - clients proposing throughout, mostly to whoever claims to lead.
//
// Checked after every step: at most one leader per term; log matching (an (index, term) pair
// names one entry with one predecessor, across all nodes' durable logs); leader completeness
// (a new leader's log holds every entry committed before); state machine safety (every node
// applies the same entry at an index, each index once, in order); the commit index of a node
// never decreases; durability before promises (a node acknowledges entries and grants votes
// only once they are durable, and its durable term and vote never go back); snapshots: a node
// installs only a snapshot past what it applied, whose (index, term) is the committed one there,
// and whose state equals replaying the committed entries up to its index (as does every
// snapshot a node makes). Configurations: no two different configurations are committed at one
// index (every node's committed configurations are one history), a node uses the latest
// configuration of its log, committed or not (dissertation §4.1: checked whenever its log is all
// durable), a snapshot carries the configuration as of its index, and no leader keeps leading
// once its own removal is committed. At the end, after healing everything: a stable leader within a bounded
// virtual time, and every proposal accepted in that final stable period applied on every node
// of its configuration (removed nodes are left out: they are the operator's to stop).
import {
  ConfChangeRefusedError,
  decodeMembership,
  formatMembership,
  isMember,
  isVoter,
  MemoryStorage,
  Raft,
  sameMembership,
  type ConfChange,
  type Entry,
  type Membership,
  type Message,
  type NodeId,
  type Ready,
  type Snapshot,
} from '../../src/raft/index.js'
import type {PlantedBugs} from '../../src/raft/config.js'

// ---------------------------------------------------------------- deterministic randomness

/** mulberry32: tiny, fast, good enough for schedules. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function mix(...xs: number[]): number {
  let h = 0x9e3779b9
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
  }
  return h >>> 0
}

class Rand {
  readonly next: () => number
  constructor(seed: number) {
    this.next = prng(seed)
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]
  }
  /** Exponentially distributed waiting time with this mean. */
  exp(mean: number): number {
    return Math.max(1, Math.round(-Math.log(1 - this.next()) * mean))
  }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      ;[xs[i], xs[j]] = [xs[j], xs[i]]
    }
    return xs
  }
}

// ---------------------------------------------------------------- schedule

/** Everything a seed decides up front; printed by the CLI so a run can be understood. */
export interface Schedule {
  /** 'mixed': every fault at a random rate; 'churn': leaders that keep vanishing (Figure 8). */
  profile: 'mixed' | 'churn'
  nodes: number
  electionTick: number
  heartbeatTick: number
  preVote: boolean
  checkQuorum: boolean
  maxEntriesPerMsg: number
  maxBytesPerMsg: number
  maxInflight: number
  /** Virtual ms of the chaotic period. */
  chaosMs: number
  dropRate: number
  dupRate: number
  minDelayMs: number
  maxDelayMs: number
  maxWriteMs: number
  meanCrashMs: number
  maxDownMs: number
  meanPartitionMs: number
  maxPartitionMs: number
  meanProposeMs: number
  /** Mean virtual ms between compactions (each: one node snapshots and compacts). */
  meanCompactMs: number
  /** A compaction keeps up to this many entries before the snapshot (random each time), so a
   * follower just behind is still caught up from the log. */
  compactKeep: number
  meanTransferMs: number
  /** Mean virtual ms between membership changes (each may be refused: one at a time). */
  meanMemberMs: number
  /** Chance that a newly elected leader crashes or is cut off within maxLeaderLifeMs: Figure 8
   * material (leaders that replicate part of their log and vanish). */
  leaderCrashChance: number
  maxLeaderLifeMs: number
  /** Chance that a leader crashes or is cut off right after its first commit in its term. */
  vanishOnFirstCommitChance: number
  /** Virtual ms of proposals in the final stable period. */
  stableMs: number
}

export function makeSchedule(seed: number, nodes: number): Schedule {
  const r = new Rand(mix(seed, 0x5eed))
  const electionTick = r.pick([10, 15, 15, 20])
  const mixed: Schedule = {
    profile: 'mixed',
    nodes,
    electionTick,
    heartbeatTick: r.pick([1, 2, 3, 5]),
    preVote: r.chance(0.75),
    checkQuorum: r.chance(0.75),
    maxEntriesPerMsg: r.pick([1, 2, 3, 5, 64]),
    maxBytesPerMsg: r.pick([8, 40, 1 << 20]),
    maxInflight: r.pick([1, 2, 4, 16]),
    chaosMs: r.int(2000, 5000),
    dropRate: r.pick([0, 0.01, 0.05, 0.1, 0.2]),
    dupRate: r.pick([0, 0.02, 0.1]),
    minDelayMs: r.int(0, 3),
    maxDelayMs: r.pick([3, 10, 20, 40]),
    maxWriteMs: r.pick([0, 2, 5, 10]),
    meanCrashMs: r.pick([150, 300, 800, 2000]),
    maxDownMs: r.pick([30, 200, 1000]),
    meanPartitionMs: r.pick([200, 500, 1500]),
    maxPartitionMs: r.pick([100, 500, 1500]),
    meanProposeMs: r.pick([10, 25, 60]),
    meanCompactMs: r.pick([50, 150, 400]),
    // Its own generator: the draws above keep their order, so each seed keeps its profile.
    compactKeep: new Rand(mix(seed, 0xc0a1)).pick([0, 2, 8, 30]),
    meanTransferMs: r.pick([500, 2000, 1e9]),
    // Its own generator too, as compactKeep.
    meanMemberMs: new Rand(mix(seed, 0x3e3b)).pick([60, 150, 400]),
    leaderCrashChance: r.pick([0, 0, 0.3, 0.6]),
    maxLeaderLifeMs: r.pick([20, 60, 200]),
    vanishOnFirstCommitChance: r.pick([0, 0, 0.3, 0.8]),
    stableMs: 600,
  }
  if (r.chance(0.65)) return mixed
  // Leader churn: short-lived leaders that vanish right after electing or committing, one entry
  // per message, fast elections without PreVote/CheckQuorum. The shape of Raft's Figure 8, the
  // scenario that separates "commit by counting only in the current term" from the naive rule.
  return {
    ...mixed,
    profile: 'churn',
    electionTick: 10,
    preVote: false,
    checkQuorum: false,
    maxEntriesPerMsg: 1,
    chaosMs: r.int(4000, 7000),
    maxDownMs: 100,
    meanProposeMs: 10,
    leaderCrashChance: r.pick([0.5, 0.9]),
    maxLeaderLifeMs: 60,
    vanishOnFirstCommitChance: 0.8,
  }
}

// ---------------------------------------------------------------- results

export interface FaultCounts {
  dropped: number
  duplicated: number
  reordered: number
  partitions: number
  crashes: number
  compactions: number
  transfers: number
  /** Membership changes accepted by a leader, and asked for but refused. */
  confChanges: number
  confRefusals: number
}

export interface SimResult {
  seed: number
  nodes: number
  ok: boolean
  /** The property violated, with context. */
  violation?: string
  steps: number
  virtualMs: number
  faults: FaultCounts
  messages: number
  elections: number
  proposalsAccepted: number
  /** Highest index applied on every node at the end. */
  committed: number
  /** Virtual ms from healing to a stable leader. */
  leaderAfterHealMs: number
  /** 'snap' messages leaders sent, and snapshots followers installed durably. */
  snapshotsSent: number
  snapshotsInstalled: number
  schedule: Schedule
  /** The last events before a violation (or all of them with `trace: true`). */
  trace: string[]
}

export interface SimOptions {
  seed: number
  nodes: number
  bugs?: PlantedBugs
  /** Keep the whole event trace (else only the last 60 events). */
  trace?: boolean
  /** Override parts of the seed's schedule. */
  schedule?: Partial<Schedule>
  /** Check durability before promises (default true). Off, only the end-to-end properties are
   * checked: used to show that they too catch the persistence bugs. */
  durabilityChecks?: boolean
}

class Violation extends Error {}

// ---------------------------------------------------------------- the simulation

interface SimNode {
  id: NodeId
  /** The voters it was started with: the first nodes know each other; a node added later knows
   * nobody and waits to hear from a leader. */
  initialVoters: NodeId[]
  /** Durable with `applied`: the configuration as of the applied index. */
  appliedConf: Membership
  /** Mirrors the durable log's configurations: the snapshot's (or the initial one), then one per
   * configuration entry after it. */
  storedConfs: {index: number; membership: Membership}[]
  /** Stopped for good by the operator after its removal. */
  decommissioned: boolean
  /** The index of the configuration last found committed on it (checked once per index). */
  notedConf: number
  /** The configuration in use and the log's latest, last found to agree. */
  checkedConf: [Membership | null, unknown]
  /** Durable: the stable log and hard state. */
  storage: MemoryStorage
  /** Durable: the state machine's last applied index (applied with the write that delivered it). */
  applied: number
  /** Durable: the state machine, a running hash of what it applied up to `applied`. */
  state: number
  raft: Raft | null
  incarnation: number
  writing: Ready | null
  tickMs: number
  /** Checker state for this incarnation. */
  lastCommit: number
  seenCommit: number
  checkedLeaderTerm: number
  firstCommitTerm: number
}

type Event =
  | {kind: 'tick'; node: NodeId; inc: number}
  | {kind: 'msg'; m: Message; sent: number}
  | {kind: 'persisted'; node: NodeId; inc: number; rd: Ready}
  | {kind: 'restart'; node: NodeId}
  | {kind: 'snapReport'; node: NodeId; inc: number; to: NodeId; ok: boolean}
  | {kind: 'crashNode' | 'isolateNode'; node: NodeId; inc: number}
  | {kind: 'crash' | 'partition' | 'heal' | 'propose' | 'compact' | 'transfer' | 'member' | 'endChaos'}

interface Timed {
  t: number
  seq: number
  ev: Event
}

/** A binary min-heap on (t, seq): ties keep insertion order, so runs are deterministic. */
class EventQueue {
  private readonly heap: Timed[] = []
  private seq = 0
  get size(): number {
    return this.heap.length
  }
  push(t: number, ev: Event): void {
    const h = this.heap
    const item = {t, seq: this.seq++, ev}
    let i = h.length
    h.push(item)
    while (i > 0) {
      const p = (i - 1) >> 1
      if (less(h[p], item)) break
      h[i] = h[p]
      i = p
    }
    h[i] = item
  }
  pop(): Timed {
    const h = this.heap
    const top = h[0]
    const last = h.pop() as Timed
    if (h.length > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= h.length) break
        const r = l + 1
        const c = r < h.length && less(h[r], h[l]) ? r : l
        if (less(last, h[c])) break
        h[i] = h[c]
        i = c
      }
      h[i] = last
    }
    return top
  }
}

function less(a: Timed, b: Timed): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq)
}

/** An entry's identity for the checkers: the proposal id in its data, 0 for a no-op, a negative
 * hash of the configuration for a configuration entry. */
function entryId(e: Entry): number {
  if (e.type === 'conf') return -1 - (mix(...e.data) >>> 1)
  if (e.type === 'noop' || e.data.byteLength < 4) return 0
  return e.data[0] | (e.data[1] << 8) | (e.data[2] << 16) | (e.data[3] << 24)
}

/** The state machine after applying (index, term, id) to `state`. */
function applyToState(state: number, index: number, term: number, id: number): number {
  return mix(state, index, term, id)
}

/** A snapshot's data: the index it was taken at and the state there. */
function encodeState(index: number, state: number): Uint8Array {
  const b = new Uint8Array(8)
  const v = new DataView(b.buffer)
  v.setUint32(0, index)
  v.setUint32(4, state)
  return b
}

function decodeState(data: Uint8Array | undefined): {index: number; state: number} | null {
  if (data === undefined || data.byteLength !== 8) return null
  const v = new DataView(data.buffer, data.byteOffset, 8)
  return {index: v.getUint32(0), state: v.getUint32(4)}
}

interface Accepted {
  id: number
  index: number
  term: number
}

/** Seeds `npm test` runs for each cluster size (sim.test.ts); the planted-bug suite hunts within them. */
export const SEEDS_PER_SIZE = 150

const NO_PROGRESS = {progress: false}
/** Cut links are keyed from * LINK + to. */
const LINK = 1 << 16
/** At most this many nodes are ever added to a run (ids are never reused). */
const MAX_ADDED = 8

function confKey(m: Membership): string {
  return JSON.stringify(m)
}

function membershipFromKey(key: string): Membership {
  return JSON.parse(key) as Membership
}
const MAX_STEPS = 3_000_000
const LEADER_BOUND_MS = 10_000
/** In the final drain, fail if no node applies anything for this long (a stall), or if the
 * drain takes longer than DRAIN_LIMIT_MS overall (slow configurations legitimately take seconds
 * to catch up with maxInflight=1, maxEntriesPerMsg=1). */
const STALL_BOUND_MS = 5_000
const DRAIN_LIMIT_MS = 120_000

export class Simulation {
  readonly seed: number
  readonly schedule: Schedule
  private readonly rand: Rand
  private readonly bugs: PlantedBugs
  private readonly keepTrace: boolean
  private readonly durabilityChecks: boolean
  private readonly nodes: SimNode[] = []
  private readonly q = new EventQueue()
  private now = 0
  private steps = 0
  private phase: 'chaos' | 'settle' | 'stable' | 'drain' = 'chaos'
  private healAt = 0
  private stableAt = 0
  private lastProgressAt = 0
  private lastAppliedSum = 0
  private stableKey = -1
  private stableSince = 0
  private readonly cut = new Set<number>()
  private dropRate: number
  private dupRate: number
  private maxDelayMs: number
  private nextProposal = 1
  private readonly accepted: Accepted[] = []
  /** index -> the stable-period proposal accepted there. */
  private readonly acceptedAt = new Map<number, Accepted>()
  private acceptedTotal = 0
  private readonly faults: FaultCounts = {
    dropped: 0,
    duplicated: 0,
    reordered: 0,
    partitions: 0,
    crashes: 0,
    compactions: 0,
    transfers: 0,
    confChanges: 0,
    confRefusals: 0,
  }
  /** Membership decisions, from a generator of their own. */
  private readonly memberRand: Rand
  /** A replacement under way: the learner to promote, then the voter to remove. */
  private replacing: {learner: NodeId; victim: NodeId} | null = null
  private messages = 0
  private elections = 0
  private msgSeq = 0
  /** Per directed link, the send sequence number of the last message delivered (for reorder counts). */
  private readonly lastDelivered = new Map<number, number>()
  private trace: string[] = []

  // ---- checker state, global across nodes
  /** term -> the node that led it. */
  private readonly leaders = new Map<number, NodeId>()
  /** index -> term of the entry known committed there. */
  private readonly committedTerm: number[] = [0]
  /** `${index}:${term}` -> [entry id, predecessor term]. */
  private readonly logPairs = new Map<number, Map<number, [number, number]>>()
  /** index -> [term, id] of the entry applied there (by any node). */
  private readonly appliedAt: Array<[number, number]> = []
  /** index -> the state machine after replaying appliedAt[1..index] (extended on demand). */
  private readonly canonicalState: number[] = [0]
  /** index -> the configuration committed there (from configuration entries applied anywhere). */
  private readonly committedConfs = new Map<number, string>()
  /** The configuration of a cluster whose log holds none yet. */
  private readonly initialConf: Membership
  private snapshotsSent = 0
  private snapshotsInstalled = 0

  constructor(opts: SimOptions) {
    this.seed = opts.seed
    this.schedule = {...makeSchedule(opts.seed, opts.nodes), ...opts.schedule}
    this.rand = new Rand(mix(opts.seed, 0xc4a05))
    this.bugs = opts.bugs ?? {}
    this.keepTrace = opts.trace ?? false
    this.durabilityChecks = opts.durabilityChecks ?? true
    this.dropRate = this.schedule.dropRate
    this.dupRate = this.schedule.dupRate
    this.maxDelayMs = this.schedule.maxDelayMs
    this.memberRand = new Rand(mix(opts.seed, 0x3e3b, 2))
    const first = Array.from({length: this.schedule.nodes}, (_, i) => i)
    this.initialConf = {voters: first, learners: []}
    for (const id of first) this.addNode(id, first)
  }

  private addNode(id: NodeId, initialVoters: NodeId[]): SimNode {
    const initial = {voters: initialVoters, learners: []}
    const node: SimNode = {
        id,
        initialVoters,
        appliedConf: initial,
        storedConfs: [{index: 0, membership: initial}],
        decommissioned: false,
        notedConf: 0,
        checkedConf: [null, null],
        storage: new MemoryStorage(),
        applied: 0,
        state: 0,
        raft: null,
        incarnation: 0,
        writing: null,
        tickMs: this.rand.int(9, 11),
        lastCommit: 0,
        seenCommit: 0,
        checkedLeaderTerm: -1,
        firstCommitTerm: -1,
      }
    this.nodes.push(node)
    return node
  }

  run(): SimResult {
    let violation: string | undefined
    try {
      this.start()
      while (!this.finished()) {
        if (this.q.size === 0) throw new Violation('event queue ran dry')
        if (++this.steps > MAX_STEPS) throw new Violation(`step budget of ${MAX_STEPS} exceeded`)
        const {t, ev} = this.q.pop()
        this.now = t
        this.handle(ev)
        this.checkPhase()
      }
    } catch (e) {
      if (e instanceof Violation) violation = e.message
      else violation = `exception: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`
      violation += ` (at step ${this.steps}, t=${this.now}ms, phase ${this.phase})`
    }
    const minApplied = Math.min(...this.members().map((n) => n.applied))
    return {
      seed: this.seed,
      nodes: this.schedule.nodes,
      ok: violation === undefined,
      violation,
      steps: this.steps,
      virtualMs: this.now,
      faults: this.faults,
      messages: this.messages,
      elections: this.elections,
      proposalsAccepted: this.acceptedTotal,
      committed: minApplied,
      leaderAfterHealMs: this.stableAt > 0 ? this.stableAt - this.healAt : -1,
      snapshotsSent: this.snapshotsSent,
      snapshotsInstalled: this.snapshotsInstalled,
      schedule: this.schedule,
      trace: this.trace,
    }
  }

  // ---------------------------------------------------------------- lifecycle

  private start(): void {
    for (const n of this.nodes) this.boot(n)
    const s = this.schedule
    this.q.push(s.chaosMs, {kind: 'endChaos'})
    this.q.push(this.rand.exp(s.meanCrashMs), {kind: 'crash'})
    this.q.push(this.rand.exp(s.meanPartitionMs), {kind: 'partition'})
    this.q.push(this.rand.exp(s.meanProposeMs), {kind: 'propose'})
    this.q.push(this.rand.exp(s.meanCompactMs), {kind: 'compact'})
    this.q.push(this.rand.exp(s.meanTransferMs), {kind: 'transfer'})
    this.q.push(this.memberRand.exp(s.meanMemberMs), {kind: 'member'})
  }

  private boot(n: SimNode): void {
    const s = this.schedule
    n.incarnation++
    n.writing = null
    n.raft = new Raft({
      id: n.id,
      peers: n.initialVoters,
      storage: n.storage,
      random: prng(mix(this.seed, n.id, n.incarnation)),
      electionTick: s.electionTick,
      heartbeatTick: s.heartbeatTick,
      preVote: s.preVote,
      checkQuorum: s.checkQuorum,
      maxEntriesPerMsg: s.maxEntriesPerMsg,
      maxBytesPerMsg: s.maxBytesPerMsg,
      maxInflight: s.maxInflight,
      applied: n.applied,
      bugs: this.bugs,
    })
    const st = n.raft.status(NO_PROGRESS)
    n.lastCommit = st.commit
    // Re-verify the whole committed prefix this incarnation starts with.
    n.seenCommit = st.firstIndex - 1
    n.checkedLeaderTerm = -1
    this.q.push(this.now + this.rand.int(1, n.tickMs), {kind: 'tick', node: n.id, inc: n.incarnation})
    this.pump(n)
  }

  private crash(n: SimNode): void {
    n.raft = null
    n.writing = null
    this.faults.crashes++
    this.log(`crash n${n.id} (durable: last ${n.storage.lastIndex()}, term ${n.storage.initialState().term}, applied ${n.applied})`)
  }

  private finished(): boolean {
    if (this.phase !== 'drain') return false
    const need = this.accepted
    if (need.length === 0) return true
    const last = need[need.length - 1].index
    for (const n of this.members()) if (n.applied < last) return false
    return true
  }

  /** Moves between the final phases and enforces their time bounds. */
  private checkPhase(): void {
    if (this.phase === 'settle') {
      // Stable: every node follows the same leader in the same term, continuously for two
      // maximal election timeouts (so no node is about to time out on a leader it lost).
      const leader = this.stableLeader()
      const key = leader === null ? -1 : leader * 1e9 + (this.nodes[leader].raft as Raft).status(NO_PROGRESS).term
      if (key !== this.stableKey) {
        this.stableKey = key
        this.stableSince = this.now
      }
      const hold = 2 * 2 * this.schedule.electionTick * 11
      if (leader !== null && this.now - this.stableSince >= hold) {
        this.phase = 'stable'
        this.stableAt = this.now
        this.log(`stable leader n${leader} after ${this.now - this.healAt}ms`)
      } else if (this.now - this.healAt > LEADER_BOUND_MS) {
        throw new Violation(`liveness: no stable leader ${LEADER_BOUND_MS}ms after healing (${this.describeNodes()})`)
      }
    } else if (this.phase === 'stable') {
      if (this.now - this.stableAt >= this.schedule.stableMs) {
        this.phase = 'drain'
        this.lastProgressAt = this.now
      }
    } else if (this.phase === 'drain') {
      // Progress: anything applied or made durable anywhere (catching up a long uncommitted
      // tail commits nothing for a while, but it does grow the followers' logs).
      let sum = 0
      for (const n of this.members()) sum += n.applied * 7 + n.storage.lastIndex()
      if (sum !== this.lastAppliedSum) {
        this.lastAppliedSum = sum
        this.lastProgressAt = this.now
      }
      const stalled = this.now - this.lastProgressAt > STALL_BOUND_MS
      if (stalled || this.now - this.stableAt > this.schedule.stableMs + DRAIN_LIMIT_MS) {
        const lagging = this.members().filter((n) => n.applied < this.accepted[this.accepted.length - 1].index)
        throw new Violation(
          `liveness: ${stalled ? `nothing applied for ${STALL_BOUND_MS}ms` : `${DRAIN_LIMIT_MS}ms`} after the stable period, proposals accepted in it are not applied on ` +
            `${lagging.map((n) => `n${n.id} (applied ${n.applied})`).join(', ')} (${this.describeNodes()})`,
        )
      }
    }
  }

  /** The running node that leads in the highest term, if any. */
  private currentLeader(): SimNode | null {
    let leader: SimNode | null = null
    let term = -1
    for (const n of this.nodes) {
      const st = n.raft?.status(NO_PROGRESS)
      if (st?.role === 'leader' && st.term > term) {
        leader = n
        term = st.term
      }
    }
    return leader
  }

  /** The nodes of the current leader's configuration (of the last one seen, with no leader). */
  private members(): SimNode[] {
    if (this.membersAtStep === this.steps) return this.membersCache
    const leader = this.currentLeader()
    if (leader !== null) this.lastMembers = (leader.raft as Raft).status(NO_PROGRESS).membership
    const m = this.lastMembers ?? this.initialConf
    this.membersCache = this.nodes.filter((n) => isMember(m, n.id))
    this.membersAtStep = this.steps
    return this.membersCache
  }

  private lastMembers: Membership | null = null
  private membersCache: SimNode[] = []
  private membersAtStep = -1

  /** A leader that every member of its configuration follows, in the highest term any node has.
   * Nodes outside it (removed, or added by an entry that was lost) are left out. */
  private stableLeader(): NodeId | null {
    const leader = this.currentLeader()
    if (leader === null) return null
    const st = (leader.raft as Raft).status(NO_PROGRESS)
    for (const n of this.nodes) {
      if (!isMember(st.membership, n.id)) continue
      if (n.raft === null) return null
      const other = n.raft.status(NO_PROGRESS)
      if (other.term !== st.term || other.leaderId !== leader.id) return null
    }
    return leader.id
  }

  private describeNodes(): string {
    return this.nodes
      .map((n) => {
        if (n.raft === null) return `n${n.id}: down`
        const st = n.raft.status(NO_PROGRESS)
        return `n${n.id}: ${st.role} t${st.term} lead ${st.leaderId} commit ${st.commit} last ${st.lastIndex} applied ${n.applied}`
      })
      .join('; ')
  }

  // ---------------------------------------------------------------- events

  private handle(ev: Event): void {
    const s = this.schedule
    switch (ev.kind) {
      case 'tick': {
        const n = this.nodes[ev.node]
        if (n.raft === null || n.incarnation !== ev.inc) return
        n.raft.tick()
        this.q.push(this.now + n.tickMs, ev)
        this.afterInput(n)
        return
      }
      case 'msg': {
        const m = ev.m
        const n = this.nodes[m.to]
        if (this.isCut(m.from, m.to)) {
          this.faults.dropped++
          if (m.type === 'snap') this.reportSnapshot(m, false)
          return
        }
        if (n.raft === null) {
          if (m.type === 'snap') this.reportSnapshot(m, false)
          return
        }
        const link = m.from * LINK + m.to
        const last = this.lastDelivered.get(link) ?? -1
        if (ev.sent < last) this.faults.reordered++
        else this.lastDelivered.set(link, ev.sent)
        if (this.keepTrace || m.type === 'snap') this.log(`deliver ${fmt(m)}`)
        n.raft.step(m)
        this.afterInput(n)
        if (m.type === 'snap') this.reportSnapshot(m, true)
        return
      }
      case 'snapReport': {
        const n = this.nodes[ev.node]
        if (n.raft === null || n.incarnation !== ev.inc) return
        n.raft.reportSnapshot(ev.to, ev.ok)
        this.afterInput(n)
        return
      }
      case 'persisted': {
        const n = this.nodes[ev.node]
        if (n.raft === null || n.incarnation !== ev.inc) return
        this.completeWrite(n, ev.rd)
        return
      }
      case 'crashNode': {
        const n = this.nodes[ev.node]
        if (this.phase !== 'chaos' || n.raft === null || n.incarnation !== ev.inc) return
        this.crash(n)
        this.q.push(this.now + this.rand.int(1, s.maxDownMs), {kind: 'restart', node: n.id})
        return
      }
      case 'isolateNode': {
        const n = this.nodes[ev.node]
        if (this.phase !== 'chaos' || n.raft === null || n.incarnation !== ev.inc) return
        this.cut.clear()
        for (const o of this.nodes) {
          if (o !== n) {
            this.cut.add(n.id * LINK + o.id)
            this.cut.add(o.id * LINK + n.id)
          }
        }
        this.faults.partitions++
        this.log(`partition: isolate new leader n${n.id}`)
        this.q.push(this.now + this.rand.int(10, s.maxPartitionMs), {kind: 'heal'})
        return
      }
      case 'restart': {
        const n = this.nodes[ev.node]
        if (n.raft !== null || n.decommissioned) return
        this.log(`restart n${n.id}`)
        this.boot(n)
        this.check(n)
        return
      }
      case 'crash': {
        if (this.phase !== 'chaos') return
        this.q.push(this.now + this.rand.exp(s.meanCrashMs), ev)
        const up = this.nodes.filter((n) => n.raft !== null)
        // Keep a majority up most of the time so the run also makes progress.
        if (up.length <= Math.floor(this.nodes.length / 2) + 1 && this.rand.chance(0.7)) return
        // Prefer the leader: that is where the interesting bugs are.
        const leaders = up.filter((n) => n.raft?.status(NO_PROGRESS).role === 'leader')
        const victim = leaders.length > 0 && this.rand.chance(0.5) ? this.rand.pick(leaders) : this.rand.pick(up)
        if (victim === undefined) return
        this.crash(victim)
        this.q.push(this.now + this.rand.int(1, s.maxDownMs), {kind: 'restart', node: victim.id})
        return
      }
      case 'partition': {
        if (this.phase !== 'chaos') return
        this.partition()
        this.q.push(this.now + this.rand.int(10, s.maxPartitionMs), {kind: 'heal'})
        this.q.push(this.now + this.rand.exp(s.meanPartitionMs) + s.maxPartitionMs, ev)
        return
      }
      case 'heal':
        if (this.cut.size > 0) this.log('heal network')
        this.cut.clear()
        return
      case 'propose':
        this.propose()
        if (this.phase === 'chaos' || this.phase === 'stable') this.q.push(this.now + this.rand.exp(s.meanProposeMs), ev)
        else if (this.phase === 'settle') this.q.push(this.now + 20, ev)
        return
      case 'compact':
        if (this.phase !== 'chaos') return
        this.compact()
        this.q.push(this.now + this.rand.exp(s.meanCompactMs), ev)
        return
      case 'transfer': {
        if (this.phase !== 'chaos') return
        this.q.push(this.now + this.rand.exp(s.meanTransferMs), ev)
        const leader = this.nodes.find((n) => n.raft?.status(NO_PROGRESS).role === 'leader')
        if (!leader || !leader.raft) return
        const others = leader.raft.status(NO_PROGRESS).membership.voters.filter((id) => id !== leader.id)
        if (others.length === 0) return
        const to = this.rand.pick(others)
        this.faults.transfers++
        this.log(`transfer leadership n${leader.id} -> n${to}`)
        leader.raft.transferLeadership(to)
        this.afterInput(leader)
        return
      }
      case 'member': {
        if (this.phase !== 'chaos') return
        // Now and then a burst: the next change is asked for at once, while this one is in flight.
        const burst = this.memberRand.chance(0.3)
        this.q.push(this.now + (burst ? this.memberRand.int(0, 3) : this.memberRand.exp(s.meanMemberMs)), ev)
        this.changeMembership()
        return
      }
      case 'endChaos': {
        this.phase = 'settle'
        this.healAt = this.now
        this.cut.clear()
        this.dropRate = 0
        this.dupRate = 0
        this.maxDelayMs = Math.min(this.maxDelayMs, 20)
        this.log('end of chaos: heal network, restart every node, no more drops')
        this.decommissionRemoved()
        for (const n of this.nodes) {
          if (n.raft === null && !n.decommissioned) {
            this.boot(n)
            this.check(n)
          }
        }
        return
      }
    }
  }

  private afterInput(n: SimNode): void {
    this.pump(n)
    this.check(n)
  }

  // ---------------------------------------------------------------- the driver

  /** Plays the broker's driver: hand out Readies, send, persist asynchronously. */
  private pump(n: SimNode): void {
    const raft = n.raft
    if (raft === null) return
    if (n.writing !== null) {
      // A write is in flight: the leader's fresh appends may still go out now.
      const msgs = raft.takeMessages()
      for (const m of msgs) this.send(m)
      return
    }
    while (raft.hasReady()) {
      const rd = raft.ready()
      for (const m of rd.messages) this.send(m)
      if (rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined) {
        n.writing = rd
        this.q.push(this.now + this.rand.int(0, this.schedule.maxWriteMs), {kind: 'persisted', node: n.id, inc: n.incarnation, rd})
        return
      }
      this.finishReady(n, rd)
    }
  }

  private completeWrite(n: SimNode, rd: Ready): void {
    if (rd.snapshot !== undefined) this.install(n, rd.snapshot)
    if (rd.entries.length > 0) {
      n.storage.append(rd.entries)
      this.checkLogPairs(n, rd.entries)
      const first = rd.entries[0].index
      while (n.storedConfs.length > 1 && n.storedConfs[n.storedConfs.length - 1].index >= first) n.storedConfs.pop()
      for (const e of rd.entries) if (e.type === 'conf') n.storedConfs.push({index: e.index, membership: decodeMembership(e.data)})
    }
    if (rd.hardState !== undefined) {
      const old = n.storage.initialState()
      const hs = rd.hardState
      if (this.durabilityChecks && (hs.term < old.term || (hs.term === old.term && old.vote !== null && hs.vote !== old.vote) || hs.commit < old.commit)) {
        this.fail(`durability: n${n.id} overwrites durable hard state ${JSON.stringify(old)} with ${JSON.stringify(hs)} (term, vote and commit must never go back)`)
      }
      n.storage.setHardState(hs)
    }
    n.writing = null
    this.finishReady(n, rd)
    this.pump(n)
    this.check(n)
  }

  private finishReady(n: SimNode, rd: Ready): void {
    for (const m of rd.persistedMessages) this.send(m)
    for (const e of rd.committed) this.apply(n, e)
    ;(n.raft as Raft).advance(rd)
  }

  /** The driver's side of a snapshot: the state machine is replaced by the snapshot's, durably
   * (this is the Ready's write completing), and the log starts after it. */
  private install(n: SimNode, snap: Snapshot): void {
    if (snap.index <= n.applied) {
      this.fail(`snapshot: n${n.id} installs a snapshot at index ${snap.index} (term ${snap.term}), not past the state it applied (index ${n.applied})`)
    }
    const known = this.committedTerm[snap.index]
    if (known !== undefined && known !== -1 && known !== snap.term) {
      this.fail(`state machine safety: n${n.id} installs a snapshot at index ${snap.index} with term ${snap.term}, but term ${known} was committed there`)
    }
    const st = decodeState(snap.data)
    if (st === null || st.index !== snap.index) {
      this.fail(`snapshot: n${n.id} installs a snapshot at index ${snap.index} whose data is for index ${st?.index ?? '(unreadable)'}`)
    }
    this.checkState(n, snap.index, st.state, 'installs')
    const want = this.committedConfAsOf(snap.index)
    if (!sameMembership(snap.membership, want)) {
      this.fail(`configuration safety: n${n.id} installs a snapshot at index ${snap.index} with ${formatMembership(snap.membership)}, but the configuration committed as of there is ${formatMembership(want)}`)
    }
    n.storage.applySnapshot(snap)
    n.storedConfs = [{index: snap.index, membership: snap.membership}]
    n.applied = snap.index
    n.appliedConf = snap.membership
    n.state = st.state
    if (known === undefined) {
      while (this.committedTerm.length < snap.index) this.committedTerm.push(-1)
      this.committedTerm[snap.index] = snap.term
    }
    this.snapshotsInstalled++
    this.log(`n${n.id} installs snapshot at index ${snap.index} term ${snap.term}`)
  }

  /** A state machine at `index` must equal the replay of the committed entries up to there. */
  private checkState(n: SimNode, index: number, state: number, what: string): void {
    const want = this.canonicalStateAt(index)
    if (want === undefined) this.fail(`snapshot: n${n.id} ${what} a state at index ${index}, but no node ever applied every entry up to there`)
    if (state !== want) this.fail(`state machine safety: n${n.id} ${what} a state at index ${index} that differs from replaying the committed entries up to there`)
  }

  private canonicalStateAt(index: number): number | undefined {
    const c = this.canonicalState
    while (c.length <= index) {
      const at = this.appliedAt[c.length]
      if (at === undefined) return undefined
      c.push(applyToState(c[c.length - 1], c.length, at[0], at[1]))
    }
    return c[index]
  }

  /** The leader's driver learns how a snapshot stream ended (its transport saw it). */
  private reportSnapshot(m: Message, ok: boolean): void {
    const from = this.nodes[m.from]
    this.q.push(this.now + this.rand.int(0, this.maxDelayMs), {kind: 'snapReport', node: m.from, inc: from.incarnation, to: m.to, ok})
  }

  private send(m: Message): void {
    this.messages++
    if (this.durabilityChecks) this.checkPromise(m)
    if (m.type === 'snap') this.snapshotsSent++
    if (this.isCut(m.from, m.to) || this.rand.chance(this.dropRate)) {
      this.faults.dropped++
      if (m.type === 'snap') this.reportSnapshot(m, false)
      return
    }
    const seq = this.msgSeq++
    // A snapshot streams for longer than a message takes.
    const streaming = m.type === 'snap' ? this.rand.int(0, 2 * this.maxDelayMs) : 0
    this.q.push(this.now + streaming + this.rand.int(this.schedule.minDelayMs, Math.max(this.schedule.minDelayMs, this.maxDelayMs)), {kind: 'msg', m, sent: seq})
    if (this.rand.chance(this.dupRate)) {
      this.faults.duplicated++
      this.q.push(this.now + this.rand.int(this.schedule.minDelayMs, 2 * this.maxDelayMs + 1), {kind: 'msg', m, sent: seq})
    }
  }

  private isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.size > 0 && this.cut.has(from * LINK + to)
  }

  // ---------------------------------------------------------------- faults and clients

  private partition(): void {
    const ids = this.nodes.map((n) => n.id)
    const cutBoth = (a: NodeId, b: NodeId): void => {
      this.cut.add(a * LINK + b)
      this.cut.add(b * LINK + a)
    }
    this.cut.clear()
    const shape = this.rand.pick(['isolate', 'halves', 'bridge', 'oneway'] as const)
    let desc: string
    if (shape === 'isolate') {
      // Cut off the leader half of the time: the most disruptive choice.
      const leader = this.nodes.find((n) => n.raft?.status(NO_PROGRESS).role === 'leader')
      const victim = leader && this.rand.chance(0.5) ? leader.id : this.rand.pick(ids)
      for (const o of ids) if (o !== victim) cutBoth(victim, o)
      desc = `isolate n${victim}`
    } else if (shape === 'halves') {
      const sh = this.rand.shuffle([...ids])
      const k = Math.floor(sh.length / 2)
      const a = sh.slice(0, k)
      const b = sh.slice(k)
      for (const x of a) for (const y of b) cutBoth(x, y)
      desc = `halves {${a.join(',')}} | {${b.join(',')}}`
    } else if (shape === 'bridge') {
      // Two sides that cannot talk, and one node that talks to both.
      const sh = this.rand.shuffle([...ids])
      const bridge = sh[0]
      const rest = sh.slice(1)
      const k = Math.floor(rest.length / 2)
      const a = rest.slice(0, k)
      const b = rest.slice(k)
      for (const x of a) for (const y of b) cutBoth(x, y)
      desc = `bridge {${a.join(',')}} - n${bridge} - {${b.join(',')}}`
    } else {
      const from = this.rand.pick(ids)
      const to = this.rand.pick(ids.filter((x) => x !== from))
      this.cut.add(from * LINK + to)
      desc = `one-way n${from} -x-> n${to}`
    }
    this.faults.partitions++
    this.log(`partition: ${desc}`)
  }

  private propose(): void {
    const up = this.nodes.filter((n) => n.raft !== null)
    if (up.length === 0) return
    const leaders = up.filter((n) => n.raft?.status(NO_PROGRESS).role === 'leader')
    // Clients mostly find whoever claims to lead (possibly a stale leader), sometimes not. Once
    // the faults are over they find the leader of the highest term: a leader removed while cut
    // off, with neither CheckQuorum nor PreVote, may go on believing it leads an old term (no
    // member talks to it any more), and would accept what it can never commit.
    const current = this.phase === 'chaos' ? null : this.currentLeader()
    const target =
      current !== null ? current : leaders.length > 0 && (this.phase !== 'chaos' || this.rand.chance(0.85)) ? this.rand.pick(leaders) : this.rand.pick(up)
    const raft = target.raft as Raft
    const count = this.rand.int(1, 3)
    const data: Uint8Array[] = []
    const ids: number[] = []
    for (let i = 0; i < count; i++) {
      const id = this.nextProposal++
      const d = new Uint8Array(4 + this.rand.int(0, 24))
      d[0] = id & 0xff
      d[1] = (id >>> 8) & 0xff
      d[2] = (id >>> 16) & 0xff
      d[3] = (id >>> 24) & 0xff
      data.push(d)
      ids.push(id)
    }
    const res = raft.propose(data)
    if (res !== null) {
      this.acceptedTotal += count
      if (this.phase === 'stable') {
        for (let i = 0; i < count; i++) {
          const a = {id: ids[i], index: res.firstIndex + i, term: res.term}
          this.accepted.push(a)
          this.acceptedAt.set(a.index, a)
          this.checkAcceptedNotOverwritten(a)
        }
      }
      if (this.keepTrace) this.log(`propose ${ids.join(',')} at n${target.id}: index ${res.firstIndex} term ${res.term}`)
    }
    this.afterInput(target)
  }

  /**
   * The membership nemesis: asks the leader for one change. Adding a learner starts a fresh node
   * (empty storage, a new id, in no configuration); a replacement adds a learner, promotes it once
   * it has caught up, then removes a voter, over the following calls. Refusals are expected (one
   * change at a time, a lagging learner, a leader that has not committed in its term yet, a
   * transfer under way) and counted; any other error is a failure.
   */
  private changeMembership(): void {
    const leader = this.currentLeader()
    if (leader === null) return
    const raft = leader.raft as Raft
    const m = raft.status(NO_PROGRESS).membership
    const r = this.memberRand
    const fresh = this.nodes.length
    const canAdd = fresh < this.schedule.nodes + MAX_ADDED
    let change: ConfChange | null = null
    if (this.replacing !== null) {
      const {learner, victim} = this.replacing
      if (m.learners.includes(learner)) change = {kind: 'promote', node: learner}
      else if (isVoter(m, learner) && isVoter(m, victim) && m.voters.length > 1) change = {kind: 'remove', node: victim}
      else this.replacing = null
    }
    if (change === null) {
      const x = r.next()
      const removable = m.voters.length >= 3
      if (x < 0.3 && canAdd) change = {kind: 'addLearner', node: fresh}
      else if (x < 0.55 && m.learners.length > 0) change = {kind: 'promote', node: r.pick(m.learners)}
      else if (x < 0.7 && removable) change = {kind: 'remove', node: r.pick(m.voters.filter((v) => v !== leader.id))}
      else if (x < 0.8 && removable) change = {kind: 'remove', node: leader.id}
      else if (x < 0.85 && m.learners.length > 0) change = {kind: 'remove', node: r.pick(m.learners)}
      else if (canAdd && m.voters.length >= 2) {
        // Replace: add now, promote and remove on later calls.
        this.replacing = {learner: fresh, victim: r.pick(m.voters)}
        change = {kind: 'addLearner', node: fresh}
      }
    }
    if (change === null) return
    let index: number
    try {
      index = raft.proposeConfChange(change)
    } catch (e) {
      if (!(e instanceof ConfChangeRefusedError)) throw e
      this.faults.confRefusals++
      if (this.keepTrace) this.log(`n${leader.id} refuses ${change.kind} n${change.node}: ${e.message}`)
      return
    }
    this.faults.confChanges++
    this.log(`n${leader.id} appends ${change.kind} n${change.node} at ${index} (${formatMembership(raft.status(NO_PROGRESS).membership)})`)
    if (change.kind === 'addLearner') {
      // The id is used from now on, whatever becomes of the entry: ids are never reused.
      this.boot(this.addNode(change.node, []))
    }
    this.afterInput(leader)
  }

  /**
   * Without PreVote and CheckQuorum nothing keeps a removed node that never learned of its
   * removal from raising the term of a member that lags as far back as to still count it a
   * voter (the member then ignores the leader's appends of a lower term, and nobody tells the
   * leader): the dissertation's §4.2.3 remedy is the leader lease, which CheckQuorum provides
   * here. So in those schedules the operator stops the removed nodes once the faults are over:
   * those a committed configuration had and the latest committed one has not (committed
   * configurations are one history and ids are never reused, so they can never come back).
   */
  private decommissionRemoved(): void {
    if (this.schedule.preVote || this.schedule.checkQuorum) return
    const everMember = new Set<NodeId>(this.initialConf.voters)
    let latest = 0
    for (const [i, key] of this.committedConfs) {
      latest = Math.max(latest, i)
      const m = membershipFromKey(key)
      for (const id of [...m.voters, ...m.learners]) everMember.add(id)
    }
    const committed = this.committedConfAsOf(latest)
    for (const n of this.nodes) {
      if (!everMember.has(n.id) || isMember(committed, n.id)) continue
      n.decommissioned = true
      n.raft = null
      n.writing = null
      this.log(`operator stops removed node n${n.id}`)
    }
  }

  /** One running node snapshots its state machine at its applied index (if it moved since its
   * last snapshot) and compacts its log up to the snapshot, but for a random trailing window. */
  private compact(): void {
    const up = this.nodes.filter((n) => n.raft !== null)
    if (up.length === 0) return
    const n = this.rand.pick(up)
    const s = n.storage
    if (n.applied > s.snapshot().index) {
      this.checkState(n, n.applied, n.state, 'snapshots')
      s.createSnapshot(
        n.applied,
        n.appliedConf,
        encodeState(n.applied, n.state),
      )
    }
    const upTo = s.snapshot().index - this.rand.int(0, this.schedule.compactKeep)
    if (upTo < s.firstIndex()) return
    s.compact(upTo)
    this.faults.compactions++
    this.log(`n${n.id} snapshots at ${s.snapshot().index}, compacts through ${upTo}`)
  }

  // ---------------------------------------------------------------- checkers

  private fail(msg: string): never {
    throw new Violation(msg)
  }

  /** Runs after every step that touched node n. */
  private check(n: SimNode): void {
    const raft = n.raft
    if (raft === null) return
    const st = raft.status(NO_PROGRESS)

    // Commit index never decreases (within an incarnation; a restart resumes from the durable one).
    if (st.commit < n.lastCommit) this.fail(`commit decreased on n${n.id}: ${n.lastCommit} -> ${st.commit}`)
    if (st.commit > n.lastCommit && st.role === 'leader' && n.firstCommitTerm !== st.term) {
      // A leader's first commit in its term. Correct Raft commits its no-op here; a Raft that
      // commits older entries by counting may have just committed one that a majority does not
      // yet back with an entry of the new term. Vanishing now is what turns that into a loss.
      n.firstCommitTerm = st.term
      if (this.phase === 'chaos' && this.rand.chance(this.schedule.vanishOnFirstCommitChance)) {
        const kind = this.rand.chance(0.5) ? 'crashNode' : 'isolateNode'
        this.q.push(this.now + this.rand.int(0, 3), {kind, node: n.id, inc: n.incarnation})
      }
    }
    n.lastCommit = st.commit
    this.checkConfiguration(n, raft, st)

    // Every index a node considers committed holds one entry cluster-wide.
    if (st.commit > n.seenCommit) {
      for (let i = Math.max(n.seenCommit + 1, st.firstIndex); i <= st.commit; i++) {
        const t = raft.termAt(i)
        if (t === null) continue
        const known = this.committedTerm[i]
        if (known === undefined) {
          if (i !== this.committedTerm.length) {
            // A gap: indexes below were committed elsewhere and compacted here; fill from our log is impossible.
            while (this.committedTerm.length < i) this.committedTerm.push(-1)
          }
          this.committedTerm[i] = t
        } else if (known === -1) {
          this.committedTerm[i] = t
        } else if (known !== t) {
          this.fail(`state machine safety: n${n.id} commits index ${i} with term ${t}, but term ${known} was committed there before`)
        }
      }
      n.seenCommit = st.commit
    }

    if (st.role === 'leader') {
      // Election safety: at most one leader per term.
      const other = this.leaders.get(st.term)
      if (other === undefined) {
        this.leaders.set(st.term, n.id)
        this.elections++
        this.log(`n${n.id} leads term ${st.term} (last ${st.lastIndex}, commit ${st.commit})`)
        if (this.phase === 'chaos' && this.rand.chance(this.schedule.leaderCrashChance)) {
          const kind = this.rand.chance(0.5) ? 'crashNode' : 'isolateNode'
          this.q.push(this.now + this.rand.int(1, this.schedule.maxLeaderLifeMs), {kind, node: n.id, inc: n.incarnation})
        }
      } else if (other !== n.id) {
        this.fail(`election safety: n${other} and n${n.id} both lead term ${st.term}`)
      }
      // Leader completeness: a new leader holds every entry committed before it was elected.
      if (n.checkedLeaderTerm !== st.term) {
        n.checkedLeaderTerm = st.term
        for (let i = st.firstIndex; i < this.committedTerm.length; i++) {
          const want = this.committedTerm[i]
          if (want === -1) continue
          const t = raft.termAt(i)
          if (t !== want) {
            this.fail(`leader completeness: n${n.id} leads term ${st.term} but has term ${t} at index ${i}, where term ${want} was committed`)
          }
        }
      }
    }
  }

  /**
   * The configuration rules: one committed configuration per index across the cluster; a node
   * uses the latest configuration in its log (checked when all of its log is durable, where the
   * simulation can read it); a leader whose removal is committed does not lead.
   */
  private checkConfiguration(n: SimNode, raft: Raft, st: ReturnType<Raft['status']>): void {
    if (st.membershipIndex > 0 && st.membershipIndex <= st.commit && st.membershipIndex !== n.notedConf) {
      n.notedConf = st.membershipIndex
      this.noteCommittedConf(n, st.membershipIndex, st.membership)
    }
    const logs = n.storedConfs[n.storedConfs.length - 1]
    // The core hands out the same membership object until it changes: compare once per change.
    if ((st.membership !== n.checkedConf[0] || logs !== n.checkedConf[1]) && n.writing === null && !raft.hasReady()) {
      n.checkedConf = [st.membership, logs]
      if (!sameMembership(st.membership, logs.membership)) {
        this.fail(
          `configuration safety: n${n.id} uses ${formatMembership(st.membership)} (index ${st.membershipIndex}), but the latest configuration in its log is ` +
            `${formatMembership(logs.membership)} (index ${logs.index}): a configuration takes effect when appended (§4.1)`,
        )
      }
    }
    if (st.role === 'leader' && !isVoter(st.membership, n.id) && st.membershipIndex <= st.commit) {
      this.fail(`configuration safety: n${n.id} leads term ${st.term} although its removal (index ${st.membershipIndex}) is committed`)
    }
  }

  /** Records that `m` is committed at `index` (seen by n), refusing a second configuration there. */
  private noteCommittedConf(n: SimNode, index: number, m: Membership): void {
    const key = confKey(m)
    const known = this.committedConfs.get(index)
    if (known === undefined) this.committedConfs.set(index, key)
    else if (known !== key) this.fail(`configuration safety: n${n.id} has ${key} committed at index ${index}, where ${known} was committed before`)
  }

  /** The configuration committed as of `index`: the latest configuration entry applied anywhere at
   * or below it (complete there when some node applied every entry up to `index`). */
  private committedConfAsOf(index: number): Membership {
    let best = 0
    for (const i of this.committedConfs.keys()) if (i <= index && i > best) best = i
    if (best === 0) return this.initialConf
    return membershipFromKey(this.committedConfs.get(best) as string)
  }

  /** A message that promises something about its sender's durable state may only leave once
   * that state is durable: an append acknowledgment (the log up to `index`), a granted vote (the
   * term and the vote). This is what the driver's persistedMessages contract is for. */
  private checkPromise(m: Message): void {
    if (m.type === 'appResp' && !m.reject && m.index !== undefined) {
      // The durable log must reach `index`, and the entry there must be one the leader of m.term
      // can have sent (term <= m.term). It may already be doomed in memory (a newer leader's
      // append overwrote it, not yet durable): the acknowledgment is then merely late, as if
      // delayed by the network, which Raft tolerates.
      const n = this.nodes[m.from]
      const durableLast = n.storage.lastIndex()
      let durableTerm = -1
      if (m.index <= durableLast && m.index >= n.storage.firstIndex() - 1) durableTerm = n.storage.term(m.index)
      if (m.index > durableLast || durableTerm > m.term) {
        this.fail(
          `durability: n${m.from} acknowledges index ${m.index} in term ${m.term} to n${m.to}, but its durable log ends at ${durableLast}` +
            (durableTerm > m.term ? ` with term ${durableTerm} there` : ''),
        )
      }
    } else if (m.type === 'voteResp' && !m.reject) {
      const hs = this.nodes[m.from].storage.initialState()
      // A durable term above the vote's also keeps the promise: we can never vote in that term again.
      if (hs.term < m.term || (hs.term === m.term && hs.vote !== m.to)) {
        this.fail(`durability: n${m.from} grants its vote in term ${m.term} to n${m.to}, but its durable state says term ${hs.term}, vote ${hs.vote}`)
      }
    }
  }

  /** Log matching over the durable logs: (index, term) identifies one entry and its predecessor. */
  private checkLogPairs(n: SimNode, entries: readonly Entry[]): void {
    const s = n.storage
    for (const e of entries) {
      if (e.index < s.firstIndex()) continue
      const prevTerm = e.index - 1 >= s.firstIndex() - 1 ? s.term(e.index - 1) : -1
      let byTerm = this.logPairs.get(e.index)
      if (byTerm === undefined) {
        byTerm = new Map()
        this.logPairs.set(e.index, byTerm)
      }
      const id = entryId(e)
      const seen = byTerm.get(e.term)
      if (seen === undefined) {
        byTerm.set(e.term, [id, prevTerm])
      } else if (seen[0] !== id || (seen[1] !== prevTerm && seen[1] !== -1 && prevTerm !== -1)) {
        this.fail(
          `log matching: n${n.id} stores entry ${id} after term ${prevTerm} at (index ${e.index}, term ${e.term}), ` +
            `another log has entry ${seen[0]} after term ${seen[1]} there`,
        )
      }
    }
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.applied + 1) {
      this.fail(`state machine safety: n${n.id} applies index ${e.index} after ${n.applied} (twice or out of order)`)
    }
    const id = entryId(e)
    const prev = this.appliedAt[e.index]
    if (prev === undefined) this.appliedAt[e.index] = [e.term, id]
    else if (prev[0] !== e.term || prev[1] !== id) {
      this.fail(`state machine safety: n${n.id} applies entry ${id} (term ${e.term}) at index ${e.index}, another node applied entry ${prev[1]} (term ${prev[0]})`)
    }
    const known = this.committedTerm[e.index]
    if (known !== undefined && known !== -1 && known !== e.term) {
      this.fail(`state machine safety: n${n.id} applies term ${e.term} at index ${e.index}, committed term there is ${known}`)
    }
    if (e.type === 'conf') {
      const m = decodeMembership(e.data)
      this.noteCommittedConf(n, e.index, m)
      n.appliedConf = m
    }
    n.applied = e.index
    n.state = applyToState(n.state, e.index, e.term, id)
    const a = this.acceptedAt.get(e.index)
    if (a !== undefined) this.checkAcceptedNotOverwritten(a)
  }

  /** An accepted proposal of the stable period must end up applied exactly where it was accepted. */
  private checkAcceptedNotOverwritten(a: Accepted): void {
    const at = this.appliedAt[a.index]
    if (at !== undefined && (at[0] !== a.term || at[1] !== a.id)) {
      this.fail(`liveness: proposal ${a.id} accepted at index ${a.index} term ${a.term} in the stable period was replaced by entry ${at[1]} (term ${at[0]})`)
    }
  }

  private log(line: string): void {
    this.trace.push(`${String(this.now).padStart(6)}ms ${line}`)
    if (!this.keepTrace && this.trace.length > 120) this.trace = this.trace.slice(-60)
  }
}

function fmt(m: Message): string {
  let s = `${m.type} n${m.from}->n${m.to} t${m.term}`
  if (m.index !== undefined) s += ` i${m.index}`
  if (m.logTerm !== undefined) s += ` lt${m.logTerm}`
  if (m.entries !== undefined && m.entries.length > 0) s += ` [${m.entries[0].index}..${m.entries[m.entries.length - 1].index}]`
  if (m.commit !== undefined) s += ` c${m.commit}`
  if (m.reject) s += ` REJECT hint ${m.rejectHint}/${m.hintTerm}`
  if (m.snapshot !== undefined) s += ` snapshot@${m.snapshot.index}/t${m.snapshot.term}`
  return s
}

export function runSimulation(opts: SimOptions): SimResult {
  return new Simulation(opts).run()
}

/** The command that replays one seed, for failure messages. */
export function replayCommand(seed: number, nodes: number, bugs?: PlantedBugs): string {
  const bug = bugs ? Object.keys(bugs).filter((k) => bugs[k as keyof PlantedBugs]) : []
  return `npm run sim -- --seed ${seed} --nodes ${nodes}${bug.map((b) => ` --bug ${b}`).join('')} --trace`
}
