/**
 * The state machine's tables (schema.ts STATE_TABLES) as a snapshot moves them: their columns,
 * and the SQL that stages rows received from a leader in a database of their own and then
 * replaces the live tables with them. Generic over STATE_TABLES: a table added there (with its
 * migration) is streamed, staged and installed like the others.
 *
 * A delta table's rows never change once written and are keyed by the log index that wrote
 * them, so a follower that has applied the log up to A holds exactly the leader's rows with a
 * key up to A, less those the leader has removed since by the table's own rules (its prune
 * statements): a snapshot then carries only the rows above A. Every other table is small and
 * travels whole.
 *
 * The columns come from the migrations themselves, run once on an in-memory database, so they
 * are known before the node's own database is opened (its writer prepares these statements).
 */
import Database from 'better-sqlite3'

import {MIGRATIONS, STATE_TABLES} from './schema.js'

/** The attached database where a snapshot's rows wait until the whole stream has arrived. */
export const STAGING_SCHEMA = 'incoming'
/** Its file, in the node's data directory; deleted at every start (a stream never outlives its process). */
export const STAGING_FILE = 'snapshot-incoming.db'

type StateTableName = (typeof STATE_TABLES)[number]

/** How a delta table is brought from a follower's state at the base to the leader's. */
export interface DeltaSpec {
  /** The column holding the log index that wrote the row: rows above the base are streamed. */
  key: string
  /**
   * Run at install, before the whole tables are replaced (so `main` holds the follower's and
   * STAGING_SCHEMA the leader's): deletes the rows at or below the base the leader no longer has.
   */
  pruneSql: string[]
}

const DELTA_TABLES: Partial<Record<StateTableName, DeltaSpec>> = {
  messages: {
    key: 'raft_index',
    pruneSql: [
      // Retention trims a topic from its oldest message: everything below its new first offset.
      `DELETE FROM main.messages WHERE raft_index IN (SELECT m.raft_index FROM ${STAGING_SCHEMA}.topics t JOIN main.messages m ON m.topic = t.topic AND m."offset" < t.first_offset)`,
      // A topic the leader no longer has keeps no message (no entry removes a topic today: a safety net).
      `DELETE FROM main.messages WHERE topic IN (SELECT topic FROM main.topics EXCEPT SELECT topic FROM ${STAGING_SCHEMA}.topics)`,
    ],
  },
}

