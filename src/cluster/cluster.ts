/**
 * What the commands call: bring a cluster up, reach its supervisor, pick a node to talk to,
 * bring it down. Everything here works through the cluster folder, the supervisor's socket
 * and the nodes' ports.
 */
import fs from 'node:fs'
import {ClusterError, badArgument} from './errors.js'
import {EventLog} from './events.js'
import {clusterPaths, DEFAULT_CLUSTER, type ClusterPaths} from './layout.js'
import type {ControlAnswers, ControlOp, RequestOf} from '../api/control.js'
import {DEFAULT_WEB_PORT} from '../api/console.js'
import {controlRequest, isListening} from './control.js'
import {checkIndex, checkRetention, parseNodeRef, type NodeRef} from './node-args.js'
import {checkPortsFree, nodePortsTaken, plannedPorts} from './ports.js'
import {claimSubnet, netnsUnavailable, networkOf, removeNetwork, requireNetns} from './netns.js'
import {netnsId, type NetnsRecord} from './netns-plan.js'
import {commandLine, detachedWithLog, isAlive, isOurProcess, terminate, waitForExit} from './process-util.js'
import {
  DEFAULT_OPTIONS,
  ensureClusterDir,
  memberRecords,
  membershipChanged,
  nodeRecords,
  readState,
  writeState,
  writeToken,
  type ClusterOptions,
  type ClusterState,
  type NodeRecord,
} from './state.js'
import type {ClusterStatus, NodeStatus} from './status.js'
import {currentCli, type CliEntry} from './cli-entry.js'
import {readLines} from './tail.js'
import type {RestartPolicy} from './restart-policy.js'
import {poll} from '../util/time.js'
import {checkCompaction, settleLazyFs} from './node-args.js'
import {clearStaleMount, lazyFsSupport} from './lazy-fs.js'

/** The suggestion that ends every "not up" message. */
export function upCommand(name: string): string {
  return name === DEFAULT_CLUSTER ? 'pad-cli up' : `pad-cli up --cluster ${name}`
}

/**
 * How long a request that acts on nodes and waits for the outcome (start, stop, kill, restart,
 * a leadership transfer) may take: a node's start, stop grace and an election fit well inside.
 */
export const ACTION_TIMEOUT_MS = 45_000

/**
 * How long add, remove and replace may take: the supervisor bounds each step itself (a
 * learner's catch-up by a timeout that grows with the log, at most 30 minutes); this only
 * keeps a client from waiting forever on a supervisor that hangs.
 */
export const MEMBERSHIP_TIMEOUT_MS = 32 * 60_000

export function notUpError(name: string): ClusterError {
  return new ClusterError('NOT_UP', `cluster "${name}" is not up: start it with \`${upCommand(name)}\``)
}

export type SupervisorLiveness = 'up' | 'unresponsive' | 'dead'

/** Is the cluster's supervisor running and answering? Checks the pid is still ours. */
export async function supervisorLiveness(paths: ClusterPaths, state: ClusterState | null): Promise<SupervisorLiveness> {
  const record = state?.supervisor
  if (!record || !isAlive(record.pid)) return 'dead'
  const line = commandLine(record.pid)
  const marker = record.foreground ? ' up' : paths.dir
  if (line !== null && !line.includes(marker)) return 'dead'
  return (await isListening(record.socket)) ? 'up' : 'unresponsive'
}

/** A cluster whose supervisor answers. */
export class ClusterHandle {
  private constructor(
    readonly paths: ClusterPaths,
    readonly state: ClusterState,
  ) {}

  /** Opens the cluster named `name`; throws NOT_UP (suggesting `pad-cli up`) if it is not up. */
  static async open(name: string = DEFAULT_CLUSTER): Promise<ClusterHandle> {
    const paths = clusterPaths(name)
    const state = readState(paths)
    if (!state || (await supervisorLiveness(paths, state)) !== 'up') throw notUpError(name)
    return new ClusterHandle(paths, state)
  }

  get name(): string {
    return this.paths.name
  }

  get size(): number {
    return this.state.nodes.length
  }

