/**
 * The chaos checker: reads a recorded history (see history.ts) and says whether the broker
 * kept its promises. Pure: no I/O, no clock; the same history always gives the same report.
 *
 * What counts as what (each anomaly is counted once, however many nodes show it):
 *
 * - lost: a publish was acknowledged at `offset` of `topic`, and on at least one node that
 *   was read the message at that place is not it. Per node, the reason is `missing` (the id
 *   is stored nowhere on that node), `moved` (stored, but at another offset or topic than
 *   the ack said), or `altered` (at the acked offset under its id, but with another value).
 *   "Acked at X but stored elsewhere or with other content" is lost rather than divergent:
 *   the broker's promise to the publisher is broken even when every node agrees.
 * - unexpected: a stored message (topic, offset, id, value) that matches no publish: its id
 *   was never published, or was published with another value or topic, or its publish
 *   definitely failed (every attempt was refused, so it must not be stored).
 * - duplicated: one publish (same id; or same value when a message carries no id) stored at
 *   more than one place on a node.
 * - divergent: a position (topic, offset) where the nodes that were read disagree: two hold
 *   different messages there (`conflict`), a node has a hole below its last offset (`gap`),
 *   or a node lacks offsets at the end that another holds (`short`).
 * - subscriber anomalies: per subscriber and topic, in arrival order: an offset skipped
 *   (`gap`; a subscriber from `beginning` must start at 0), an offset seen again
 *   (`duplicate`), an offset below one already seen and not seen before (`reorder`), a value
 *   other than the one its node stores at that offset (`mismatch`), and, for a subscriber the
 *   runner let catch up, not having received everything its node stores (`incomplete`).
 * - reordered: the log does not respect real time: publish A was acknowledged before
 *   publish B was first sent, yet B is stored at a lower offset of the same topic.
 * - split brain: two nodes were seen leading in the same term (Raft's Election Safety).
 * - recovered: a publish with an unknown outcome that is stored: allowed, counted.
 *
 * The nodes compared are those the history read: with membership faults, the voters at the end
 * (a removed node's data is stale by design), so "on every node" means every current voter.
 *
 * The run passes only when lost, unexpected, duplicated, divergent, subscriber anomalies,
 * reordered and split brain are all zero, and there is no problem that made checking impossible (a node
 * whose messages could not be read).
 */
import type {FaultRecord, History, NodeMessages, PublishRecord, StoredEntry, SubscriberRecord} from './history.js'

/** Each list in a report keeps at most this many items; the counts are always exact. */
export const MAX_LISTED = 1000

export interface Place {
  topic: string
  offset: number
}

export type LostReason = 'missing' | 'moved' | 'altered'

export interface LostAnomaly {
  id: string
  value: string
  topic: string
  offset: number
  nodes: {node: number; reason: LostReason; found?: Place[]; stored?: {id: string | null; value: string} | null}[]
}

export type UnexpectedReason = 'never-published' | 'mismatch' | 'failed-but-stored'

export interface UnexpectedAnomaly {
  topic: string
  offset: number
  id: string | null
  value: string
  reason: UnexpectedReason
  nodes: number[]
}

export interface DuplicatedAnomaly {
  id: string
  /** Per node that stores it more than once, every place it is stored. */
  nodes: {node: number; places: Place[]}[]
}

export type DivergenceKind = 'conflict' | 'gap' | 'short'

export interface DivergentAnomaly {
  topic: string
  offset: number
  kind: DivergenceKind
  /** What each node read holds there (null: nothing). */
  views: {node: number; id: string | null; value: string | null}[]
}

export type SubscriberAnomalyKind = 'gap' | 'duplicate' | 'reorder' | 'mismatch' | 'incomplete'

export interface SubscriberAnomaly {
  subscriber: number
  node: number
  topic: string
  kind: SubscriberAnomalyKind
  /** Position in the subscriber's arrival order (for `incomplete`: the number received). */
  position: number
  offset: number
  /** For gap and incomplete: the offsets that were skipped (first and last). */
  missing?: [number, number]
  /** For mismatch: what was received, and what the node stores there. */
  received?: string
  stored?: string | null
}

export interface ReorderedAnomaly {
  topic: string
  earlier: {id: string; offset: number; acked_at: number}
  later: {id: string; offset: number; invoked_at: number}
}

export interface SplitBrainAnomaly {
  term: number
  leaders: number[]
}

