/**
 * A cluster driven through its supervisor's control API, for the programs that hurt and
 * measure clusters (chaos, bench): every fault is also in the cluster's event timeline and in
 * `pad-cli status`, exactly as if a user had typed `pad-cli kill 1` or `pad-cli partition 0`.
 *
 * - `startTemporaryCluster`: a cluster of its own in a temp PAD_HOME, whose supervisor runs in
 *   this process (as `pad-cli up --foreground` does). Its nodes get `--supervisor-pid` of this
 *   process, so they stop by themselves if the runner dies, even by SIGKILL.
 * - `openCluster`: a cluster the user brought up with `pad-cli up` (`--cluster <name>`); the
 *   runner leaves it running, healed, when it is done.
 */
import type {ControlAnswers, ControlOp, CorruptFileName, RequestOf} from '../api/control.js'
import type {CutOptions} from '../api/lazy-fs-control.js'
import fs from 'node:fs'
import {ClusterHandle, waitUntilReady} from './cluster.js'
import {controlRequest} from './control.js'
import {ClusterError} from './errors.js'
import {planPartition, type Partition, type PartitionRequest} from './faults.js'
import {clusterPaths, type ClusterPaths} from './layout.js'
import {checkPortsFree, plannedPorts} from './ports.js'
import {claimSubnet, removeNetwork, requireNetns} from './netns.js'
import {netnsId} from './netns-plan.js'
import {ensureClusterDir, memberRecords, nodeRecords, readState, writeState, writeToken, type ClusterOptions, type ClusterState} from './state.js'
import {Supervisor} from './supervisor.js'
import type {CliEntry} from './cli-entry.js'
import {lazyFsSupport} from './lazy-fs.js'

/** Where a member of the cluster listens: clients on TCP and HTTP, its peers on Raft. */
export interface ClusterMember {
  index: number
  host: string
  tcp_port: number
  http_port: number
  raft_port: number
}

type Request = <K extends ControlOp>(request: RequestOf<K>, timeoutMs?: number) => Promise<ControlAnswers[K]>

/** Requests that start a node wait for it to serve (the supervisor bounds that at 30 s). */
const START_TIMEOUT_MS = 45_000
const REQUEST_TIMEOUT_MS = 20_000
/** An add waits for the learner to start and catch up (the supervisor allows it 30 s and more for a long log). */
const MEMBER_TIMEOUT_MS = 120_000

export class SupervisedCluster {
  private members: ClusterMember[]

  constructor(
    nodes: ClusterMember[],
    readonly dir: string,
    private readonly request: Request,
    private readonly owner: {close(): Promise<void>; killNow(): void; removeNodeData(): void} | null,
  ) {
    this.members = nodes
  }

  /** The members (voters and learners) as last seen: at the start, then after each membership change or voters(). */
  get nodes(): readonly ClusterMember[] {
    return this.members
  }

  /** The voters by the leader's configuration (cluster.json's records without a leader); refreshes `nodes`. */
  async voters(): Promise<number[]> {
    const status = await this.request({op: 'status'})
    this.members = status.nodes.filter((n) => n.membership !== 'removed').map(memberOf)
    return status.membership?.voters ?? status.nodes.filter((n) => n.membership === 'voter').map((n) => n.index)
  }

  /** The supervisor's view of every node (process, role, term, indexes), as `pad-cli status` prints it. */
  async status(): Promise<ControlAnswers['status']> {
    return this.request({op: 'status'})
  }

  /** Records a line of a scenario's narration in the cluster's timeline (a `scenario` event). */
  async say(line: RequestOf<'say'>): Promise<void> {
    await this.request(line)
  }

  /** Adds the next node and waits until it is a voter. */
  async add(): Promise<ControlAnswers['add']> {
    return this.changed(this.request({op: 'add', wait: true}, MEMBER_TIMEOUT_MS))
  }

  async remove(index: number): Promise<ControlAnswers['remove']> {
    return this.changed(this.request({op: 'remove', node: index}, MEMBER_TIMEOUT_MS))
  }

