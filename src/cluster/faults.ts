/**
 * Network faults as the cluster manager thinks of them, and how they become per-node
 * settings. Pure: no I/O, no clock (the caller passes `now`).
 *
 * Every fault is done inside the nodes' Raft transports, which can drop, delay or lose the
 * traffic to and from a given peer. A partition is a set of cut links; each cut a-b is set on
 * both a and b, so it holds even if one of the two misses the update. `delay` and `loss` on a
 * node apply on that node to all of its peers, so every link of the node is slow or lossy
 * in both directions.
 *
 * Partition shapes follow Jepsen's nemesis, over the nodes in a given order: index order for
 * `pad-cli partition --shape` (so the same command always cuts the same links), a seeded
 * shuffle for the chaos nemesis. This file is the only place that turns a shape into cuts.
 *   groups  `0,1 2` -> {0,1} | {2} | the rest; one group is "this group against the rest"
 *   halves  the first floor(n/2) nodes of the order against the others (Jepsen's bisect)
 *   bridge  the two halves, except that the first node of the second half (the bridge)
 *           keeps its links to everyone
 *   ring    every node keeps the links to its neighbours within distance ceil(floor(n/2)/2)
 *           on the ring the order makes: each sees a majority, no two the same one (needs 4+
 *           nodes: with two-way cuts, 3 nodes have no such ring)
 */
import {PARTITION_SHAPES, type PartitionShape} from '../api/control.js'
import {badArgument} from './errors.js'

export type Shape = PartitionShape
export const SHAPES: readonly Shape[] = PARTITION_SHAPES

export interface Partition {
  /** The groups that may talk among themselves (null for ring, whose links overlap). */
  groups: number[][] | null
  shape: Shape | null
  /** For `bridge`: the node linked to both halves. */
  bridge?: number
  /** For a shape: the node order it was cut from (index order unless asked otherwise). */
  order?: number[]
  /** Cut links, as pairs [a, b] with a < b, sorted. */
  cuts: [number, number][]
}

export function parseShape(text: string): Shape {
  if (!(SHAPES as string[]).includes(text)) throw badArgument(`unknown shape "${text}": use ${SHAPES.join(', ')}`)
  return text as Shape
}

/**
 * The nodes a partition is cut over: a count n (nodes 0..n-1), or the member indexes of a
 * cluster that `remove` left with gaps (a removed node is in no group and no shape).
 */
export type NodeSet = number | readonly number[]

function membersOf(nodes: NodeSet): number[] {
  return typeof nodes === 'number' ? range(nodes) : [...nodes].sort((a, b) => a - b)
}

/** True when the members are 0..n-1 (every message then says it the way it always has). */
function dense(members: number[]): boolean {
  return members.every((m, i) => m === i)
}

/** The partition of the nodes into `groups` (already resolved to indexes) plus the rest. */
export function groupPartition(groups: number[][], nodes: NodeSet): Partition {
  const members = membersOf(nodes)
  const size = members.length
  if (size < 2) throw badArgument('a partition needs at least 2 nodes')
  const seen = new Set<number>()
  for (const group of groups) {
    for (const node of group) {
      if (!members.includes(node)) {
        throw badArgument(dense(members) ? `node ${node} is out of range: this cluster has ${size} nodes (0 to ${size - 1})` : `node ${node} is not a member: the members are ${members.join(',')}`)
      }
      if (seen.has(node)) throw badArgument(`node ${node} is in two groups`)
      seen.add(node)
    }
  }
  const rest = members.filter((i) => !seen.has(i))
  const all = [...groups.map((g) => [...g].sort((a, b) => a - b)), ...(rest.length > 0 ? [rest] : [])].filter((g) => g.length > 0)
  if (all.length < 2) throw badArgument(`groups ${groups.map((g) => g.join(',')).join(' ')} leave no one to cut off: name fewer nodes`)
  return {groups: all, shape: null, cuts: cutsBetween(all)}
}

/**
 * The partition after `node` joined the cluster while it was in force, through `alongside` (the
 * leader that added it). The new node goes into the group of the node it joined through: it must
 * reach that leader to catch up, and the other sides stay cut from it as from the rest of that
 * group, so the partition keeps its meaning (`partition 0` still isolates node 0). Being cut from
 * nobody would be simpler, but would make the new node a member every side reaches (a quiet hole
 * in an isolation). A ring has no groups, and a node in no group is cut from nobody: it stays as is.
 */
export function withMember(partition: Partition, node: number, alongside: number): Partition {
  if (partition.groups === null || partition.groups.some((g) => g.includes(node))) return partition
  const at = partition.groups.findIndex((g) => g.includes(alongside))
  if (at === -1) return partition
  const groups = partition.groups.map((g, i) => (i === at ? [...g, node].sort((a, b) => a - b) : g))
  const bridge = partition.bridge
  const cuts = cutsBetween(groups).filter(([a, b]) => bridge === undefined || (a !== bridge && b !== bridge))
  return {...partition, groups, cuts}
}

