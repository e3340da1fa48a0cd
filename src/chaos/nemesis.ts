/**
 * The nemesis: a fault schedule drawn from the run's seed, and the loop that plays it on a
 * cluster. One fault at a time: it is injected, held, undone, then the next follows after a
 * pause, so the cluster always gets a chance to recover (a majority is never down for good)
 * and every anomaly can be traced to the fault in force when it happened.
 *
 * The schedule (kinds, targets, hold times, shapes, node orders) is a pure function of the
 * seed and options; the run itself is not deterministic (processes, timers, the network),
 * but the same seed replays the same sequence of faults. "The leader" is resolved when the
 * fault starts.
 *
 * `crash` SIGKILLs a majority of the nodes, or all of them, at once, then starts them again: the
 * cluster must come back from its disks alone, with every acknowledged message.
 *
 * Partition shapes, after Jepsen's nemesis, over the nodes in a seeded random order:
 *   one      one node against the rest
 *   leader   the current leader against the rest
 *   halves   the first floor(n/2) nodes against the others (a majority keeps working)
 *   bridge   the two halves, except that one node of the larger half keeps its links to all
 *   ring     each node keeps links to its ring neighbours within ceil(floor(n/2)/2): each sees
 *            a majority, no two the same one (needs 4+ nodes)
 */
import {findLeader} from '../client/raft-state.js'
import {ClusterError} from '../cluster/errors.js'
import type {Partition, PartitionRequest} from '../cluster/faults.js'
import type {ChaosCluster, CorruptHow} from './cluster.js'
import type {FaultKind, FaultRecord} from './history.js'
import {between, derive, pick, shuffle, type Random} from './random.js'
import {poll} from '../util/time.js'

export const FAULT_FAMILIES = ['kill', 'stop', 'pause', 'crash', 'partition', 'delay', 'loss', 'membership', 'corrupt'] as const
export type FaultFamily = (typeof FAULT_FAMILIES)[number]
/**
 * What `chaos` injects without --faults: membership changes and disk corruption only when asked
 * (they reshape the cluster for good; corruption destroys a node's data).
 */
export const DEFAULT_FAMILIES: readonly FaultFamily[] = FAULT_FAMILIES.filter((f) => f !== 'membership' && f !== 'corrupt')

export const MEMBER_ACTIONS = ['add', 'remove', 'replace'] as const
export type MemberAction = (typeof MEMBER_ACTIONS)[number]

/** The voters a membership step may leave: nodes-1 to nodes+1, and never fewer than 3. */
export function membershipBounds(nodes: number): {min: number; max: number} {
  return {min: Math.max(3, nodes - 1), max: nodes + 1}
}

/**
 * The action a membership step takes with `voters` voters now: the planned one, or, when the
 * bounds forbid it, the one that moves the other way (replace when neither may).
 */
export function memberAction(planned: MemberAction, voters: number, bounds: {min: number; max: number}): MemberAction {
  if (planned === 'add' && voters >= bounds.max) return voters > bounds.min ? 'remove' : 'replace'
  if (planned === 'remove' && voters <= bounds.min) return voters < bounds.max ? 'add' : 'replace'
  return planned
}

/** The member in slot `slot` (members in index order; slots wrap when there are fewer members). */
export function memberAt(slot: number, members: readonly number[]): number {
  return [...members].sort((a, b) => a - b)[slot % members.length]
}

/**
 * A planned order of slots as an order of the current members: each slot that has a member
 * becomes it, and members beyond the planned slots (the cluster grew) go last.
 */
export function membersInOrder(order: readonly number[], members: readonly number[]): number[] {
  const sorted = [...members].sort((a, b) => a - b)
  return [...order.filter((slot) => slot < sorted.length).map((slot) => sorted[slot]), ...sorted.slice(order.length)]
}

export const SHAPES = ['one', 'leader', 'halves', 'ring', 'bridge'] as const
export type Shape = (typeof SHAPES)[number]

export interface ScheduleOptions {
  nodes: number
  durationMs: number
  /** Mean pause between the end of one fault and the start of the next. */
  intervalMs: number
  /** Each fault is held for a time drawn from [minHoldMs, maxHoldMs]. */
  minHoldMs: number
  maxHoldMs: number
  families: readonly FaultFamily[]
}

