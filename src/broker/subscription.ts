/**
 * One subscriber's stream: every stored message on its topics, in commit order, with no
 * gaps and no duplicates, whatever the subscriber's pace.
 *
 * A subscription is either live (new messages are pushed to it as they are applied) or
 * catching up (it reads pages from the store after its cursor). It starts catching up
 * (history), goes live once it has read everything, and falls back to catching up as soon
 * as its connection's send buffer is full. So a slow subscriber costs the node one page
 * of memory, not an unbounded queue, and never loses or reorders a message.
 *
 * Catching up is done a page at a time by the registry's CatchUp, which shares each turn of
 * the event loop among all subscriptions catching up and yields between turns: reading
 * history never holds the loop long enough to delay Raft or other clients.
 */
import type {StoredMessage, TopicBounds} from '../storage/store-reader.js'
import type {MessageStore} from './message-store.js'
import {OffsetGaps, type TrimmedGap} from './offset-gaps.js'
import {PageCache} from './page-cache.js'
import {TopicTrie} from './topic-trie.js'
import {TopicFilter, isWildcard} from './topics.js'

export interface SubscriptionSink {
  /** Writes messages out; returns false when the connection's buffer is full. */
  send(messages: StoredMessage[]): boolean
  /** Calls back once when the buffer has drained. */
  onceDrained(callback: () => void): void
  /** Something went wrong delivering to this subscriber: tell it and close its connection. */
  fail(error: Error): void
  /**
   * Retention deleted messages of a topic before this subscriber read them; the next message
   * sent is the first after the gap. Tell the subscriber if its protocol can; delivery goes on.
   */
  trimmed(gap: TrimmedGap): void
}

export type StartPosition = {kind: 'latest'} | {kind: 'beginning'} | {kind: 'offset'; offset: number}

/**
 * A subscription from an offset that retention trimmed on one of its topics is refused with
 * OFFSET_TRIMMED (and the topic's first offset), not served with a silent gap. Throws.
 */
export function offsetTrimmedCheck(store: Pick<MessageStore, 'checkNotTrimmed'>, patterns: string[], offset: number): void {
  const filter = new TopicFilter()
  for (const pattern of patterns) filter.add(pattern)
  store.checkNotTrimmed(offset, (topic) => filter.matches(topic))
}

/** The bounds of the store's topics that `filter` matches, now. */
function matchingBounds(store: Pick<MessageStore, 'topicBounds'>, filter: TopicFilter): [string, TopicBounds][] {
  const bounds = store.topicBounds()
  const only = filter.onlyExactTopic()
  if (only !== undefined) {
    const one = bounds.get(only)
    return one === undefined ? [] : [[only, one]]
  }
  return [...bounds].filter(([topic]) => filter.matches(topic))
}

const PAGE = 512
/** Messages handed to the sink in one write, so a full buffer stops delivery within a slice. */
const SLICE = 64
/** Body characters in one slice (a slice always holds at least one message). */
const SLICE_BYTES = 64 * 1024

let nextSubscriptionId = 1

export class Subscription {
  readonly id = nextSubscriptionId++
  readonly filter = new TopicFilter()
  delivered = 0
  /** Raft index up to which everything has been considered; while live, the applied index is. */
  private cursor: number
  private live = false
  private waitingForDrain = false
  private closed = false
  private failed = false
  private readonly minOffset: number
  private readonly gaps: OffsetGaps
  /** Set by the registry: where to ask for the next page of history. */
  catchUp: CatchUp | null = null
  /** The registry's scratch list while it dispatches one applied batch. */
  batch: StoredMessage[] | null = null

  constructor(
    private readonly store: MessageStore,
    private readonly sink: SubscriptionSink,
    patterns: string[],
    start: StartPosition,
    readonly description: {protocol: string; remote: string},
  ) {
    for (const pattern of patterns) this.filter.add(pattern)
    this.minOffset = start.kind === 'offset' ? start.offset : 0
    this.cursor = start.kind === 'latest' ? store.appliedIndex : 0
    this.gaps = new OffsetGaps(start, matchingBounds(store, this.filter))
  }

  get position(): number {
    return this.live ? this.store.appliedIndex : this.cursor
  }

