/**
 * The `overlap` family, after Jepsen's combined nemesis: a window in which several faults,
 * drawn from kill, pause, partition, delay and loss (and power cuts when `power` is among the
 * families), each start at their own time and are held for their own time, so that several
 * are in force at once.
 *
 * Two rules keep it recoverable and its history readable:
 * - at every instant at most a minority of the nodes is down (killed, paused, or in a power cut,
 *   counting a restart's few seconds), so once everything is undone a majority has every
 *   acknowledged write and the cluster can elect and catch up. The plan keeps it with the
 *   planned times; the player keeps it again with the real ones (a fault waits for a slot, a
 *   leader already down gives way to another node).
 * - one partition at a time, one delay and one loss per node at a time: each is one rule of
 *   the cluster manager, which a second one would replace. Delay and loss end on their node
 *   only; a partition ends by healing the network and putting back the delays and losses
 *   still in force.
 *
 * Every fault has its own record (detail.overlap: the window's number), with its own `at` and
 * `healed_at`; all are undone by the end of the window.
 */
import type {FaultContext} from './fault-context.js'
import {minority} from './fault-context.js'
import type {FaultKind, FaultRecord} from './history.js'
import {describeFault} from './describe-fault.js'
import {inject, type Undo} from './inject.js'
import {memberAt, type FaultFamily, type FaultStep} from './fault-step.js'
import {between, pick, shuffle, type Random} from './random.js'

export const OVERLAP_FAMILIES = ['kill', 'pause', 'partition', 'delay', 'loss'] as const satisfies readonly FaultFamily[]
/** What a killed node takes to serve again, and a power cut to restart: planned as down time. */
export const RESTART_MS = 2000
/** What a resume takes to reach the node. */
const RESUME_MS = 200
/** How often a fault waiting for a node to come back looks again. */
const WAIT_STEP_MS = 100

export interface OverlapOptions {
  nodes: number
  minHoldMs: number
  maxHoldMs: number
  /** Whether power cuts are among the faults (`power` was asked for). */
  power: boolean
}

const PROCESS = new Set<FaultFamily>(['kill', 'pause', 'power'])

/** When a planned fault keeps its node down (kill, pause, power), in ms from the window's start; null for network faults. */
export function downInterval(fault: FaultStep): [number, number] | null {
  if (fault.family === 'kill') return [fault.at, fault.at + fault.holdMs + RESTART_MS]
  if (fault.family === 'pause') return [fault.at, fault.at + fault.holdMs + RESUME_MS]
  if (fault.family === 'power') return [fault.at, fault.at + RESTART_MS]
  return null
}

/** The most faults of `faults` whose down intervals hold at one instant. */
export function mostDownAtOnce(faults: readonly FaultStep[]): number {
  const spans = faults.map(downInterval).filter((s): s is [number, number] => s !== null)
  // The count is highest at some interval's start.
  return Math.max(0, ...spans.map(([start]) => spans.filter(([a, b]) => a <= start && start < b).length))
}

const overlaps = (a: FaultStep, b: FaultStep): boolean => a.at < b.at + b.holdMs && b.at < a.at + a.holdMs

/** Whether `fault` may join the faults already planned in the window. */
function fits(fault: FaultStep, planned: readonly FaultStep[], nodes: number): boolean {
  if (PROCESS.has(fault.family)) {
    if (mostDownAtOnce([...planned, fault]) > minority(nodes)) return false
    // Two faults on the same slot at once would be one node: keep them apart in the plan too.
    const span = downInterval(fault)!
    return !planned.some((p) => {
      const other = downInterval(p)
      return other !== null && p.target === fault.target && span[0] < other[1] && other[0] < span[1]
    })
  }
  if (fault.family === 'partition') return !planned.some((p) => p.family === 'partition' && overlaps(p, fault))
  // Delay and loss: one rule per node; "the leader" may be any node, so it clashes with every target.
  const clash = (p: FaultStep): boolean => p.target === fault.target || p.target === 'leader' || fault.target === 'leader'
  return !planned.some((p) => p.family === fault.family && clash(p) && overlaps(p, fault))
}

/**
 * An overlap window: 3 to 6 faults over 2 to 4 times the longest hold, each drawn by `draw`
 * (the planner's own draws of a family: targets, shapes, amounts) and placed at a random time;
 * one that would break a rule is drawn again (a bounded number of times). The window's hold
 * lasts until its last fault ends.
 */
export function planOverlap(random: Random, options: OverlapOptions, draw: (family: FaultFamily) => FaultStep): Omit<FaultStep, 'at'> {
  const families: FaultFamily[] = [...OVERLAP_FAMILIES, ...(options.power ? (['power'] as const) : [])]
  const windowMs = between(random, 2 * options.maxHoldMs, 4 * options.maxHoldMs)
  const wanted = between(random, 3, 6)
  const faults: FaultStep[] = []
  for (let tries = 0; tries < wanted * 5 && faults.length < wanted; tries++) {
    const fault = draw(pick(random, families))
    if (fault.family === 'power') fault.holdMs = 0
    // Starts in the first half of the window, so that faults held long enough overlap.
    fault.at = between(random, 0, Math.max(0, Math.floor(windowMs / 2)))
    if (fits(fault, faults, options.nodes)) faults.push(fault)
  }
  faults.sort((a, b) => a.at - b.at)
  const holdMs = Math.max(options.minHoldMs, ...faults.map((f) => f.at + f.holdMs))
  return {family: 'overlap', holdMs, faults}
}

/** A network rule of the window that a heal would take away with the partition. */
interface NetworkRule {
  fault: FaultStep
  node: number
  until: number
}