export interface FaultStep {
  /** Planned start, in ms from the start of the run (later if the previous fault overran). */
  at: number
  holdMs: number
  family: FaultFamily
  /** For process faults, delay and loss: a node index, or the leader at the time. */
  target?: number | 'leader'
  /** For crash: the nodes killed together. */
  nodes?: number[]
  shape?: Shape
  /** For shapes: the node order the shape is cut from. */
  order?: number[]
  delayMs?: number
  jitterMs?: number
  loss?: number
  /** For membership: the action it prefers, and for replace, whether the node is SIGKILLed first. */
  member?: {action: MemberAction; kill: boolean}
  /** For corrupt: what is done to which file of the node (killed first, so its WAL stays). */
  corruption?: CorruptHow
}

/** The shapes a cluster of `nodes` can be cut into. */
export function shapesFor(nodes: number): Shape[] {
  return SHAPES.filter((shape) => (shape === 'ring' ? nodes >= 4 : shape === 'bridge' ? nodes >= 3 : true))
}

/** The fault steps of a run: a pure function of the seed and the options. */
export function planSchedule(seed: number, options: ScheduleOptions): FaultStep[] {
  if (options.families.length === 0 || options.nodes < 2) return []
  const random = derive(seed, 'nemesis')
  const steps: FaultStep[] = []
  const gap = (): number => Math.round(options.intervalMs * (0.5 + random()))
  let at = gap()
  // Planned time also counts a restart's few seconds, so the plan is about as long as the run.
  while (at < options.durationMs && steps.length < 100_000) {
    const family = pick(random, options.families)
    const holdMs = between(random, options.minHoldMs, options.maxHoldMs)
    const step: FaultStep = {at, holdMs, family}
    const target = (): number | 'leader' => (random() < 0.5 ? 'leader' : between(random, 0, options.nodes - 1))
    switch (family) {
      case 'kill':
      case 'stop':
      case 'pause':
        step.target = target()
        break
      case 'crash': {
        const majority = Math.floor(options.nodes / 2) + 1
        step.nodes = shuffle(random, [...Array(options.nodes).keys()])
          .slice(0, random() < 0.5 ? majority : options.nodes)
          .sort((a, b) => a - b)
        break
      }
      case 'partition':
        step.shape = pick(random, shapesFor(options.nodes))
        step.order = shuffle(random, [...Array(options.nodes).keys()])
        if (step.shape === 'one') step.target = step.order[0]
        if (step.shape === 'leader') step.target = 'leader'
        break
      case 'delay':
        step.target = target()
        step.delayMs = between(random, 10, 150)
        step.jitterMs = between(random, 0, 50)
        break
      case 'loss':
        step.target = target()
        step.loss = between(random, 10, 50) / 100
        break
      case 'corrupt':
        // One node at a time: a minority for 3 nodes and more. Never "the leader": a slot.
        step.target = between(random, 0, options.nodes - 1)
        step.corruption = {
          ...(random() < 0.5 ? {bitflip: between(random, 1, 256)} : {truncate: between(random, 1, 64) * 1024}),
          file: random() < 0.5 ? 'db' : 'wal',
        }
        break
      case 'membership': {
        const action = pick(random, MEMBER_ACTIONS)
        step.member = {action, kill: action === 'replace' && random() < 0.5}
        // An add gets a target too: the voters at the time may turn it into a remove.
        step.target = target()
        break
      }
    }
    steps.push(step)
    // Restarts take a few seconds each, which the plan counts so it is about as long as the run.
    const restarts = family === 'kill' || family === 'stop' ? 1 : family === 'crash' ? step.nodes!.length : 0
    // An add waits for the new node to start and catch up; a replace does that and a removal.
    const joins = family === 'membership' ? (step.member!.action === 'remove' ? 1 : 3) : family === 'corrupt' ? 4 : 0
    at += holdMs + (restarts + joins) * 2000 + gap()
  }
  return steps
}

/**
 * The partition a step asks the cluster for: one node (`isolated`, for one/leader) against the
 * rest, or a shape cut from the nodes in `order`. The geometry is the cluster manager's
 * (cluster/faults.ts), so what the plan says is what the supervisor cuts.
 */
export function partitionRequest(shape: Shape, order: number[], isolated?: number): PartitionRequest {
  if (shape === 'one' || shape === 'leader') return {groups: [[isolated ?? order[0]]]}
  return {shape, order}
}

