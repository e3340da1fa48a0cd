/**
 * Where a subscriber's stream of a topic jumps: retention deleted messages it had not read yet
 * (it fell behind, or read history slower than the limits trim). A topic's offsets run
 * first..next-1 with no hole, so a message whose offset is past the one the subscriber expects
 * next means the ones between are gone. The subscription asks before each message and tells
 * its subscriber once per gap, then goes on from the message it got.
 */
import type {StoredMessage, TopicBounds} from '../storage/store-reader.js'
import type {StartPosition} from './subscription.js'

/** What a subscriber missed of one topic: offsets `expected` to `first - 1`. */
export interface TrimmedGap {
  topic: string
  /** The offset the subscriber expected next. */
  expected: number
  /** The offset it gets next: the first still kept when it read on. */
  first: number
}

export class OffsetGaps {
  /** Per topic seen or known at the start: the offset expected next. */
  private readonly next = new Map<string, number>()
  /** What a topic not in `next` expects first. */
  private readonly unknown: number

  /**
   * `known`: the store's topics at the start that match, with their bounds. From `latest` a
   * subscriber expects each one's next offset, from `beginning` its first kept, from an offset
   * that offset (the subscribe checked none was trimmed past it); a topic made later starts at
   * 0, or at the start offset.
   */
  constructor(start: StartPosition, known: Iterable<[string, TopicBounds]>) {
    this.unknown = start.kind === 'offset' ? start.offset : 0
    if (start.kind === 'offset') return
    for (const [topic, bounds] of known) this.next.set(topic, start.kind === 'latest' ? bounds.next : bounds.first)
  }

  /** The gap before `message`, or null when it is the one expected (or one already passed). */
  before(message: StoredMessage): TrimmedGap | null {
    const expected = this.next.get(message.topic) ?? this.unknown
    return message.offset > expected ? {topic: message.topic, expected, first: message.offset} : null
  }

  /** `message` went to the subscriber: the next of its topic is expected. */
  passed(message: StoredMessage): void {
    this.next.set(message.topic, message.offset + 1)
  }
}