  get isLive(): boolean {
    return this.live
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Starts delivery: history first, then live. */
  start(): void {
    this.scheduleCatchUp()
  }

  close(): void {
    this.closed = true
    this.live = false
  }

  /** Tells the subscriber delivery failed and closes it (its connection goes too). */
  fail(error: Error): void {
    if (this.failed) return
    this.failed = true
    this.close()
    this.sink.fail(error)
  }

  /**
   * Called with the newly applied messages that match this subscription's patterns (the
   * registry picks them), in commit order. `lastIndex` is the last index of the batch.
   */
  onApplied(messages: StoredMessage[], lastIndex: number): void {
    if (!this.live || this.closed) return
    // Usually every message passes: copy only when some do not.
    const passes = (message: StoredMessage): boolean => message.raftIndex > this.cursor && message.offset >= this.minOffset
    const wanted = messages.every(passes) ? messages : messages.filter(passes)
    if (wanted.length === 0) return
    const {sent, full} = this.deliver(wanted)
    if (!full) return
    // The buffer is full: the rest of the batch is read back from the store once it drains.
    this.cursor = sent === wanted.length ? lastIndex : wanted[sent - 1].raftIndex
    this.pauseUntilDrained()
  }

  /**
   * Delivers in slices until the sink says it is full: how many were sent, and whether the
   * buffer is full. Once a slice fills it, the rest waits, so a page of large messages
   * cannot pile up in memory. A gap left by retention ends a slice: the sink hears of it just
   * before the first message after it.
   */
  private deliver(messages: StoredMessage[]): {sent: number; full: boolean} {
    let sent = 0
    while (sent < messages.length) {
      let end = sent
      let bytes = 0
      while (end < messages.length && end - sent < SLICE && bytes < SLICE_BYTES) {
        const message = messages[end]
        const gap = this.gaps.before(message)
        if (gap !== null) {
          if (end > sent) break
          this.sink.trimmed(gap)
        }
        this.gaps.passed(message)
        bytes += message.body.length
        end++
      }
      const slice = sent === 0 && end === messages.length ? messages : messages.slice(sent, end)
      sent = end
      this.delivered += slice.length
      if (!this.sink.send(slice)) return {sent, full: true}
    }
    return {sent, full: false}
  }

  /**
   * The messages of a page this subscription wants. The patterns are matched against the
   * page's distinct topics, not each message: a page with none of ours costs a few lookups.
   */
  private select(page: StoredMessage[], topics: string[] | null): StoredMessage[] {
    const wanted: StoredMessage[] = []
    if (topics === null) {
      for (const message of page) if (message.offset >= this.minOffset && this.filter.matches(message.topic)) wanted.push(message)
      return wanted
    }
    const matching = new Set<string>()
    for (const topic of topics) if (this.filter.matches(topic)) matching.add(topic)
    if (matching.size === 0) return wanted
    for (const message of page) if (message.offset >= this.minOffset && matching.has(message.topic)) wanted.push(message)
    return wanted
  }

  private pauseUntilDrained(): void {
    this.live = false
    if (this.waitingForDrain) return
    this.waitingForDrain = true
    this.sink.onceDrained(() => {
      this.waitingForDrain = false
      this.scheduleCatchUp()
    })
  }

  private scheduleCatchUp(): void {
    if (this.closed) return
    if (this.catchUp) this.catchUp.wake(this)
    else while (this.readPage() === 'more');
  }

  /**
   * The store was replaced by a snapshot: a live subscription has seen everything up to
   * `seenUpTo` (the applied index before) and reads the rest from the store, as a new one does,
   * so it misses nothing the snapshot brought and gets nothing twice.
   */
  rewind(seenUpTo: number): void {
    if (!this.live || this.closed) return
    this.live = false
    this.cursor = seenUpTo
    this.scheduleCatchUp()
  }

  /**
   * Reads and delivers one page after the cursor. 'more' when there may be more to read now;
   * 'done' when caught up (now live), paused for a full buffer, or closed.
   */
  readPage(): 'more' | 'done' {
    if (this.closed || this.live || this.waitingForDrain) return 'done'
    const onlyTopic = this.filter.onlyExactTopic()
    const {messages: page, topics} = this.catchUp ? this.catchUp.pages.read(this.cursor, PAGE, onlyTopic) : {messages: this.store.readAfter(this.cursor, PAGE, onlyTopic), topics: null}
    const wanted = this.select(page, topics)
    const caughtUp = page.length < PAGE
    const {sent, full} = wanted.length === 0 ? {sent: 0, full: false} : this.deliver(wanted)
    if (caughtUp) {
      // Everything applied so far has been read: from here on, applies are pushed to us.
      this.cursor = this.store.appliedIndex
      this.live = true
    } else {
      this.cursor = page[page.length - 1].raftIndex
    }
    if (!full) return caughtUp ? 'done' : 'more'
    if (sent < wanted.length) this.cursor = wanted[sent - 1].raftIndex
    this.pauseUntilDrained()
    return 'done'
  }
}

/** How long one turn of the event loop may spend reading history for subscribers. */
const CATCH_UP_BUDGET_MS = 5

/**
 * Runs the catch-up reads of every subscription, round robin, a bounded time per turn of the
 * event loop; the next turn comes after I/O (setImmediate), so timers, Raft and other
 * clients get their share between pages.
 */
export class CatchUp {
  private readonly queue = new Set<Subscription>()
  private scheduled = false
  readonly pages: PageCache

  constructor(
    store: MessageStore,
    private readonly onError: (subscription: Subscription, error: Error) => void,
  ) {
    this.pages = new PageCache(store)
  }