/**
 * A partition as asked for: groups (each against the others and the rest), or a shape cut
 * from the nodes in `order` (index order when absent).
 */
export type PartitionRequest = {groups: number[][]} | {shape: Shape; order?: number[]}

export function planPartition(request: PartitionRequest, nodes: NodeSet): Partition {
  return 'groups' in request ? groupPartition(request.groups, nodes) : shapePartition(request.shape, nodes, request.order)
}

export function shapePartition(shape: Shape, nodes: NodeSet, order?: number[]): Partition {
  const members = membersOf(nodes)
  const size = members.length
  if (size < 2) throw badArgument('a partition needs at least 2 nodes')
  order ??= members
  checkOrder(order, members)
  const [first, second] = bisect(order).map(sorted)
  switch (shape) {
    case 'halves':
      return {groups: [first, second], shape, order, cuts: cutsBetween([first, second])}
    case 'bridge': {
      if (size < 3) throw badArgument('--shape bridge needs at least 3 nodes')
      const bridge = order[Math.floor(size / 2)]
      const cuts = cutsBetween([first, second]).filter(([a, b]) => a !== bridge && b !== bridge)
      return {groups: [first, second], shape, bridge, order, cuts}
    }
    case 'ring': {
      if (size < 4) throw badArgument(`--shape ring needs at least 4 nodes (with ${size}, every majority is the whole cluster); try --shape bridge`)
      const reach = Math.ceil(Math.floor(size / 2) / 2)
      const cuts: [number, number][] = []
      for (let i = 0; i < size; i++) {
        for (let j = i + 1; j < size; j++) {
          const distance = Math.min(j - i, size - (j - i))
          if (distance > reach) cuts.push(pair(order[i], order[j]))
        }
      }
      return {groups: null, shape, order, cuts: cuts.sort((x, y) => x[0] - y[0] || x[1] - y[1])}
    }
  }
}

/** A node order as a request gives it: every member of the cluster once; BAD_ARGUMENT otherwise. */
export function parseOrder(value: unknown, nodes: NodeSet): number[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw badArgument('order is a list of node indexes')
  checkOrder(value, membersOf(nodes))
  return value as number[]
}

function checkOrder(order: unknown[], members: number[]): void {
  const size = members.length
  const seen = new Set<unknown>()
  for (const node of order) {
    if (!members.includes(node as number)) {
      throw badArgument(`order names node ${JSON.stringify(node)}: this cluster has ${dense(members) ? `nodes 0 to ${size - 1}` : `members ${members.join(',')}`}`)
    }
    if (seen.has(node)) throw badArgument(`order names node ${node} twice`)
    seen.add(node)
  }
  if (seen.size !== size) throw badArgument(`order names ${seen.size} of the ${size} nodes: give each once`)
}

function sorted(nodes: number[]): number[] {
  return [...nodes].sort((a, b) => a - b)
}

function pair(a: number, b: number): [number, number] {
  return a < b ? [a, b] : [b, a]
}

/** Jepsen's bisect: the first floor(n/2) items, and the rest. */
export function bisect<T>(items: T[]): [T[], T[]] {
  const half = Math.floor(items.length / 2)
  return [items.slice(0, half), items.slice(half)]
}

/** Which nodes each node can still reach (itself included), by node. */
export function reachability(partition: Partition, size: number): number[][] {
  const cut = cutSet(partition.cuts)
  return range(size).map((a) => range(size).filter((b) => a === b || !cut.has(key(a, b))))
}

/** Every link between two nodes of different groups, as sorted pairs. */
function cutsBetween(groups: number[][]): [number, number][] {
  const groupOf = new Map<number, number>()
  groups.forEach((group, g) => group.forEach((node) => groupOf.set(node, g)))
  const nodes = [...groupOf.keys()].sort((a, b) => a - b)
  const cuts: [number, number][] = []
  for (const a of nodes) for (const b of nodes) if (a < b && groupOf.get(a) !== groupOf.get(b)) cuts.push([a, b])
  return cuts
}

/** What the manager has asked for: at most one partition, and delay and loss per node. */
export interface FaultRules {
  partition: (Partition & {until: number | null}) | null
  delay: Map<number, {ms: number; jitterMs: number; until: number | null}>
  loss: Map<number, {loss: number; until: number | null}>
}

export function emptyRules(): FaultRules {
  return {partition: null, delay: new Map(), loss: new Map()}
}

export function hasRules(rules: FaultRules): boolean {
  return rules.partition !== null || rules.delay.size > 0 || rules.loss.size > 0
}

