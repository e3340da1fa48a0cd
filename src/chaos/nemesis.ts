/**
 * The nemesis: a fault schedule drawn from the run's seed, and the loop that plays it on a
 * cluster. One step at a time: it is injected, held, undone, then the next follows after a
 * pause, so the cluster always gets a chance to recover (a majority is never down for good)
 * and every anomaly can be traced to the faults in force when it happened (each record has
 * its own `at` and `healed_at`).
 *
 * The schedule (kinds, targets, hold times, shapes, node orders) is a pure function of the
 * seed and options; the run itself is not deterministic (processes, timers, the network),
 * but the same seed replays the same sequence of faults. "The leader" is resolved when the
 * fault starts.
 *
 * The families (FAMILY_HELP in fault-step.ts says each in one line):
 *   kill, stop, pause  one node or the leader, restarted or resumed after the hold
 *   crash        SIGKILLs a majority of the nodes, or all of them, at once, then starts them
 *                again: the cluster must come back from its disks alone
 *   partition    cuts links in a shape (below); delay and loss slow or thin a node's links
 *   membership   adds, removes or replaces a voter (only when named; not undone)
 *   pause-kill, part-kill  Jepsen's combined schedules from its NATS analysis (combined.ts):
 *                keep a minority from the newest writes, crash one node of the others, bring
 *                it back with that minority while the rest is kept away, then undo it all
 *   overlap      a window of several faults at once, each with its own start and hold, never
 *                more than a minority of the nodes down at one instant (overlap.ts)
 *   power        a power cut of one node (the leader half the time): SIGKILL, every write it
 *                had not fsynced dropped, restart (the cluster must run on a lazy file system)
 *   power-all    the same for every node at once, a coordinated power loss
 * With `power` among the families, pause-kill and part-kill crash their node by a power cut
 * half the time, and overlap windows draw power cuts too. power and power-all need a cluster
 * started with --lazy-fs (root and FUSE), so they are never in the defaults.
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
import type {ChaosCluster} from './cluster.js'
import {planCombined, playCombined} from './combined.js'
import {describeFault} from './describe-fault.js'
import type {FaultContext} from './fault-context.js'
import {MEMBER_ACTIONS, memberAt, shapesFor, type FaultFamily, type FaultStep, type MemberAction} from './fault-step.js'
import type {FaultRecord} from './history.js'
import {inject} from './inject.js'
import {planOverlap, playOverlap, RESTART_MS} from './overlap.js'
import {between, derive, pick, shuffle, type Random} from './random.js'
import {poll} from '../util/time.js'

export {describeFault} from './describe-fault.js'
export {FAMILY_HELP, FAULT_FAMILIES, MEMBER_ACTIONS, SHAPES, memberAt, membersInOrder, partitionName, partitionRequest, shapesFor} from './fault-step.js'
export type {FaultFamily, FaultStep, MemberAction, Shape} from './fault-step.js'

/**
 * What `chaos` injects without --faults: the families of one fault at a time, as before the
 * combined ones (so that a replay without --faults plans what it planned). Membership only
 * when asked (it reshapes the cluster for good), power cuts only on a --lazy-fs cluster.
 */
export const DEFAULT_FAMILIES: readonly FaultFamily[] = ['kill', 'stop', 'pause', 'crash', 'partition', 'delay', 'loss']
/** Families that work on three groups of nodes (a minority, one node, the rest). */
const NEED_THREE: readonly FaultFamily[] = ['pause-kill', 'part-kill']

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

/** The fault steps of a run: a pure function of the seed and the options. */
export function planSchedule(seed: number, options: ScheduleOptions): FaultStep[] {
  const families = options.nodes >= 3 ? options.families : options.families.filter((f) => !NEED_THREE.includes(f))
  if (families.length === 0 || options.nodes < 2) return []
  const random = derive(seed, 'nemesis')
  // Its own stream, so that adding torn cuts left every other draw, and old seeds' schedules, as they were.
  const tearing = derive(seed, 'torn')
  const steps: FaultStep[] = []
  const gap = (): number => Math.round(options.intervalMs * (0.5 + random()))
  let at = gap()
  // Planned time also counts a restart's few seconds, so the plan is about as long as the run.
  while (at < options.durationMs && steps.length < 100_000) {
    const step = drawStep(random, pick(random, families), at, options)
    // About half of the single-node power cuts are torn (part of the last unsynced write survives).
    if (step.family === 'power' && tearing() < 0.5) step.tornSeed = Math.floor(tearing() * 2 ** 32)
    steps.push(step)
    at += plannedMs(step, options.nodes) + gap()
  }
  return steps
}

