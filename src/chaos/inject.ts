/**
 * One fault, done to the cluster: the primitive faults every family is built from (kill, stop,
 * pause, crash, power, partition, delay, loss). It fills in the record (kind, nodes, detail)
 * and returns how to undo the fault, or null when it is over already (a power cut restarts
 * the nodes itself).
 *
 * Delay and loss are undone on their node only (setting them to zero), so that they can end
 * while other network faults stay; a partition is undone by `healPartition`, which the caller
 * chooses (the whole network, or the partition with the rest put back).
 */
import type {FaultContext} from './fault-context.js'
import type {FaultKind, FaultRecord} from './history.js'
import {membersInOrder, memberAt, partitionName, partitionRequest, type FaultStep} from './fault-step.js'

export type Undo = (() => Promise<void>) | null

/**
 * Does `step` on `target` (already resolved: the leader, or the member of the planned slot) and
 * says how to undo it. Throws what the cluster threw; whatever half-happened is left to the
 * caller's undo or the final restore.
 */
export async function inject(ctx: FaultContext, step: FaultStep, holdMs: number, record: FaultRecord, target: number | undefined, healPartition: () => Promise<void>): Promise<Undo> {
  const cluster = ctx.cluster
  const members = cluster.nodes.map((n) => n.index)
  const detail = (record.detail ??= {})
  switch (step.family) {
    case 'kill':
    case 'stop':
      record.kind = step.family
      record.nodes = [target!]
      await (step.family === 'kill' ? cluster.kill(target!) : cluster.stop(target!))
      return () => cluster.start(target!)
    case 'crash': {
      const crashed = [...new Set(step.nodes!.map((slot) => memberAt(slot, members)))].sort((a, b) => a - b)
      record.kind = 'crash'
      record.nodes = crashed
      detail.of = members.length
      // One SIGKILL after the other, a few ms apart: all are down before any restarts.
      for (const index of crashed) await cluster.kill(index)
      return async () => {
        for (const index of crashed) await cluster.start(index)
      }
    }
    case 'power':
    case 'power-all': {
      record.kind = step.family
      record.nodes = step.family === 'power' ? [target!] : [...members]
      detail.of = members.length
      if (step.tornSeed !== undefined) detail.torn_seed = step.tornSeed
      await cluster.powerCut(record.nodes, step.tornSeed === undefined ? undefined : {torn: true, seed: step.tornSeed})
      return null
    }
    case 'pause':
      record.kind = 'pause'
      record.nodes = [target!]
      await cluster.pause(target!)
      return () => cluster.resume(target!)
    case 'partition': {
      const shape = step.shape!
      const order = membersInOrder(step.order!, members)
      const isolated = shape === 'leader' ? await ctx.leaderOr() : shape === 'one' ? order[0] : undefined
      record.kind = `partition-${shape}` as FaultKind
      // The nodes drop the links by themselves a little after the hold, should we die.
      const applied = await cluster.partition(partitionRequest(shape, order, isolated), holdMs + 10_000)
      record.nodes = [...new Set(applied.cuts.flat())].sort((a, b) => a - b)
      // A bridge's groups are not cut apart (the bridge links them): only the cuts say it.
      const groups = applied.groups && applied.bridge === undefined ? {groups: applied.groups} : {}
      Object.assign(detail, {name: partitionName(shape, applied), cuts: applied.cuts, ...groups})
      return healPartition
    }
    case 'delay':
      record.kind = 'delay'
      record.nodes = [target!]
      Object.assign(detail, {delay_ms: step.delayMs, jitter_ms: step.jitterMs})
      await cluster.delay(target!, step.delayMs!, step.jitterMs ?? 0, holdMs + 10_000)
      // Zero delay and jitter end this node's delay and nothing else.
      return () => cluster.delay(target!, 0, 0, 1)
    case 'loss':
      record.kind = 'loss'
      record.nodes = [target!]
      Object.assign(detail, {loss: step.loss})
      await cluster.loss(target!, step.loss!, holdMs + 10_000)
      return () => cluster.loss(target!, 0, 1)
    default:
      throw new Error(`${step.family} is not a single fault`)
  }
}
