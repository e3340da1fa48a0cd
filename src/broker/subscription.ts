/**
 * One subscriber's stream: every stored message on its topics, in commit order, with no
 * gaps and no duplicates, whatever the subscriber's pace.
 *
 * A subscription is either live (new messages are pushed to it as they are applied) or
 * catching up (it reads pages from the store after its cursor). It starts catching up
 * (history), goes live once it has read everything, and falls back to catching up as soon
 * as its connection's send buffer is full. So a slow subscriber costs the node one page
 * of memory, not an unbounded queue, and never loses or reorders a message.
 */
import type {StoredMessage} from '../storage/store-reader.js'
import type {MessageStore} from './message-store.js'
import {TopicFilter, isWildcard} from './topics.js'

export interface SubscriptionSink {
  /** Writes messages out; returns false when the connection's buffer is full. */
  send(messages: StoredMessage[]): boolean
  /** Calls back once when the buffer has drained. */
  onceDrained(callback: () => void): void
}

export type StartPosition = {kind: 'latest'} | {kind: 'beginning'} | {kind: 'offset'; offset: number}

const PAGE = 512

let nextSubscriptionId = 1

export class Subscription {
  readonly id = nextSubscriptionId++
  readonly filter = new TopicFilter()
  delivered = 0
  private cursor: number
  private live = false
  private waitingForDrain = false
  private closed = false
  private readonly minOffset: number

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
  }

  get position(): number {
    return this.cursor
  }

  get isLive(): boolean {
    return this.live
  }

  /** Starts delivery: history first, then live. */
  start(): void {
    this.pump()
  }

  close(): void {
    this.closed = true
    this.live = false
  }

  /** Called with every batch of newly applied messages. */
  onApplied(messages: StoredMessage[]): void {
    if (!this.live || this.closed) return
    const wanted = this.select(messages)
    this.cursor = messages[messages.length - 1].raftIndex
    if (wanted.length > 0 && !this.deliver(wanted)) this.pauseUntilDrained()
  }

  private select(messages: StoredMessage[]): StoredMessage[] {
    const wanted: StoredMessage[] = []
    for (const message of messages) {
      if (message.raftIndex > this.cursor && message.offset >= this.minOffset && this.filter.matches(message.topic)) {
        wanted.push(message)
      }
    }
    return wanted
  }

  private deliver(messages: StoredMessage[]): boolean {
    this.delivered += messages.length
    return this.sink.send(messages)
  }

  private pauseUntilDrained(): void {
    this.live = false
    if (this.waitingForDrain) return
    this.waitingForDrain = true
    this.sink.onceDrained(() => {
      this.waitingForDrain = false
      this.pump()
    })
  }

  /** Reads pages after the cursor until caught up (then live) or the sink is full. */
  private pump(): void {
    const patterns = this.filter.patterns()
    const onlyTopic = patterns.length === 1 && !isWildcard(patterns[0]) ? patterns[0] : undefined
    while (!this.closed) {
      const page = this.store.readAfter(this.cursor, PAGE, onlyTopic)
      const wanted = this.select(page)
      if (page.length < PAGE) {
        // Everything applied so far has been read: from here on, applies are pushed to us.
        this.cursor = this.store.appliedIndex
        this.live = true
        if (wanted.length > 0 && !this.deliver(wanted)) this.pauseUntilDrained()
        return
      }
      this.cursor = page[page.length - 1].raftIndex
      if (wanted.length > 0 && !this.deliver(wanted)) {
        this.pauseUntilDrained()
        return
      }
    }
  }
}

/** Every open subscription of the node, fed by the message store. */
export class SubscriptionRegistry {
  private readonly subscriptions = new Set<Subscription>()

  constructor(store: MessageStore) {
    store.onApplied((messages) => {
      for (const subscription of this.subscriptions) subscription.onApplied(messages)
    })
  }

  add(subscription: Subscription): void {
    this.subscriptions.add(subscription)
    subscription.start()
  }

  remove(subscription: Subscription): void {
    subscription.close()
    this.subscriptions.delete(subscription)
  }

  get size(): number {
    return this.subscriptions.size
  }

  list(): Subscription[] {
    return [...this.subscriptions]
  }
}
