/**
 * The state machine: applies committed log entries to the message store.
 *
 * Offsets are assigned here, at apply time, from the committed log alone, so every node
 * stores the same message at the same offset. A publish whose dedup id is in the window
 * stores nothing and answers with the original offset; the window is the last N ids in log
 * order, which every node computes the same way (dedup-window.ts). Retention trims each topic
 * from its oldest message, at apply time too (retention-state.ts): a publish over a limit, a
 * policy entry, an expire entry carrying the leader's clock (control-command.ts).
 *
 * Stored rows are written lazily: the log entry is already durable, and the applied index is
 * written in the same transaction as the rows it covers, so a crash only means re-applying a
 * few entries on restart. Rows ride along in one of the Raft driver's next transactions
 * (`takeWrites`), or are written on their own after a short delay. Until a row is durable it is
 * kept in `pending`, so readers (subscribers catching up) never see a gap.
 */
import type {DirectoryMember} from '../api/node-http.js'
import {insertMessagesOp, messageRow, setAppliedOp, setMembersOp} from '../storage/schema-rows.js'
import type {StoreWriter} from '../storage/store-writer.js'
import type {SqlValue, WriteOp} from '../storage/writer-protocol.js'
import type {MessageHead, MessageQuery, StoreReader, StoredMessage, TopicBounds} from '../storage/store-reader.js'
import {NO_RETENTION, policyFromText, policyText, type RetentionPolicy} from '../util/retention-spec.js'
import {decodeCommand, type LogCommand} from './control-command.js'
import {DedupWindow} from './dedup-window.js'
import {MemberDirectory} from './member-directory.js'
import {BrokerError} from './errors.js'
import type {Logger} from './logger.js'
import {RetentionState, type HeadSource} from './retention-state.js'
import {SpaceReclaimer} from './space-reclaimer.js'

export interface CommittedEntry {
  index: number
  term: number
  type: 'normal' | 'noop' | 'conf'
  data: Uint8Array
}

export interface ApplyResult {
  topic: string
  offset: number
  raftIndex: number
  term: number
  /** True when the dedup id was seen before: nothing new was stored. */
  duplicate: boolean
}

/** Applied rows are written on their own after this long if no log write takes them along. */
const FLUSH_DELAY_MS = 50
const FLUSH_ROWS = 8192
/**
 * A log write takes the applied rows along once there are this many, or once the oldest has
 * waited RIDE_ALONG_MAX_AGE_MS: one message's row touches five pages (the table, three indexes,
 * the applied index) besides the log's two, and a commit of two pages took 0.50 ms at p50 here
 * against 0.60 ms for seven. One publish at a time then pays for the messages' pages about once
 * in ten commits instead of in every one; a loaded leader applies hundreds per write anyway.
 */
const RIDE_ALONG_MIN_ROWS = 32
const RIDE_ALONG_MAX_AGE_MS = 10

export type AppliedListener = (messages: StoredMessage[]) => void

export interface MessageStoreOptions {
  /** How many recent publisher ids are remembered for dedup. */
  dedupWindow: number
  /** Called when a write of applied rows fails: the node can no longer keep its promise. */
  onFatal: (error: Error) => void
  /** Where a skipped entry or a failing listener is reported (one line each). */
  logger?: Pick<Logger, 'warn' | 'error'>
  /** The members the cluster was started with (--peers): the directory's implicit base. */
  baseMembers?: DirectoryMember[]
}

export class MessageStore implements HeadSource {
  private readonly retention = new RetentionState(this)
  private readonly dedup: DedupWindow
  private readonly reclaimer: SpaceReclaimer
  private pending: StoredMessage[] = []
  private readonly listeners = new Set<AppliedListener>()
  private readonly directoryListeners = new Set<() => void>()
  /** The member directory (member-directory.ts): part of the state machine. */
  readonly directory: MemberDirectory
  private unwrittenMembers: DirectoryMember[] = []
  private applied: number
  /** The applied index covered by writes already handed to the writer. */
  private writtenApplied: number
  private unwrittenRows: SqlValue[][] = []
  /** When the applied index first moved past what is written (Date.now()), or null. */
  private unwrittenSince: number | null = null
  private flushTimer: NodeJS.Timeout | null = null
  private readonly idleWaiters: (() => void)[] = []
  /** A write of applied messages failed: what is pending will never be durable, and close does not wait for it. */
  private writeFailed = false
  /**
   * Committed entries that are not a publish this version can read: skipped, on every member
   * alike, so one bad entry can neither crash the node nor stop it at every restart.
   */
  skippedEntries = 0