export interface CheckCounts {
  publishes: number
  attempts: number
  acks: number
  failures: number
  unknowns: number
  recovered: number
  /** Unknown outcome and stored nowhere: allowed. */
  unknown_not_stored: number
  /** Failed and stored nowhere: as it should be. */
  failed_not_stored: number
  faults: number
  /** Membership steps that changed the cluster (member-add, member-remove, member-replace done; skipped ones are not faults). */
  membership_changes: number
  elections: number
  nodes_read: number
  /** Per node read, how many messages of the run's topics it stores. */
  stored: Record<string, number>
  /** Messages received by all subscribers together. */
  delivered: number
  lost: number
  unexpected: number
  duplicated: number
  divergent: number
  subscriber_anomalies: number
  reordered: number
  split_brain: number
}

export interface CheckReport {
  valid: boolean
  counts: CheckCounts
  /** Reasons the history could not be fully checked; any makes the report invalid. */
  problems: string[]
  /** Things worth knowing that are not anomalies. */
  warnings: string[]
  lost: LostAnomaly[]
  unexpected: UnexpectedAnomaly[]
  duplicated: DuplicatedAnomaly[]
  divergent: DivergentAnomaly[]
  subscribers: SubscriberAnomaly[]
  reordered: ReorderedAnomaly[]
  split_brain: SplitBrainAnomaly[]
  /** Ids of the recovered publishes (at most MAX_LISTED). */
  recovered: string[]
}

/** One node's messages, indexed. */
interface NodeIndex {
  node: number
  /** topic -> offset -> entries at that offset (more than one only in a corrupt read). */
  at: Map<string, Map<number, StoredEntry>>
  /** Highest offset per topic. */
  max: Map<string, number>
  /** publish key -> every place it is stored. */
  places: Map<string, Place[]>
  count: number
}

class Capped<T> {
  readonly items: T[] = []
  count = 0
  push(item: T): void {
    this.count++
    if (this.items.length < MAX_LISTED) this.items.push(item)
  }
}

export function checkHistory(history: History): CheckReport {
  const problems: string[] = []
  const warnings: string[] = []

  const byId = new Map<string, PublishRecord>()
  const byValue = new Map<string, PublishRecord>()
  for (const publish of history.publishes) {
    if (byId.has(publish.id)) warnings.push(`publish id ${publish.id} was invoked more than once; the first is used`)
    else byId.set(publish.id, publish)
    if (!byValue.has(publish.value)) byValue.set(publish.value, publish)
  }
  /** The publish a stored entry claims to be: by id, or by value for an entry without an id. */
  const keyOf = (entry: StoredEntry): string => (entry.id !== null ? `id:${entry.id}` : byValue.has(entry.value) ? `id:${byValue.get(entry.value)!.id}` : `value:${entry.value}`)

  const readNodes = history.stored.filter((n) => n.read)
  for (const node of history.stored) {
    if (!node.read) problems.push(`node ${node.node}'s messages could not be read${node.error ? `: ${node.error}` : ''}`)
  }
  if (readNodes.length === 0) problems.push('no node could be read: nothing stored can be checked')
  if (history.meta.restore_error !== undefined) problems.push(`the cluster could not be restored after the faults: ${history.meta.restore_error}`)
  if (!history.meta.converged) warnings.push('the cluster had not converged when its messages were read')

  const indexes = readNodes.map((n) => indexNode(n, keyOf, problems))
  const topics = new Set<string>([...(history.meta.topics ?? []), ...history.publishes.map((p) => p.topic)])
  for (const node of readNodes) for (const topic of Object.keys(node.topics)) topics.add(topic)

  const divergent = findDivergence([...topics].sort(), indexes)
  const lost = findLost(history.publishes, indexes)
  const unexpected = findUnexpected(indexes, byId, byValue)
  const duplicated = findDuplicates(indexes)
  const subscribers = findSubscriberAnomalies(history.subscribers, indexes)
  const reordered = findReordered(history.publishes, indexes)
  const leadersByTerm = new Map<number, Set<number>>()
  for (const election of history.elections) {
    const set = leadersByTerm.get(election.term) ?? new Set<number>()
    set.add(election.leader)
    leadersByTerm.set(election.term, set)
  }
  const splitBrain: SplitBrainAnomaly[] = [...leadersByTerm]
    .filter(([, leaders]) => leaders.size > 1)
    .map(([term, leaders]) => ({term, leaders: [...leaders].sort((a, b) => a - b)}))

  let recoveredCount = 0
  const recovered: string[] = []
  let unknownNotStored = 0
  let failedNotStored = 0
  const storedAnywhere = (publish: PublishRecord): boolean => indexes.some((index) => index.places.has(`id:${publish.id}`))
  for (const publish of history.publishes) {
    if (publish.outcome === 'unknown') {
      if (storedAnywhere(publish)) {
        recoveredCount++
        if (recovered.length < MAX_LISTED) recovered.push(publish.id)
      } else {
        unknownNotStored++
      }
    } else if (publish.outcome === 'fail' && !storedAnywhere(publish)) {
      failedNotStored++
    }
  }

  const counts: CheckCounts = {
    publishes: history.publishes.length,
    attempts: history.publishes.reduce((sum, p) => sum + (p.attempts?.length ?? 0), 0),
    acks: history.publishes.filter((p) => p.outcome === 'ok').length,
    failures: history.publishes.filter((p) => p.outcome === 'fail').length,
    unknowns: history.publishes.filter((p) => p.outcome === 'unknown').length,
    recovered: recoveredCount,
    unknown_not_stored: unknownNotStored,
    failed_not_stored: failedNotStored,
    faults: history.faults.filter(injected).length,
    membership_changes: history.faults.filter((f) => injected(f) && f.kind.startsWith('member-')).length,
    elections: history.elections.length,
    nodes_read: readNodes.length,
    stored: Object.fromEntries(indexes.map((i) => [String(i.node), i.count])),
    delivered: history.subscribers.reduce((sum, s) => sum + Object.values(s.topics).reduce((n, t) => n + t.offsets.length, 0), 0),
    lost: lost.count,
    unexpected: unexpected.count,
    duplicated: duplicated.count,
    divergent: divergent.count,
    subscriber_anomalies: subscribers.count,
    reordered: reordered.count,
    split_brain: splitBrain.length,
  }
  const valid =
    problems.length === 0 &&
    counts.lost === 0 &&
    counts.unexpected === 0 &&
    counts.duplicated === 0 &&
    counts.divergent === 0 &&
    counts.subscriber_anomalies === 0 &&
    counts.reordered === 0 &&
    counts.split_brain === 0
  return {
    valid,
    counts,
    problems,
    warnings,
    lost: lost.items,
    unexpected: unexpected.items,
    duplicated: duplicated.items,
    divergent: divergent.items,
    subscribers: subscribers.items,
    reordered: reordered.items,
    split_brain: splitBrain.slice(0, MAX_LISTED),
    recovered,
  }
}

