// Making a new name durable. fsync of a file makes its bytes durable, not its name: the
// directory entry lives in the directory, and on ext4 and friends a power cut can undo a
// create or rename whose directory was never fsynced. SQLite fsyncs the directory of its
// journal and WAL when it creates them, never that of the main database file, so a node
// whose database (or data dir) was just made could come back from a power cut without it,
// and with it lose its vote and log.

import fs from 'node:fs'
import path from 'node:path'

/** fsync of the directory `dir` itself (its entries: creates, renames, unlinks). */
export function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * After `mkdirSync(dir, {recursive: true})` returned `firstCreated` (the topmost directory it
 * made, or undefined when `dir` existed): syncs `dir` and every parent up to the one that
 * held `firstCreated`, so the whole new chain of names is durable.
 */
export function syncCreatedDirectories(dir: string, firstCreated: string | undefined): void {
  if (firstCreated === undefined) return
  const top = path.dirname(path.resolve(firstCreated))
  let current = path.resolve(dir)
  // Bounded by the depth of the path: each step goes one level up, and the root stops it.
  for (;;) {
    syncDirectory(current)
    if (current === top || current === path.dirname(current)) return
    current = path.dirname(current)
  }
}
