/**
 * The data dir's record that the node found its data corrupt (`CORRUPT`, JSON). Written (and
 * fsynced) the moment a corruption is found, read first at every start: a node that found its
 * log or hard state bad never takes part in Raft again from that data, even if a restart's own
 * checks would miss what a read found (a bad entry far back, a lost vote). Only `pad-cli repair`
 * (which sets the data dir aside) ends it.
 */
import fs from 'node:fs'
import path from 'node:path'
import type {CorruptInfo} from '../api/node-http.js'

export const CORRUPT_MARKER = 'CORRUPT'
/** A marker is a few hundred bytes; a bigger file is read only this far. */
const MAX_MARKER_BYTES = 16 * 1024

export function markerPath(dataDir: string): string {
  return path.join(dataDir, CORRUPT_MARKER)
}

/** Records the finding durably (file and directory fsynced); an earlier finding is kept, not overwritten. */
export function writeCorruptMarker(dataDir: string, info: CorruptInfo): CorruptInfo {
  const earlier = readCorruptMarker(dataDir)
  if (earlier !== null) return earlier
  const file = markerPath(dataDir)
  const fd = fs.openSync(file, 'w', 0o600)
  try {
    fs.writeSync(fd, JSON.stringify(info) + '\n')
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  try {
    const dir = fs.openSync(dataDir, 'r')
    try {
      fs.fsyncSync(dir)
    } finally {
      fs.closeSync(dir)
    }
  } catch {
    // A file system that cannot fsync a directory: the file itself is synced.
  }
  return info
}

/**
 * The earlier finding, or null when there is none. A marker that does not read as one (torn,
 * edited) still means corrupt: its presence is what counts.
 */
export function readCorruptMarker(dataDir: string): CorruptInfo | null {
  const file = markerPath(dataDir)
  let text: string
  try {
    const fd = fs.openSync(file, 'r')
    try {
      const buffer = Buffer.alloc(MAX_MARKER_BYTES)
      text = buffer.subarray(0, fs.readSync(fd, buffer, 0, MAX_MARKER_BYTES, 0)).toString('utf8')
    } finally {
      fs.closeSync(fd)
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    return {file, reason: `the corruption marker cannot be read: ${(error as Error).message}`, detected_at: new Date().toISOString(), node_index: null}
  }
  try {
    const raw = JSON.parse(text) as Record<string, unknown>
    if (typeof raw.file === 'string' && typeof raw.reason === 'string' && typeof raw.detected_at === 'string') {
      const index = raw.node_index
      return {
        file: raw.file.slice(0, 4096),
        reason: raw.reason.slice(0, 4096),
        detected_at: raw.detected_at.slice(0, 64),
        node_index: typeof index === 'number' && Number.isInteger(index) && index >= 0 ? index : null,
      }
    }
  } catch {
    // Falls through: unreadable, still corrupt.
  }
  return {file, reason: 'a corruption marker from an earlier run (unreadable)', detected_at: new Date().toISOString(), node_index: null}
}
