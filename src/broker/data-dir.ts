/**
 * The node's data directory: created if missing (0700), checked writable, and locked so that
 * two nodes never share one database (which would silently corrupt both).
 */
import fs from 'node:fs'
import path from 'node:path'
import {syncCreatedDirectories} from '../storage/sync-dir.js'
import {poll} from '../util/time.js'

export class DataDirError extends Error {}

/** How long to wait for the previous owner of the lock to finish dying (a SIGKILLed node may
 * still be in an fsync, or not yet reaped, when a restart comes). */
const LOCK_WAIT_MS = 3000

/**
 * `syncCreated`: when this call makes the directory (or some of its parents), fsync each new
 * one's parent, so a power cut right after the first start cannot take the node's data dir
 * (and with it its vote) away; off for `node --unsafe-no-fsync`.
 */
export async function prepareDataDir(dir: string, options: {syncCreated: boolean} = {syncCreated: true}): Promise<{release: () => void}> {
  try {
    const created = fs.mkdirSync(dir, {recursive: true, mode: 0o700})
    if (options.syncCreated) syncCreatedDirectories(dir, created)
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.R_OK)
  } catch (error) {
    throw new DataDirError(`data dir ${dir} is unusable: ${describe(error as NodeJS.ErrnoException)}`)
  }
  if (!fs.statSync(dir).isDirectory()) throw new DataDirError(`data dir ${dir} is not a directory`)
  // The database holds every message: a data dir made before (or by another tool) is closed
  // to other users too. One we do not own is left as it is.
  try {
    fs.chmodSync(dir, 0o700)
  } catch {
    // Not ours to change.
  }
  const lockPath = path.join(dir, 'LOCK')
  let holder = 0
  const taken = await poll(
    () => {
      // A lock left by a process that is gone (killed, crashed) is taken over at once: a second go.
      for (let go = 0; go < 2; go++) {
        if (createLock(dir, lockPath)) return true
        holder = Number(fs.readFileSync(lockPath, 'utf8'))
        if (holder > 0 && holder !== process.pid && isAlive(holder)) return undefined
        fs.rmSync(lockPath, {force: true})
      }
      return undefined
    },
    {timeoutMs: LOCK_WAIT_MS, intervalMs: 50},
  )
  if (!taken) throw new DataDirError(`data dir ${dir} is in use by another node (pid ${holder})`)
  return {
    release: () => {
      try {
        if (fs.readFileSync(lockPath, 'utf8') === String(process.pid)) fs.unlinkSync(lockPath)
      } catch {
        // Already gone: nothing to release.
      }
    },
  }
}

/** Creates the lock file with our pid; false if it exists already. */
function createLock(dir: string, lockPath: string): boolean {
  try {
    fs.writeFileSync(lockPath, String(process.pid), {flag: 'wx'})
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw new DataDirError(`data dir ${dir} is unusable: ${(error as Error).message}`)
  }
}

/** Why a directory could not be created or used, in words rather than an errno code. */
function describe(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'EEXIST':
      return 'a file is in its place (it must be a directory)'
    case 'ENOTDIR':
      return 'a part of its path is a file, not a directory'
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'EROFS':
      return 'the file system is read-only'
    default:
      return error.code ? `${error.code} (${error.message})` : error.message
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    // A zombie has exited; it only waits to be reaped.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true
  }
}
