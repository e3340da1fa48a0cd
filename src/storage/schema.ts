/**
 * The node database: the Raft log and hard state, and the state machine (messages with
 * their per-topic offsets, each topic's bounds, the dedup window, the retention policy, and how
 * far the log has been applied).
 *
 * Migration i brings `PRAGMA user_version` from i to i+1; append, never edit.
 */

export const MIGRATIONS: string[] = [
  `
  CREATE TABLE raft_log (
    idx  INTEGER PRIMARY KEY,
    term INTEGER NOT NULL,
    type INTEGER NOT NULL,
    data BLOB NOT NULL
  );
  CREATE TABLE raft_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    term         INTEGER NOT NULL,
    vote         INTEGER,
    commit_index INTEGER NOT NULL
  );
  -- One row per stored message. raft_index orders messages by commit, across topics.
  CREATE TABLE messages (
    raft_index INTEGER PRIMARY KEY,
    topic      TEXT NOT NULL,
    "offset"   INTEGER NOT NULL,
    format     TEXT NOT NULL,
    body       TEXT NOT NULL,
    timestamp  INTEGER NOT NULL,
    pub_id     TEXT,
    UNIQUE (topic, "offset")
  );
  CREATE INDEX messages_pub_id ON messages (pub_id) WHERE pub_id IS NOT NULL;
  -- Written in the same transaction as the messages it covers, so a restart re-applies
  -- exactly the entries whose messages are not stored yet.
  CREATE TABLE applied (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    last_index INTEGER NOT NULL
  );
  `,
  // A subscriber catching up on one topic pages by raft index; without this index each page
  // scanned the topic from offset 0 (quadratic in the topic's length).
  `
  CREATE INDEX messages_topic_raft_index ON messages (topic, raft_index);
  `,
  // Retention trims messages, so what the state machine must remember can no longer be read off
  // the messages that remain: a topic's next offset, its first (everything below is trimmed),
  // its bytes; the dedup window (the last N publish ids in log order, trimmed or not); and the
  // policy. Filled from the messages there are; the pub_id index served no read.
  `
  CREATE TABLE topics (
    topic        TEXT PRIMARY KEY,
    first_offset INTEGER NOT NULL,
    next_offset  INTEGER NOT NULL,
    -- topic plus body of the messages kept, UTF-8
    bytes        INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO topics (topic, first_offset, next_offset, bytes)
    SELECT topic, MIN("offset"), MAX("offset") + 1, SUM(length(CAST(topic AS BLOB)) + length(CAST(body AS BLOB)))
    FROM messages GROUP BY topic;
  -- seq counts the ids remembered, in log order; the window is the rows with the highest seq.
  CREATE TABLE dedup_ids (
    seq      INTEGER PRIMARY KEY,
    pub_id   TEXT NOT NULL,
    topic    TEXT NOT NULL,
    "offset" INTEGER NOT NULL
  );
  INSERT INTO dedup_ids (seq, pub_id, topic, "offset")
    SELECT ROW_NUMBER() OVER (ORDER BY raft_index), pub_id, topic, "offset" FROM messages WHERE pub_id IS NOT NULL;
  CREATE TABLE retention_policy (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    policy TEXT NOT NULL
  );
  DROP INDEX messages_pub_id;
  `,
  // The compaction point: the log holds only the entries after idx; (idx, term) stands for the
  // last entry dropped, and peers for the membership as of it. Absent until the first compaction.
  `
  CREATE TABLE raft_snapshot (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    idx   INTEGER NOT NULL,
    term  INTEGER NOT NULL,
    peers TEXT NOT NULL
  );
  `,
  // One index on messages instead of two: a subscriber of one topic pages by raft index, and
  // within a topic raft indexes grow with offsets, so the (topic, offset) index finds the page
  // start by a binary search over offsets (StoreReader.topicOffsetAfter). The second index cost
  // about 20 bytes per message, an eighth of what a 128-byte message takes on disk.
  `
  DROP INDEX messages_topic_raft_index;
  `,
  // Membership changes (#18). `members` is the replicated member directory: a card per node id
  // ever allocated (never deleted, so an id is never reused), part of the state machine.
  // `node_self` is this node's own id when it joined a running cluster (a node started with
  // --peers finds its id in that list instead); it is local, never replicated.
  `
  CREATE TABLE members (
    id        INTEGER PRIMARY KEY,
    node_id   TEXT NOT NULL,
    host      TEXT NOT NULL,
    raft_port INTEGER NOT NULL,
    tcp_port  INTEGER,
    http_port INTEGER
  );
  CREATE TABLE node_self (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    node_index INTEGER NOT NULL,
    cluster    TEXT NOT NULL
  );
  `,
  // Disk corruption (#19): a CRC-32 of each Raft entry (index, term, type, data) and of the hard
  // state (term, vote, commit index), checked whenever they are read back (src/storage/corruption.ts).
  // SQLite notices a broken page, not a flipped bit inside a value. Rows written before have NULL,
  // and are accepted as they are.
  `
  ALTER TABLE raft_log ADD COLUMN crc INTEGER;
  ALTER TABLE raft_state ADD COLUMN crc INTEGER;
  `,
]