/** How the history and the log name a partition: "halves (0,3 | 1,2,4)", "ring (4-1-0-2-3)". */
export function partitionName(shape: Shape, partition: Partition): string {
  const groups = partition.groups?.map((g) => g.join(',')).join(' | ')
  if (shape === 'ring') return `ring (${partition.order?.join('-')})`
  if (shape === 'bridge') return `bridge (${groups}, bridge ${partition.bridge})`
  return `${shape} (${groups})`
}

export interface NemesisOptions {
  /** Milliseconds since the start of the run. */
  clock: () => number
  /** The nodes the schedule was planned for (membership stays within membershipBounds of it). */
  nodes: number
  log?: (line: string) => void
  /** Told after each membership step (done or not), so the workload can follow the members. */
  onMembershipChange?: () => void
  /** Who leads now (default: the node that says so on /raft, among the members). */
  leader?: () => Promise<number | null>
}

/**
 * The cluster's refusals of a membership change (one is in flight, it would lose a quorum,
 * there is no leader to ask): the step is skipped, not failed.
 */
const REFUSALS = new Set(['CONFLICT', 'NO_LEADER'])
/** How long a replace of a node it killed waits for the others to elect a leader. */
const LEADER_WAIT_MS = 10_000

/** Plays a schedule on a cluster and records every fault. */
export class Nemesis {
  readonly records: FaultRecord[] = []
  private stopped = false
  private wake: (() => void) | null = null
  private readonly random: Random

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly steps: FaultStep[],
    private readonly options: NemesisOptions,
    seed: number,
  ) {
    this.random = derive(seed, 'nemesis-targets')
  }

  /** Asks the loop to end: the fault in force is undone, and no new one starts. */
  stop(): void {
    this.stopped = true
    this.wake?.()
  }

  /**
   * Plays the steps, whose times count from `startMs`, until `endMs` (both on the run's
   * clock) or stop(); every fault is undone before it returns.
   */
  async run(startMs: number, endMs: number): Promise<void> {
    for (const step of this.steps) {
      await this.sleepUntil(startMs + step.at)
      if (this.stopped || this.options.clock() >= endMs) break
      const hold = Math.round(Math.max(200, Math.min(step.holdMs, endMs - this.options.clock())))
      await this.play(step, hold)
    }
  }

  private async play(step: FaultStep, holdMs: number): Promise<void> {
    if (step.family === 'membership') return this.change(step, holdMs)
    if (step.family === 'corrupt') return this.corrupt(step, holdMs)
    const cluster = this.cluster
    const members = cluster.nodes.map((n) => n.index)
    const target = step.target === 'leader' ? await this.leaderOr() : step.target === undefined ? undefined : memberAt(step.target, members)
    const record: FaultRecord = {kind: 'kill', nodes: [], at: this.options.clock(), healed_at: null}
    const detail: Record<string, unknown> = {hold_ms: holdMs}
    if (step.target === 'leader') detail.target = 'leader'
    record.detail = detail
    this.records.push(record)
    let undo: () => Promise<void>
    try {
      switch (step.family) {
        case 'kill':
        case 'stop': {
          record.kind = step.family
          record.nodes = [target!]
          await (step.family === 'kill' ? cluster.kill(target!) : cluster.stop(target!))
          undo = () => cluster.start(target!)
          break
        }
        case 'crash': {
          const crashed = [...new Set(step.nodes!.map((slot) => memberAt(slot, members)))].sort((a, b) => a - b)
          record.kind = 'crash'
          record.nodes = crashed
          detail.of = cluster.nodes.length
          // One SIGKILL after the other, a few ms apart: all are down before any restarts.
          for (const index of crashed) await cluster.kill(index)
          undo = async () => {
            for (const index of crashed) await cluster.start(index)
          }
          break
        }
        case 'pause':
          record.kind = 'pause'
          record.nodes = [target!]
          await cluster.pause(target!)
          undo = () => cluster.resume(target!)
          break
        case 'partition': {
          const shape = step.shape!
          const order = membersInOrder(step.order!, members)
          const isolated = shape === 'leader' ? await this.leaderOr() : shape === 'one' ? order[0] : undefined
          record.kind = `partition-${shape}` as FaultKind
          // The nodes drop the links by themselves a little after the hold, should we die.
          const applied = await cluster.partition(partitionRequest(shape, order, isolated), holdMs + 10_000)
          record.nodes = [...new Set(applied.cuts.flat())].sort((a, b) => a - b)
          // A bridge's groups are not cut apart (the bridge links them): only the cuts say it.
          const groups = applied.groups && applied.bridge === undefined ? {groups: applied.groups} : {}
          Object.assign(detail, {name: partitionName(shape, applied), cuts: applied.cuts, ...groups})
          undo = () => cluster.heal()
          break
        }
        case 'delay':
          record.kind = 'delay'
          record.nodes = [target!]
          Object.assign(detail, {delay_ms: step.delayMs, jitter_ms: step.jitterMs})
          await cluster.delay(target!, step.delayMs!, step.jitterMs ?? 0, holdMs + 10_000)
          undo = () => cluster.heal()
          break
        case 'loss':
          record.kind = 'loss'
          record.nodes = [target!]
          Object.assign(detail, {loss: step.loss})
          await cluster.loss(target!, step.loss!, holdMs + 10_000)
          undo = () => cluster.heal()
          break
        default:
          throw new Error(`no fault family ${step.family}`)
      }
    } catch (error) {
      record.error = (error as Error).message
      this.options.log?.(`nemesis: ${record.kind} on ${record.nodes.join(',')} failed: ${record.error}`)
      // Whatever half-happened is undone by the final restore.
      return
    }
    this.options.log?.(`nemesis: ${describeFault(record)} for ${holdMs} ms`)
    await this.sleepFor(holdMs)
    try {
      await undo()
      record.healed_at = this.options.clock()
    } catch (error) {
      this.options.log?.(`nemesis: undoing ${record.kind} on ${record.nodes.join(',')} failed: ${(error as Error).message}`)
    }
  }

  /**
   * A membership step: the action the voters now allow, on the leader or the voter in the
   * planned slot. Not undone; a node killed for a replace that was refused is started again.
   */
  private async change(step: FaultStep, holdMs: number): Promise<void> {
    const cluster = this.cluster
    const planned = step.member!
    const record: FaultRecord = {kind: 'member-add', nodes: [], at: this.options.clock(), healed_at: null}
    const detail: Record<string, unknown> = {hold_ms: holdMs}
    record.detail = detail
    this.records.push(record)
    let killed: number | null = null
    try {
      const voters = await cluster.voters()
      const action = memberAction(planned.action, voters.length, membershipBounds(this.options.nodes))
      record.kind = `member-${action}`
      Object.assign(detail, {voters_before: voters, ...(action !== planned.action ? {planned: planned.action} : {})})
      if (action === 'add') {
        record.nodes = [(await cluster.add()).node]
      } else {
        const target = step.target === 'leader' ? await this.leaderOr() : memberAt(step.target!, voters)
        if (step.target === 'leader') detail.target = 'leader'
        record.nodes = [target]
        if (action === 'replace' && planned.kill) {
          await cluster.kill(target)
          killed = target
          detail.killed = true
          // As an operator would: the cluster elects a leader (it was the leader, maybe) before the swap is asked of it.
          await this.waitLeader(LEADER_WAIT_MS)
        }
        if (action === 'remove') await cluster.remove(target)
        else record.nodes.push((await cluster.replace(target)).added.node)
        killed = null
      }
      detail.outcome = 'done'
      detail.voters_after = await cluster.voters()
      record.healed_at = this.options.clock()
    } catch (error) {
      const refused = error instanceof ClusterError && REFUSALS.has(error.code)
      if (refused) Object.assign(detail, {outcome: 'skipped', reason: (error as Error).message})
      else record.error = (error as Error).message
      this.options.log?.(`nemesis: ${record.kind} ${record.nodes.join(',')} ${refused ? 'skipped' : 'failed'}: ${(error as Error).message}`)
      if (killed !== null) await cluster.start(killed).catch((e: Error) => this.options.log?.(`nemesis: starting node ${killed} again failed: ${e.message}`))
      return
    } finally {
      this.options.onMembershipChange?.()
    }
    this.options.log?.(`nemesis: ${describeFault(record)}; settling for ${holdMs} ms`)
    await this.sleepFor(holdMs)
  }

  /**
   * A corrupt step (Jepsen's file nemesis): SIGKILL a node (its WAL stays, as after a crash),
   * damage its file, start it, hold; then repair it if it reports corrupt. If it noticed nothing
   * (a flip in a free page, a message body, a truncated WAL tail SQLite drops as a torn write), it
   * simply runs on: the checker says whether anything acknowledged was lost.
   */
  private async corrupt(step: FaultStep, holdMs: number): Promise<void> {
    const cluster = this.cluster
    const target = memberAt(step.target as number, cluster.nodes.map((n) => n.index))
    const record: FaultRecord = {kind: 'corrupt', nodes: [target], at: this.options.clock(), healed_at: null}
    const detail: Record<string, unknown> = {hold_ms: holdMs}
    record.detail = detail
    this.records.push(record)
    try {
      await cluster.kill(target)
      let how = step.corruption!
      // A node killed before it wrote anything since its last checkpoint has no WAL: its database then.
      const done = await cluster.corrupt(target, how).catch((error: Error) => {
        if (how.file !== 'wal' || !(error instanceof ClusterError)) throw error
        how = {...how, file: 'db'}
        return cluster.corrupt(target, how)
      })
      Object.assign(detail, {file: how.file, ...('bitflip' in how ? {bitflip: how.bitflip, range: done.range} : {truncate: how.truncate})})
      await cluster.start(target)
    } catch (error) {
      record.error = (error as Error).message
      this.options.log?.(`nemesis: corrupt on ${target} failed: ${record.error}`)
      return
    }
    this.options.log?.(`nemesis: ${describeFault(record)}; holding ${holdMs} ms`)
    await this.sleepFor(holdMs)
    try {
      const repaired = await cluster.repair(target)
      record.nodes.push(repaired.added.node)
      Object.assign(detail, {outcome: 'repaired', reason: repaired.reason})
      this.options.log?.(`nemesis: node ${target} found its data corrupt (${repaired.reason}); repaired by node ${repaired.added.node}`)
    } catch (error) {
      if (error instanceof ClusterError && error.code === 'NODE_STATE') Object.assign(detail, {outcome: 'undetected'})
      else if (error instanceof ClusterError && REFUSALS.has(error.code)) Object.assign(detail, {outcome: 'skipped', reason: error.message})
      else record.error = (error as Error).message
      this.options.log?.(`nemesis: repair of node ${target}: ${(error as Error).message}`)
    } finally {
      this.options.onMembershipChange?.()
    }
    record.healed_at = this.options.clock()
  }

  /** Waits (bounded) until some member leads; the change that follows says no leader if none did. */
  private async waitLeader(timeoutMs: number): Promise<void> {
    const find = this.options.leader ?? (() => findLeader(this.cluster.nodes))
    await poll(async () => ((await find()) === null ? undefined : true), {timeoutMs, intervalMs: 100})
  }

  /** The leader now, or a member drawn at random if there is none. */
  private async leaderOr(): Promise<number> {
    const nodes = this.cluster.nodes
    const leader = await (this.options.leader ?? (() => findLeader(nodes)))()
    if (leader !== null) return leader
    return nodes[between(this.random, 0, nodes.length - 1)].index
  }

  private async sleepUntil(atMs: number): Promise<void> {
    await this.sleepFor(atMs - this.options.clock())
  }

  private sleepFor(ms: number): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.wake = done
    })
  }
}

