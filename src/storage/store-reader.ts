/**
 * Reads of the node database on a connection of its own (WAL lets them run while the
 * writer commits). Everything here is synchronous: better-sqlite3 reads of a few rows take
 * microseconds, far less than a hop to another thread.
 */
import Database from 'better-sqlite3'

import {membershipProblem, type Membership} from '../raft/index.js'
import {asCorruption, CorruptionError, entryProblem, hardStateProblem, isCorruption} from './corruption.js'
import {ENTRY_TYPE_CODE} from './schema.js'

export interface StoredMessage {
  raftIndex: number
  topic: string
  offset: number
  format: string
  body: string
  timestamp: number
  pubId: string | null
}

export interface StoredEntry {
  index: number
  term: number
  type: number
  data: Uint8Array
  /** CRC-32 of the entry (corruption.ts); null in rows written before checksums existed. */
  crc?: number | null
}

export interface StoredHardState {
  term: number
  vote: number | null
  commit: number
}

export interface StoredSnapshotPoint {
  index: number
  term: number
  membership: Membership
}

interface MessageRow {
  raft_index: number
  topic: string
  offset: number
  format: string
  body: string
  timestamp: number
  pub_id: string | null
}

const toMessage = (row: MessageRow): StoredMessage => ({
  raftIndex: row.raft_index,
  topic: row.topic,
  offset: row.offset,
  format: row.format,
  body: row.body,
  timestamp: row.timestamp,
  pubId: row.pub_id,
})

const MESSAGE_COLUMNS = 'raft_index, topic, "offset", format, body, timestamp, pub_id'

/** A topic's state: offsets below `first` are trimmed, `next` is the next one to assign. */
export interface TopicBounds {
  first: number
  next: number
  /** Topic plus body bytes (UTF-8) of the messages kept. */
  bytes: number
}

/** What retention needs of a stored message to decide whether it goes: not its body. */
export interface MessageHead {
  raftIndex: number
  topic: string
  offset: number
  timestamp: number
  /** Topic plus body, UTF-8. */
  bytes: number
}

const HEAD_COLUMNS = 'raft_index AS raftIndex, topic, "offset", timestamp, length(CAST(topic AS BLOB)) + length(CAST(body AS BLOB)) AS bytes'

/** A row of the member directory (schema.ts `members`): ports a member has not told yet are null. */
export interface StoredMember {
  id: number
  node_id: string
  host: string
  raft_port: number
  tcp_port: number | null
  http_port: number | null
}

export interface MessageQuery {
  topic?: string
  /** With a topic: the first offset; without: the first raft index. */
  from?: number
  limit: number
  order: 'newest' | 'oldest'
}

/** A stored message's place: its offset in its topic and its raft index. */
interface OffsetAt {
  offset: number
  raftIndex: number
}

/** Raft entries checked per statement run when the whole log is verified (bounded memory). */
const VERIFY_BATCH = 1_000

export class StoreReader {
  private readonly db: Database.Database
  private readonly statements: ReturnType<StoreReader['prepareAll']>
  /**
   * Told of every read that finds the database corrupt (a checksum that fails, SQLITE_CORRUPT,
   * SQLITE_NOTADB), before the error goes on to the caller: the node stops serving from it.
   */
  onCorruption: ((error: CorruptionError) => void) | null = null

  constructor(readonly path: string) {
    this.db = new Database(path, {readonly: true, fileMustExist: true})
    this.db.pragma('busy_timeout = 5000')
    try {
      this.statements = this.prepareAll()
    } catch (error) {
      // Preparing reads the schema: a file SQLite cannot read as a database fails here already.
      this.db.close()
      throw isCorruption(error) ? asCorruption(error, path) : error
    }
    for (const statement of Object.values(this.statements)) this.guard(statement)
  }