/** A fault that happened: not one that failed, nor a membership step the cluster refused. */
export function injected(fault: FaultRecord): boolean {
  return !fault.error && fault.detail?.outcome !== 'skipped'
}

function indexNode(node: NodeMessages, keyOf: (entry: StoredEntry) => string, problems: string[]): NodeIndex {
  const index: NodeIndex = {node: node.node, at: new Map(), max: new Map(), places: new Map(), count: 0}
  for (const [topic, entries] of Object.entries(node.topics)) {
    const at = new Map<number, StoredEntry>()
    let max = -1
    for (const entry of entries) {
      if (at.has(entry.offset)) {
        problems.push(`node ${node.node} returned offset ${entry.offset} of ${topic} twice`)
        continue
      }
      at.set(entry.offset, entry)
      if (entry.offset > max) max = entry.offset
      const key = keyOf(entry)
      const places = index.places.get(key)
      if (places) places.push({topic, offset: entry.offset})
      else index.places.set(key, [{topic, offset: entry.offset}])
      index.count++
    }
    index.at.set(topic, at)
    index.max.set(topic, max)
  }
  return index
}

function sameEntry(a: StoredEntry, b: StoredEntry): boolean {
  return a.id === b.id && a.value === b.value
}

function findDivergence(topics: string[], indexes: NodeIndex[]): Capped<DivergentAnomaly> {
  const out = new Capped<DivergentAnomaly>()
  for (const topic of topics) {
    const maxes = indexes.map((i) => i.max.get(topic) ?? -1)
    const top = Math.max(-1, ...maxes)
    for (let offset = 0; offset <= top; offset++) {
      const entries = indexes.map((i) => i.at.get(topic)?.get(offset) ?? null)
      const present = entries.filter((e): e is StoredEntry => e !== null)
      const agree = present.length === entries.length && present.every((e) => sameEntry(e, present[0]))
      if (agree) continue
      let kind: DivergenceKind
      if (present.some((e) => !sameEntry(e, present[0]))) kind = 'conflict'
      else if (entries.some((e, n) => e === null && maxes[n] > offset) || present.length === 0) kind = 'gap'
      else kind = 'short'
      out.push({
        topic,
        offset,
        kind,
        views: indexes.map((index, n) => ({node: index.node, id: entries[n]?.id ?? null, value: entries[n]?.value ?? null})),
      })
    }
  }
  return out
}