  constructor(
    private readonly writer: StoreWriter,
    private readonly reader: StoreReader,
    private readonly options: MessageStoreOptions,
  ) {
    this.applied = 0
    this.writtenApplied = 0
    this.dedup = new DedupWindow(options.dedupWindow)
    this.directory = new MemberDirectory(options.baseMembers ?? [])
    this.reclaimer = new SpaceReclaimer(writer, reader, options.logger)
    this.load()
  }

  /**
   * Rebuilds every piece of in-memory state from the database, as at a restart; the dedup window
   * only from the ids after `keptSeq` when given (the ones up to it are in memory already).
   */
  private load(keptSeq: number | null = null): void {
    const text = this.reader.retentionPolicy()
    this.retention.load(this.reader.topicBounds(), text === null ? NO_RETENTION : policyFromText(text), text ?? policyText(NO_RETENTION))
    if (keptSeq === null) this.dedup.load(this.reader.recentPublishIds(this.options.dedupWindow))
    else this.dedup.extend(this.reader.recentPublishIdsAfter(keptSeq, this.options.dedupWindow))
    this.directory.load(this.reader.members())
    this.applied = this.reader.appliedIndex()
    this.writtenApplied = this.applied
  }

  /**
   * The database's state-machine tables were replaced (a snapshot was installed): forget what
   * was applied in memory and load the new state. Only when nothing applied is unwritten.
   * The dedup window is read whole (up to its size in rows, on the event loop) only when the
   * ids it holds are not where the new state keeps them: a member that was behind reads only
   * the ids remembered since.
   */
  reload(): void {
    if (this.applied !== this.writtenApplied || this.pending.length > 0) {
      throw new Error(`reload with applied rows not yet written (applied ${this.applied}, written ${this.writtenApplied})`)
    }
    const newest = this.dedup.newest
    this.load(newest.seq > 0 && this.reader.publishIdAt(newest.seq) === newest.id ? newest.seq : null)
    this.directoryChanged()
  }

  get appliedIndex(): number {
    return this.applied
  }

  get messageCount(): number {
    return this.retention.messageCount
  }

  /** Topic plus body bytes of every message kept. */
  get byteCount(): number {
    return this.retention.byteCount
  }

  /** Per topic: the offsets it holds are first..next-1 (those below first were trimmed). */
  topicBounds(): ReadonlyMap<string, TopicBounds> {
    return this.retention.bounds()
  }

  /** The retention policy the cluster applies (the last policy entry). */
  get retentionPolicy(): RetentionPolicy {
    return this.retention.policy
  }

  /** The retention policy the cluster applies (the last policy entry), as policyText. */
  get retentionPolicyText(): string {
    return this.retention.policyText
  }

  /** Whether an expire entry proposed now would trim something (the leader asks, each second). */
  expiryDue(now: number): boolean {
    return this.retention.expiryDue(now)
  }

  /**
   * Throws OFFSET_TRIMMED when a reader asks for a topic from an offset retention has trimmed:
   * the first of the topics `matches` accepts whose first offset is above `offset`.
   */
  checkNotTrimmed(offset: number, matches: (topic: string) => boolean): void {
    for (const [topic, bounds] of this.retention.bounds()) {
      if (offset < bounds.first && matches(topic)) {
        throw new BrokerError('OFFSET_TRIMMED', `offset ${offset} of topic ${topic} was trimmed by retention: its first offset is ${bounds.first}`, bounds.first)
      }
    }
  }

  /** Called after the member directory changed (a members entry applied, a snapshot installed). */
  onDirectoryChanged(listener: () => void): () => void {
    this.directoryListeners.add(listener)
    return () => this.directoryListeners.delete(listener)
  }

  private directoryChanged(): void {
    for (const listener of this.directoryListeners) {
      try {
        listener()
      } catch (error) {
        this.options.logger?.error('a listener of the member directory failed', {error: error instanceof Error ? error.message : String(error)})
      }
    }
  }

