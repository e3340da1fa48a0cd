/**
 * Each topic's bounds (first offset kept, next offset to assign, bytes kept) and the retention
 * policy, and the trims the policy asks for. Part of the state machine: every member runs the
 * same trims at the same entries of the log, from state every member has alike (the bounds, the
 * stored messages, the policy, and the clock an expire entry carries), so every member keeps
 * exactly the same messages. Nothing here reads a clock.
 *
 * Trims always take the oldest message: of a topic for a topic's limits, of the whole store
 * for the cluster's. So a topic's messages are always the offsets first..next-1, with no hole,
 * and a trim is "the rows of this topic below its new first offset".
 */
import {setRetentionPolicyOp, setTopicsOp, trimTopicsOp} from '../storage/schema-rows.js'
import type {MessageHead, TopicBounds} from '../storage/store-reader.js'
import type {SqlValue, WriteOp} from '../storage/writer-protocol.js'
import {NO_RETENTION, policyText, type RetentionLimits, type RetentionPolicy} from '../util/retention-spec.js'

/** Where the oldest stored messages are read from: the database and the rows not yet written. */
export interface HeadSource {
  /** The oldest `limit` messages of `topic` from offset `from` on. */
  topicHeads(topic: string, from: number, limit: number): MessageHead[]
  /** The oldest `limit` messages committed after raft index `afterIndex`, trimmed ones included. */
  headsAfter(afterIndex: number, limit: number): MessageHead[]
}

/** Heads read at a time: a page serves many trims (a publish usually trims one). */
const HEAD_PAGE = 256

export class RetentionState {
  private readonly topics = new Map<string, TopicBounds>()
  private count = 0
  private bytes = 0
  private applied: RetentionPolicy = NO_RETENTION
  private appliedText = policyText(NO_RETENTION)
  private readonly changedTopics = new Set<string>()
  private readonly trimmedTopics = new Set<string>()
  private policyChanged = false
  /**
   * Every message committed at or below this raft index is trimmed: walks over the whole store
   * start after it. Not state (a member that restarts starts again from 0 and finds the same
   * heads), so the leader's look-ahead in expiryDue may move it too.
   */
  private deadThrough = 0
  /** Heads read ahead of the walk over the whole store, oldest first, and the last raft index read. */
  private ahead: MessageHead[] = []
  private aheadAt = 0
  private readThrough = 0
  /** Trims since the last takeOps: the caller drops trimmed messages it holds. */
  trimmedSinceTake = 0

  constructor(private readonly source: HeadSource) {}

  load(bounds: Map<string, TopicBounds>, policy: RetentionPolicy, text: string): void {
    this.topics.clear()
    this.count = 0
    this.bytes = 0
    for (const [topic, b] of bounds) {
      this.topics.set(topic, {...b})
      this.count += b.next - b.first
      this.bytes += b.bytes
    }
    this.applied = policy
    this.appliedText = text
    this.changedTopics.clear()
    this.trimmedTopics.clear()
    this.policyChanged = false
    this.deadThrough = 0
    this.ahead = []
    this.aheadAt = 0
    this.readThrough = 0
    this.trimmedSinceTake = 0
  }

  get policy(): RetentionPolicy {
    return this.applied
  }

  /** The applied policy as policyText: equal policies have equal texts. */
  get policyText(): string {
    return this.appliedText
  }

  get messageCount(): number {
    return this.count
  }

  get byteCount(): number {
    return this.bytes
  }

  bounds(): ReadonlyMap<string, TopicBounds> {
    return this.topics
  }

  firstOffset(topic: string): number {
    return this.topics.get(topic)?.first ?? 0
  }

  /** Assigns the next offset of `topic` to a new message of `bytes` bytes. */
  add(topic: string, bytes: number): number {
    let b = this.topics.get(topic)
    if (b === undefined) {
      b = {first: 0, next: 0, bytes: 0}
      this.topics.set(topic, b)
    }
    const offset = b.next++
    b.bytes += bytes
    this.count++
    this.bytes += bytes
    this.changedTopics.add(topic)
    return offset
  }

  /** A message of `topic` was just added: trims what the limits no longer allow. */
  afterPublish(topic: string): void {
    const limits = this.applied.topics[topic]
    if (limits !== undefined) this.trimTopic(topic, limits)
    this.trimStore()
  }

  /** A policy entry: from here on these are the limits, and what is over them goes now. */
  setPolicy(policy: RetentionPolicy): void {
    const text = policyText(policy)
    if (text === this.appliedText) return
    this.applied = policy
    this.appliedText = text
    this.policyChanged = true
    for (const [topic, limits] of Object.entries(policy.topics)) if (this.topics.has(topic)) this.trimTopic(topic, limits)
    this.trimStore()
  }

