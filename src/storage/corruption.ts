/**
 * Telling corrupt storage from other failures, and the checksums that make it visible.
 *
 * SQLite checks its own structure (pages, b-trees), not what a row holds: a flipped bit in a
 * Raft entry's payload or in the hard state reads back as a valid, different value. So each
 * raft_log row carries a CRC-32 of (index, term, type, data) and the raft_state row one of
 * (term, vote, commit index), as etcd's WAL records and hashicorp/raft's log store do; a reader
 * that finds a mismatch throws CorruptionError. Rows written before the checksums existed have
 * none (NULL) and are accepted.
 */
import {crc32} from 'node:zlib'

import {LostLogError} from '../raft/index.js'
import {codeOf} from './sql-batch.js'

/** SQLite result codes that mean the file is not a sound database (the extended ones start with these). */
const CORRUPT_CODES = ['SQLITE_CORRUPT', 'SQLITE_NOTADB']

/** The node's data can no longer be trusted: `file` names what was found bad, `reason` how. */
export class CorruptionError extends Error {
  override name = 'CorruptionError'
  readonly code = 'CORRUPT'

  constructor(
    readonly file: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`${file} is corrupt: ${reason}`, options)
  }
}

/** Whether an error (ours, better-sqlite3's, or the writer's, which keeps SQLite's code) says the data is corrupt. */
export function isCorruption(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== null && e !== undefined && depth < 5; e = (e as {cause?: unknown}).cause, depth++) {
    // The core found the log shorter than what it knows was committed: entries it held are gone.
    if (e instanceof CorruptionError || e instanceof LostLogError) return true
    const code = codeOf(e)
    if (code !== undefined && CORRUPT_CODES.some((c) => code === c || code.startsWith(`${c}_`))) return true
  }
  return false
}

/** The CorruptionError an error stands for, naming `file` unless it names one already. */
export function asCorruption(error: unknown, file: string): CorruptionError {
  for (let e: unknown = error, depth = 0; e !== null && e !== undefined && depth < 5; e = (e as {cause?: unknown}).cause, depth++) {
    if (e instanceof CorruptionError) return e
  }
  return new CorruptionError(file, (error as Error).message ?? String(error), {cause: error})
}

/** Eight little-endian bytes of a non-negative integer below 2^53 (an index, a term, a commit index). */
function writeInteger(buffer: Buffer, offset: number, value: number): void {
  buffer.writeUInt32LE(value % 0x1_0000_0000, offset)
  buffer.writeUInt32LE(Math.floor(value / 0x1_0000_0000), offset + 4)
}

/** The checksum stored with a raft_log row: CRC-32 of index, term, type (little-endian) and the payload. */
export function entryChecksum(index: number, term: number, type: number, data: Uint8Array): number {
  const head = Buffer.allocUnsafe(17)
  writeInteger(head, 0, index)
  writeInteger(head, 8, term)
  head.writeUInt8(type & 0xff, 16)
  // An empty payload (a leader's noop) adds nothing. Not crc32(data, seed) for it: an empty blob
  // read back from SQLite may have no memory behind it, and zlib's crc32 of a null buffer answers
  // 0 (its "initial value"), not the seed, so every noop would fail its check after a restart.
  return data.byteLength === 0 ? crc32(head) : crc32(data, crc32(head))
}

/** The checksum stored with the raft_state row. A vote of null counts as 2^53 - 1, never a node id. */
export function hardStateChecksum(term: number, vote: number | null, commit: number): number {
  const bytes = Buffer.allocUnsafe(24)
  writeInteger(bytes, 0, term)
  writeInteger(bytes, 8, vote ?? Number.MAX_SAFE_INTEGER)
  writeInteger(bytes, 16, commit)
  return crc32(bytes)
}

/** A stored raft_log row whose checksum (when it has one) does not match: what is wrong with it, or null. */
export function entryProblem(row: {index: number; term: number; type: number; data: Uint8Array; crc?: number | null}): string | null {
  if (row.crc === null || row.crc === undefined) return null
  const expected = entryChecksum(row.index, row.term, row.type, row.data)
  return expected === row.crc ? null : `raft_log entry ${row.index} (term ${row.term}) fails its checksum (stored ${row.crc}, computed ${expected})`
}

/** The same for the raft_state row. */
export function hardStateProblem(row: {term: number; vote: number | null; commit: number; crc?: number | null}): string | null {
  if (row.crc === null || row.crc === undefined) return null
  const expected = hardStateChecksum(row.term, row.vote, row.commit)
  return expected === row.crc ? null : `the hard state (term ${row.term}, vote ${row.vote}) fails its checksum (stored ${row.crc}, computed ${expected})`
}
