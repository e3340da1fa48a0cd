/**
 * The node's data directory: created if missing, checked writable, and locked so that two
 * nodes never share one database (which would silently corrupt both).
 */
import fs from 'node:fs'
import path from 'node:path'

export class DataDirError extends Error {}

export function prepareDataDir(dir: string): {release: () => void} {
  try {
    fs.mkdirSync(dir, {recursive: true})
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.R_OK)
  } catch (error) {
    throw new DataDirError(`data dir ${dir} is unusable: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  if (!fs.statSync(dir).isDirectory()) throw new DataDirError(`data dir ${dir} is not a directory`)
  const lockPath = path.join(dir, 'LOCK')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), {flag: 'wx'})
      return {
        release: () => {
          try {
            if (fs.readFileSync(lockPath, 'utf8') === String(process.pid)) fs.unlinkSync(lockPath)
          } catch {
            // Already gone: nothing to release.
          }
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new DataDirError(`data dir ${dir} is unusable: ${(error as Error).message}`)
      }
      const owner = Number(fs.readFileSync(lockPath, 'utf8'))
      if (owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new DataDirError(`data dir ${dir} is in use by another node (pid ${owner})`)
      }
      // The lock of a process that is gone (killed, crashed): take it over.
      fs.rmSync(lockPath, {force: true})
    }
  }
  throw new DataDirError(`data dir ${dir}: could not take its lock`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