  async replace(index: number): Promise<ControlAnswers['replace']> {
    return this.changed(this.request({op: 'replace', node: index}, 2 * MEMBER_TIMEOUT_MS))
  }

  /** The answer of a membership change, once `nodes` says what it did (whether it succeeded or not). */
  private async changed<T>(answer: Promise<T>): Promise<T> {
    try {
      return await answer
    } finally {
      await this.voters().catch(() => {})
    }
  }

  async corrupt(index: number, how: ({bitflip: number} | {truncate: number}) & {file: CorruptFileName}): Promise<ControlAnswers['corrupt']> {
    return this.request({op: 'corrupt', node: index, ...how})
  }

  async repair(index: number): Promise<ControlAnswers['repair']> {
    return this.changed(this.request({op: 'repair', node: index}, 2 * MEMBER_TIMEOUT_MS))
  }

  async kill(index: number): Promise<void> {
    await this.request({op: 'kill', node: index})
  }

  async stop(index: number): Promise<void> {
    await this.request({op: 'stop', node: index})
  }

  async start(index: number): Promise<void> {
    await this.request({op: 'start', node: index}, START_TIMEOUT_MS)
  }

  /** Stops the node (SIGTERM) and starts it again; resolves once it serves. */
  async restart(index: number): Promise<void> {
    await this.request({op: 'restart', node: index}, START_TIMEOUT_MS)
  }

  /** Hands leadership to node `to` (Raft's leadership transfer); resolves once it leads. */
  async transfer(to: number): Promise<ControlAnswers['transfer']> {
    return this.request({op: 'transfer', to}, START_TIMEOUT_MS)
  }

  /**
   * A power cut of these members at once (the cluster runs on the lazy layer): all SIGKILLed,
   * then what each had not fsynced is dropped, then they start again; resolves once they serve.
   */
  async powerCut(indexes: number[], options?: CutOptions): Promise<void> {
    const tear = options?.torn ? {torn: true, seed: options.seed ?? 0} : {}
    await this.request({op: 'power-cut', nodes: indexes, ...tear}, START_TIMEOUT_MS)
  }

  async pause(index: number): Promise<void> {
    await this.request({op: 'pause', node: index})
  }

  async resume(index: number): Promise<void> {
    await this.request({op: 'resume', node: index})
  }

  /**
   * Cuts the links of the partition asked for (groups, or a shape over a node order); `forMs`
   * bounds it in case we die. Resolves with the partition as planned, once the supervisor has
   * applied exactly that one to every node.
   */
  async partition(request: PartitionRequest, forMs: number): Promise<Partition> {
    const planned = planPartition(request, this.nodes.map((n) => n.index))
    const answer = await this.request({op: 'partition', ...request, for_ms: Math.max(1, Math.round(forMs))})
    const missed = await this.runningAmong(answer.pending)
    if (missed.length > 0) throw new Error(`partition ${describeCuts(planned.cuts)} did not reach node ${missed.join(', ')}`)
    if (JSON.stringify(answer.cuts) !== JSON.stringify(planned.cuts)) {
      throw new Error(`the supervisor cut ${describeCuts(answer.cuts)} instead of the planned ${describeCuts(planned.cuts)}`)
    }
    return planned
  }

  async delay(index: number, delayMs: number, jitterMs: number, forMs: number): Promise<void> {
    await this.request({op: 'delay', node: index, ms: delayMs, jitter_ms: jitterMs, for_ms: Math.max(1, Math.round(forMs))})
  }

  async loss(index: number, share: number, forMs: number): Promise<void> {
    await this.request({op: 'loss', node: index, percent: Math.round(share * 100), for_ms: Math.max(1, Math.round(forMs))})
  }

  async heal(): Promise<void> {
    await this.healThenStatus(false)
  }