  /** An expire entry carrying the leader's clock: messages older than a max-age go, oldest first. */
  expire(now: number): void {
    for (const [topic, limits] of Object.entries(this.applied.topics)) {
      if (limits.maxAgeMs === undefined || !this.topics.has(topic)) continue
      const cutoff = now - limits.maxAgeMs
      let more = true
      while (more) {
        const b = this.topics.get(topic)!
        const heads = b.first === b.next ? [] : this.source.topicHeads(topic, b.first, HEAD_PAGE)
        more = heads.length === HEAD_PAGE
        for (const head of heads) {
          if (head.timestamp >= cutoff) {
            more = false
            break
          }
          this.trim(head)
        }
      }
    }
    const maxAge = this.applied.cluster.maxAgeMs
    if (maxAge === undefined) return
    const cutoff = now - maxAge
    for (;;) {
      const head = this.oldest()
      if (head === null || head.timestamp >= cutoff) break
      this.trim(head)
    }
  }

  /** Whether an expire entry at `now` would trim anything: the leader proposes one only then. */
  expiryDue(now: number): boolean {
    for (const [topic, limits] of Object.entries(this.applied.topics)) {
      const b = this.topics.get(topic)
      if (limits.maxAgeMs === undefined || b === undefined || b.first === b.next) continue
      const [head] = this.source.topicHeads(topic, b.first, 1)
      if (head !== undefined && head.timestamp < now - limits.maxAgeMs) return true
    }
    const maxAge = this.applied.cluster.maxAgeMs
    if (maxAge === undefined || this.count === 0) return false
    const head = this.oldest()
    return head !== null && head.timestamp < now - maxAge
  }

  /** The writes of what changed since the last call: topics' rows, trimmed rows, the policy. */
  takeOps(): WriteOp[] {
    const ops: WriteOp[] = []
    if (this.changedTopics.size > 0) {
      const rows: SqlValue[][] = []
      for (const topic of this.changedTopics) {
        const b = this.topics.get(topic)!
        rows.push([topic, b.first, b.next, b.bytes])
      }
      this.changedTopics.clear()
      ops.push(setTopicsOp(rows))
    }
    if (this.trimmedTopics.size > 0) {
      const rows: SqlValue[][] = []
      for (const topic of this.trimmedTopics) rows.push([topic, this.topics.get(topic)!.first])
      this.trimmedTopics.clear()
      ops.push(trimTopicsOp(rows))
    }
    if (this.policyChanged) {
      this.policyChanged = false
      ops.push(setRetentionPolicyOp(this.appliedText))
    }
    this.trimmedSinceTake = 0
    return ops
  }

  private trimTopic(topic: string, limits: RetentionLimits): void {
    for (;;) {
      const b = this.topics.get(topic)!
      const kept = b.next - b.first
      // A limit never takes a topic's last message: a message alone over max-bytes stays until the next.
      if (kept <= 1 || !overLimits(limits, kept, b.bytes)) return
      const want = limits.maxMessages !== undefined && kept > limits.maxMessages ? Math.min(kept - limits.maxMessages, HEAD_PAGE) : 16
      const heads = this.source.topicHeads(topic, b.first, want)
      if (heads.length === 0) throw new Error(`retention: topic ${topic} holds ${kept} messages from offset ${b.first}, none is stored`)
      for (const head of heads) {
        const now = this.topics.get(topic)!
        if (now.next - now.first <= 1 || !overLimits(limits, now.next - now.first, now.bytes)) return
        this.trim(head)
      }
    }
  }

  private trimStore(): void {
    const limits = this.applied.cluster
    if (limits.maxMessages === undefined && limits.maxBytes === undefined) return
    // Nor does a cluster limit take the store's last message.
    while (this.count > 1 && overLimits(limits, this.count, this.bytes)) {
      const head = this.oldest()
      if (head === null) throw new Error(`retention: the store holds ${this.count} messages, none is stored`)
      this.trim(head)
    }
  }

  /** The oldest message kept in the whole store, or null: the walk skips trimmed rows not yet deleted. */
  private oldest(): MessageHead | null {
    for (;;) {
      while (this.aheadAt < this.ahead.length) {
        const head = this.ahead[this.aheadAt]
        if (head.offset >= this.firstOffset(head.topic)) return head
        // Everything before it was trimmed too: the walk need never read it again.
        this.deadThrough = head.raftIndex
        this.aheadAt++
      }
      this.readThrough = Math.max(this.readThrough, this.deadThrough)
      this.ahead = this.source.headsAfter(this.readThrough, HEAD_PAGE)
      this.aheadAt = 0
      if (this.ahead.length === 0) return null
      this.readThrough = this.ahead[this.ahead.length - 1].raftIndex
    }
  }

  private trim(head: MessageHead): void {
    const b = this.topics.get(head.topic)
    if (b === undefined || head.offset !== b.first) throw new Error(`retention: trimming ${head.topic}@${head.offset}, which is not the topic's oldest (${b?.first})`)
    b.first++
    b.bytes -= head.bytes
    this.count--
    this.bytes -= head.bytes
    this.changedTopics.add(head.topic)
    this.trimmedTopics.add(head.topic)
    this.trimmedSinceTake++
  }
}

function overLimits(limits: RetentionLimits, count: number, bytes: number): boolean {
  return (limits.maxMessages !== undefined && count > limits.maxMessages) || (limits.maxBytes !== undefined && bytes > limits.maxBytes)
}
