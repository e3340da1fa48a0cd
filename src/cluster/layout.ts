/**
 * Where a cluster keeps its state: `$PAD_HOME/<cluster>/` (PAD_HOME defaults to ~/.pad)
 *
 *   cluster.json      nodes, ports, pids, options (written by `up`, then by the supervisor)
 *   token             the admin token the nodes require, readable only by its owner (0600)
 *   control.sock      the supervisor's control API (a Unix socket)
 *   supervisor.log    what the supervisor did and said
 *   events.jsonl      the cluster's event timeline, one JSON object per line
 *   node-<i>/         node i's data dir (SQLite database, lock) and its log, node.log
 */
import crypto from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import {padHome} from '../cli/pad-home.js'
import {badArgument} from './errors.js'

export const DEFAULT_CLUSTER = 'default'

/** Unix socket paths are limited to ~104-108 bytes; longer ones go under the temp dir. */
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
  let socket = path.join(dir, 'control.sock')
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    const hash = crypto.createHash('sha256').update(dir).digest('hex').slice(0, 16)
    socket = path.join(os.tmpdir(), `pad-${hash}.sock`)
  }
  return {
    name,
    home,
    dir,
    clusterJson: path.join(dir, 'cluster.json'),
    token: path.join(dir, 'token'),
    socket,
    supervisorLog: path.join(dir, 'supervisor.log'),
    events: path.join(dir, 'events.jsonl'),
    upLock: path.join(dir, 'up.lock'),
    nodeDir: (index) => path.join(dir, `node-${index}`),
    nodeLog: (index) => path.join(dir, `node-${index}`, 'node.log'),
  }
}