  /**
   * Heals, and throws when a running node was not reached. With `status`, resolves with the
   * cluster's status after the heal: the one answer tells both who missed it and how nodes are.
   */
  private async healThenStatus(status: true): Promise<ControlAnswers['status']>
  private async healThenStatus(status: false): Promise<void>
  private async healThenStatus(status: boolean): Promise<ControlAnswers['status'] | void> {
    const answer = await this.request({op: 'heal'})
    const after = status || answer.pending.length > 0 ? await this.request({op: 'status'}) : undefined
    const missed = await this.runningAmong(answer.pending, after)
    if (missed.length > 0) throw new Error(`heal did not reach node ${missed.join(', ')}`)
    return after
  }

  /**
   * The nodes of `pending` (nodes a network change did not reach) that run: those missed it.
   * A node that is down or paused gets the faults as they are then when it is back (the
   * supervisor pushes them on start and resume), so, with faults that overlap, it is no error.
   * `known`: a status taken after the change, else one is asked for.
   */
  private async runningAmong(pending: number[], known?: ControlAnswers['status']): Promise<number[]> {
    if (pending.length === 0) return []
    const status = known ?? (await this.request({op: 'status'}))
    // A node that found its data corrupt serves no admin API and takes no faults: not a miss.
    const running = new Set(status.nodes.filter((n) => n.process === 'running' && !n.corrupt).map((n) => n.index))
    return pending.filter((n) => running.has(n))
  }

  /**
   * Every node running again and the network healed; a node that found its data corrupt (after a
   * power cut of a node that did not fsync, say) is repaired as an operator would: a new member
   * takes its place, so the check compares nodes that serve.
   */
  async restoreAll(): Promise<void> {
    const status = await this.request({op: 'status'})
    for (const node of status.nodes) {
      if (node.membership === 'removed') continue
      if (node.process === 'paused') await this.resume(node.index)
      else if (node.process === 'stopped' || node.process === 'exited' || node.process === 'crashed') await this.start(node.index)
    }
    const after = await this.healThenStatus(true)
    for (const node of after.nodes) if (node.membership !== 'removed' && node.corrupt) await this.repair(node.index)
  }

  async close(): Promise<void> {
    await this.owner?.close()
  }

  killNow(): void {
    this.owner?.killNow()
  }

  /** For a temporary cluster: removes the nodes' data and logs (the folder keeps the rest). */
  removeNodeData(): void {
    this.owner?.removeNodeData()
  }
}

function describeCuts(cuts: [number, number][]): string {
  return cuts.map(([a, b]) => `${a}-${b}`).join(' ') || 'no link'
}

/** The members (a node `remove` took out is no one's to fault or measure). */
function nodesOf(state: Pick<ClusterState, 'nodes'>): ClusterMember[] {
  return memberRecords(state).map(memberOf)
}

function memberOf(n: ClusterMember): ClusterMember {
  return {index: n.index, host: n.host, tcp_port: n.tcp_port, http_port: n.http_port, raft_port: n.raft_port}
}

/** Where a temporary cluster's nodes listen (node i on each base port + i), and their Raft timing. */
export interface ClusterLayout {
  host: string
  tcpPort: number
  httpPort: number
  raftPort: number
  electionTimeoutMs: number
  heartbeatMs: number
}

export interface TemporaryClusterOptions extends ClusterLayout {
  /** The PAD_HOME of the temporary cluster (a temp dir). */
  home: string
  name: string
  nodes: number
  cli?: CliEntry
  /** How long to wait for every node to serve and a leader to be elected. */
  waitMs: number
  /** The nodes' --snapshot-entries and --trailing-entries (chaos runs them low to exercise snapshots). */
  snapshotEntries?: number
  trailingEntries?: number
  /** Every node's data dir on the lazy layer, for power cuts (needs root and FUSE: lazyFsSupport()). */
  lazyFs?: boolean
  /** The nodes run with --unsafe-no-fsync (test only). */
  unsafeNoFsync?: boolean
  /** Each node in its own network namespace (root only; `host` is then unused): see `up --netns`. */
  netns?: boolean
  /** The web console's port (default 0: any free one); null: none. */
  webPort?: number | null
}

