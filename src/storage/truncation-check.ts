/**
 * A check, before SQLite opens it, that the main database file still holds every page SQLite
 * will read from it. A file cut short reads as zeros past its end (SQLite takes a short read as a
 * page of zeros), and `quick_check` misses what lands in pages whose content it does not parse
 * (overflow pages, free pages), so a truncation could pass the checks at start and surface only
 * later (at a checkpoint, which refuses a WAL that cannot make up the difference, or a read).
 *
 * How big the database is comes from the WAL when SQLite will replay a committed transaction of
 * it (its last commit frame's "size after commit"), else from the main file's header: the page
 * count at offset 28 (4 bytes, big-endian), valid only when the "version-valid-for" number at
 * offset 92 equals the change counter at offset 24 (sqlite.org/fileformat2.html#in_header_database_size);
 * the page size at offset 16 (2 bytes, 1 meaning 65536). A header whose count is not valid says
 * nothing, and then neither does this check (SQLite goes by the file's size).
 *
 * A page is there when the WAL holds it (SQLite reads it from there) or the file reaches its
 * end. Not "the file at least as long as its header says": in WAL mode the header in the main
 * file is the one a checkpoint copied there, and a checkpoint copies pages in ascending order,
 * page 1 (with the header naming the new, larger count) first: a process killed mid-checkpoint
 * leaves a file shorter than its own valid header, every page it lacks still in the WAL, and
 * nothing lost (the next checkpoint makes the file as big as it says). Only a page that neither
 * has is lost; the lock-byte page (the one holding byte 2^30) is never written, so never missing.
 */
import fs from 'node:fs'

import type {CommittedWal} from './wal-check.js'

const HEADER_BYTES = 100
const MAGIC = 'SQLite format 3\0'
const LOCK_BYTE_OFFSET = 0x4000_0000

/** What the main file's header says of the database's size, when it says anything. */
interface HeaderSize {
  pageSize: number
  /** The in-header page count when valid, else null. */
  pages: number | null
}

function headerSize(header: Buffer): HeaderSize | null {
  if (header.length < HEADER_BYTES || header.toString('latin1', 0, 16) !== MAGIC) return null
  const raw = header.readUInt16BE(16)
  const pageSize = raw === 1 ? 65536 : raw
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return null
  const pages = header.readUInt32BE(28)
  const valid = pages > 0 && header.readUInt32BE(92) === header.readUInt32BE(24)
  return {pageSize, pages: valid ? pages : null}
}

/** The first bytes of the file (fewer when it is shorter), and its size; null when there is no file. */
function readHead(file: string): {head: Buffer; size: number} | null {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  try {
    const size = fs.fstatSync(fd).size
    const head = Buffer.alloc(Math.min(size, HEADER_BYTES))
    fs.readSync(fd, head, 0, head.length, 0)
    return {head, size}
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * What is wrong with the main database file's length, given what SQLite will replay of its WAL
 * (wal-check.ts `inspectWal`): null when every page SQLite will read is in the file or the WAL.
 */
export function truncationProblem(file: string, wal: CommittedWal | null): string | null {
  const read = readHead(file)
  if (read === null) return null
  const header = headerSize(read.head)
  // A file without a header SQLite can read: SQLite itself says so when it opens it (not a database),
  // unless the WAL holds page 1, and then the count below is the WAL's.
  const pageSize = wal?.pageSize ?? header?.pageSize
  const pages = wal?.dbPages ?? header?.pages ?? null
  if (pageSize === undefined || pages === null) return null
  const whole = Math.floor(read.size / pageSize)
  const lockPage = Math.floor(LOCK_BYTE_OFFSET / pageSize) + 1
  // Counted, not walked: a damaged header may name 2^32 pages. The WAL's pages are as many as its frames.
  const covered = (page: number): boolean => page === lockPage || wal?.pages.has(page) === true
  let missing = Math.max(0, pages - whole)
  if (lockPage > whole && lockPage <= pages) missing--
  for (const page of wal?.pages ?? []) if (page > whole && page <= pages && page !== lockPage) missing--
  if (missing <= 0) return null
  let first = whole + 1
  while (covered(first)) first++
  const said = wal === null ? "its header's page count" : "the WAL's last committed transaction"
  return (
    `the file is ${read.size} bytes, ${whole} whole pages of ${pageSize} bytes, but ${said} makes the database ${pages} pages, ` +
    `and ${missing} of the pages past its end (the first: page ${first}) are not in the WAL either: the file was cut short`
  )
}
