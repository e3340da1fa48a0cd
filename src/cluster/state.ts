/**
 * cluster.json: what the cluster is (options, ports) and what runs (supervisor and node
 * pids). `up` writes the first version; from then on only the supervisor writes it, always
 * whole and atomically (write a temp file, rename), so a reader never sees half a file.
 */
import crypto from 'node:crypto'
import type {MemberRole, ProcessState} from '../api/control.js'
import fs from 'node:fs'
import type {ClusterPaths} from './layout.js'
import {checkNetnsRecord, nodeAddress, type NetnsRecord} from './netns-plan.js'
import {DEFAULT_RESTART_POLICY, isRestartPolicy, type RestartPolicy} from './restart-policy.js'

export interface ClusterOptions {
  /** The founding nodes (0..nodes-1, started with --peers); `add` appends more to `nodes`. */
  nodes: number
  host: string
  tcp_port: number
  http_port: number
  raft_port: number
  election_timeout_ms: number
  heartbeat_ms: number
  /** The nodes' --snapshot-entries and --trailing-entries; absent: the node's defaults. */
  snapshot_entries?: number
  trailing_entries?: number
  /** What the supervisor does when a node crashes (`up --restart`). */
  restart: RestartPolicy
  /** Every node's `--retention` values, as given to `up` (util/retention-spec.ts); empty: no limits. */
  retention: string[]
  /**
   * `up --lazy-fs`: every node's data dir is a mount of the lazy layer (src/cluster/lazy-fs.ts),
   * so `power-cut` can drop what was not fsynced. Kept for the cluster's next up (its data is
   * in the backing dirs). Absent: false.
   */
  lazy_fs?: boolean
  /** `up --unsafe-no-fsync`: the nodes run with `node --unsafe-no-fsync` (test only). Absent: false. */
  unsafe_no_fsync?: boolean
  /**
   * `up --netns`: each node in its own network namespace, at its own address on this
   * cluster's bridge (netns-plan.ts); `host` is then unused. Absent: every node on `host`.
   */
  netns?: NetnsRecord
  /**
   * `up --web-port`: the port of the supervisor's web console on 127.0.0.1 (0: any free port);
   * null (`--no-web`) or absent: no console.
   */
  web_port?: number | null
}

/** `exited`: killed by the supervisor or ended cleanly; `crashed`: ended by itself (exit-state.ts). */
export type {ProcessState}

export interface NodeRecord {
  index: number
  node_id: string
  host: string
  tcp_port: number
  http_port: number
  raft_port: number
  data_dir: string
  log_file: string
  pid: number | null
  process: ProcessState
  exit_code: number | null
  exit_signal: string | null
  /**
   * Its place in the configuration as the supervisor last changed it: founding nodes are
   * voters; `add` makes a learner, then a voter; `remove` marks it removed (the record and its
   * data stay, and its index is never used again).
   */
  membership: MemberRole
  /** Added by `add`: started with --join (its node id is in its data dir) instead of --peers. */
  joined: boolean
  /** With `up --lazy-fs`: the backing dir under the mount at `data_dir`, and the lazy layer's pid while it is mounted. */
  lazy_fs?: LazyFsRecord
}

export interface LazyFsRecord {
  backing: string
  pid: number | null
}

export interface SupervisorRecord {
  pid: number
  started_at: string
  socket: string
  foreground: boolean
  /** The port the web console listens on (127.0.0.1), or null when it does not run. Absent: older supervisor, no console. */
  web_port?: number | null
}

export interface ClusterState {
  version: 1
  name: string
  created_at: string
  updated_at: string
  options: ClusterOptions
  supervisor: SupervisorRecord | null
  nodes: NodeRecord[]
}

export const DEFAULT_OPTIONS: ClusterOptions = {
  nodes: 3,
  host: '127.0.0.1',
  tcp_port: 5000,
  http_port: 8080,
  raft_port: 6000,
  election_timeout_ms: 150,
  heartbeat_ms: 50,
  restart: DEFAULT_RESTART_POLICY,
  retention: [],
}

export function nodeRecords(paths: ClusterPaths, options: ClusterOptions): NodeRecord[] {
  return Array.from({length: options.nodes}, (_, index) => nodeRecord(paths, options, index, false))
}