/**
 * The state machine's tables. A snapshot is every row of exactly these (streamed in chunks), and
 * installing one replaces their contents in one transaction. A table that holds state the
 * broker rebuilds on restart (MessageStore.reload) belongs here; the Raft log and hard state do not.
 */
export const STATE_TABLES = ['messages', 'topics', 'dedup_ids', 'retention_policy', 'members'] as const

/** Entry types as stored in raft_log.type. */
export const ENTRY_TYPE_CODE = {normal: 0, noop: 1, conf: 2} as const

/** Pages one incremental_vacuum step frees at most: small, so it never holds the writer long. */
export const VACUUM_STEP_PAGES = 256

export const STATEMENTS = {
  appendEntry: 'INSERT OR REPLACE INTO raft_log (idx, term, type, data, crc) VALUES (?, ?, ?, ?, ?)',
  truncateLogFrom: 'DELETE FROM raft_log WHERE idx >= ?',
  setHardState: 'INSERT OR REPLACE INTO raft_state (id, term, vote, commit_index, crc) VALUES (1, ?, ?, ?, ?)',
  insertMessage:
    'INSERT INTO messages (raft_index, topic, "offset", format, body, timestamp, pub_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
  setApplied: 'INSERT OR REPLACE INTO applied (id, last_index) VALUES (1, ?)',
  setTopic: 'INSERT OR REPLACE INTO topics (topic, first_offset, next_offset, bytes) VALUES (?, ?, ?, ?)',
  /** Retention trims a topic from its oldest message: every row below its new first offset. */
  trimTopic: 'DELETE FROM messages WHERE topic = ? AND "offset" < ?',
  insertDedupId: 'INSERT INTO dedup_ids (seq, pub_id, topic, "offset") VALUES (?, ?, ?, ?)',
  forgetDedupIds: 'DELETE FROM dedup_ids WHERE seq <= ?',
  setRetentionPolicy: 'INSERT OR REPLACE INTO retention_policy (id, policy) VALUES (1, ?)',
  setMember: 'INSERT OR REPLACE INTO members (id, node_id, host, raft_port, tcp_port, http_port) VALUES (?, ?, ?, ?, ?, ?)',
  /** Written once, when the node joined; never changed (an id is the node's for good). */
  setSelf: 'INSERT INTO node_self (id, node_index, cluster) VALUES (1, ?, ?)',
  /** Gives back a few free pages to the file system (a database made with auto_vacuum = INCREMENTAL). */
  incrementalVacuum: `PRAGMA incremental_vacuum(${VACUUM_STEP_PAGES})`,
  compactLogTo: 'DELETE FROM raft_log WHERE idx <= ?',
  // Never back: a compaction decided before an install must not undo the install's point.
  setSnapshot:
    'INSERT INTO raft_snapshot (id, idx, term, peers) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET idx = excluded.idx, term = excluded.term, peers = excluded.peers WHERE excluded.idx > raft_snapshot.idx',
} as const

export type StatementName = keyof typeof STATEMENTS