function findLost(publishes: PublishRecord[], indexes: NodeIndex[]): Capped<LostAnomaly> {
  const out = new Capped<LostAnomaly>()
  for (const publish of publishes) {
    if (publish.outcome !== 'ok' || publish.offset === undefined) continue
    const failures: LostAnomaly['nodes'] = []
    for (const index of indexes) {
      const entry = index.at.get(publish.topic)?.get(publish.offset) ?? null
      if (entry && entry.id === publish.id && entry.value === publish.value) continue
      const elsewhere = (index.places.get(`id:${publish.id}`) ?? []).filter((p) => p.topic !== publish.topic || p.offset !== publish.offset)
      let reason: LostReason
      if (entry && entry.id === publish.id) reason = 'altered'
      else if (elsewhere.length > 0) reason = 'moved'
      else reason = 'missing'
      failures.push({
        node: index.node,
        reason,
        ...(elsewhere.length > 0 ? {found: elsewhere} : {}),
        stored: entry ? {id: entry.id, value: entry.value} : null,
      })
    }
    if (failures.length > 0) out.push({id: publish.id, value: publish.value, topic: publish.topic, offset: publish.offset, nodes: failures})
  }
  return out
}

function findUnexpected(indexes: NodeIndex[], byId: Map<string, PublishRecord>, byValue: Map<string, PublishRecord>): Capped<UnexpectedAnomaly> {
  const found = new Map<string, UnexpectedAnomaly>()
  for (const index of indexes) {
    for (const [topic, at] of index.at) {
      for (const entry of at.values()) {
        const publish = entry.id !== null ? byId.get(entry.id) : byValue.get(entry.value)
        let reason: UnexpectedReason | null = null
        if (!publish) reason = 'never-published'
        else if (publish.value !== entry.value || publish.topic !== topic) reason = 'mismatch'
        else if (publish.outcome === 'fail') reason = 'failed-but-stored'
        if (reason === null) continue
        const key = JSON.stringify([topic, entry.offset, entry.id, entry.value])
        const known = found.get(key)
        if (known) known.nodes.push(index.node)
        else found.set(key, {topic, offset: entry.offset, id: entry.id, value: entry.value, reason, nodes: [index.node]})
      }
    }
  }
  const out = new Capped<UnexpectedAnomaly>()
  for (const anomaly of found.values()) out.push(anomaly)
  return out
}

function findDuplicates(indexes: NodeIndex[]): Capped<DuplicatedAnomaly> {
  const found = new Map<string, DuplicatedAnomaly>()
  for (const index of indexes) {
    for (const [key, places] of index.places) {
      if (places.length < 2) continue
      const id = key.slice(key.indexOf(':') + 1)
      const known = found.get(key)
      if (known) known.nodes.push({node: index.node, places})
      else found.set(key, {id, nodes: [{node: index.node, places}]})
    }
  }
  const out = new Capped<DuplicatedAnomaly>()
  for (const anomaly of found.values()) out.push(anomaly)
  return out
}

function findSubscriberAnomalies(subscribers: SubscriberRecord[], indexes: NodeIndex[]): Capped<SubscriberAnomaly> {
  const out = new Capped<SubscriberAnomaly>()
  for (const subscriber of subscribers) {
    // Compare with what the subscriber's own node stores; any node read if that one was not.
    const reference = indexes.find((i) => i.node === subscriber.node) ?? indexes[0]
    for (const [topic, stream] of Object.entries(subscriber.topics)) {
      const stored = reference?.at.get(topic)
      const base = {subscriber: subscriber.subscriber, node: subscriber.node, topic}
      const seen = new Set<number>()
      let max = -1
      for (let position = 0; position < stream.offsets.length; position++) {
        const offset = stream.offsets[position]
        const value = stream.values[position]
        const expected = position === 0 ? (subscriber.from === 'beginning' ? 0 : offset) : max + 1
        if (seen.has(offset)) {
          out.push({...base, kind: 'duplicate', position, offset})
        } else if (offset < expected) {
          out.push({...base, kind: 'reorder', position, offset})
        } else if (offset > expected) {
          out.push({...base, kind: 'gap', position, offset, missing: [expected, offset - 1]})
        }
        if (reference) {
          const entry = stored?.get(offset)
          if (!entry || entry.value !== value) out.push({...base, kind: 'mismatch', position, offset, received: value, stored: entry?.value ?? null})
        }
        seen.add(offset)
        if (offset > max) max = offset
      }
      if (subscriber.final && reference) {
        const last = reference.max.get(topic) ?? -1
        const judged = subscriber.from === 'beginning' || stream.offsets.length > 0
        if (judged && max < last) {
          out.push({...base, kind: 'incomplete', position: stream.offsets.length, offset: max + 1, missing: [max + 1, last]})
        }
      }
    }
  }
  return out
}

