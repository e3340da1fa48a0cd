/**
 * Mounting a data dir on native/lazyfs, the FUSE layer that keeps what was not fsynced
 * undoable, so that a power cut can be simulated: SIGKILL the node, `cut`, restart it on what
 * survived. The lazyfs process is our child (not detached) and watches its stdin, a pipe from
 * us: when we die the pipe closes and it unmounts, so no mount outlives its owner for long.
 */
import {execFile, spawn, type ChildProcess} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {decodeLazyFsAnswer, encodeCut, type CutOptions, type DropReport, type LazyFsCommand} from '../api/lazy-fs-control.js'
import {poll} from '../util/time.js'
import {isAlive, signal, waitForExit} from './process-util.js'

export type {CutOptions, DropReport} from '../api/lazy-fs-control.js'

export type LazyFsSupport = {ok: true; binary: string} | {ok: false; reason: string}

export interface LazyMount {
  readonly backing: string
  readonly mountPoint: string
  readonly pid: number
  /**
   * Drops every write not yet fsynced (and namespace ops whose directory was not fsynced). Call only when no process has files open on the mount (SIGKILL it and wait for its exit first).
   * `torn`: then, per file, a prefix of its last unsynced write (whole 512-byte sectors, chosen by `seed`) survives, as in a write cut short by the power loss; the report says which.
   */
  cut(options?: CutOptions): Promise<DropReport>
  pending(): Promise<DropReport>
  unmount(): Promise<void>
}

/** The same depth below the package root from src/cluster (tsx) and dist/cluster (built). */
const BINARY = fileURLToPath(new URL('../../native/lazyfs/build/lazyfs', import.meta.url))
const INSTALL_HINT = 'run `bash scripts/install-native.sh` as root (installs fuse3 and libfuse3-dev, then builds native/lazyfs)'
const REQUEST_TIMEOUT_MS = 10_000
/** A cut restores saved bytes: a few seconds at most for a data dir, but never unbounded. */
const CUT_TIMEOUT_MS = 60_000
const MOUNT_TIMEOUT_MS = 15_000
const EXIT_TIMEOUT_MS = 10_000
/** Longest control answer we read: real ones are under 100 bytes, a torn cut's list at most 16 escaped paths. */
const MAX_ANSWER = 256 * 1024
/** sun_path holds 108 bytes on Linux (104 elsewhere); stay clearly below. */
const MAX_SOCKET_PATH = 100

/** Root? /dev/fuse? fusermount3? the binary built? The first missing thing, said plainly with how to get it. */
export function lazyFsSupport(): LazyFsSupport {
  if (process.platform !== 'linux') return {ok: false, reason: `the lazy file system needs Linux (FUSE); this is ${process.platform}`}
  if (process.getuid?.() !== 0) return {ok: false, reason: 'the lazy file system mounts FUSE file systems, which needs root here: run as root'}
  try {
    fs.accessSync('/dev/fuse', fs.constants.R_OK | fs.constants.W_OK)
  } catch {
    return {ok: false, reason: '/dev/fuse is missing or not accessible: load the fuse kernel module (modprobe fuse), or give the container the device (--device /dev/fuse --cap-add SYS_ADMIN)'}
  }
  if (!onPath('fusermount3')) return {ok: false, reason: `fusermount3 is not installed: ${INSTALL_HINT}`}
  try {
    fs.accessSync(BINARY, fs.constants.X_OK)
  } catch {
    return {ok: false, reason: `native/lazyfs is not built (${BINARY} is missing): ${INSTALL_HINT}, or \`npm run build:native\` when libfuse3-dev is there`}
  }
  return {ok: true, binary: BINARY}
}

/** Mounts (creating both dirs), resolves once the mount answers ping; the process is a child that unmounts when its parent dies. */
export async function mountLazyFs(options: {backing: string; mountPoint: string; logFile?: string}): Promise<LazyMount> {
  const support = lazyFsSupport()
  if (!support.ok) throw new Error(support.reason)
  const backing = path.resolve(options.backing)
  const mountPoint = path.resolve(options.mountPoint)
  // A mount left by a lazyfs that died makes the mount point unusable (ENOTCONN): clear it first.
  await clearStaleMount(mountPoint)
  fs.mkdirSync(backing, {recursive: true})
  fs.mkdirSync(mountPoint, {recursive: true})
  const socketPath = controlSocketPath(mountPoint)

  const logFd = options.logFile === undefined ? undefined : fs.openSync(options.logFile, 'a')
  let child: ChildProcess
  try {
    child = spawn(support.binary, ['--backing', backing, '--mount', mountPoint, '--control', socketPath, '--exit-on-stdin-eof'], {
      stdio: ['pipe', logFd ?? 'ignore', logFd ?? 'pipe'],
    })
  } finally {
    if (logFd !== undefined) fs.closeSync(logFd)
  }
  // Without a log file, keep the end of its stderr for the error message if it fails to mount.
  let stderrTail = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => (stderrTail = (stderrTail + chunk).slice(-2000)))
  // The mount must not keep us alive; when we exit, its stdin closes and it unmounts.
  child.unref()
  for (const stream of [child.stdin, child.stderr]) (stream as unknown as net.Socket | null)?.unref()
  child.stdin?.on('error', () => {}) // EPIPE once it has exited: nothing to do
  let exited = false
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true
      resolve()
    })
    child.once('error', (error) => {
      exited = true
      stderrTail += `\n${error.message}`
      resolve()
    })
  })

  const up = await poll(
    async () => {
      if (exited) return false
      try {
        await request(socketPath, 'ping', 1000)
        return true
      } catch {
        return undefined
      }
    },
    {timeoutMs: MOUNT_TIMEOUT_MS, intervalMs: 50},
  )
  if (up !== true) {
    if (!exited && child.pid !== undefined) {
      signal(child.pid, 'SIGKILL')
      await waitForExit(child.pid, EXIT_TIMEOUT_MS)
    }
    await clearStaleMount(mountPoint).catch(() => {})
    const why = options.logFile === undefined ? stderrTail.trim() || 'no output' : `see ${options.logFile}`
    throw new Error(`lazyfs could not mount ${mountPoint} on ${backing} (${up === false ? 'it exited' : `no answer within ${MOUNT_TIMEOUT_MS / 1000} s`}): ${why}`)
  }

  const pid = child.pid as number
  return {
    backing,
    mountPoint,
    pid,
    // async: a bad seed is a rejection, like every other failure of a cut
    cut: async (options?: CutOptions) => request(socketPath, 'cut', CUT_TIMEOUT_MS, encodeCut(options)),
    pending: () => request(socketPath, 'pending', REQUEST_TIMEOUT_MS),
    unmount: async () => {
      if (!exited && isAlive(pid)) {
        signal(pid, 'SIGTERM')
        const gone = await Promise.race([exit.then(() => true), waitForExit(pid, EXIT_TIMEOUT_MS)])
        if (!gone) {
          signal(pid, 'SIGKILL')
          await waitForExit(pid, EXIT_TIMEOUT_MS)
        }
      }
      await clearStaleMount(mountPoint)
    },
  }
}

