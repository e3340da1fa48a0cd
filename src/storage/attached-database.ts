// A second database file attached to every connection of a writer (its thread's, the inline
// one, the in-process one), so one transaction of the node database can read from it: the
// snapshot being received is staged there and installed from there.

import type Database from 'better-sqlite3'

import {CodedError, codeOf} from './sql-batch.js'

export interface AttachedDatabase {
  /** The schema name statements use for it (`<schema>.<table>`). */
  schema: string
  /** Its file; created when absent. */
  path: string
  /** Run once, by the connection that migrates, after attaching: creates what statements need there. */
  setupSql: string
}

/** Attaches `attached` to `db` (outside any transaction), and runs its setup when `setup`. */
export function attachDatabase(db: Database.Database, attached: AttachedDatabase, setup: boolean): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(attached.schema)) throw new CodedError('ERR_DB_ATTACH', `attached schema name "${attached.schema}" is not a plain identifier`)
  try {
    db.prepare(`ATTACH DATABASE ? AS ${attached.schema}`).run(attached.path)
    if (setup) db.exec(attached.setupSql)
  } catch (error) {
    throw new CodedError(codeOf(error) ?? 'ERR_DB_ATTACH', `cannot attach "${attached.path}" as ${attached.schema}: ${(error as Error).message}`)
  }
}

/**
 * The names of the statements that use `attached`: a connection that does not attach it (the
 * inline one) leaves requests with them to the thread. Attaching a database costs at every
 * transaction, written there or not (BEGIN IMMEDIATE locks every attached database: about a
 * dozen more system calls per commit, on the path of every Raft append).
 */
export function statementsUsing(statements: Record<string, string>, attached: AttachedDatabase | undefined): Set<string> {
  if (attached === undefined) return new Set()
  const names = new RegExp(`\\b${attached.schema}\\.`, 'i')
  return new Set(Object.entries(statements).filter(([, sql]) => names.test(sql)).map(([name]) => name))
}
