/**
 * Where a cluster keeps its state: `$PAD_HOME/<cluster>/` (PAD_HOME defaults to ~/.pad)
 *
 *   cluster.json      nodes, ports, pids, options (written by `up`, then by the supervisor)
 *   token             the admin token the nodes require, readable only by its owner (0600)
 *   control.sock      the supervisor's control API (a Unix socket), unless it lives in the
 *                     per-user runtime dir ($XDG_RUNTIME_DIR/pad-cli/<cluster>-<hash>.sock)
 *   control.path      where the socket is, when its path would be too long for a Unix socket
 *                     and it lives in a private temp dir instead
 *   supervisor.log    what the supervisor did and said
 *   events.jsonl      the cluster's event timeline, one JSON object per line
 *   node-<i>/         node i's data dir (SQLite database, lock) and its log, node.log; with
 *                     `up --lazy-fs` the data lives in node-<i>/disk/ (the backing dir) and the
 *                     node sees it through the lazy layer mounted on node-<i>/data/ (lazyfs.log
 *                     beside node.log)
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {padHome} from '../util/pad-home.js'
import {badArgument} from './errors.js'

export const DEFAULT_CLUSTER = 'default'

/** Unix socket paths are limited to ~104-108 bytes; longer ones go to a private temp dir. */
const MAX_SOCKET_PATH = 100

export interface ClusterPaths {
  name: string
  home: string
  dir: string
  clusterJson: string
  token: string
  socket: string
  supervisorLog: string
  events: string
  upLock: string
  nodeDir(index: number): string
  nodeLog(index: number): string
  /** With --lazy-fs: where node i's data really is (the lazy layer's backing dir). */
  nodeDisk(index: number): string
  /** With --lazy-fs: where the lazy layer over nodeDisk(i) is mounted, node i's --data-dir. */
  nodeMount(index: number): string
  nodeLazyLog(index: number): string
}

export function validateClusterName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw badArgument(`"${name}" is not a cluster name: use letters, digits, "-", "_" or "." (at most 64)`)
  }
  return name
}

export function clusterPaths(name: string = DEFAULT_CLUSTER, home: string = padHome()): ClusterPaths {
  validateClusterName(name)
  const dir = path.join(home, name)
  return {
    name,
    home,
    dir,
    clusterJson: path.join(dir, 'cluster.json'),
    token: path.join(dir, 'token'),
    // Found when asked for: the fallback makes a directory, which only a server or client needs.
    get socket() {
      return controlSocketPath(name, dir)
    },
    supervisorLog: path.join(dir, 'supervisor.log'),
    events: path.join(dir, 'events.jsonl'),
    upLock: path.join(dir, 'up.lock'),
    nodeDir: (index) => path.join(dir, `node-${index}`),
    nodeLog: (index) => path.join(dir, `node-${index}`, 'node.log'),
    nodeDisk: (index) => path.join(dir, `node-${index}`, 'disk'),
    nodeMount: (index) => path.join(dir, `node-${index}`, 'data'),
    nodeLazyLog: (index) => path.join(dir, `node-${index}`, 'lazyfs.log'),
  }
}

/**
 * Where the supervisor's control socket is: the per-user runtime dir when there is a usable
 * one (only this user can enter it), else the cluster folder (0700). A path too long for a
 * Unix socket goes to a private dir made with mkdtemp, never a predictable name in a shared
 * temp dir, and is recorded in the cluster folder's `control.path` so clients find it.
 */
export function controlSocketPath(name: string, dir: string, env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR
  if (runtime && isPrivateDir(runtime)) {
    const hash = crypto.createHash('sha256').update(dir).digest('hex').slice(0, 12)
    const socket = path.join(runtime, 'pad-cli', `${name}-${hash}.sock`)
    if (Buffer.byteLength(socket) <= MAX_SOCKET_PATH) return socket
  }
  const inFolder = path.join(dir, 'control.sock')
  if (Buffer.byteLength(inFolder) <= MAX_SOCKET_PATH) return inFolder
  const record = path.join(dir, 'control.path')
  try {
    return fs.readFileSync(record, 'utf8').trim()
  } catch {
    // Not recorded yet: make the private dir and record it below.
  }
  fs.mkdirSync(dir, {recursive: true, mode: 0o700})
  const socket = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pad-cli-')), 'control.sock')
  try {
    fs.writeFileSync(record, socket + '\n', {mode: 0o600, flag: 'wx'})
    return socket
  } catch {
    // Another process recorded one first: use that one.
    fs.rmSync(path.dirname(socket), {recursive: true, force: true})
    return fs.readFileSync(record, 'utf8').trim()
  }
}

/** A directory of this user's that no one else may enter (what XDG promises for the runtime dir). */
function isPrivateDir(dir: string): boolean {
  try {
    const stat = fs.statSync(dir)
    const uid = process.getuid?.()
    return stat.isDirectory() && (uid === undefined || stat.uid === uid) && (stat.mode & 0o077) === 0
  } catch {
    return false
  }
}
