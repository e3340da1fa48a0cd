/**
 * A check of a SQLite WAL file before SQLite opens it. SQLite replays a WAL up to the first frame
 * whose checksum fails and silently drops everything after it, as it must for the torn last write
 * of a power cut. But a damaged frame in the middle drops transactions that were committed (and
 * fsynced, so acknowledged) after it: the node would restart with a shorter log, perhaps an older
 * vote, and never know. This check tells the two apart: after the first frame that fails, a later
 * frame of the same WAL generation (same salts) that checks out against its predecessor's stored
 * checksum and ends a transaction means committed data would be lost: corruption.
 *
 * Format (sqlite.org/fileformat2.html#walformat): a 32-byte header (magic, version, page size,
 * checkpoint sequence, salt-1, salt-2, checksum-1, checksum-2), then frames of a 24-byte header
 * (page number, database size after commit or 0, salt-1, salt-2, checksum-1, checksum-2) and one
 * page. The checksums chain over the frames, in the byte order the magic's low bit names.
 */
import fs from 'node:fs'

const WAL_MAGIC = 0x377f0682
const HEADER_BYTES = 32
const FRAME_HEADER_BYTES = 24

type Words = (buffer: Buffer, offset: number) => number

/** SQLite's WAL checksum of `length` bytes (a multiple of 8) from `offset`, continuing from (s0, s1). */
function checksum(buffer: Buffer, offset: number, length: number, word: Words, s0: number, s1: number): [number, number] {
  for (let i = offset; i < offset + length; i += 8) {
    s0 = (s0 + word(buffer, i) + s1) >>> 0
    s1 = (s1 + word(buffer, i + 4) + s0) >>> 0
  }
  return [s0, s1]
}

/** What SQLite will replay of a WAL when it opens the database: its committed transactions up to the first frame that fails. */
export interface CommittedWal {
  pageSize: number
  /** The pages those transactions hold: SQLite reads them from the WAL, never from the main file. */
  pages: Set<number>
  /** The database's size in pages after the last of them (the commit frame's "size after commit"). */
  dbPages: number
}

export interface WalInspection {
  /** What is wrong with the WAL file, or null when SQLite would replay every committed transaction in it. */
  problem: string | null
  /** What SQLite replays of it; null when nothing (no file, no sound header, no committed frame). */
  committed: CommittedWal | null
}

/** What is wrong with the WAL file, or null when SQLite would replay every committed transaction in it. */
export function walProblem(file: string): string | null {
  return inspectWal(file).problem
}

/** Reads the WAL file once: what is wrong with it, and what SQLite will replay of it. */
export function inspectWal(file: string): WalInspection {
  let wal: Buffer
  try {
    wal = fs.readFileSync(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {problem: null, committed: null}
    throw error
  }
  const nothing = (problem: string | null): WalInspection => ({problem, committed: null})
  if (wal.length < HEADER_BYTES) return nothing(null)
  const magic = wal.readUInt32BE(0)
  if ((magic & ~1) >>> 0 !== WAL_MAGIC) return nothing(wal.length > HEADER_BYTES ? 'the WAL header is not a WAL header' : null)
  const word: Words = magic & 1 ? (b, o) => b.readUInt32BE(o) : (b, o) => b.readUInt32LE(o)
  const pageSize = wal.readUInt32BE(8)
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return nothing(`the WAL header names a page size of ${pageSize}`)
  const [h0, h1] = checksum(wal, 0, 24, word, 0, 0)
  const frames = Math.floor((wal.length - HEADER_BYTES) / (FRAME_HEADER_BYTES + pageSize))
  if (h0 !== wal.readUInt32BE(24) || h1 !== wal.readUInt32BE(28)) return nothing(frames > 0 ? 'the WAL header fails its checksum: SQLite would ignore every frame in it' : null)
  const salt1 = wal.readUInt32BE(16)
  const salt2 = wal.readUInt32BE(20)
  let s: [number, number] = [h0, h1]
  let broken: number | null = null
  // The pages of the valid prefix: those of the transaction being read, and of those committed before it.
  const committed: CommittedWal = {pageSize, pages: new Set(), dbPages: 0}
  let pending: number[] = []
  const answer = (problem: string | null): WalInspection => ({problem, committed: committed.dbPages > 0 ? committed : null})
  for (let i = 0; i < frames; i++) {
    const at = HEADER_BYTES + i * (FRAME_HEADER_BYTES + pageSize)
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) {
      // A frame of an earlier generation (the WAL was reset and rewritten from its start), or damaged salts.
      broken ??= i
      continue
    }
    const stored: [number, number] = [wal.readUInt32BE(at + 16), wal.readUInt32BE(at + 20)]
    // Chained from the previous frame's stored checksum: a frame that checks out this way was written whole.
    const previous: [number, number] = i === 0 ? [h0, h1] : [wal.readUInt32BE(at - pageSize - FRAME_HEADER_BYTES + 16), wal.readUInt32BE(at - pageSize - FRAME_HEADER_BYTES + 20)]
    const base = broken === null ? s : previous
    let c = checksum(wal, at, 8, word, base[0], base[1])
    c = checksum(wal, at + FRAME_HEADER_BYTES, pageSize, word, c[0], c[1])
    const intact = c[0] === stored[0] && c[1] === stored[1]
    const sizeAfterCommit = wal.readUInt32BE(at + 4)
    if (broken === null) {
      if (!intact) {
        broken = i
        continue
      }
      s = c
      pending.push(wal.readUInt32BE(at))
      if (sizeAfterCommit !== 0) {
        for (const page of pending) committed.pages.add(page)
        committed.dbPages = sizeAfterCommit
        pending = []
      }
      continue
    }
    if (intact && sizeAfterCommit !== 0) {
      return answer(`WAL frame ${broken} is damaged, and frame ${i}, after it, ends a committed transaction that SQLite would silently drop`)
    }
  }
  return answer(null)
}