/** Starts a cluster with its supervisor in this process; resolves once it has a leader. */
export async function startTemporaryCluster(options: TemporaryClusterOptions): Promise<SupervisedCluster> {
  const paths: ClusterPaths = clusterPaths(options.name, options.home)
  const clusterOptions: ClusterOptions = {
    nodes: options.nodes,
    host: options.host,
    tcp_port: options.tcpPort,
    http_port: options.httpPort,
    raft_port: options.raftPort,
    election_timeout_ms: options.electionTimeoutMs,
    heartbeat_ms: options.heartbeatMs,
    // Chaos injects crashes on purpose; a restart behind its back would undo them.
    restart: 'no',
    retention: [],
    // A console on any free port (recorded in the cluster.json of the run), never a fixed one that two runs would share.
    web_port: options.webPort === undefined ? 0 : options.webPort,
  }
  if (options.snapshotEntries !== undefined) clusterOptions.snapshot_entries = options.snapshotEntries
  if (options.trailingEntries !== undefined) clusterOptions.trailing_entries = options.trailingEntries
  if (options.lazyFs === true) {
    const support = lazyFsSupport()
    if (!support.ok) throw new ClusterError('UNSUPPORTED', `power cuts need the lazy layer, which cannot run here: ${support.reason}`)
    clusterOptions.lazy_fs = true
  }
  if (options.unsafeNoFsync === true) clusterOptions.unsafe_no_fsync = true
  plannedPorts(clusterOptions)
  if (options.netns) {
    requireNetns()
    removeNetwork(netnsId(paths.dir))
    clusterOptions.netns = claimSubnet(netnsId(paths.dir), null)
  } else {
    await checkPortsFree(clusterOptions)
  }
  ensureClusterDir(paths)
  writeToken(paths)
  const now = new Date().toISOString()
  const state: ClusterState = {
    version: 1,
    name: paths.name,
    created_at: now,
    updated_at: now,
    options: clusterOptions,
    supervisor: null,
    nodes: nodeRecords(paths, clusterOptions),
  }
  writeState(paths, state)
  const supervisor = new Supervisor(paths, {foreground: true, cli: options.cli})
  try {
    await supervisor.start()
  } catch (error) {
    await supervisor.shutdown()
    throw error
  }
  try {
    await waitUntilReady(paths, () => supervisor.status(), {waitMs: options.waitMs, supervisorPid: process.pid})
  } catch (error) {
    await supervisor.shutdown()
    throw error
  }
  const request: Request = (request, timeoutMs = REQUEST_TIMEOUT_MS) => controlRequest(paths.socket, request, timeoutMs)
  return new SupervisedCluster(nodesOf(state), paths.dir, request, {
    close: () => supervisor.shutdown(),
    killNow: () => supervisor.killAll(),
    removeNodeData: () => {
      // cluster.json as it is now: nodes added during the run have folders too.
      for (const node of (readState(paths) ?? state).nodes) fs.rmSync(paths.nodeDir(node.index), {recursive: true, force: true})
      fs.rmSync(paths.token, {force: true})
    },
  })
}

/**
 * A cluster the user brought up; throws the cluster manager's NOT_UP error if it is not up, and
 * UNSUPPORTED when `needsLazyFs` and it was not started with --lazy-fs.
 */
export async function openCluster(name: string, needsLazyFs = false): Promise<SupervisedCluster> {
  const handle = await ClusterHandle.open(name)
  if (needsLazyFs && handle.state.options.lazy_fs !== true) {
    throw new ClusterError('UNSUPPORTED', `cluster "${name}" was not started with --lazy-fs, so it cannot lose power: bring it up with pad-cli up --lazy-fs (root and FUSE), or run without --cluster`)
  }
  const request: Request = (request, timeoutMs = REQUEST_TIMEOUT_MS) => handle.request(request, timeoutMs)
  return new SupervisedCluster(nodesOf(handle.state), handle.paths.dir, request, null)
}