/** One step of `family` at `at`: its hold, then what the family needs (targets, shapes, amounts). */
function drawStep(random: Random, family: FaultFamily, at: number, options: ScheduleOptions): FaultStep {
  const holdMs = between(random, options.minHoldMs, options.maxHoldMs)
  const step: FaultStep = {at, holdMs, family}
  const target = (): number | 'leader' => (random() < 0.5 ? 'leader' : between(random, 0, options.nodes - 1))
  switch (family) {
    case 'kill':
    case 'stop':
    case 'pause':
    case 'power':
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
    case 'membership': {
      const action = pick(random, MEMBER_ACTIONS)
      step.member = {action, kill: action === 'replace' && random() < 0.5}
      // An add gets a target too: the voters at the time may turn it into a remove.
      step.target = target()
      break
    }
    case 'pause-kill':
    case 'part-kill':
      planCombined(random, step, options.nodes, {min: options.minHoldMs, max: options.maxHoldMs}, options.families.includes('power'))
      break
    case 'overlap': {
      const overlapOptions = {...options, power: options.families.includes('power')}
      Object.assign(step, planOverlap(random, overlapOptions, (f) => drawStep(random, f, 0, options)))
      break
    }
    case 'power-all':
      break
    case 'corrupt':
      // One node at a time: a minority for 3 nodes and more. Never "the leader": a slot.
      step.target = between(random, 0, options.nodes - 1)
      step.corruption = {
        ...(random() < 0.5 ? {bitflip: between(random, 1, 256)} : {truncate: between(random, 1, 64) * 1024}),
        file: random() < 0.5 ? 'db' : 'wal',
      }
      break
  }
  return step
}

/** How long a step takes in the plan: its holds, and a few seconds per restart, join or removal. */
function plannedMs(step: FaultStep, nodes: number): number {
  const family = step.family
  const restarts = ['kill', 'stop', 'power', 'pause-kill', 'part-kill', 'overlap'].includes(family) ? 1 : family === 'crash' ? step.nodes!.length : family === 'power-all' ? nodes : 0
  // An add waits for the new node to start and catch up; a replace does that and a removal.
  // A repair after a corruption is a replace: a join, a catch-up and a removal.
  const joins = family === 'membership' ? (step.member!.action === 'remove' ? 1 : 3) : family === 'corrupt' ? 4 : 0
  return step.holdMs + (step.thenMs ?? 0) + (restarts + joins) * RESTART_MS
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
  /** Every sleep in progress (an overlap window has several): stop() ends them all. */
  private readonly wakers = new Set<() => void>()
  private readonly random: Random
  /** Overlap windows played so far: each fault of one says which it belongs to. */
  private windows = 0
  private readonly context: FaultContext

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly steps: FaultStep[],
    private readonly options: NemesisOptions,
    seed: number,
  ) {
    this.random = derive(seed, 'nemesis-targets')
    this.context = {
      cluster,
      random: this.random,
      clock: () => options.clock(),
      log: (line) => options.log?.(line),
      record: (record) => this.records.push(record),
      leaderOr: () => this.leaderOr(),
      sleepFor: (ms) => this.sleepFor(ms),
      stopped: () => this.stopped,
    }
  }

  /** Asks the loop to end: the faults in force are undone, and no new one starts. */
  stop(): void {
    this.stopped = true
    for (const wake of [...this.wakers]) wake()
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
    switch (step.family) {
      case 'membership':
        return this.change(step, holdMs)
      case 'corrupt':
        return this.corrupt(step, holdMs)
      case 'pause-kill':
      case 'part-kill':
        return playCombined(this.context, step, holdMs)
      case 'overlap':
        return playOverlap(this.context, step, holdMs, ++this.windows)
    }
    const cluster = this.cluster
    const members = cluster.nodes.map((n) => n.index)
    const target = step.target === 'leader' ? await this.leaderOr() : step.target === undefined ? undefined : memberAt(step.target, members)
    const kind = step.family === 'partition' ? `partition-${step.shape}` : step.family
    const record: FaultRecord = {kind: kind as FaultRecord['kind'], nodes: target === undefined ? [] : [target], at: this.options.clock(), healed_at: null}
    const detail: Record<string, unknown> = {hold_ms: holdMs}
    if (step.target === 'leader') detail.target = 'leader'
    record.detail = detail
    this.records.push(record)
    let undo: (() => Promise<void>) | null
    try {
      // One fault at a time: a partition ends with a heal of the whole network.
      undo = await inject(this.context, step, holdMs, record, target, () => cluster.heal())
    } catch (error) {
      record.error = (error as Error).message
      this.options.log?.(`nemesis: ${record.kind} on ${record.nodes.join(',')} failed: ${record.error}`)
      // Whatever half-happened is undone by the final restore.
      return
    }
    if (undo === null) {
      // A power cut is over once its nodes serve again; the hold lets them catch up before the next fault.
      record.healed_at = this.options.clock()
      this.options.log?.(`nemesis: ${describeFault(record)}, back after ${Math.round(record.healed_at - record.at)} ms; settling for ${holdMs} ms`)
      await this.sleepFor(holdMs)
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
      const done = (): void => {
        clearTimeout(timer)
        this.wakers.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.wakers.add(done)
    })
  }
}
