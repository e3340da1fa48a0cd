/**
 * The size of a SQLite database on disk: the main file, its write-ahead log and its
 * shared-memory index (a WAL database holds part of its state in the -wal file until a
 * checkpoint moves it into the main one).
 */
import fs from 'node:fs'

const SUFFIXES = ['', '-wal', '-shm'] as const

/** Bytes of `dbPath` and its -wal and -shm files; a file that does not exist counts 0. */
export function databaseDiskBytes(dbPath: string): number {
  let total = 0
  for (const suffix of SUFFIXES) {
    try {
      total += fs.statSync(dbPath + suffix).size
    } catch {
      // Absent (no WAL yet, or an in-memory test database): nothing on disk.
    }
  }
  return total
}
