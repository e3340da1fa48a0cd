/**
 * What the nemesis plans: the fault families, one planned step, and how the slots and shapes
 * of a step become members of the cluster when it starts. The planner (nemesis.ts) and the
 * families that play several faults (combined.ts, overlap.ts) share it.
 */
import type {Partition, PartitionRequest} from '../cluster/faults.js'
import type {CorruptHow} from './cluster.js'

export const FAULT_FAMILIES = ['kill', 'stop', 'pause', 'crash', 'partition', 'delay', 'loss', 'membership', 'pause-kill', 'part-kill', 'overlap', 'power', 'power-all', 'corrupt'] as const
export type FaultFamily = (typeof FAULT_FAMILIES)[number]

/** One line per family, for `pad-cli chaos --help`. */
export const FAMILY_HELP: Record<FaultFamily, string> = {
  kill: 'SIGKILL a node (or the leader), restart it after the hold',
  stop: 'SIGTERM a node, start it again after the hold',
  pause: 'SIGSTOP a node, SIGCONT after the hold',
  crash: 'SIGKILL a majority or every node at once, restart them all',
  partition: 'cut links: one node, the leader, halves, bridge or ring',
  delay: 'slow every link of a node (10-150 ms, jitter)',
  loss: 'lose 10-50% of the messages on every link of a node',
  membership: 'add, remove or replace a voter (not undone; only when named)',
  'pause-kill': 'pause a minority, kill one of the rest, pause the others instead, restart, resume',
  'part-kill': 'cut off a minority, kill one of the rest, cut off the others instead, restart, heal',
  overlap: 'several of kill, pause, partition, delay, loss (and power) at once, a minority down at most',
  power: 'power cut of one node: unsynced writes dropped (about half the cuts torn: part of the last one kept), restart (needs a --lazy-fs cluster)',
  'power-all': 'power cut of every node at once (needs a --lazy-fs cluster)',
  corrupt: 'SIGKILL a node, flip bits in or cut the end off its database or WAL, start it, repair it if it notices',
}

export const MEMBER_ACTIONS = ['add', 'remove', 'replace'] as const
export type MemberAction = (typeof MEMBER_ACTIONS)[number]

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

/** The shapes a cluster of `nodes` can be cut into. */
export function shapesFor(nodes: number): Shape[] {
  return SHAPES.filter((shape) => (shape === 'ring' ? nodes >= 4 : shape === 'bridge' ? nodes >= 3 : true))
}

export interface FaultStep {
  /**
   * Planned start, in ms from the start of the run (later if the previous fault overran); for a
   * fault of an overlap window, from the start of the window.
   */
  at: number
  /** How long the fault is held (an overlap window: until its last fault ends; a power cut: 0). */
  holdMs: number
  family: FaultFamily
  /** For process faults, delay and loss: a node index, or the leader at the time. */
  target?: number | 'leader'
  /** For crash: the nodes killed together. */
  nodes?: number[]
  shape?: Shape
  /** For shapes, pause-kill and part-kill: the node order the groups are cut from. */
  order?: number[]
  delayMs?: number
  jitterMs?: number
  loss?: number
  /** For membership: the action it prefers, and for replace, whether the node is SIGKILLed first. */
  member?: {action: MemberAction; kill: boolean}
  /** For pause-kill and part-kill: how long the second phase (the other side paused or cut off) lasts. */
  thenMs?: number
  /** For power: a torn cut with this seed (part of each file's last unsynced write survives); absent: a plain cut. */
  tornSeed?: number
  /** For pause-kill and part-kill: the node is cut by a power cut rather than SIGKILLed. */
  power?: boolean
  /** For corrupt: what is done to which file of the node (killed first, so its WAL stays). */
  corruption?: CorruptHow
  /** For overlap: the faults of the window, each with its own start (`at`, from the window's start) and hold. */
  faults?: FaultStep[]
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
