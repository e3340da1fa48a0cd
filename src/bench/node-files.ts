/**
 * A node's data dir as the catch-up benchmark sees it: what its files take on disk, and
 * wiping it so that the node starts as a brand-new member would. Both leave out the node's
 * log file, which the cluster manager writes into the same folder and which is not the
 * node's state.
 */
import fs from 'node:fs'
import path from 'node:path'

export interface NodeFolder {
  /** The node's data dir. */
  dir: string
  /** The cluster manager's log of the node, kept in `dir`: not counted, not wiped. */
  log: string
}

/** Bytes of the files in the data dir and below it (the database, its WAL and shared-memory index, the rest), the log aside. */
export function dataBytes(folder: NodeFolder): number {
  return stateEntries(folder).reduce((sum, entry) => sum + bytesUnder(entry), 0)
}

/** Removes the node's state from its data dir; the node must be stopped. */
export function wipeData(folder: NodeFolder): void {
  for (const entry of stateEntries(folder)) fs.rmSync(entry, {recursive: true, force: true})
}

function stateEntries(folder: NodeFolder): string[] {
  let names: string[]
  try {
    names = fs.readdirSync(folder.dir)
  } catch {
    return []
  }
  const log = path.resolve(folder.log)
  return names.map((name) => path.join(folder.dir, name)).filter((entry) => path.resolve(entry) !== log)
}

/** Bytes of a file, or of the files below a folder; symbolic links are not followed. */
function bytesUnder(entry: string, depth = 0): number {
  const stat = fs.lstatSync(entry, {throwIfNoEntry: false})
  if (stat === undefined) return 0
  if (stat.isFile()) return stat.size
  if (!stat.isDirectory() || depth > 8) return 0
  let names: string[]
  try {
    names = fs.readdirSync(entry)
  } catch {
    return 0
  }
  return names.reduce((sum, name) => sum + bytesUnder(path.join(entry, name), depth + 1), 0)
}