  private prepareAll() {
    const db = this.db
    return {
      hardState: db.prepare('SELECT term, vote, commit_index AS "commit", crc FROM raft_state WHERE id = 1'),
      applied: db.prepare('SELECT last_index FROM applied WHERE id = 1').pluck(),
      logBounds: db.prepare('SELECT MIN(idx) AS first, MAX(idx) AS last FROM raft_log'),
      entries: db.prepare('SELECT idx AS "index", term, type, data, crc FROM raft_log WHERE idx >= ? AND idx < ? ORDER BY idx'),
      entriesFrom: db.prepare('SELECT idx AS "index", term, type, data, crc FROM raft_log WHERE idx >= ? ORDER BY idx LIMIT ?'),
      termRuns: db.prepare(
        'SELECT idx AS start, term FROM (SELECT idx, term, LAG(term) OVER (ORDER BY idx) AS previous FROM raft_log) WHERE previous IS NULL OR previous <> term ORDER BY idx',
      ),
      topics: db.prepare('SELECT topic, first_offset AS first, next_offset AS next, bytes FROM topics'),
      recentIds: db.prepare('SELECT seq, pub_id, topic, "offset" FROM dedup_ids ORDER BY seq DESC LIMIT ?'),
      recentIdsAfter: db.prepare('SELECT seq, pub_id, topic, "offset" FROM dedup_ids WHERE seq > ? ORDER BY seq DESC LIMIT ?'),
      idAt: db.prepare('SELECT pub_id FROM dedup_ids WHERE seq = ?').pluck(),
      policy: db.prepare('SELECT policy FROM retention_policy WHERE id = 1').pluck(),
      members: db.prepare('SELECT id, node_id, host, raft_port, tcp_port, http_port FROM members ORDER BY id'),
      self: db.prepare('SELECT node_index AS "index", cluster FROM node_self WHERE id = 1'),
      confEntries: db.prepare(`SELECT idx AS "index", term, type, data, crc FROM raft_log WHERE type = ${ENTRY_TYPE_CODE.conf} ORDER BY idx`),
      topicHeads: db.prepare(`SELECT ${HEAD_COLUMNS} FROM messages WHERE topic = ? AND "offset" >= ? ORDER BY "offset" LIMIT ?`),
      headsAfter: db.prepare(`SELECT ${HEAD_COLUMNS} FROM messages WHERE raft_index > ? ORDER BY raft_index LIMIT ?`),
      freePages: db.prepare('PRAGMA freelist_count').pluck(),
      autoVacuum: db.prepare('PRAGMA auto_vacuum').pluck(),
      after: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE raft_index > ? ORDER BY raft_index LIMIT ?`),
topicLast: db.prepare('SELECT "offset", raft_index AS raftIndex FROM messages WHERE topic = ? ORDER BY "offset" DESC LIMIT 1'),
      topicAtOrAfter: db.prepare('SELECT "offset", raft_index AS raftIndex FROM messages WHERE topic = ? AND "offset" >= ? ORDER BY "offset" LIMIT 1'),
      newest: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages ORDER BY raft_index DESC LIMIT ?`),
      newestFrom: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE raft_index >= ? ORDER BY raft_index DESC LIMIT ?`),
      oldestFrom: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE raft_index >= ? ORDER BY raft_index LIMIT ?`),
      topicNewest: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE topic = ? ORDER BY "offset" DESC LIMIT ?`),
      topicNewestFrom: db.prepare(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE topic = ? AND "offset" >= ? ORDER BY "offset" DESC LIMIT ?`,
      ),
      topicOldestFrom: db.prepare(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE topic = ? AND "offset" >= ? ORDER BY "offset" LIMIT ?`,
      ),
      count: db.prepare('SELECT COUNT(*) FROM messages').pluck(),
      snapshot: db.prepare('SELECT idx AS "index", term, peers FROM raft_snapshot WHERE id = 1'),
    }
  }

  /** Routes a corruption error of the statement's reads through `onCorruption` (once per error). */
  private guard(statement: Database.Statement): void {
    for (const method of ['get', 'all', 'iterate'] as const) {
      const original = statement[method].bind(statement) as (...args: unknown[]) => unknown
      ;(statement as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        try {
          return original(...args)
        } catch (error) {
          throw this.corrupt(error)
        }
      }
    }
  }

  /** A read's error: a corruption is reported and becomes a CorruptionError naming the file; anything else goes on as it is. */
  private corrupt(error: unknown): unknown {
    if (!isCorruption(error)) return error
    const corruption = asCorruption(error, this.path)
    this.onCorruption?.(corruption)
    return corruption
  }

  /** Throws (and reports) a CorruptionError when a checksum fails. */
  private check(problem: string | null): void {
    if (problem !== null) throw this.corrupt(new CorruptionError(this.path, problem))
  }

  hardState(): StoredHardState | null {
    const row = this.statements.hardState.get() as (StoredHardState & {crc: number | null}) | undefined
    if (row === undefined) return null
    this.check(hardStateProblem(row))
    return {term: row.term, vote: row.vote, commit: row.commit}
  }

  /**
   * SQLite's structural check (`PRAGMA quick_check`: pages, b-trees, record formats; not the
   * indexes against their tables, which `integrity_check` adds at many times the cost), of the
   * tables named or of the whole file. Null when sound, else SQLite's first lines.
   */
  quickCheck(tables: readonly string[] = []): string | null {
    const problems: string[] = []
    const targets = tables.length === 0 ? [null] : tables
    for (const table of targets) {
      let rows: string[]
      try {
        rows = this.db.prepare(table === null ? 'PRAGMA quick_check(5)' : `PRAGMA quick_check(${JSON.stringify(table)})`).pluck().all() as string[]
      } catch (error) {
        throw this.corrupt(error)
      }
      if (rows.length !== 1 || rows[0] !== 'ok') problems.push(...rows.filter((r) => r !== 'ok'))
    }
    // SQLite's report is lines ("*** in database main ***", one per problem): one line here.
    return problems.length === 0 ? null : problems.join('\n').split(/\s*\n\s*/).filter((l) => !/^\*\*\*.*\*\*\*$/.test(l)).slice(0, 5).join('; ')
  }

  /** Checks every stored Raft entry's checksum and the hard state's; throws a CorruptionError at the first that fails. */
  verifyRaftState(): {entries: number} {
    this.hardState()
    let checked = 0
    let from = 0
    for (;;) {
      const rows = this.statements.entriesFrom.all(from, VERIFY_BATCH) as StoredEntry[]
      for (const row of rows) this.check(entryProblem(row))
      checked += rows.length
      if (rows.length < VERIFY_BATCH) return {entries: checked}
      from = rows[rows.length - 1].index + 1
    }
  }

  /** The compaction point (the log holds the entries after it), or null when nothing was compacted. */
  snapshotPoint(): StoredSnapshotPoint | null {
    const row = this.statements.snapshot.get() as {index: number; term: number; peers: string} | undefined
    if (row === undefined) return null
    return {index: row.index, term: row.term, membership: storedMembership(row.peers)}
  }

  appliedIndex(): number {
    return (this.statements.applied.get() as number | undefined) ?? 0
  }

  logBounds(): {first: number; last: number} | null {
    const row = this.statements.logBounds.get() as {first: number | null; last: number | null}
    return row.first === null || row.last === null ? null : {first: row.first, last: row.last}
  }

  /** Entries with lo <= index < hi, in order. */
  entries(lo: number, hi: number): StoredEntry[] {
    const rows = this.statements.entries.all(lo, hi) as StoredEntry[]
    for (const row of rows) this.check(entryProblem(row))
    return rows
  }

  /** The log's terms as runs: each row is the first index of a run of equal terms. */
  termRuns(): {start: number; term: number}[] {
    return this.statements.termRuns.all() as {start: number; term: number}[]
  }

  /** Every topic the state machine has seen, trimmed empty or not. */
  topicBounds(): Map<string, TopicBounds> {
    const rows = this.statements.topics.all() as ({topic: string} & TopicBounds)[]
    return new Map(rows.map((r) => [r.topic, {first: r.first, next: r.next, bytes: r.bytes}]))
  }

  /** The most recent `limit` dedup ids, oldest first, so they can be replayed into a window. */
  recentPublishIds(limit: number): {seq: number; id: string; topic: string; offset: number}[] {
    const rows = this.statements.recentIds.all(limit) as {seq: number; pub_id: string; topic: string; offset: number}[]
    return rows.reverse().map((r) => ({seq: r.seq, id: r.pub_id, topic: r.topic, offset: r.offset}))
  }

  /** Like recentPublishIds, of the ids remembered after `seq` only. */
  recentPublishIdsAfter(seq: number, limit: number): {seq: number; id: string; topic: string; offset: number}[] {
    const rows = this.statements.recentIdsAfter.all(seq, limit) as {seq: number; pub_id: string; topic: string; offset: number}[]
    return rows.reverse().map((r) => ({seq: r.seq, id: r.pub_id, topic: r.topic, offset: r.offset}))
  }

  /** The publish id remembered as `seq`, or null if no such row is kept. */
  publishIdAt(seq: number): string | null {
    return (this.statements.idAt.get(seq) as string | undefined) ?? null
  }

  /** The retention policy applied, as stored (policyText's form), or null if none ever was. */
  retentionPolicy(): string | null {
    return (this.statements.policy.get() as string | undefined) ?? null
  }

  /** The member directory's rows (the replicated `members` table), by id. */
  members(): StoredMember[] {
    return this.statements.members.all() as StoredMember[]
  }

  /** This node's own id, if it joined a running cluster (null for a node started with --peers). */
  selfRow(): {index: number; cluster: string} | null {
    return (this.statements.self.get() as {index: number; cluster: string} | undefined) ?? null
  }

  /** The configuration entries of the stored log, in order (a few: one per membership change). */
  confEntries(): {index: number; data: Uint8Array}[] {
    const rows = this.statements.confEntries.all() as StoredEntry[]
    for (const row of rows) this.check(entryProblem(row))
    return rows
  }

  /** The oldest `limit` stored messages of `topic` from offset `from` on. */
  topicHeads(topic: string, from: number, limit: number): MessageHead[] {
    return this.statements.topicHeads.all(topic, from, limit) as MessageHead[]
  }

  /** The oldest `limit` stored messages committed after raft index `afterIndex`, all topics. */
  headsAfter(afterIndex: number, limit: number): MessageHead[] {
    return this.statements.headsAfter.all(afterIndex, limit) as MessageHead[]
  }

  /** Pages on the database's free list: what an incremental vacuum could give back. */
  freePages(): number {
    return this.statements.freePages.get() as number
  }

  /** Whether the database was made with auto_vacuum = INCREMENTAL (only an earlier version made such databases). */
  vacuumsIncrementally(): boolean {
    return this.statements.autoVacuum.get() === 2
  }

  /** Messages committed after raft index `afterIndex`, in commit order; one topic if given. */
  messagesAfter(afterIndex: number, limit: number, topic?: string): StoredMessage[] {
    let rows: unknown[]
    if (topic === undefined) rows = this.statements.after.all(afterIndex, limit)
    else {
      const from = this.topicOffsetAfter(topic, afterIndex)
      rows = from === null ? [] : this.statements.topicOldestFrom.all(topic, from, limit)
    }
    return (rows as MessageRow[]).map(toMessage)
  }

  /**
   * The first offset of `topic` whose message was committed after raft index `afterIndex`, or
   * null if none was. Within a topic raft indexes grow with offsets, so a binary search over the
   * (topic, offset) index finds it in about log2(messages) point reads, and a subscriber that is
   * caught up (the common case) costs one.
   */
  private topicOffsetAfter(topic: string, afterIndex: number): number | null {
    const last = this.statements.topicLast.get(topic) as OffsetAt | undefined
    if (last === undefined || last.raftIndex <= afterIndex) return null
    // Invariant: every stored offset below lo was committed at or before afterIndex, and the
    // first stored offset at or after hi (last.offset at worst) after it.
    let lo = 0
    let hi = last.offset
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2)
      const row = this.statements.topicAtOrAfter.get(topic, mid) as OffsetAt
      if (row.raftIndex > afterIndex) hi = mid
      else lo = row.offset + 1
    }
    return lo
  }

  listMessages(query: MessageQuery): StoredMessage[] {
    const s = this.statements
    let rows: unknown[]
    if (query.topic !== undefined) {
      if (query.from === undefined) {
        rows = query.order === 'newest' ? s.topicNewest.all(query.topic, query.limit) : s.topicOldestFrom.all(query.topic, 0, query.limit)
      } else {
        rows = (query.order === 'newest' ? s.topicNewestFrom : s.topicOldestFrom).all(query.topic, query.from, query.limit)
      }
    } else if (query.from === undefined) {
      rows = query.order === 'newest' ? s.newest.all(query.limit) : s.oldestFrom.all(0, query.limit)
    } else {
      rows = (query.order === 'newest' ? s.newestFrom : s.oldestFrom).all(query.from, query.limit)
    }
    return (rows as MessageRow[]).map(toMessage)
  }

  messageCount(): number {
    return this.statements.count.get() as number
  }

  close(): void {
    this.db.close()
  }
}

/**
 * The `peers` column of raft_snapshot: the membership as JSON `{"voters": [...], "learners": [...]}`,
 * or, as written before membership changes existed, a plain list of voters.
 */
export function storedMembership(text: string): Membership {
  const raw: unknown = JSON.parse(text)
  const membership: Membership = Array.isArray(raw) ? {voters: [...(raw as number[])].sort((a, b) => a - b), learners: []} : (raw as Membership)
  const problem = membershipProblem(membership)
  if (problem !== null) throw new Error(`raft_snapshot.peers is not a membership (${problem}): ${text}`)
  return {voters: [...membership.voters], learners: [...membership.learners]}
}
