/**
 * Processes by pid: is it alive, is it still the process we started (pids are reused), and
 * signals with bounded waits. Linux reads /proc; elsewhere `ps` answers the same questions.
 */
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import {poll} from '../util/time.js'

/** True while `pid` names a live process (a zombie, which has exited, counts as dead). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const state = procState(pid)
  return state !== 'Z' && state !== 'X'
}

/** The one-letter state of a process from /proc (R, S, T for stopped, Z...), or null. */
export function procState(pid: number): string | null {
  const stat = readStat(pid)
  return stat ? stat[0] : null
}

/**
 * Something that tells this process apart from a later one with the same pid: its start
 * time in clock ticks since boot (Linux), or the `ps` start time elsewhere. Null if unknown.
 */
export function processIdentity(pid: number): string | null {
  const stat = readStat(pid)
  if (stat) return stat[19] ?? null
  if (process.platform === 'linux') return null
  try {
    return execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim() || null
  } catch {
    return null
  }
}

/** The command line of a process, or null when it cannot be read. */
export function commandLine(pid: number): string | null {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return raw.split('\0').join(' ').trim()
  } catch {
    if (process.platform === 'linux') return null
  }
  try {
    return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim() || null
  } catch {
    return null
  }
}

/**
 * True if `pid` is alive and its command line contains every one of `markers` (for example
 * the node's data dir): the check that keeps us from signalling a stranger that got the pid.
 */
export function isOurProcess(pid: number, markers: string[]): boolean {
  if (!isAlive(pid)) return false
  const line = commandLine(pid)
  if (line === null) return false
  return markers.every((marker) => line.includes(marker))
}

export function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name)
    return true
  } catch {
    return false
  }
}

/**
 * True if `promise` settles within `timeoutMs`, false if not. The timer is cleared as soon as
 * the promise settles, so a long bound never keeps the process alive after the work is done.
 */
export async function settlesWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))
  try {
    return await Promise.race([promise.then(() => true as const, () => true as const), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * execa options for a child that outlives us: detached into its own process group, never
 * killed on our exit, its stdout and stderr appended straight to `logFd` (execa's 'native'
 * stdio: no pipe through us, no buffering, so its output does not depend on us staying
 * alive). execa's types only list descriptors 1 to 9, hence the casts.
 */
export function detachedWithLog(logFd: number) {
  return {stdin: 'ignore', stdout: logFd as never, stderr: logFd as never, detached: true, cleanup: false, reject: false, buffer: false} as const
}

/** Waits until `pid` is gone, polling; true if it went within `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number, pollMs = 50): Promise<boolean> {
  return (await poll(() => (isAlive(pid) ? undefined : true), {timeoutMs, intervalMs: pollMs})) ?? false
}

/** SIGTERM (and SIGCONT, in case it is paused), then SIGKILL after `graceMs`. True if it is gone. */
export async function terminate(pid: number, graceMs: number): Promise<boolean> {
  if (!isAlive(pid)) return true
  signal(pid, 'SIGTERM')
  signal(pid, 'SIGCONT')
  if (await waitForExit(pid, graceMs)) return true
  signal(pid, 'SIGKILL')
  return waitForExit(pid, 3000)
}

/**
 * Calls `onGone` once when the process `pid` is no longer the one that was there when the
 * watch began (it died, or its pid now names another process). Polls every `intervalMs`;
 * the timer does not keep the event loop alive.
 */
export function watchProcess(pid: number, intervalMs: number, onGone: () => void): () => void {
  const identity = processIdentity(pid)
  const timer = setInterval(() => {
    const gone = !isAlive(pid) || (identity !== null && processIdentity(pid) !== identity)
    if (gone) {
      clearInterval(timer)
      onGone()
    }
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}

function readStat(pid: number): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return null
  }
}