/** "kill node 1", "partition halves (0 | 1,2)", ... */
export function describeFault(record: FaultRecord): string {
  const detail = record.detail ?? {}
  const who = detail.target === 'leader' ? `leader ${record.nodes.join(',')}` : `node ${record.nodes.join(',')}`
  switch (record.kind) {
    case 'kill':
    case 'stop':
    case 'pause':
      return `${record.kind} ${who}`
    case 'crash':
      return `crash nodes ${record.nodes.join(',')} (SIGKILL ${record.nodes.length} of ${String(detail.of ?? '?')} at once)`
    case 'delay':
      return `delay ${who} ${detail.delay_ms} ms ±${detail.jitter_ms}`
    case 'loss':
      return `loss ${who} ${Math.round(Number(detail.loss) * 100)}%`
    case 'member-add':
      return `add node ${record.nodes.join(',')}`
    case 'member-remove':
      return `remove ${who}`
    case 'corrupt': {
      const what = detail.bitflip !== undefined ? `${String(detail.bitflip)} bits flipped in` : `${String(detail.truncate)} bytes cut off`
      const repaired = record.nodes.length > 1 ? `, repaired by node ${record.nodes[1]}` : ''
      return `corrupt node ${record.nodes[0]} (${what} its ${String(detail.file ?? '?')})${repaired}`
    }
    case 'member-replace': {
      const [old, added] = record.nodes
      const whom = detail.target === 'leader' ? `leader ${old}` : `node ${old}`
      return `replace ${detail.killed === true ? `killed ${whom}` : whom} by node ${added ?? '?'}`
    }
    default:
      return `partition ${String(detail.name ?? record.kind)}`
  }
}