/** Unmounts a mount left by a dead lazyfs (fusermount3 -u, lazily if busy); no-op when nothing is mounted there. */
export async function clearStaleMount(mountPoint: string): Promise<void> {
  const target = canonical(mountPoint)
  if (!isMounted(target)) return
  await run('fusermount3', ['-u', target]).catch(() => {})
  if (!isMounted(target)) return
  const lazy = await run('fusermount3', ['-uz', target]).then(
    () => '',
    (error: Error) => error.message,
  )
  if (isMounted(target)) throw new Error(`cannot unmount ${target}: ${lazy || 'still mounted after fusermount3 -uz'}`)
}

/** `<mountPoint>.ctl` when it fits in a Unix socket address, else a name in the temp dir. */
export function controlSocketPath(mountPoint: string): string {
  const beside = `${path.resolve(mountPoint)}.ctl`
  if (Buffer.byteLength(beside) < MAX_SOCKET_PATH) return beside
  const hash = crypto.createHash('sha256').update(path.resolve(mountPoint)).digest('hex').slice(0, 16)
  return path.join(os.tmpdir(), `pad-lazyfs-${hash}.ctl`)
}

/** Sends `line` (default: the command itself) and decodes the answer as the answer to `command`. */
function request(socketPath: string, command: 'ping', timeoutMs: number): Promise<null>
function request(socketPath: string, command: 'pending' | 'cut', timeoutMs: number, line?: string): Promise<DropReport>
function request(socketPath: string, command: LazyFsCommand, timeoutMs: number, line: string = command): Promise<DropReport | null> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath)
    let buffer = ''
    let settled = false
    const finish = (outcome: {value: DropReport | null} | Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (outcome instanceof Error) reject(outcome)
      else resolve(outcome.value)
    }
    const timer = setTimeout(() => finish(new Error(`lazyfs did not answer "${command}" on ${socketPath} within ${timeoutMs / 1000} s`)), timeoutMs)
    socket.setEncoding('utf8')
    socket.once('connect', () => socket.write(`${line}\n`))
    socket.on('data', (chunk: string) => {
      buffer += chunk
      const newline = buffer.indexOf('\n')
      if (newline === -1) {
        if (buffer.length > MAX_ANSWER) finish(new Error(`lazyfs sent an answer to "${command}" longer than ${MAX_ANSWER} bytes`))
        return
      }
      const answer = buffer.slice(0, newline)
      const decoded = command === 'ping' ? decodeLazyFsAnswer('ping', answer) : decodeLazyFsAnswer(command, answer)
      finish(decoded.ok ? {value: decoded.value} : new Error(decoded.message))
    })
    socket.on('error', (error) => finish(new Error(`cannot reach lazyfs on ${socketPath}: ${error.message}`)))
    socket.on('close', () => finish(new Error(`lazyfs closed the connection before answering "${command}"`)))
  })
}

/** The path as /proc/self/mounts spells it: the parent resolved (a dead mount cannot be). */
function canonical(mountPoint: string): string {
  const absolute = path.resolve(mountPoint)
  try {
    return path.join(fs.realpathSync(path.dirname(absolute)), path.basename(absolute))
  } catch {
    return absolute
  }
}

function isMounted(target: string): boolean {
  let table: string
  try {
    table = fs.readFileSync('/proc/self/mounts', 'utf8')
  } catch {
    return false
  }
  // Fields are space-separated with spaces, tabs, newlines and backslashes octal-escaped.
  const unescape = (field: string): string => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
  return table.split('\n').some((line) => unescape(line.split(' ')[1] ?? '') === target)
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, command), fs.constants.X_OK)
      return dir !== ''
    } catch {
      return false
    }
  })
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, {timeout: REQUEST_TIMEOUT_MS}, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${String(stderr).trim() || error.message}`))
      else resolve()
    })
  })
}