  onApplied(listener: AppliedListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Applies entries committed after the applied index, in order; returns the result of each
   * publish by raft index. Entries at or below the applied index are skipped (a replay).
   */
  apply(entries: CommittedEntry[]): Map<number, ApplyResult> {
    const results = new Map<number, ApplyResult>()
    const rows: SqlValue[][] = []
    const messages: StoredMessage[] = []
    let last = this.applied
    let membersChanged = false
    for (const entry of entries) {
      if (entry.index <= this.applied) continue
      if (entry.index !== last + 1) throw new Error(`apply out of order: entry ${entry.index} after ${last}`)
      last = entry.index
      if (entry.type !== 'normal') continue
      const decoded = this.decode(entry)
      if (decoded === null) continue
      if (decoded.kind === 'policy') {
        this.retention.setPolicy(decoded.policy)
        continue
      }
      if (decoded.kind === 'expire') {
        this.retention.expire(decoded.now)
        continue
      }
      if (decoded.kind === 'members') {
        this.unwrittenMembers.push(...this.directory.merge(decoded.members))
        membersChanged = true
        continue
      }
      const command = decoded.publish
      const seen = command.id === null ? undefined : this.dedup.get(command.id)
      if (seen) {
        results.set(entry.index, {topic: seen.topic, offset: seen.offset, raftIndex: entry.index, term: entry.term, duplicate: true})
        continue
      }
      const offset = this.retention.add(command.topic, Buffer.byteLength(command.topic) + Buffer.byteLength(command.body))
      if (command.id !== null) this.dedup.remember(command.id, command.topic, offset)
      const message: StoredMessage = {
        raftIndex: entry.index,
        topic: command.topic,
        offset,
        format: command.format,
        body: command.body,
        timestamp: command.timestamp,
        pubId: command.id,
      }
      messages.push(message)
      rows.push(messageRow(message))
      // Seen by the reads of the trims that follow, as every stored message is.
      this.pending.push(message)
      this.retention.afterPublish(command.topic)
      results.set(entry.index, {topic: command.topic, offset, raftIndex: entry.index, term: entry.term, duplicate: false})
    }
    if (last === this.applied) return results
    this.applied = last
    this.unwrittenSince ??= Date.now()
    if (this.retention.trimmedSinceTake > 0) this.pending = this.pending.filter((m) => m.offset >= this.retention.firstOffset(m.topic))
    for (const row of rows) this.unwrittenRows.push(row)
    if (this.unwrittenRows.length >= FLUSH_ROWS) this.flush()
    else this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS)
    if (messages.length > 0) for (const listener of this.listeners) this.notify(listener, messages)
    if (membersChanged) this.directoryChanged()
    return results
  }

  /** The entry's command, or null (counted and logged) when it is not one: never throws. */
  private decode(entry: CommittedEntry): LogCommand | null {
    try {
      return decodeCommand(entry.data)
    } catch (error) {
      this.skippedEntries++
      this.options.logger?.warn('skipped a committed entry that is not a valid publish', {
        index: entry.index,
        term: entry.term,
        bytes: entry.data.byteLength,
        error: error instanceof Error ? error.message : String(error),
      })
      return null
    }
  }

  /** A listener that throws must not stop the apply loop: the entries are applied already. */
  private notify(listener: AppliedListener, messages: StoredMessage[]): void {
    try {
      listener(messages)
    } catch (error) {
      this.options.logger?.error('a listener of applied messages failed', {error: error instanceof Error ? error.message : String(error)})
    }
  }

  /**
   * The rows applied but not yet written, if enough of them have gathered or the oldest has
   * waited long enough (else null: they wait for a later write, or the flush timer).
   */
  takeWritesDue(now = Date.now()): ReturnType<MessageStore['takeWrites']> {
    if (this.unwrittenSince === null) return null
    if (this.unwrittenRows.length < RIDE_ALONG_MIN_ROWS && now - this.unwrittenSince < RIDE_ALONG_MAX_AGE_MS) return null
    return this.takeWrites()
  }

