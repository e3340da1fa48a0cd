/**
 * A full disk, wherever a write found it (the Raft log, applied messages, a snapshot staged or
 * installed): SQLite says SQLITE_FULL and rolls the transaction back, so what is on disk is the
 * state of the last write that fit. The node cannot keep its promises without writing, and the
 * disk does not empty by itself, so it stops; the operator frees space and restarts it, and it
 * catches up from the leader.
 */

/** Whether `error`, or an error it was made from (`cause`), is SQLite's SQLITE_FULL. */
export function isDiskFull(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = (e as {cause?: unknown}).cause, depth++) {
    if ((e as {code?: unknown}).code === 'SQLITE_FULL') return true
  }
  return false
}

/** The log line a node stops with when its disk is full: what happened and what to do. */
export const DISK_FULL_MESSAGE = 'the disk is full (SQLITE_FULL): stopping with the state of the last write that fit; free some space, then restart the node and it catches up'