  async request<K extends ControlOp>(request: RequestOf<K>, timeoutMs = 15_000): Promise<ControlAnswers[K]> {
    try {
      return await controlRequest(this.state.supervisor!.socket, request, timeoutMs)
    } catch (error) {
      if (error instanceof ClusterError && error.code === 'NOT_UP') throw notUpError(this.name)
      throw error
    }
  }

  status(): Promise<ClusterStatus> {
    return this.request({op: 'status'}, 10_000)
  }

  /** Checks an index against this cluster's size ("leader" passes). */
  check(ref: NodeRef): NodeRef {
    if (ref !== 'leader') checkIndex(ref, this.size)
    return ref
  }

  /**
   * The node a client command should talk to: the one named (an index, or `leader`), else
   * the leader, else the first node that runs. Throws if that node is not running.
   */
  async target(ref?: NodeRef): Promise<NodeStatus> {
    if (ref !== undefined) this.check(ref)
    const status = await this.status()
    if (ref === 'leader') {
      if (status.leader === null) throw new ClusterError('NO_LEADER', `cluster "${this.name}" has no leader right now: see pad-cli status`)
      return status.nodes[status.leader]
    }
    if (ref !== undefined) {
      const node = status.nodes[ref]
      if (node.membership === 'removed') throw new ClusterError('NODE_STATE', `node ${ref} was removed from the cluster (pad-cli remove): name a member, see pad-cli status`)
      if (node.process !== 'running') throw new ClusterError('NODE_STATE', `node ${ref} is not running (${node.process}): start it with pad-cli start ${ref}`)
      return node
    }
    if (status.leader !== null) return status.nodes[status.leader]
    const running = status.nodes.find((n) => n.process === 'running')
    if (!running) throw new ClusterError('NODE_STATE', `no node of cluster "${this.name}" is running: see pad-cli status`)
    return running
  }
}

/**
 * For commands that also work without a cluster (publish, subscribe): the cluster if it is
 * up; null if it is not and the user did not name one.
 */
export async function openIfUp(name: string | undefined): Promise<ClusterHandle | null> {
  try {
    return await ClusterHandle.open(name ?? DEFAULT_CLUSTER)
  } catch (error) {
    if (name === undefined && error instanceof ClusterError && error.code === 'NOT_UP') return null
    throw error
  }
}

/** The cluster's folder and state without needing it to be up (for logs and events). */
export function openFolder(name: string = DEFAULT_CLUSTER): {paths: ClusterPaths; state: ClusterState} {
  const paths = clusterPaths(name)
  const state = readState(paths)
  if (!state) throw new ClusterError('NOT_UP', `there is no cluster "${name}" (nothing in ${paths.dir}): start one with \`${upCommand(name)}\``)
  return {paths, state}
}

// -----------------------------------------------------------------------------------------
// up

export interface UpRequest {
  cluster: string
  nodes?: number
  host?: string
  tcpPort?: number
  httpPort?: number
  raftPort?: number
  electionTimeoutMs?: number
  heartbeatMs?: number
  restart?: RestartPolicy
  /** `--retention` values for every node (util/retention-spec.ts); absent: what the cluster had. */
  retention?: string[]
  snapshotEntries?: number
  trailingEntries?: number
  /** `--lazy-fs` (true), `--no-lazy-fs` (false); absent: what the cluster had. */
  lazyFs?: boolean
  /** `--unsafe-no-fsync`: for this up only. */
  unsafeNoFsync?: boolean
  /** Each node in its own network namespace (root only); absent: what the cluster had. */
  netns?: boolean
  /** `--web-port` (0: any free port), null for `--no-web`; absent: what the cluster had, else DEFAULT_WEB_PORT. */
  webPort?: number | null
}

export class AlreadyUpError extends ClusterError {
  constructor(
    message: string,
    readonly status: ClusterStatus | null,
  ) {
    super('ALREADY_UP', message)
  }
}

export interface Prepared {
  paths: ClusterPaths
  state: ClusterState
  /** Leftover node pids of a dead supervisor that were stopped. */
  recovered: number[]
  releaseLock: () => void
}

