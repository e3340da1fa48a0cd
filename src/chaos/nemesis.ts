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
import type {Partition, PartitionRequest} from '../cluster/faults.js'
import type {ChaosCluster} from './cluster.js'
import type {FaultKind, FaultRecord} from './history.js'
import {between, derive, pick, shuffle, type Random} from './random.js'

export const FAULT_FAMILIES = ['kill', 'stop', 'pause', 'crash', 'partition', 'delay', 'loss'] as const
export type FaultFamily = (typeof FAULT_FAMILIES)[number]

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
    }
    steps.push(step)
    // Restarts take a few seconds each, which the plan counts so it is about as long as the run.
    const restarts = family === 'kill' || family === 'stop' ? 1 : family === 'crash' ? step.nodes!.length : 0
    at += holdMs + restarts * 2000 + gap()
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
  log?: (line: string) => void
}

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
    const cluster = this.cluster
    const target = step.target === 'leader' ? await this.leaderOr(step) : step.target
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
          const crashed = step.nodes!
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
          const isolated = shape === 'leader' ? await this.leaderOr(step) : shape === 'one' ? (step.target as number) : undefined
          record.kind = `partition-${shape}` as FaultKind
          // The nodes drop the links by themselves a little after the hold, should we die.
          const applied = await cluster.partition(partitionRequest(shape, step.order!, isolated), holdMs + 10_000)
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

  /** The leader now, or a node drawn at random if there is none. */
  private async leaderOr(step: FaultStep): Promise<number> {
    const leader = await findLeader(this.cluster.nodes)
    if (leader !== null) return leader
    return step.order?.[0] ?? between(this.random, 0, this.cluster.nodes.length - 1)
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
    default:
      return `partition ${String(detail.name ?? record.kind)}`
  }
}