/**
 * Node `index` at the cluster's ports (base + index) on its host: the cluster's, or in network
 * namespaces its own address. This record is then where everything reaches the node (clients,
 * the supervisor, its peers' --peers): no one else works out a node's host. `joined`: added to
 * a running cluster.
 */
export function nodeRecord(paths: ClusterPaths, options: ClusterOptions, index: number, joined: boolean): NodeRecord {
  const host = nodeHost(options, index)
  return {
    index,
    node_id: `${host}:${options.tcp_port + index}`,
    host,
    tcp_port: options.tcp_port + index,
    http_port: options.http_port + index,
    raft_port: options.raft_port + index,
    data_dir: options.lazy_fs === true ? paths.nodeMount(index) : paths.nodeDir(index),
    log_file: paths.nodeLog(index),
    pid: null,
    process: 'stopped',
    exit_code: null,
    exit_signal: null,
    membership: joined ? 'learner' : 'voter',
    joined,
    ...(options.lazy_fs === true ? {lazy_fs: {backing: paths.nodeDisk(index), pid: null}} : {}),
  }
}

/** Where node `index` listens. */
export function nodeHost(options: Pick<ClusterOptions, 'host' | 'netns'>, index: number): string {
  return options.netns ? nodeAddress(options.netns, index) : options.host
}

/** The nodes that are members (voters or learners): every node but the removed ones. */
export function memberRecords(state: Pick<ClusterState, 'nodes'>): NodeRecord[] {
  return state.nodes.filter((n) => n.membership !== 'removed')
}

/** True once `add` or `remove` changed the nodes `up` started with. */
export function membershipChanged(state: ClusterState): boolean {
  return state.nodes.some((n) => n.joined || n.membership === 'removed')
}

export function readState(paths: ClusterPaths): ClusterState | null {
  let text: string
  try {
    text = fs.readFileSync(paths.clusterJson, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  const state = JSON.parse(text) as ClusterState
  if (state.version !== 1 || !Array.isArray(state.nodes)) throw new Error(`${paths.clusterJson} is not a cluster file this pad-cli understands`)
  // Written before --restart existed (or by hand): such a cluster never restarted its nodes.
  if (!isRestartPolicy(state.options.restart)) state.options.restart = DEFAULT_RESTART_POLICY
  // Written before --retention existed: no limits.
  if (!Array.isArray(state.options.retention) || !state.options.retention.every((v) => typeof v === 'string')) state.options.retention = []
  // Its fields become `ip` arguments: a record that is not one of ours is refused, not used.
  if (state.options.netns !== undefined) {
    const netns = checkNetnsRecord(state.options.netns)
    if (!netns) throw new Error(`${paths.clusterJson} has a "netns" record this pad-cli does not understand`)
    state.options.netns = netns
  }
  // Written before add and remove existed: every node a founding voter.
  for (const node of state.nodes) {
    if (node.membership !== 'voter' && node.membership !== 'learner' && node.membership !== 'removed') node.membership = 'voter'
    if (typeof node.joined !== 'boolean') node.joined = false
  }
  // Node i is nodes[i] everywhere (indexes are allocated in order and never reused).
  if (!state.nodes.every((n, i) => n.index === i)) throw new Error(`${paths.clusterJson} lists its nodes out of order`)
  return state
}

export function writeState(paths: ClusterPaths, state: ClusterState): void {
  state.updated_at = new Date().toISOString()
  const temp = `${paths.clusterJson}.${process.pid}.tmp`
  fs.writeFileSync(temp, JSON.stringify(state, null, 2) + '\n', {mode: 0o600})
  fs.renameSync(temp, paths.clusterJson)
}

/** Creates the cluster folder (0700). */
export function ensureClusterDir(paths: ClusterPaths): void {
  fs.mkdirSync(paths.dir, {recursive: true, mode: 0o700})
  // A folder made before (or by hand) holds the token and the nodes' data: close it too.
  fs.chmodSync(paths.dir, 0o700)
}

/** Writes a fresh random admin token readable only by its owner, and returns it. */
export function writeToken(paths: ClusterPaths): string {
  const token = crypto.randomBytes(24).toString('base64url')
  fs.rmSync(paths.token, {force: true})
  fs.writeFileSync(paths.token, token + '\n', {mode: 0o600, flag: 'wx'})
  fs.chmodSync(paths.token, 0o600)
  return token
}

export function readToken(paths: ClusterPaths): string {
  return fs.readFileSync(paths.token, 'utf8').trim()
}
