/**
 * Recently read pages of history, shared by the subscriptions catching up: a storm of
 * subscribes from the beginning reads each page of the store once, not once per subscriber.
 *
 * Only full pages are kept: the messages after a raft index up to a full page never change
 * (the log is append-only), while a short page at the end grows with each apply. The cache
 * is bounded in pages and in body bytes.
 */
import type {StoredMessage} from '../storage/store-reader.js'
import type {MessageStore} from './message-store.js'

export interface HistoryPage {
  messages: StoredMessage[]
  /** The distinct topics on the page: a subscription whose patterns match none skips it. */
  topics: string[]
}

const MAX_PAGES = 8
const MAX_BYTES = 16 * 1024 * 1024

export class PageCache {
  private readonly pages = new Map<string, {page: HistoryPage; bytes: number}>()
  private bytes = 0

  constructor(private readonly store: MessageStore) {}

  /** Up to `limit` messages after `afterIndex` (on `topic` only, if given), as the store has them. */
  read(afterIndex: number, limit: number, topic?: string): HistoryPage {
    const key = `${afterIndex}|${limit}|${topic ?? ''}`
    const hit = this.pages.get(key)
    if (hit) {
      // Most recently used last: the oldest entry is evicted first.
      this.pages.delete(key)
      this.pages.set(key, hit)
      return hit.page
    }
    const messages = this.store.readAfter(afterIndex, limit, topic)
    const page = {messages, topics: distinctTopics(messages)}
    if (messages.length < limit) return page
    let bytes = 0
    for (const message of messages) bytes += message.body.length
    if (bytes > MAX_BYTES / 4) return page
    this.pages.set(key, {page, bytes})
    this.bytes += bytes
    while (this.pages.size > MAX_PAGES || this.bytes > MAX_BYTES) {
      const [oldest, entry] = this.pages.entries().next().value as [string, {page: HistoryPage; bytes: number}]
      this.pages.delete(oldest)
      this.bytes -= entry.bytes
    }
    return page
  }
}

function distinctTopics(messages: StoredMessage[]): string[] {
  const topics = new Set<string>()
  for (const message of messages) topics.add(message.topic)
  return [...topics]
}
