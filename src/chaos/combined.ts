/**
 * Jepsen's combined schedules from its NATS analysis (jepsen-io/nats, nemesis packages
 * `pause-kill` and `part-kill`): a minority is kept from the newest writes, one node of the
 * others crashes, then the crashed node comes back together with the minority that never saw
 * those writes, while the rest is kept away. Whatever the crashed node lost (with a power cut:
 * everything it had not fsynced) can then only come back from a majority that has it; a broker
 * that acknowledged before a majority had the write on disk loses it.
 *
 * Over the members in a seeded order: `first` is the first minority of the order, the crasher
 * the next (or the leader, half the time), `second` the others.
 *
 *   pause-kill  pause first; hold; kill the crasher; pause second; resume first; restart the
 *               crasher; hold; resume second
 *   part-kill   cut first off; hold; kill the crasher; cut second off instead (the crasher is
 *               now with first); restart the crasher; hold; heal
 *
 * With a power cut (step.power) the crasher is cut while no one can reach it (second is
 * paused too, or it is cut off alone), because a power cut restarts it at once: the order of
 * what the others see is the same as with a kill and a later restart.
 *
 * A majority is down for a moment (first and the crasher, for pause-kill); everything is undone
 * at the end, or, when a step fails, at once.
 */
import type {FaultContext} from './fault-context.js'
import {minority} from './fault-context.js'
import type {FaultRecord} from './history.js'
import {membersInOrder, type FaultStep} from './fault-step.js'
import {between, shuffle, type Random} from './random.js'

export type CombinedFamily = 'pause-kill' | 'part-kill'

/** Fills in a combined step (its first hold drawn already): the second hold, a node order, the leader half the time, a power cut when asked. */
export function planCombined(random: Random, step: FaultStep, nodes: number, hold: {min: number; max: number}, power: boolean): void {
  step.thenMs = between(random, hold.min, hold.max)
  step.order = shuffle(random, [...Array(nodes).keys()])
  if (random() < 0.5) step.target = 'leader'
  if (power && random() < 0.5) step.power = true
}

/** The groups a combined step works on, over the members now. */
export function combinedGroups(order: readonly number[], members: readonly number[], crasher: number | null): {first: number[]; crasher: number; second: number[]} {
  const inOrder = membersInOrder(order, members)
  const m = minority(members.length)
  const picked = crasher ?? inOrder[m]
  const rest = inOrder.filter((n) => n !== picked)
  const sort = (nodes: number[]): number[] => [...nodes].sort((a, b) => a - b)
  return {first: sort(rest.slice(0, m)), crasher: picked, second: sort(rest.slice(m))}
}

/** Plays a pause-kill or part-kill step; `holdMs` is the first hold (the run may have shortened it, the second shrinks alike). */
export async function playCombined(ctx: FaultContext, step: FaultStep, holdMs: number): Promise<void> {
  const cluster = ctx.cluster
  const family = step.family as CombinedFamily
  const thenMs = Math.round(Math.max(200, ((step.thenMs ?? step.holdMs) * holdMs) / Math.max(1, step.holdMs)))
  const record: FaultRecord = {kind: family, nodes: [], at: ctx.clock(), healed_at: null}
  const detail: Record<string, unknown> = {hold_ms: holdMs, then_ms: thenMs, power: step.power === true}
  record.detail = detail
  ctx.record(record)
  // What is in force, so that a failure part way can undo it.
  const paused = new Set<number>()
  const down = new Set<number>()
  let cut = false
  const pause = async (nodes: number[]): Promise<void> => {
    for (const n of nodes) {
      paused.add(n)
      await cluster.pause(n)
    }
  }
  const resume = async (nodes: number[]): Promise<void> => {
    for (const n of nodes) {
      await cluster.resume(n)
      paused.delete(n)
    }
  }
  const isolate = async (groups: number[][], forMs: number): Promise<void> => {
    cut = true
    await cluster.partition({groups}, forMs + 10_000)
  }
  try {
    const members = cluster.nodes.map((n) => n.index)
    if (members.length < 3) throw new Error(`${family} needs at least 3 members (there are ${members.length})`)
    const leader = step.target === 'leader' ? await ctx.leaderOr() : null
    const {first, crasher, second} = combinedGroups(step.order!, members, leader)
    record.nodes = [...members].sort((a, b) => a - b)
    Object.assign(detail, {first, crasher, second, ...(leader !== null ? {target: 'leader'} : {})})
    ctx.log(`nemesis: ${describeCombined(record)} (${holdMs} ms, then ${thenMs} ms)`)
    if (family === 'pause-kill') await pause(first)
    else await isolate([first], holdMs + thenMs)
    await ctx.sleepFor(holdMs)
    if (step.power) {
      // No one may reach the crasher while it is cut, as after a kill; it restarts at once.
      if (family === 'pause-kill') await pause(second)
      else await isolate([first, [crasher]], thenMs)
      down.add(crasher)
      await cluster.powerCut([crasher])
      down.delete(crasher)
    } else {
      down.add(crasher)
      await cluster.kill(crasher)
      if (family === 'pause-kill') await pause(second)
    }
    if (family === 'pause-kill') await resume(first)
    else await isolate([second], thenMs)
    if (down.has(crasher)) {
      await cluster.start(crasher)
      down.delete(crasher)
    }
    detail.flipped_at = ctx.clock()
    await ctx.sleepFor(thenMs)
    if (family === 'pause-kill') await resume(second)
    else await cluster.heal()
    cut = false
    record.healed_at = ctx.clock()
  } catch (error) {
    record.error = (error as Error).message
    ctx.log(`nemesis: ${family} failed: ${record.error}; undoing it`)
    const undo = async (what: string, action: () => Promise<void>): Promise<void> => {
      await action().catch((e: Error) => ctx.log(`nemesis: ${what} after a failed ${family} failed: ${e.message}`))
    }
    for (const n of paused) await undo(`resuming node ${n}`, () => cluster.resume(n))
    for (const n of down) await undo(`starting node ${n}`, () => cluster.start(n))
    if (cut) await undo('healing', () => cluster.heal())
  }
}

/** "pause-kill: pause 0, kill leader 1, then pause 2 instead", "part-kill: cut off 0, power cut node 1, then cut off 2 instead". */
export function describeCombined(record: FaultRecord): string {
  const detail = record.detail ?? {}
  const list = (v: unknown): string => (Array.isArray(v) ? v.join(',') : '?')
  const verb = record.kind === 'pause-kill' ? 'pause' : 'cut off'
  const crash = detail.power === true ? 'power cut' : 'kill'
  const who = `${detail.target === 'leader' ? 'leader' : 'node'} ${String(detail.crasher ?? '?')}`
  return `${record.kind}: ${verb} ${list(detail.first)}, ${crash} ${who}, then ${verb} ${list(detail.second)} instead`
}