/**
 * Everything `up` does before the supervisor starts: refuses if the cluster is up, cleans
 * up after a dead supervisor, settles the options, checks the ports, writes the token and
 * cluster.json. The caller must call `releaseLock` when the cluster is started (or not).
 */
export async function prepareUp(request: UpRequest): Promise<Prepared> {
  const paths = clusterPaths(request.cluster)
  ensureClusterDir(paths)
  const releaseLock = takeUpLock(paths)
  let claimed: NetnsRecord | null = null
  try {
    const saved = readState(paths)
    const liveness = await supervisorLiveness(paths, saved)
    if (liveness === 'up') {
      const status = await controlRequest(saved!.supervisor!.socket, {op: 'status'}, 10_000).catch(() => null)
      throw new AlreadyUpError(`cluster "${paths.name}" is already up (supervisor pid ${saved!.supervisor!.pid}); stop it first with \`pad-cli down${paths.name === DEFAULT_CLUSTER ? '' : ` --cluster ${paths.name}`}\``, status)
    }
    if (liveness === 'unresponsive') {
      throw new ClusterError('ALREADY_UP', `cluster "${paths.name}" has a supervisor (pid ${saved!.supervisor!.pid}) that does not answer: stop it with \`pad-cli down${paths.name === DEFAULT_CLUSTER ? '' : ` --cluster ${paths.name}`}\``)
    }
    const deadSupervisor = saved?.supervisor?.pid ?? null
    const recovered = saved ? await stopLeftovers(paths, saved) : []
    if (deadSupervisor !== null) new EventLog(paths.events).record('recovered', {supervisor_pid: deadSupervisor, killed: recovered})
    // A supervisor that died may have left its lazy layers mounted, or dead and still in the way.
    if (saved) await clearStaleMounts(saved.nodes)
    const options = settleOptions(paths, request, saved)
    if (options.lazy_fs === true) {
      const support = lazyFsSupport()
      if (!support.ok) throw new ClusterError('UNSUPPORTED', `--lazy-fs cannot run here: ${support.reason}`)
    }
    plannedPorts(options)
    const hadNetns = saved?.options.netns ?? null
    const netns: boolean = request.netns ?? hadNetns !== null
    if (netns) {
      options.netns = claimed = settleNetwork(paths, request, saved)
    } else {
      // Started with --netns before: what a dead supervisor left of that network goes.
      if (hadNetns && netnsUnavailable() === null) removeNetwork(hadNetns.id)
      await checkPortsFree(options)
    }
    // A cluster that add or remove changed starts again as it was: its members are in its log.
    const kept = saved !== null && membershipChanged(saved) && hasData(paths, saved) ? keptNodes(saved, options) : null
    if (kept && !options.netns) await checkJoinedPortsFree(kept)
    writeToken(paths)
    const now = new Date().toISOString()
    const state: ClusterState = {
      version: 1,
      name: paths.name,
      created_at: saved?.created_at ?? now,
      updated_at: now,
      options,
      supervisor: null,
      nodes: kept ?? nodeRecords(paths, options),
    }
    writeState(paths, state)
    return {paths, state, recovered, releaseLock}
  } catch (error) {
    if (claimed) removeNetworkQuietly(claimed.id)
    releaseLock()
    throw error
  }
}

/**
 * The network of a cluster in namespaces: what a dead supervisor left of it is removed, and a
 * /24 claimed (the one it had, if free). Fresh namespaces have nothing listening: no port check.
 */
function settleNetwork(paths: ClusterPaths, request: UpRequest, saved: ClusterState | null): NetnsRecord {
  requireNetns()
  if (request.host !== undefined) throw badArgument('--host does not go with --netns: each node gets its own address on the cluster\'s bridge')
  const id = netnsId(paths.dir)
  if (saved?.options.netns) removeNetwork(saved.options.netns.id)
  removeNetwork(id)
  const record = claimSubnet(id, saved?.options.netns?.octet ?? null)
  const had = saved?.options.netns
  if (had && had.octet !== record.octet && membershipChanged(saved) && hasData(paths, saved)) {
    removeNetwork(id)
    throw new ClusterError('NETNS', `cluster "${saved.name}" was changed with add or remove, so its members' addresses (${had.subnet}) are in its log, and that /24 is taken now: free it, or delete the cluster with \`pad-cli down --purge\``)
  }
  return record
}