/**
 * Plays a window of faults at once, from now for `holdMs` (the run may have shortened it: a
 * fault that would start after it does not start, one that would end after it ends with it).
 */
export async function playOverlap(ctx: FaultContext, step: FaultStep, holdMs: number, window: number): Promise<void> {
  const cluster = ctx.cluster
  const start = ctx.clock()
  const end = start + holdMs
  /** Nodes down by a fault of this window (from before it is done until it is undone). */
  const down = new Set<number>()
  const rules = new Map<FaultRecord, NetworkRule>()
  let partitioned = false
  // Network requests of the window go one at a time, so a heal and the rules it puts back are not crossed by another.
  let chain: Promise<unknown> = Promise.resolve()
  const serial = <T>(action: () => Promise<T>): Promise<T> => {
    const next = chain.then(action)
    chain = next.catch(() => {})
    return next
  }
  const healPartition = (): Promise<void> =>
    serial(async () => {
      await cluster.heal()
      partitioned = false
      for (const rule of rules.values()) {
        const left = Math.max(1, rule.until - ctx.clock())
        if (rule.fault.family === 'delay') await cluster.delay(rule.node, rule.fault.delayMs!, rule.fault.jitterMs ?? 0, left + 10_000)
        else await cluster.loss(rule.node, rule.fault.loss!, left + 10_000)
      }
    })

  /** The node a fault acts on: its planned one, or another member when that one is taken. */
  const resolve = async (fault: FaultStep, taken: (node: number) => boolean): Promise<number | null> => {
    const members = cluster.nodes.map((n) => n.index)
    const planned = fault.target === 'leader' ? await ctx.leaderOr() : memberAt(fault.target as number, members)
    if (!taken(planned)) return planned
    return shuffle(ctx.random, members).find((n) => !taken(n)) ?? null
  }

  const play = async (fault: FaultStep): Promise<void> => {
    await ctx.sleepFor(start + fault.at - ctx.clock())
    if (ctx.stopped() || ctx.clock() >= end) return
    const holdFor = (): number => (fault.family === 'power' ? 0 : Math.round(Math.max(200, Math.min(fault.holdMs, end - ctx.clock()))))
    const detail: Record<string, unknown> = {overlap: window}
    if (fault.target === 'leader') detail.target = 'leader'
    const record: FaultRecord = {kind: fault.family as FaultKind, nodes: [], at: ctx.clock(), healed_at: null, detail}
    const skip = (reason: string): void => {
      Object.assign(detail, {outcome: 'skipped', reason})
      ctx.record(record)
      ctx.log(`nemesis: [overlap ${window}] ${fault.family} skipped: ${reason}`)
    }
    let target: number | undefined
    if (PROCESS.has(fault.family)) {
      // Waits for a slot: a node that the plan counted as back may still be restarting.
      for (;;) {
        if (down.size < minority(cluster.nodes.length)) {
          const node = await resolve(fault, (n) => down.has(n))
          // Checked again after the await: another fault of the window may have taken the slot.
          if (node !== null && down.size < minority(cluster.nodes.length) && !down.has(node)) {
            target = node
            down.add(node)
            break
          }
        }
        if (ctx.stopped() || ctx.clock() >= end) return skip('a minority of the nodes is down already')
        await ctx.sleepFor(WAIT_STEP_MS)
      }
    } else if (fault.family === 'delay' || fault.family === 'loss') {
      const node = await resolve(fault, (n) => [...rules.values()].some((r) => r.node === n && r.fault.family === fault.family))
      if (node === null) return skip(`every node has a ${fault.family} already`)
      target = node
    } else if (partitioned) {
      return skip('a partition is in force already')
    }
    // Held from when it starts (after any wait for a slot), and never beyond the window.
    const hold = holdFor()
    detail.hold_ms = hold
    record.at = ctx.clock()
    ctx.record(record)
    let undo: Undo
    try {
      if (fault.family === 'partition') {
        partitioned = true
        undo = await serial(() => inject(ctx, fault, hold, record, target, healPartition))
      } else if (fault.family === 'delay' || fault.family === 'loss') {
        rules.set(record, {fault, node: target!, until: ctx.clock() + hold})
        const injected = await serial(() => inject(ctx, fault, hold, record, target, healPartition))
        undo = injected && (() => serial(injected))
      } else {
        undo = await inject(ctx, fault, hold, record, target, healPartition)
      }
    } catch (error) {
      record.error = (error as Error).message
      ctx.log(`nemesis: [overlap ${window}] ${fault.family} on ${target ?? ''} failed: ${record.error}`)
      await release(fault, record, target)
      return
    }
    ctx.log(`nemesis: [overlap ${window}] ${describeFault(record)}${undo ? ` for ${hold} ms` : ''}`)
    if (undo) {
      await ctx.sleepFor(hold)
      rules.delete(record)
      try {
        await undo()
        record.healed_at = ctx.clock()
      } catch (error) {
        ctx.log(`nemesis: [overlap ${window}] undoing ${record.kind} on ${record.nodes.join(',')} failed: ${(error as Error).message}`)
      }
    } else {
      record.healed_at = ctx.clock()
    }
    if (target !== undefined) down.delete(target)
  }

  /** After a failed fault: brings its node back as far as it can, so it no longer counts as down. */
  const release = async (fault: FaultStep, record: FaultRecord, target: number | undefined): Promise<void> => {
    rules.delete(record)
    if (fault.family === 'partition') partitioned = false
    if (target === undefined || !down.has(target)) return
    const back = fault.family === 'pause' ? () => cluster.resume(target) : () => cluster.start(target)
    // The node may be up already (the fault never reached it): then this fails, and that is fine.
    await back().catch(() => {})
    down.delete(target)
  }

  await Promise.all(step.faults!.map(play))
}