  /**
   * Hands over the rows applied but not yet written, for the caller to write in its next
   * transaction; it must call `written` once that transaction is durable. The Raft driver
   * does this so that storing applied messages costs no fsync of its own.
   */
  takeWrites(): {ops: WriteOp[]; written: (error: Error | null) => void} | null {
    if (this.applied === this.writtenApplied) return null
    this.unwrittenSince = null
    if (this.flushTimer) {
      clearTimeout(this.flushTimer)
      this.flushTimer = null
    }
    const last = this.applied
    const trimmed = this.retention.trimmedSinceTake > 0
    // Inserts before trims: a message may be stored and trimmed within one write.
    const ops: WriteOp[] = this.unwrittenRows.length > 0 ? [insertMessagesOp(this.unwrittenRows)] : []
    for (const op of this.retention.takeOps()) ops.push(op)
    for (const op of this.dedup.takeOps()) ops.push(op)
    if (this.unwrittenMembers.length > 0) ops.push(setMembersOp(this.unwrittenMembers.splice(0)))
    ops.push(setAppliedOp(last))
    this.unwrittenRows = []
    this.writtenApplied = last
    return {
      ops,
      written: (error) => {
        if (error) {
          this.writeFailed = true
          for (const resolve of this.idleWaiters.splice(0)) resolve()
          this.options.onFatal(new Error(`storing applied messages failed: ${error.message}`, {cause: error}))
          return
        }
        let drop = 0
        while (drop < this.pending.length && this.pending[drop].raftIndex <= last) drop++
        if (drop > 0) this.pending.splice(0, drop)
        if (trimmed) this.reclaimer.freed()
        if (this.pending.length === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
      },
    }
  }

  /** Writes what is applied but not written yet, on its own. */
  flush(): void {
    const writes = this.takeWrites()
    if (writes) this.writer.writeAsync(writes.ops, writes.written)
  }

  /** Writes everything applied and waits until it is durable. */
  async close(): Promise<void> {
    this.reclaimer.stop()
    this.flush()
    if (this.pending.length > 0 && !this.writeFailed) await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  /**
   * Up to `limit` stored messages committed after raft index `afterIndex`, in commit order:
   * the durable ones from the database, then those still being written.
   */
  readAfter(afterIndex: number, limit: number, topic?: string): StoredMessage[] {
    const rows: StoredMessage[] = []
    let cursor = afterIndex
    // Trimmed rows whose delete is not written yet are skipped, and the page still filled: a
    // short page means "nothing more" to a subscriber.
    for (;;) {
      const want = limit - rows.length
      const page = this.reader.messagesAfter(cursor, want, topic)
      for (const message of page) if (message.offset >= this.retention.firstOffset(message.topic)) rows.push(message)
      if (page.length > 0) cursor = page[page.length - 1].raftIndex
      if (rows.length >= limit) return rows
      if (page.length < want) break
    }
    for (const message of this.pending) {
      if (rows.length >= limit) break
      if (message.raftIndex <= cursor) continue
      if (topic !== undefined && message.topic !== topic) continue
      rows.push(message)
      cursor = message.raftIndex
    }
    return rows
  }

  /**
   * A page of stored messages for the HTTP API, as `StoreReader.listMessages` but including
   * the applied messages whose write is still in flight (a client that got its ack must
   * find its message).
   */
  list(query: MessageQuery): StoredMessage[] {
    if (query.topic !== undefined && query.from !== undefined) this.checkNotTrimmed(query.from, (topic) => topic === query.topic)
    const kept = (m: StoredMessage): boolean => m.offset >= this.retention.firstOffset(m.topic)
    const fromDb = this.reader.listMessages(query).filter(kept)
    const wanted = (m: StoredMessage): boolean =>
      (query.topic === undefined || m.topic === query.topic) &&
      (query.from === undefined || (query.topic === undefined ? m.raftIndex : m.offset) >= query.from)
    const extra = this.pending.filter(wanted)
    if (extra.length === 0) return fromDb
    const seen = new Set(fromDb.map((m) => m.raftIndex))
    const merged = [...fromDb, ...extra.filter((m) => !seen.has(m.raftIndex))]
    merged.sort((a, b) => (query.order === 'newest' ? b.raftIndex - a.raftIndex : a.raftIndex - b.raftIndex))
    return merged.slice(0, query.limit)
  }

  /** Messages still waiting for their write: bounded by the writer's pace. */
  get pendingWrites(): number {
    return this.pending.length
  }

  topicHeads(topic: string, from: number, limit: number): MessageHead[] {
    const heads = this.reader.topicHeads(topic, from, limit)
    if (heads.length >= limit) return heads
    let next = heads.length > 0 ? heads[heads.length - 1].offset + 1 : from
    for (const message of this.pending) {
      if (heads.length >= limit) break
      if (message.topic !== topic || message.offset < next) continue
      heads.push(headOf(message))
      next = message.offset + 1
    }
    return heads
  }

  headsAfter(afterIndex: number, limit: number): MessageHead[] {
    const heads = this.reader.headsAfter(afterIndex, limit)
    if (heads.length >= limit) return heads
    const cursor = heads.length > 0 ? heads[heads.length - 1].raftIndex : afterIndex
    // pending is in raft index order: start at the first message after the cursor.
    let lo = 0
    let hi = this.pending.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.pending[mid].raftIndex <= cursor) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < this.pending.length && heads.length < limit; i++) heads.push(headOf(this.pending[i]))
    return heads
  }
}

function headOf(message: StoredMessage): MessageHead {
  return {
    raftIndex: message.raftIndex,
    topic: message.topic,
    offset: message.offset,
    timestamp: message.timestamp,
    bytes: Buffer.byteLength(message.topic) + Buffer.byteLength(message.body),
  }
}