function listNetwork(name: string, id: string): string[] {
  try {
    const {namespaces, links} = networkOf(id)
    return [...namespaces, ...links]
  } catch (error) {
    throw new ClusterError('NETNS', `could not list the network namespaces of cluster "${name}": ${(error as Error).message}`)
  }
}

function removeNetworkQuietly(id: string): void {
  try {
    removeNetwork(id)
  } catch {
    // The error that brought us here is the one to report; `down` removes what is left.
  }
}

function settleOptions(paths: ClusterPaths, request: UpRequest, saved: ClusterState | null): ClusterOptions {
  const base = saved?.options ?? DEFAULT_OPTIONS
  const options: ClusterOptions = {
    nodes: request.nodes ?? base.nodes,
    host: request.host ?? base.host,
    tcp_port: request.tcpPort ?? base.tcp_port,
    http_port: request.httpPort ?? base.http_port,
    raft_port: request.raftPort ?? base.raft_port,
    election_timeout_ms: request.electionTimeoutMs ?? base.election_timeout_ms,
    heartbeat_ms: request.heartbeatMs ?? base.heartbeat_ms,
    restart: request.restart ?? base.restart,
    retention: checkRetention(request.retention ?? base.retention),
  }
  const {snapshotEntries, trailingEntries} = checkCompaction({
    snapshotEntries: request.snapshotEntries ?? base.snapshot_entries,
    trailingEntries: request.trailingEntries ?? base.trailing_entries,
  })
  if (snapshotEntries !== undefined) options.snapshot_entries = snapshotEntries
  if (trailingEntries !== undefined) options.trailing_entries = trailingEntries
  if (settleLazyFs(request.lazyFs, base.lazy_fs === true, saved !== null && hasData(paths, saved), paths.name)) options.lazy_fs = true
  if (request.unsafeNoFsync === true) options.unsafe_no_fsync = true
  options.web_port = request.webPort !== undefined ? request.webPort : base.web_port !== undefined ? base.web_port : DEFAULT_WEB_PORT
  if (options.web_port !== null && (!Number.isInteger(options.web_port) || options.web_port < 0 || options.web_port > 65535)) throw badArgument(`--web-port must be from 0 to 65535 (got ${options.web_port})`)
  if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > 15) throw badArgument(`--nodes must be from 1 to 15 (got ${options.nodes})`)
  if (options.heartbeat_ms >= options.election_timeout_ms) {
    throw badArgument(`--heartbeat (${options.heartbeat_ms} ms) must be shorter than --election-timeout (${options.election_timeout_ms} ms)`)
  }
  if (options.heartbeat_ms < 10) throw badArgument('--heartbeat must be at least 10ms')
  if (saved && options.nodes !== saved.options.nodes && hasData(paths, saved)) {
    if (membershipChanged(saved)) {
      const members = memberRecords(saved).length
      throw badArgument(`cluster "${paths.name}" has ${members} member${members === 1 ? '' : 's'} (changed with add and remove): start it without --nodes, or delete it first with \`pad-cli down --purge${paths.name === DEFAULT_CLUSTER ? '' : ` --cluster ${paths.name}`}\``)
    }
    throw badArgument(
      `cluster "${paths.name}" has the data of ${saved.options.nodes} nodes: start it with --nodes ${saved.options.nodes}, or delete it first with \`pad-cli down --purge${paths.name === DEFAULT_CLUSTER ? '' : ` --cluster ${paths.name}`}\``,
    )
  }
  return options
}

