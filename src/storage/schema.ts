/**
 * The node database: the Raft log and hard state, and the state machine (messages with
 * their per-topic offsets, and how far the log has been applied).
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
]

/**
 * The state machine's tables. A snapshot is every row of exactly these (streamed in chunks), and
 * installing one replaces their contents in one transaction. A table that holds state the
 * broker rebuilds on restart (MessageStore.reload) belongs here; the Raft log and hard state do not.
 */
export const STATE_TABLES = ['messages'] as const

/** Entry types as stored in raft_log.type. */
export const ENTRY_TYPE_CODE = {normal: 0, noop: 1} as const

export const STATEMENTS = {
  appendEntry: 'INSERT OR REPLACE INTO raft_log (idx, term, type, data) VALUES (?, ?, ?, ?)',
  truncateLogFrom: 'DELETE FROM raft_log WHERE idx >= ?',
  setHardState: 'INSERT OR REPLACE INTO raft_state (id, term, vote, commit_index) VALUES (1, ?, ?, ?)',
  insertMessage:
    'INSERT INTO messages (raft_index, topic, "offset", format, body, timestamp, pub_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
  setApplied: 'INSERT OR REPLACE INTO applied (id, last_index) VALUES (1, ?)',
  compactLogTo: 'DELETE FROM raft_log WHERE idx <= ?',
  // Never back: a compaction decided before an install must not undo the install's point.
  setSnapshot:
    'INSERT INTO raft_snapshot (id, idx, term, peers) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET idx = excluded.idx, term = excluded.term, peers = excluded.peers WHERE excluded.idx > raft_snapshot.idx',
} as const

export type StatementName = keyof typeof STATEMENTS