export interface StateTable {
  name: string
  /** Column names in table order, as `SELECT *` returns them. */
  columns: string[]
  /** The table's CREATE TABLE statement from the migrations. */
  createSql: string
  /** What a snapshot streams its rows in order of: rowid, or the primary key of a WITHOUT ROWID table. */
  orderBy: string
  /** Set for a table a snapshot may carry only the newer rows of. */
  delta?: DeltaSpec & {
    /** The key's position in `columns`. */
    keyColumn: number
  }
}

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`

function describeTables(): StateTable[] {
  const db = new Database(':memory:')
  try {
    for (const migration of MIGRATIONS) db.exec(migration)
    return STATE_TABLES.map((name) => {
      const info = db.prepare(`PRAGMA table_info(${quote(name)})`).all() as {name: string; pk: number}[]
      const columns = info.map((c) => c.name)
      const createSql = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(name) as string | undefined
      if (columns.length === 0 || createSql === undefined) throw new Error(`state table "${name}" is not created by the migrations`)
      const key = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => quote(c.name))
      const orderBy = /\bWITHOUT\s+ROWID\b/i.test(createSql) ? key.join(', ') : 'rowid'
      const spec = DELTA_TABLES[name]
      if (spec === undefined) return {name, columns, createSql, orderBy}
      const keyColumn = columns.indexOf(spec.key)
      // Streamed in key order and selected by a key range: the key must be the rowid.
      if (keyColumn < 0 || orderBy !== 'rowid' || key.length !== 1 || key[0] !== quote(spec.key)) {
        throw new Error(`delta table "${name}": its key ${spec.key} is not its INTEGER PRIMARY KEY`)
      }
      return {name, columns, createSql, orderBy, delta: {...spec, keyColumn}}
    })
  } finally {
    db.close()
  }
}

/** Every table of STATE_TABLES, in that order. */
export const STATE_TABLE_INFO: readonly StateTable[] = describeTables()

export function stateTable(name: string): StateTable | undefined {
  return STATE_TABLE_INFO.find((t) => t.name === name)
}

const columnList = (table: StateTable): string => table.columns.map(quote).join(', ')

/** The statement name that inserts rows of `table` into staging. */
export const stageStatement = (table: string): string => `stage:${table}`
/** The statement names that empty staging and that replace the live table with it. */
export const clearStagedStatement = (table: string): string => `clearStaged:${table}`
export const clearLiveStatement = (table: string): string => `clearLive:${table}`
export const installStatement = (table: string): string => `install:${table}`
/** A delta table's: delete the live rows above the base (given), and its prune statement i. */
export const clearLiveAboveStatement = (table: string): string => `clearLiveAbove:${table}`
export const pruneStatement = (table: string, i: number): string => `prune:${table}:${i}`

/** The writer statements of staging and installing, by name (added to schema.ts STATEMENTS). */
export function snapshotStatements(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const table of STATE_TABLE_INFO) {
    const t = quote(table.name)
    const cols = columnList(table)
    out[stageStatement(table.name)] = `INSERT INTO ${STAGING_SCHEMA}.${t} (${cols}) VALUES (${table.columns.map(() => '?').join(', ')})`
    out[clearStagedStatement(table.name)] = `DELETE FROM ${STAGING_SCHEMA}.${t}`
    out[clearLiveStatement(table.name)] = `DELETE FROM main.${t}`
    out[installStatement(table.name)] = `INSERT INTO main.${t} (${cols}) SELECT ${cols} FROM ${STAGING_SCHEMA}.${t}`
    if (table.delta) {
      out[clearLiveAboveStatement(table.name)] = `DELETE FROM main.${t} WHERE ${quote(table.delta.key)} > ?`
      table.delta.pruneSql.forEach((sql, i) => (out[pruneStatement(table.name, i)] = sql))
    }
  }
  return out
}

/**
 * What the writer runs once the staging file is attached (on the connection that stages and
 * installs): the state tables as the migrations create them (constraints included, so a staged
 * row that could not be installed is refused at once). auto_vacuum gives the file's pages back
 * when staging is emptied. Staged rows are written once and read once, in order, so a small
 * page cache serves them (SQLite's default here would keep up to 16 MB of them in the
 * follower's memory); and staging never outlives its process (deleted at every start), so
 * its writes need no fsync: the install's own transaction is what makes them durable. Only this
 * connection ever opens the file, so it keeps its lock (EXCLUSIVE) instead of taking and
 * checking it again at every transaction of the node database, written there or not.
 */
export function stagingSetupSql(): string {
  const creates = STATE_TABLE_INFO.map((table) =>
    table.createSql.replace(/^\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?/i, `CREATE TABLE IF NOT EXISTS ${STAGING_SCHEMA}.`),
  )
  return [
    `PRAGMA ${STAGING_SCHEMA}.auto_vacuum = FULL`,
    `PRAGMA ${STAGING_SCHEMA}.cache_size = -1024`,
    `PRAGMA ${STAGING_SCHEMA}.synchronous = OFF`,
    `PRAGMA ${STAGING_SCHEMA}.locking_mode = EXCLUSIVE`,
    ...creates,
  ].join(';\n')
}

/**
 * `SELECT` of the rows of `table` a snapshot over `base` streams, in storage order: those with
 * a key above the one parameter for a delta table, every row for another (no parameter).
 */
export function selectStreamedSql(table: StateTable): string {
  const where = table.delta ? ` WHERE ${quote(table.delta.key)} > ?` : ''
  return `SELECT ${columnList(table)} FROM ${quote(table.name)}${where} ORDER BY ${table.orderBy}`
}