/** The nodes of a cluster whose membership changed, as they were, not running. */
function keptNodes(saved: ClusterState, options: ClusterOptions): NodeRecord[] {
  const o = saved.options
  if (Boolean(options.netns) !== Boolean(o.netns)) {
    throw badArgument(`cluster "${saved.name}" was changed with add or remove: its members' addresses are in its log, so it starts ${o.netns ? 'with' : 'without'} --netns as before`)
  }
  if ((!options.netns && options.host !== o.host) || options.tcp_port !== o.tcp_port || options.http_port !== o.http_port || options.raft_port !== o.raft_port) {
    throw badArgument(`cluster "${saved.name}" was changed with add or remove: its members' addresses are in its log, so its host and ports stay (${o.host}, ${o.tcp_port}, ${o.http_port}, ${o.raft_port}); start it without --host and the port flags`)
  }
  return saved.nodes.map((n) => ({
    ...n,
    pid: null,
    process: n.process === 'exited' || n.process === 'crashed' ? n.process : 'stopped',
    ...(n.lazy_fs ? {lazy_fs: {...n.lazy_fs, pid: null}} : {}),
  }))
}

/** The ports of the members `add` started (the founding nodes' were checked with the cluster's bases). */
async function checkJoinedPortsFree(nodes: NodeRecord[]): Promise<void> {
  const taken: string[] = []
  for (const node of nodes.filter((n) => n.joined && n.membership !== 'removed')) {
    for (const {port, kind} of await nodePortsTaken(node)) taken.push(`${port} (${kind} of node ${node.index})`)
  }
  if (taken.length > 0) throw new ClusterError('PORT_IN_USE', `port${taken.length > 1 ? 's' : ''} ${taken.join(', ')} ${taken.length > 1 ? 'are' : 'is'} in use: free ${taken.length > 1 ? 'them' : 'it'} first`)
}

function hasData(paths: ClusterPaths, state: ClusterState): boolean {
  return state.nodes.some((n) => fs.existsSync(`${paths.nodeDir(n.index)}/node.db`) || fs.existsSync(`${paths.nodeDisk(n.index)}/node.db`))
}

/** Unmounts what lazy layers that are gone left on the nodes' data dirs (nothing when none is mounted). */
async function clearStaleMounts(nodes: NodeRecord[]): Promise<void> {
  for (const node of nodes) {
    if (node.lazy_fs === undefined) continue
    try {
      await clearStaleMount(node.data_dir)
    } catch (error) {
      throw new ClusterError('SUPERVISOR', `cannot unmount the lazy layer left on ${node.data_dir}: ${(error as Error).message}`)
    }
    node.lazy_fs.pid = null
  }
}

/** Only one `up` at a time per cluster: a lock file holding the pid of the `up` that owns it. */
function takeUpLock(paths: ClusterPaths): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(paths.upLock, String(process.pid), {flag: 'wx', mode: 0o600})
      return () => {
        try {
          if (fs.readFileSync(paths.upLock, 'utf8') === String(process.pid)) fs.rmSync(paths.upLock, {force: true})
        } catch {
          // Gone already.
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const owner = Number(fs.readFileSync(paths.upLock, 'utf8'))
      if (owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new ClusterError('ALREADY_UP', `another \`pad-cli up\` (pid ${owner}) is starting cluster "${paths.name}"`)
      }
      fs.rmSync(paths.upLock, {force: true})
    }
  }
  throw new ClusterError('SUPERVISOR', `cannot take ${paths.upLock}`)
}

/** Stops the node processes a dead supervisor left behind (only those that are still ours). */
async function stopLeftovers(paths: ClusterPaths, state: ClusterState): Promise<number[]> {
  const pids = state.nodes
    .filter((n) => n.pid !== null && isOurProcess(n.pid, [n.data_dir]))
    .map((n) => n.pid as number)
  await Promise.all(pids.map((pid) => terminate(pid, 5000)))
  if (state.supervisor) {
    state.supervisor = null
    for (const node of state.nodes) {
      node.pid = null
      if (node.process !== 'exited' && node.process !== 'crashed') node.process = 'stopped'
    }
    writeState(paths, state)
  }
  return pids
}

/** Starts the supervisor in the background (detached, output to supervisor.log); returns its pid. */
export async function launchSupervisor(paths: ClusterPaths, cli: CliEntry = currentCli()): Promise<number> {
  // Loaded here: the commands that only talk to a running cluster need not pay for it.
  const {execa} = await import('execa')
  const logFd = fs.openSync(paths.supervisorLog, 'a', 0o600)
  try {
    const subprocess = execa(cli.command, [...cli.args, 'supervisor', '--cluster', paths.name, '--dir', paths.dir], {...detachedWithLog(logFd), env: {PAD_HOME: paths.home}})
    subprocess.catch(() => {})
    subprocess.unref()
    if (subprocess.pid === undefined) throw new ClusterError('SUPERVISOR', `could not start the supervisor (${cli.command})`)
    return subprocess.pid
  } finally {
    fs.closeSync(logFd)
  }
}