/** A fault as a node's PUT /admin/faults takes it (without `peers`). */
export interface WireFault {
  drop?: true
  delay_ms?: number
  jitter_ms?: number
  loss?: number
  /** Epoch ms at which every part of this fault has expired; absent if some part never does. */
  until?: number
}

/**
 * The fault each node must apply to each peer: `result[node].get(peer)`. A peer without an
 * entry is healthy. Rules already expired at `now` are left out.
 */
export function nodeFaults(rules: FaultRules, size: number, now: number): Map<number, WireFault>[] {
  const live = (until: number | null): boolean => until === null || until > now
  const cut = rules.partition && live(rules.partition.until) ? cutSet(rules.partition.cuts) : new Set<string>()
  return range(size).map((node) => {
    const faults = new Map<number, WireFault>()
    const delay = rules.delay.get(node)
    const loss = rules.loss.get(node)
    for (const peer of range(size)) {
      if (peer === node) continue
      const fault: WireFault = {}
      const untils: (number | null)[] = []
      if (cut.has(key(node, peer))) {
        fault.drop = true
        untils.push(rules.partition!.until)
      }
      if (delay && live(delay.until)) {
        fault.delay_ms = delay.ms
        if (delay.jitterMs > 0) fault.jitter_ms = delay.jitterMs
        untils.push(delay.until)
      }
      if (loss && live(loss.until)) {
        fault.loss = loss.loss
        untils.push(loss.until)
      }
      if (untils.length === 0) continue
      if (untils.every((u) => u !== null)) fault.until = Math.max(...(untils as number[]))
      faults.set(peer, fault)
    }
    return faults
  })
}

/** Per node (from `nodeFaults`), the peers it is cut from. */
export function partitionCuts(faults: Map<number, WireFault>[]): Map<number, number[]> {
  const cuts = new Map<number, number[]>()
  faults.forEach((byPeer, node) => {
    const peers = [...byPeer].filter(([, f]) => f.drop).map(([peer]) => peer)
    if (peers.length > 0) cuts.set(node, peers)
  })
  return cuts
}

/** A node's faults without the cuts (a cluster in network namespaces cuts in the kernel); a fault that was only a cut is left out. */
export function withoutDrops(faults: Map<number, WireFault>): Map<number, WireFault> {
  const rest = new Map<number, WireFault>()
  for (const [peer, {drop, ...fault}] of faults) {
    if (drop && fault.delay_ms === undefined && fault.loss === undefined) continue
    rest.set(peer, fault)
  }
  return rest
}

/** The earliest time a rule expires, or null if none does. */
export function nextExpiry(rules: FaultRules): number | null {
  const untils = [rules.partition?.until ?? null, ...[...rules.delay.values()].map((d) => d.until), ...[...rules.loss.values()].map((l) => l.until)]
  const set = untils.filter((u): u is number => u !== null)
  return set.length > 0 ? Math.min(...set) : null
}

/** Removes the rules expired at `now`; returns what expired, in words, for the timeline. */
export function dropExpired(rules: FaultRules, now: number): string[] {
  const expired: string[] = []
  if (rules.partition && rules.partition.until !== null && rules.partition.until <= now) {
    expired.push('partition')
    rules.partition = null
  }
  for (const [node, delay] of rules.delay) {
    if (delay.until !== null && delay.until <= now) {
      expired.push(`delay on node ${node}`)
      rules.delay.delete(node)
    }
  }
  for (const [node, loss] of rules.loss) {
    if (loss.until !== null && loss.until <= now) {
      expired.push(`loss on node ${node}`)
      rules.loss.delete(node)
    }
  }
  return expired
}

/**
 * The PUT bodies that give `node` exactly `faults` (after a DELETE): peers with equal faults
 * share one request. `for_ms` is relative to `now`.
 */
export function putBodies(faults: Map<number, WireFault>, now: number): Record<string, unknown>[] {
  const byFault = new Map<string, {fault: WireFault; peers: number[]}>()
  for (const [peer, fault] of [...faults].sort((a, b) => a[0] - b[0])) {
    const id = JSON.stringify(fault)
    const entry = byFault.get(id) ?? {fault, peers: []}
    entry.peers.push(peer)
    byFault.set(id, entry)
  }
  return [...byFault.values()].map(({fault, peers}) => {
    const {until, ...rest} = fault
    const body: Record<string, unknown> = {peers, ...rest}
    if (until !== undefined) body.for_ms = Math.max(1, until - now)
    return body
  })
}

function cutSet(cuts: [number, number][]): Set<string> {
  return new Set(cuts.map(([a, b]) => key(a, b)))
}

function key(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`
}

function range(n: number): number[] {
  return Array.from({length: n}, (_, i) => i)
}
