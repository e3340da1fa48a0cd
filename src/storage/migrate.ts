// Bringing a node database's schema up to date: shared by the writer thread and the in-process
// writer tests run nodes on.

import type Database from 'better-sqlite3'

import {CodedError, codeOf} from './sql-batch.js'

/** Runs migrations[v..] where v is the current user_version, each in its own transaction. */
export function migrate(db: Database.Database, migrations: string[]): {before: number; after: number} {
  const before = Number(db.pragma('user_version', {simple: true}))
  if (before > migrations.length) {
    throw new CodedError(
      'ERR_DB_SCHEMA_TOO_NEW',
      `database schema version ${before} is newer than this program knows (${migrations.length} migrations)`,
    )
  }
  for (let version = before; version < migrations.length; version++) {
    try {
      db.exec('BEGIN IMMEDIATE')
      db.exec(migrations[version])
      db.pragma(`user_version = ${version + 1}`)
      db.exec('COMMIT')
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK')
      throw new CodedError(
        codeOf(error) ?? 'ERR_DB_MIGRATION',
        `migration ${version + 1} of ${migrations.length} (user_version ${version} -> ${version + 1}) failed: ${(error as Error).message}`,
      )
    }
  }
  return {before, after: migrations.length}
}