/**
 * Waits (bounded) until the supervisor answers, every node serves and a leader is elected.
 * `status` asks the supervisor; `supervisorPid` is watched so a crash is reported at once.
 * (Not client/raft-state's waitForLeader: this one asks the supervisor, and also wants every
 * node up.)
 */
export async function waitUntilReady(
  paths: ClusterPaths,
  status: () => Promise<ClusterStatus>,
  options: {waitMs: number; supervisorPid: number; pollMs?: number},
): Promise<ClusterStatus> {
  let last: ClusterStatus | null = null
  const ready = await poll(
    async () => {
      if (!isAlive(options.supervisorPid)) {
        throw new ClusterError('SUPERVISOR', `the supervisor (pid ${options.supervisorPid}) stopped while starting the cluster: ${lastLines(paths.supervisorLog, 3)}`)
      }
      try {
        last = await status()
      } catch (error) {
        if (error instanceof ClusterError && error.code === 'SUPERVISOR' && !/did not answer|closed the connection/.test(error.message)) throw error
        // The socket is not there yet.
        return undefined
      }
      const members = last.nodes.filter((n) => n.membership !== 'removed')
      const failed = members.find((n) => n.process === 'exited' || n.process === 'crashed' || n.process === 'stopped')
      if (failed) {
        const how = failed.exit_signal ?? `code ${failed.exit_code ?? '?'}`
        throw new ClusterError('SUPERVISOR', `node ${failed.index} exited while starting (${how}): ${lastLines(failed.log_file, 2) || 'no output'}`)
      }
      return last.leader !== null && members.every((n) => n.process === 'running') ? last : undefined
    },
    {timeoutMs: options.waitMs, intervalMs: options.pollMs ?? 150},
  )
  if (ready) return ready
  const seen = last as ClusterStatus | null
  const running = seen ? seen.nodes.filter((n) => n.process === 'running').length : 0
  const members = seen ? seen.nodes.filter((n) => n.membership !== 'removed').length : '?'
  throw new ClusterError(
    'NO_LEADER',
    `no leader was elected within ${Math.round(options.waitMs / 1000)} s (${running} of ${members} nodes serving); the cluster stays up: see \`pad-cli status\` and \`pad-cli logs\`, or stop it with \`pad-cli down\``,
  )
}

/** The last `count` non-empty lines of a file, joined with " | " (for one-line errors). */
export function lastLines(file: string, count: number): string {
  return readLines(file)
    .filter((l) => l.trim() !== '')
    .slice(-count)
    .join(' | ')
}

// -----------------------------------------------------------------------------------------
// down

export interface DownResult {
  cluster: string
  /** False if nothing of the cluster was running. */
  was_up: boolean
  /** Node pids that were running and are gone now. */
  stopped: number[]
  /** Pids that did not stop gracefully within the bound and were killed. */
  forced: number[]
  supervisor_pid: number | null
  purged: boolean
  /** A cluster in network namespaces: the namespaces and links removed (its bridge, veths left outside a namespace). */
  network: string[]
}

/**
 * Stops the supervisor and every node (gracefully; SIGKILL after a bound), also when the
 * supervisor is dead or hung; with `purge`, deletes the cluster folder. Afterwards no
 * process of the cluster remains (checked by pid).
 */
