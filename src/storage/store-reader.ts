/**
 * Reads of the node database on a connection of its own (WAL lets them run while the
 * writer commits). Everything here is synchronous: better-sqlite3 reads of a few rows take
 * microseconds, far less than a hop to another thread.
 */
import Database from 'better-sqlite3'

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
}

export interface StoredHardState {
  term: number
  vote: number | null
  commit: number
}

export interface StoredSnapshotPoint {
  index: number
  term: number
  peers: number[]
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

export interface MessageQuery {
  topic?: string
  /** With a topic: the first offset; without: the first raft index. */
  from?: number
  limit: number
  order: 'newest' | 'oldest'
}

export class StoreReader {
  private readonly db: Database.Database
  private readonly statements

  constructor(path: string) {
    this.db = new Database(path, {readonly: true, fileMustExist: true})
    this.db.pragma('busy_timeout = 5000')
    const db = this.db
    this.statements = {
      hardState: db.prepare('SELECT term, vote, commit_index AS "commit" FROM raft_state WHERE id = 1'),
      applied: db.prepare('SELECT last_index FROM applied WHERE id = 1').pluck(),
      logBounds: db.prepare('SELECT MIN(idx) AS first, MAX(idx) AS last FROM raft_log'),
      entries: db.prepare('SELECT idx AS "index", term, type, data FROM raft_log WHERE idx >= ? AND idx < ? ORDER BY idx'),
      termRuns: db.prepare(
        'SELECT idx AS start, term FROM (SELECT idx, term, LAG(term) OVER (ORDER BY idx) AS previous FROM raft_log) WHERE previous IS NULL OR previous <> term ORDER BY idx',
      ),
      // One index seek per topic (a skip scan of (topic, offset)), not a scan of every message:
      // a follower runs this right after installing a snapshot, on the event loop.
      nextOffsets: db.prepare(
        `WITH RECURSIVE topics(topic) AS (
           SELECT MIN(topic) FROM messages
           UNION ALL SELECT (SELECT MIN(topic) FROM messages WHERE topic > topics.topic) FROM topics WHERE topics.topic IS NOT NULL
         )
         SELECT topic, (SELECT MAX("offset") FROM messages WHERE messages.topic = topics.topic) + 1 AS next FROM topics WHERE topic IS NOT NULL`,
      ),
      recentIds: db.prepare(
        'SELECT pub_id, topic, "offset" FROM messages WHERE pub_id IS NOT NULL ORDER BY raft_index DESC LIMIT ?',
      ),
      idCount: db.prepare('SELECT COUNT(*) FROM messages INDEXED BY messages_pub_id WHERE pub_id IS NOT NULL').pluck(),
      allIds: db.prepare(
        'SELECT pub_id, topic, "offset" FROM messages INDEXED BY messages_pub_id WHERE pub_id IS NOT NULL ORDER BY raft_index DESC',
      ),
      after: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE raft_index > ? ORDER BY raft_index LIMIT ?`),
      topicAfter: db.prepare(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE topic = ? AND raft_index > ? ORDER BY raft_index LIMIT ?`,
      ),
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

  hardState(): StoredHardState | null {
    return (this.statements.hardState.get() as StoredHardState | undefined) ?? null
  }

  /** The compaction point (the log holds the entries after it), or null when nothing was compacted. */
  snapshotPoint(): StoredSnapshotPoint | null {
    const row = this.statements.snapshot.get() as {index: number; term: number; peers: string} | undefined
    if (row === undefined) return null
    const peers: unknown = JSON.parse(row.peers)
    if (!Array.isArray(peers) || !peers.every((p) => Number.isSafeInteger(p) && p >= 0)) throw new Error(`raft_snapshot.peers is not a list of member indexes: ${row.peers}`)
    return {index: row.index, term: row.term, peers: peers as number[]}
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
    return this.statements.entries.all(lo, hi) as StoredEntry[]
  }

  /** The log's terms as runs: each row is the first index of a run of equal terms. */
  termRuns(): {start: number; term: number}[] {
    return this.statements.termRuns.all() as {start: number; term: number}[]
  }

  nextOffsets(): Map<string, number> {
    const rows = this.statements.nextOffsets.all() as {topic: string; next: number}[]
    return new Map(rows.map((r) => [r.topic, r.next]))
  }

  /** The most recent `limit` dedup ids, oldest first, so they can be replayed into a window. */
  recentPublishIds(limit: number): {id: string; topic: string; offset: number}[] {
    // Few ids among many messages (publishers that give none): read them from their own index
    // instead of walking every message back from the newest.
    const few = (this.statements.idCount.get() as number) <= limit
    const rows = (few ? this.statements.allIds.all() : this.statements.recentIds.all(limit)) as {pub_id: string; topic: string; offset: number}[]
    return rows.reverse().map((r) => ({id: r.pub_id, topic: r.topic, offset: r.offset}))
  }

  /** Messages committed after raft index `afterIndex`, in commit order; one topic if given. */
  messagesAfter(afterIndex: number, limit: number, topic?: string): StoredMessage[] {
    const rows = topic === undefined
      ? this.statements.after.all(afterIndex, limit)
      : this.statements.topicAfter.all(topic, afterIndex, limit)
    return (rows as MessageRow[]).map(toMessage)
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