  wake(subscription: Subscription): void {
    this.queue.add(subscription)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.run())
    }
  }

  get waiting(): number {
    return this.queue.size
  }

  private run(): void {
    this.scheduled = false
    const started = performance.now()
    while (this.queue.size > 0 && performance.now() - started < CATCH_UP_BUDGET_MS) {
      const subscription = this.queue.values().next().value as Subscription
      this.queue.delete(subscription)
      let result: 'more' | 'done'
      try {
        result = subscription.readPage()
      } catch (error) {
        this.onError(subscription, error instanceof Error ? error : new Error(String(error)))
        continue
      }
      // Back of the queue: each subscription catching up gets a page in turn.
      if (result === 'more') this.queue.add(subscription)
    }
    if (this.queue.size > 0 && !this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.run())
    }
  }
}

/**
 * Every open subscription of the node, fed by the message store. Each applied message goes
 * only to the subscriptions whose patterns match it: exact topics by hash lookup, wildcards
 * through a trie, so a publish costs the same beside one pattern or a hundred thousand.
 */
export class SubscriptionRegistry {
  private readonly subscriptions = new Set<Subscription>()
  private readonly exact = new Map<string, Set<Subscription>>()
  private readonly wildcards = new TopicTrie<Subscription>()
  private readonly catchUp: CatchUp

  constructor(
    store: MessageStore,
    private readonly onError: (subscription: Subscription, error: Error) => void = () => {},
  ) {
    this.catchUp = new CatchUp(store, (subscription, error) => this.fail(subscription, error))
    store.onApplied((messages) => this.dispatch(messages))
  }

  add(subscription: Subscription): void {
    if (subscription.isClosed) return
    this.subscriptions.add(subscription)
    for (const pattern of subscription.filter.patterns()) this.index(pattern, subscription)
    subscription.catchUp = this.catchUp
    subscription.start()
  }

  remove(subscription: Subscription): void {
    subscription.close()
    if (!this.subscriptions.delete(subscription)) return
    for (const pattern of subscription.filter.patterns()) this.unindex(pattern, subscription)
  }

  /** Drops patterns from a subscription; returns how many it has left. */
  removePatterns(subscription: Subscription, patterns: string[]): number {
    for (const pattern of patterns) {
      if (!subscription.filter.remove(pattern)) continue
      if (this.subscriptions.has(subscription)) this.unindex(pattern, subscription)
    }
    return subscription.filter.size
  }

  get size(): number {
    return this.subscriptions.size
  }

  /** Subscriptions reading history, waiting for their next page. */
  get catchingUp(): number {
    return this.catchUp.waiting
  }

  list(): Subscription[] {
    return [...this.subscriptions]
  }

  private index(pattern: string, subscription: Subscription): void {
    if (isWildcard(pattern)) {
      this.wildcards.add(pattern, subscription)
      return
    }
    let set = this.exact.get(pattern)
    if (!set) this.exact.set(pattern, (set = new Set()))
    set.add(subscription)
  }

  private unindex(pattern: string, subscription: Subscription): void {
    if (isWildcard(pattern)) {
      this.wildcards.remove(pattern, subscription)
      return
    }
    const set = this.exact.get(pattern)
    if (set && set.delete(subscription) && set.size === 0) this.exact.delete(pattern)
  }

  /** A snapshot replaced the store, which had applied up to `previousApplied` (see Subscription.rewind). */
  storeReplaced(previousApplied: number): void {
    for (const subscription of this.subscriptions) subscription.rewind(previousApplied)
  }

  /** Hands each subscription the messages of the batch that match it, in commit order. */
  private dispatch(messages: StoredMessage[]): void {
    if (this.subscriptions.size === 0) return
    const lastIndex = messages[messages.length - 1].raftIndex
    // Each matched subscription gathers its messages in its own `batch`; `touched` lists them.
    const touched: Subscription[] = []
    const collect = (subscription: Subscription, message: StoredMessage): void => {
      const batch = subscription.batch
      if (batch === null) {
        subscription.batch = [message]
        touched.push(subscription)
      } else if (batch[batch.length - 1] !== message) {
        // A subscription whose patterns overlap is handed the message once.
        batch.push(message)
      }
    }
    const hasWildcards = this.wildcards.size > 0
    for (const message of messages) {
      const exact = this.exact.get(message.topic)
      if (exact) for (const subscription of exact) collect(subscription, message)
      if (hasWildcards) this.wildcards.match(message.topic, (subscription) => collect(subscription, message))
    }
    for (const subscription of touched) {
      const batch = subscription.batch!
      subscription.batch = null
      try {
        subscription.onApplied(batch, lastIndex)
      } catch (error) {
        this.fail(subscription, error instanceof Error ? error : new Error(String(error)))
      }
    }
  }

  /** One subscriber failed: it alone is closed, never the apply loop. */
  private fail(subscription: Subscription, error: Error): void {
    this.remove(subscription)
    this.onError(subscription, error)
    subscription.fail(error)
  }
}