export async function downCluster(name: string, purge: boolean): Promise<DownResult> {
  const paths = clusterPaths(name)
  const state = readState(paths)
  const result: DownResult = {cluster: name, was_up: false, stopped: [], forced: [], supervisor_pid: null, purged: false, network: []}
  if (state) {
    // Listed first: a supervisor that answers removes its network itself, and `down` says what went.
    const network = state.options.netns ? listNetwork(name, state.options.netns.id) : []
    const nodePids = state.nodes.filter((n) => n.pid !== null && isOurProcess(n.pid, [n.data_dir])).map((n) => ({pid: n.pid as number, dir: n.data_dir}))
    const liveness = await supervisorLiveness(paths, state)
    const supervisorPid = state.supervisor?.pid ?? null
    if (liveness !== 'dead') {
      result.was_up = true
      result.supervisor_pid = supervisorPid
    }
    if (liveness === 'up') {
      try {
        await controlRequest(state.supervisor!.socket, {op: 'down'}, 30_000)
      } catch {
        // It failed or did not answer in time: the checks below finish the job.
      }
    }
    if (supervisorPid !== null && liveness !== 'dead' && !(await waitForExit(supervisorPid, 5000))) {
      result.forced.push(supervisorPid)
      await terminate(supervisorPid, 2000)
    }
    for (const {pid, dir} of nodePids) {
      result.was_up = true
      if (isOurProcess(pid, [dir])) {
        result.forced.push(pid)
        await terminate(pid, 5000)
      }
      result.stopped.push(pid)
    }
    // The supervisor unmounts its lazy layers; if it was dead or killed, they may be left.
    await clearStaleMounts(state.nodes)
    // The supervisor clears its own record; if it was dead or killed, do it here.
    const after = readState(paths)
    if (after && (after.supervisor !== null || after.nodes.some((n) => n.pid !== null))) {
      after.supervisor = null
      for (const node of after.nodes) {
        if (node.pid !== null) node.process = 'stopped'
        node.pid = null
        if (node.lazy_fs) node.lazy_fs.pid = null
      }
      writeState(paths, after)
    }
    const left = [...nodePids.map((n) => n.pid), ...(supervisorPid !== null && liveness !== 'dead' ? [supervisorPid] : [])].filter((pid) => isAlive(pid))
    if (left.length > 0) throw new ClusterError('SUPERVISOR', `processes ${left.join(', ')} of cluster "${name}" did not stop`)
    // The supervisor removes its network when it stops; this is for one that died.
    if (state.options.netns) {
      try {
        result.network = [...new Set([...network, ...removeNetwork(state.options.netns.id)])]
      } catch (error) {
        throw new ClusterError('NETNS', `could not remove the network namespaces of cluster "${name}" (${(error as Error).message}): run pad-cli down as root`)
      }
    }
  }
  if (purge && fs.existsSync(paths.dir)) {
    fs.rmSync(paths.dir, {recursive: true, force: true})
    fs.rmSync(paths.socket, {force: true})
    result.purged = true
  }
  return result
}

/**
 * Where `publish` and `subscribe` connect when given no address: a node of the cluster
 * (`node`: an index or "leader"; default the leader, else any running node). Null when no
 * cluster was named and the default one is not up: the caller keeps its old default.
 */
export async function clusterTarget(cluster: string | undefined, node: string | undefined): Promise<NodeStatus | null> {
  const ref = node === undefined ? undefined : parseNodeRef(node)
  const handle = await openIfUp(cluster ?? (ref !== undefined ? DEFAULT_CLUSTER : undefined))
  if (!handle) return null
  return handle.target(ref)
}

/**
 * The address a client command uses: --host/--port when given; else a node of the cluster
 * (--cluster/--node, or the default cluster when it is up); else the old defaults.
 */
export async function clientAddress(options: {
  host: string
  port: number
  /** True when --host or --port was on the command line. */
  explicit: boolean
  cluster?: string
  node?: string
}): Promise<{host: string; port: number}> {
  if (options.explicit) {
    if (options.cluster !== undefined || options.node !== undefined) throw badArgument('give either --host/--port or --cluster/--node, not both')
    return {host: options.host, port: options.port}
  }
  const node = await clusterTarget(options.cluster, options.node)
  return node ? {host: node.host, port: node.tcp_port} : {host: options.host, port: options.port}
}

/** True if one of `names` was given as a flag (oclif's parse result `raw`). */
export function flagGiven(raw: {type: string; flag?: string}[], names: string[]): boolean {
  return raw.some((token) => token.type === 'flag' && token.flag !== undefined && names.includes(token.flag))
}