function findReordered(publishes: PublishRecord[], indexes: NodeIndex[]): Capped<ReorderedAnomaly> {
  const out = new Capped<ReorderedAnomaly>()
  if (indexes.length === 0) return out
  // Where each publish is stored: the first node read that holds it exactly once.
  const placeOf = (publish: PublishRecord): number | null => {
    for (const index of indexes) {
      const places = index.places.get(`id:${publish.id}`)
      if (places && places.length === 1 && places[0].topic === publish.topic) return places[0].offset
    }
    return null
  }
  const byTopic = new Map<string, {publish: PublishRecord; offset: number}[]>()
  for (const publish of publishes) {
    const offset = placeOf(publish)
    if (offset === null) continue
    const list = byTopic.get(publish.topic)
    if (list) list.push({publish, offset})
    else byTopic.set(publish.topic, [{publish, offset}])
  }
  for (const [topic, stored] of byTopic) {
    // Acknowledged publishes in ack order, with the running highest offset among them.
    const acked = stored.filter((s) => s.publish.outcome === 'ok').sort((a, b) => a.publish.completed_at - b.publish.completed_at)
    const highest: {publish: PublishRecord; offset: number}[] = []
    for (const item of acked) highest.push(highest.length > 0 && highest[highest.length - 1].offset > item.offset ? highest[highest.length - 1] : item)
    for (const later of stored) {
      // How many were acknowledged strictly before `later` was first sent.
      let low = 0
      let high = acked.length
      while (low < high) {
        const mid = (low + high) >> 1
        if (acked[mid].publish.completed_at < later.publish.invoked_at) low = mid + 1
        else high = mid
      }
      if (low === 0) continue
      const earlier = highest[low - 1]
      if (earlier.offset > later.offset) {
        out.push({
          topic,
          earlier: {id: earlier.publish.id, offset: earlier.offset, acked_at: earlier.publish.completed_at},
          later: {id: later.publish.id, offset: later.offset, invoked_at: later.publish.invoked_at},
        })
      }
    }
  }
  return out
}

/** A few lines that say what the report found, for a terminal. */
export function describeAnomalies(report: CheckReport, limit = 5): string[] {
  const lines: string[] = []
  for (const problem of report.problems) lines.push(`problem: ${problem}`)
  for (const a of report.lost.slice(0, limit)) {
    lines.push(`lost: ${a.id} acked at ${a.topic}@${a.offset}; ${a.nodes.map((n) => `node ${n.node} ${n.reason}${n.found ? ` (at ${n.found.map((p) => `${p.topic}@${p.offset}`).join(', ')})` : ''}`).join('; ')}`)
  }
  for (const a of report.unexpected.slice(0, limit)) {
    lines.push(`unexpected: ${a.topic}@${a.offset} id ${a.id ?? '(none)'} value ${a.value} (${a.reason}) on node ${a.nodes.join(', ')}`)
  }
  for (const a of report.duplicated.slice(0, limit)) {
    lines.push(`duplicated: ${a.id} ${a.nodes.map((n) => `node ${n.node} at ${n.places.map((p) => `${p.topic}@${p.offset}`).join(', ')}`).join('; ')}`)
  }
  for (const a of report.divergent.slice(0, limit)) {
    lines.push(`divergent (${a.kind}): ${a.topic}@${a.offset}: ${a.views.map((v) => `node ${v.node} ${v.id ?? '-'}`).join(', ')}`)
  }
  for (const a of report.subscribers.slice(0, limit)) {
    const extra = a.missing ? ` missing ${a.missing[0]}..${a.missing[1]}` : a.kind === 'mismatch' ? ` received ${a.received}, stored ${a.stored ?? '(nothing)'}` : ''
    lines.push(`subscriber ${a.subscriber} (node ${a.node}) ${a.kind} on ${a.topic} at offset ${a.offset}${extra}`)
  }
  for (const a of report.reordered.slice(0, limit)) {
    lines.push(`reordered: ${a.topic}: ${a.earlier.id} acked at ${a.earlier.acked_at.toFixed(0)} ms is at offset ${a.earlier.offset}, after ${a.later.id} (sent at ${a.later.invoked_at.toFixed(0)} ms) at ${a.later.offset}`)
  }
  for (const a of report.split_brain.slice(0, limit)) lines.push(`split brain: nodes ${a.leaders.join(' and ')} both led term ${a.term}`)
  return lines
}
