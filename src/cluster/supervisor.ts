/**
 * The supervisor: one process per cluster that owns the node processes.
 *
 * - spawns each node with execa (detached into its own process group, output appended to
 *   node-<i>/node.log through a file descriptor, so nothing is buffered here and a node's
 *   output does not depend on the supervisor staying alive), and passes it the cluster token
 *   file and `--supervisor-pid`, so that a node whose supervisor dies stops by itself;
 * - watches every node: exit code or signal, restarts on request, SIGKILL / SIGTERM /
 *   SIGSTOP / SIGCONT on request; tells a crash (an exit nobody asked for) from a kill, keeps
 *   the end of the crashed node's log, and restarts it with back-off under `up --restart
 *   on-failure`;
 * - follows each node's /events stream (and polls /raft once a second, in case an event was
 *   missed) to record roles, elections and leader changes in the timeline (events.jsonl);
 * - turns partitions, delay and loss into per-node faults and pushes them to every node's
 *   /admin/faults, again after a node restarts or resumes, and heals them when they expire;
 * - serves the control API (control.ts) on the Unix socket in the cluster folder.
 *
 * It knows the nodes only through their pids, ports, files and HTTP API.
 */
import fs from 'node:fs'
import {execa} from 'execa'
import {ClusterError, badArgument} from './errors.js'
import {EventLog} from './events.js'
import {exitState, type StopRequest} from './exit-state.js'
import {
  dropExpired,
  emptyRules,
  groupPartition,
  hasRules,
  nextExpiry,
  nodeFaults,
  parseOrder,
  parseShape,
  putBodies,
  shapePartition,
  type FaultRules,
  type Partition,
} from './faults.js'
import {currentCli, type CliEntry} from './cli-entry.js'
import {ControlServer, type ControlRequest} from './control.js'
import type {ClusterPaths} from './layout.js'
import {followEvents} from '../client/node-events.js'
import {callJson, requestJson} from '../client/node-http-client.js'
import {getRaft, type RaftInfo} from '../client/raft-state.js'
import {checkIndex, type NodeRef} from './node-args.js'
import {isAlive, signal} from './process-util.js'
import {afterCrash, type CrashStreak} from './restart-policy.js'
import {readState, readToken, writeState, type ClusterState, type NodeRecord} from './state.js'
import {faultViews, type ClusterStatus, type FaultView, type NodeStatus} from './status.js'
import {tailLines} from './tail.js'
import {sleep} from '../util/time.js'

/**
 * Node's flags for a broker node, before the caller's own (which may override them). A node
 * allocates short-lived objects at tens of thousands of publishes a second; V8's default young
 * generation (up to 3 x 16 MB on 64-bit) stays resident after a burst. With 4 MB semi-spaces a
 * node held 150-170 MB right after storing a million messages instead of 170-210 MB, at no
 * throughput cost we could measure; 2 MB saved nothing more and cost throughput, and
 * --optimize-for-size (110-115 MB) cost a fifth of it.
 * The old generation then still grew to twice what was live (the leader: 50 MB for 22 MB live),
 * as V8 lets a small heap grow by up to 4x before a full collection. Growing by 30 % at most
 * brought every node to 117-119 MB right after a million messages (133-151 MB without), with
 * throughput within the noise (window phase, 3 alternating runs each). It only moves when a full
 * collection starts; it sets no limit a node could run into.
 */
const NODE_RUNTIME_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=30']

export {currentCli, type CliEntry} from './cli-entry.js'

export interface SupervisorOptions {
  foreground: boolean
  cli?: CliEntry
  /** How long a node may take from spawn to answering /health. */
  startTimeoutMs?: number
  /** How long a node may take to stop after SIGTERM before it gets SIGKILL. */
  stopGraceMs?: number
}

interface RaftView {
  role: string | null
  term: number | null
  leader: number | null
  commitIndex: number | null
  lastApplied: number | null
  logLength: number | null
}

interface NodeHandle {
  record: NodeRecord
  /** The execa subprocess of the current node process (compared by identity), or null. */
  subprocess: object | null
  /** Why we expect the current process to exit, if we asked it to. */
  expecting: StopRequest | null
  exited: Promise<void> | null
  /** When the current (or last) process was spawned, to tell a node that ran a while from one that crashes at once. */
  startedAt: number
  /** The end of node.log when the last process crashed; empty unless the node is `crashed`. */
  crashLog: string[]
  /** Crashes in a row, for the restart back-off. */
  streak: CrashStreak
  /** The automatic restart due after a crash (`--restart on-failure`), and when. */
  restartTimer: NodeJS.Timeout | null
  restartAt: number | null
  view: RaftView
  closeEvents: (() => void) | null
  /** The faults this node must get pushed again (it was down or did not answer). */
  faultsDirty: boolean
  /** What we last pushed successfully, to skip pushes that change nothing. */
  pushed: string | null
  /** Pushes to one node run one after the other (a DELETE and PUTs must not interleave). */
  pushing: Promise<boolean>
  /** When the node's /events stream last told us something (it is fresher than a /raft poll). */
  lastEventAt: number
}

const EMPTY_VIEW: RaftView = {role: null, term: null, leader: null, commitIndex: null, lastApplied: null, logLength: null}
const POLL_MS = 1000
const STATUS_TIMEOUT_MS = 700
/** How often a leadership transfer that lapsed is asked for again. */
const TRANSFER_ATTEMPTS = 3
const PUSH_TIMEOUT_MS = 1500
/** How much of a crashed node's log the timeline and status keep: enough for a stack trace, bounded for events.jsonl. */
const CRASH_LOG_LINES = 20
const CRASH_LOG_BYTES = 4096

export class Supervisor {
  readonly events: EventLog
  private readonly state: ClusterState
  private readonly nodes: NodeHandle[]
  private readonly token: string
  private readonly control: ControlServer
  private readonly cli: CliEntry
  private rules: FaultRules = emptyRules()
  private expiryTimer: NodeJS.Timeout | null = null
  private pollTimer: NodeJS.Timeout | null = null
  private leader: number | null = null
  private readonly electionsSeen = new Set<number>()
  private queue: Promise<unknown> = Promise.resolve()
  private closing: Promise<void> | null = null
  private readonly closedResolvers: (() => void)[] = []

  constructor(
    readonly paths: ClusterPaths,
    private readonly options: SupervisorOptions,
  ) {
    const state = readState(paths)
    if (!state) throw new ClusterError('SUPERVISOR', `no ${paths.clusterJson}: run pad-cli up`)
    this.state = state
    this.token = readToken(paths)
    this.cli = options.cli ?? currentCli()
    this.events = new EventLog(paths.events)
    this.nodes = state.nodes.map((record) => ({
      record,
      subprocess: null,
      expecting: null,
      exited: null,
      startedAt: 0,
      crashLog: [],
      streak: {crashes: 0},
      restartTimer: null,
      restartAt: null,
      view: {...EMPTY_VIEW},
      closeEvents: null,
      faultsDirty: false,
      pushed: null,
      pushing: Promise.resolve(true),
      lastEventAt: 0,
    }))
    this.control = new ControlServer(paths.socket, (request) => this.handle(request))
  }

  get size(): number {
    return this.nodes.length
  }

  /** Listens on the control socket, records itself in cluster.json, and spawns every node. */
  async start(): Promise<void> {
    await this.control.listen()
    this.state.supervisor = {pid: process.pid, started_at: new Date().toISOString(), socket: this.paths.socket, foreground: this.options.foreground}
    this.save()
    this.log('supervisor started', {pid: process.pid, nodes: this.size, foreground: this.options.foreground})
    this.events.record('up', {nodes: this.size, supervisor_pid: process.pid})
    for (const node of this.nodes) this.spawn(node)
    this.pollTimer = setInterval(() => void this.poll(), POLL_MS)
    // Waiting for health is not needed to answer requests: `up` polls status.
    for (const node of this.nodes) void this.afterSpawn(node)
  }

  /** Resolves when the supervisor has stopped (after `down` or `shutdown()`). */
  closed(): Promise<void> {
    if (this.closing === null) return new Promise((resolve) => this.closedResolvers.push(resolve))
    return this.closing
  }

  /** Stops every node (SIGTERM, then SIGKILL after the grace period) and the control API. */
  shutdown(): Promise<void> {
    this.closing ??= (async () => {
      this.log('stopping the cluster')
      if (this.pollTimer) clearInterval(this.pollTimer)
      if (this.expiryTimer) clearTimeout(this.expiryTimer)
      for (const node of this.nodes) this.cancelRestart(node)
      // Let a request in progress (a restart, say) finish first, so it starts nothing after us.
      await Promise.race([this.queue, sleep(15_000)])
      const grace = this.options.stopGraceMs ?? 8000
      await Promise.all(this.nodes.filter((n) => this.alive(n)).map((n) => this.stopProcess(n, 'down', grace)))
      for (const node of this.nodes) node.closeEvents?.()
      this.events.record('down')
      this.state.supervisor = null
      this.save()
      await this.control.close()
      this.log('supervisor stopped')
      for (const resolve of this.closedResolvers) resolve()
    })()
    return this.closing
  }

  /** SIGKILL to every node now (a second Ctrl-C). */
  killAll(): void {
    for (const node of this.nodes) if (node.record.pid !== null && this.alive(node)) signal(node.record.pid, 'SIGKILL')
  }

  // ---------------------------------------------------------------------------------------
  // Control API

  private handle(request: ControlRequest): Promise<Record<string, unknown>> {
    if (this.closing && !['status', 'ping', 'down'].includes(request.op)) {
      return Promise.reject(new ClusterError('NOT_UP', 'the cluster is stopping'))
    }
    switch (request.op) {
      case 'status':
        return this.status() as unknown as Promise<Record<string, unknown>>
      case 'ping':
        return Promise.resolve({pid: process.pid})
      case 'down':
        return this.down()
      default:
        // Requests that change things run one at a time, in order.
        return this.serialized(() => this.mutate(request))
    }
  }

  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task)
    this.queue = run.catch(() => {})
    return run
  }

  private async mutate(request: ControlRequest): Promise<Record<string, unknown>> {
    switch (request.op) {
      case 'kill':
        return this.kill(await this.resolve(request.node))
      case 'stop':
        return this.stop(await this.resolve(request.node))
      case 'start':
        return this.startNode(await this.resolve(request.node))
      case 'restart':
        return this.restart(await this.resolve(request.node))
      case 'pause':
        return this.pause(await this.resolve(request.node))
      case 'resume':
        return this.resume(await this.resolve(request.node))
      case 'partition':
        return this.partition(request)
      case 'heal':
        return this.heal()
      case 'transfer':
        return this.transfer(request.to === undefined || request.to === null ? null : await this.resolve(request.to))
      case 'delay':
        return this.delay(await this.resolve(request.node), request)
      case 'loss':
        return this.loss(await this.resolve(request.node), request)
      default:
        throw badArgument(`unknown request "${request.op}"`)
    }
  }

  private async down(): Promise<Record<string, unknown>> {
    const pids = this.nodes.map((n) => n.record.pid).filter((p): p is number => p !== null && isAlive(p))
    await this.shutdown()
    const left = pids.filter((pid) => isAlive(pid))
    return {stopped: pids, left}
  }

  /** A node reference from a request: an index in range, or `leader` (asked of the nodes now). */
  private async resolve(ref: unknown): Promise<NodeHandle> {
    if (ref === 'leader') {
      const leader = this.leaderOf(await this.refresh())
      if (leader === null) throw new ClusterError('NO_LEADER', 'no node is leader right now: see pad-cli status')
      return this.nodes[leader]
    }
    if (typeof ref !== 'number') throw badArgument('give a node index or "leader"')
    return this.nodes[checkIndex(ref, this.size)]
  }

  private async resolveRefs(refs: NodeRef[]): Promise<number[]> {
    const out: number[] = []
    for (const ref of refs) out.push((await this.resolve(ref)).record.index)
    return out
  }

  // ---------------------------------------------------------------------------------------
  // Processes

  private alive(node: NodeHandle): boolean {
    return node.record.process === 'starting' || node.record.process === 'running' || node.record.process === 'paused'
  }

  private spawn(node: NodeHandle): void {
    const r = node.record
    if (this.closing) throw new ClusterError('NOT_UP', 'the cluster is stopping')
    fs.mkdirSync(r.data_dir, {recursive: true, mode: 0o700})
    const o = this.state.options
    const peers = this.nodes.map((n) => `${n.record.host}:${n.record.raft_port}`).join(',')
    const args = [
      ...NODE_RUNTIME_FLAGS,
      ...this.cli.args,
      'node',
      '--host', r.host,
      '--tcp-port', String(r.tcp_port),
      '--http-port', String(r.http_port),
      '--raft-port', String(r.raft_port),
      '--data-dir', r.data_dir,
      '--peers', peers,
      '--cluster', this.state.name,
      '--election-timeout', `${o.election_timeout_ms}ms`,
      '--heartbeat', `${o.heartbeat_ms}ms`,
      '--token-file', this.paths.token,
      '--supervisor-pid', String(process.pid),
    ]
    const logFd = fs.openSync(r.log_file, 'a', 0o600)
    // The node reads the token from the file; a PAD_TOKEN of ours must not override it.
    const env: Record<string, string | undefined> = {...process.env}
    delete env.PAD_TOKEN
    const subprocess = execa(this.cli.command, args, {
      stdin: 'ignore',
      // A file descriptor goes to the node as is (execa's 'native' stdio: no pipe through us,
      // no buffering). execa's types only list descriptors 1 to 9, hence the cast.
      stdout: logFd as never,
      stderr: logFd as never,
      detached: true,
      cleanup: false,
      reject: false,
      buffer: false,
      extendEnv: false,
      env,
    })
    let fdClosed = false
    const closeFd = (): void => {
      if (fdClosed) return
      fdClosed = true
      fs.closeSync(logFd)
    }
    subprocess.once('spawn', closeFd)
    subprocess.once('error', closeFd)
    this.cancelRestart(node)
    node.subprocess = subprocess
    node.expecting = null
    node.startedAt = Date.now()
    node.crashLog = []
    node.view = {...EMPTY_VIEW}
    node.pushed = null
    node.faultsDirty = hasRules(this.rules)
    r.pid = subprocess.pid ?? null
    r.process = 'starting'
    r.exit_code = null
    r.exit_signal = null
    this.save()
    this.log('node started', {node: r.index, pid: r.pid})
    this.events.record('start', {node: r.index, pid: r.pid})
    node.exited = subprocess.then((result) => {
      closeFd()
      this.onExit(node, subprocess, result.exitCode ?? null, result.signal ?? null, result.failed && result.exitCode === undefined && !result.signal ? (result.shortMessage ?? 'spawn failed') : null)
    })
  }

  private onExit(node: NodeHandle, subprocess: object, code: number | null, sig: string | null, failure: string | null): void {
    if (node.subprocess !== subprocess) return
    const r = node.record
    const expected = node.expecting !== null
    node.closeEvents?.()
    node.closeEvents = null
    node.subprocess = null
    node.view = {...EMPTY_VIEW}
    r.process = exitState(node.expecting, code, sig)
    r.exit_code = code
    r.exit_signal = sig
    const pid = r.pid
    const crashed = r.process === 'crashed'
    // The node's stderr is in its log: the lines that say why it crashed are at its end.
    node.crashLog = crashed ? tailLines(r.log_file, CRASH_LOG_LINES, CRASH_LOG_BYTES) : []
    this.log(crashed ? 'node crashed' : 'node exited', {node: r.index, pid, code, signal: sig, expected, failure})
    this.events.record('exit', {node: r.index, pid, code, signal: sig, expected, crashed, ...(crashed ? {log: node.crashLog} : {})})
    if (failure) this.events.record('warning', {message: `node ${r.index} could not be started: ${failure}`})
    node.expecting = null
    this.save()
    this.updateLeader()
    if (crashed && this.state.options.restart === 'on-failure' && !this.closing) this.scheduleRestart(node)
  }

  /** After a crash under `--restart on-failure`: starts the node again once its back-off has passed. */
  private scheduleRestart(node: NodeHandle): void {
    const {streak, delayMs} = afterCrash(node.streak, Date.now() - node.startedAt)
    node.streak = streak
    node.restartAt = Date.now() + delayMs
    this.log('restarting a crashed node', {node: node.record.index, in_ms: delayMs, crashes_in_a_row: streak.crashes})
    node.restartTimer = setTimeout(() => {
      node.restartTimer = null
      node.restartAt = null
      // In line with the requests: a `stop` or `start` that came first wins.
      void this.serialized(async () => {
        if (this.closing || node.record.process !== 'crashed') return
        this.events.record('restart', {node: node.record.index, pid: node.record.pid, reason: 'crashed', attempt: streak.crashes, delay_ms: delayMs})
        this.spawn(node)
        void this.afterSpawn(node)
      }).catch((error: Error) => this.log('could not restart a crashed node', {node: node.record.index, error: error.message}))
    }, delayMs)
  }

  private cancelRestart(node: NodeHandle): void {
    if (node.restartTimer) clearTimeout(node.restartTimer)
    node.restartTimer = null
    node.restartAt = null
  }

  /** After a spawn: wait for /health, then follow /events and push the node's faults. */
  private async afterSpawn(node: NodeHandle): Promise<boolean> {
    const subprocess = node.subprocess
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 30_000)
    while (Date.now() < deadline) {
      if (node.subprocess !== subprocess || this.closing) return false
      try {
        const answer = await requestJson(node.record, 'GET', '/health', {timeoutMs: 1000})
        if (answer.status === 200) break
      } catch {
        // Not listening yet.
      }
      await sleep(100)
    }
    if (node.subprocess !== subprocess || this.closing) return false
    if (Date.now() >= deadline) {
      this.events.record('warning', {message: `node ${node.record.index} did not answer /health within ${Math.round((this.options.startTimeoutMs ?? 30_000) / 1000)} s`})
      return false
    }
    if (node.record.process === 'starting') {
      node.record.process = 'running'
      this.save()
    }
    this.follow(node)
    if (node.faultsDirty) await this.push(node)
    return true
  }

  private async waitExit(node: NodeHandle, timeoutMs: number): Promise<boolean> {
    const exited = node.exited
    if (!exited || !node.subprocess) return true
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))
    const result = await Promise.race([exited.then(() => true as const), timeout])
    clearTimeout(timer)
    return result
  }

  /** SIGTERM (and SIGCONT if paused), SIGKILL after `graceMs`; resolves once it has exited. */
  private async stopProcess(node: NodeHandle, why: 'stop' | 'down', graceMs: number): Promise<void> {
    const pid = node.record.pid
    if (pid === null || !node.subprocess) return
    node.expecting = why
    signal(pid, 'SIGTERM')
    if (node.record.process === 'paused') signal(pid, 'SIGCONT')
    if (await this.waitExit(node, graceMs)) return
    this.log('node did not stop in time; SIGKILL', {node: node.record.index, pid})
    signal(pid, 'SIGKILL')
    await this.waitExit(node, 3000)
  }

  private exitInfo(node: NodeHandle): Record<string, unknown> {
    return {code: node.record.exit_code, signal: node.record.exit_signal}
  }

  private requireAlive(node: NodeHandle, what: string): number {
    if (!this.alive(node) || node.record.pid === null) {
      throw new ClusterError('NODE_STATE', `node ${node.record.index} is not running (${node.record.process}): nothing to ${what}; start it with pad-cli start ${node.record.index}`)
    }
    return node.record.pid
  }

  private async kill(node: NodeHandle): Promise<Record<string, unknown>> {
    const pid = this.requireAlive(node, 'kill')
    this.events.record('kill', {node: node.record.index, pid})
    node.expecting = 'kill'
    signal(pid, 'SIGKILL')
    await this.waitExit(node, 3000)
    return {node: node.record.index, pid, exit: this.exitInfo(node)}
  }

  private async stop(node: NodeHandle): Promise<Record<string, unknown>> {
    if (node.restartTimer && node.record.process === 'crashed') {
      // A crashed node waiting for its automatic restart: `stop` means leave it down.
      this.cancelRestart(node)
      this.events.record('stop', {node: node.record.index, pid: null})
      node.record.process = 'stopped'
      this.save()
      return {node: node.record.index, pid: null, exit: this.exitInfo(node)}
    }
    const pid = this.requireAlive(node, 'stop')
    this.events.record('stop', {node: node.record.index, pid})
    await this.stopProcess(node, 'stop', this.options.stopGraceMs ?? 8000)
    return {node: node.record.index, pid, exit: this.exitInfo(node)}
  }

  private async startNode(node: NodeHandle): Promise<Record<string, unknown>> {
    if (this.alive(node)) {
      throw new ClusterError('NODE_STATE', `node ${node.record.index} is already running (pid ${node.record.pid}); use pad-cli restart ${node.record.index}`)
    }
    this.spawn(node)
    const healthy = await this.afterSpawn(node)
    if (!healthy) {
      const how = node.record.process === 'exited' || node.record.process === 'crashed' ? `it ${node.record.process} (${node.record.exit_signal ?? `code ${node.record.exit_code}`})` : 'it did not answer in time'
      throw new ClusterError('NODE_STATE', `node ${node.record.index} did not start: ${how}; see pad-cli logs ${node.record.index}`)
    }
    return {node: node.record.index, pid: node.record.pid}
  }

  private async restart(node: NodeHandle): Promise<Record<string, unknown>> {
    this.events.record('restart', {node: node.record.index, pid: node.record.pid})
    const before = node.record.pid
    if (this.alive(node)) await this.stopProcess(node, 'stop', this.options.stopGraceMs ?? 8000)
    const started = await this.startNode(node)
    return {...started, previous_pid: before}
  }

  private async pause(node: NodeHandle): Promise<Record<string, unknown>> {
    const pid = this.requireAlive(node, 'pause')
    if (node.record.process === 'paused') throw new ClusterError('NODE_STATE', `node ${node.record.index} is already paused; resume it with pad-cli resume ${node.record.index}`)
    this.events.record('pause', {node: node.record.index, pid})
    signal(pid, 'SIGSTOP')
    node.record.process = 'paused'
    this.save()
    this.updateLeader()
    return {node: node.record.index, pid}
  }

  private async resume(node: NodeHandle): Promise<Record<string, unknown>> {
    const pid = this.requireAlive(node, 'resume')
    if (node.record.process !== 'paused') throw new ClusterError('NODE_STATE', `node ${node.record.index} is not paused (${node.record.process})`)
    this.events.record('resume', {node: node.record.index, pid})
    signal(pid, 'SIGCONT')
    node.record.process = 'running'
    this.save()
    if (node.faultsDirty) await this.push(node)
    return {node: node.record.index, pid}
  }

  // ---------------------------------------------------------------------------------------
  // Network faults

  private async partition(request: ControlRequest): Promise<Record<string, unknown>> {
    const forMs = optionalPositive(request.for_ms, 'for_ms')
    let partition: Partition
    if (typeof request.shape === 'string') {
      if (Array.isArray(request.groups) && request.groups.length > 0) throw badArgument('give either groups or --shape, not both')
      partition = shapePartition(parseShape(request.shape), this.size, parseOrder(request.order, this.size))
    } else {
      if (!Array.isArray(request.groups) || request.groups.length === 0) throw badArgument('give at least one group (e.g. 0 or 0,1) or --shape')
      if (request.order !== undefined) throw badArgument('order goes with a shape, not with groups')
      const groups: number[][] = []
      for (const group of request.groups as NodeRef[][]) {
        if (!Array.isArray(group)) throw badArgument('each group is a list of nodes')
        groups.push(await this.resolveRefs(group))
      }
      partition = groupPartition(groups, this.size)
    }
    const until = forMs === null ? null : Date.now() + forMs
    this.rules.partition = {...partition, until}
    this.events.record('partition', {groups: partition.groups, shape: partition.shape, bridge: partition.bridge ?? null, cuts: partition.cuts, for_ms: forMs})
    const pushed = await this.pushAll()
    return {...partition, for_ms: forMs, ...pushed}
  }

  private async heal(): Promise<Record<string, unknown>> {
    this.rules = emptyRules()
    this.events.record('heal', {reason: 'command', what: ['all']})
    return this.pushAll()
  }

  /**
   * Asks the leader to hand its leadership to `target` (default: the running follower with the
   * longest log) and waits until it has. A transfer lapses after an election timeout if the
   * target does not win in time (as in etcd), which a loaded machine can cause: it is asked again,
   * TRANSFER_ATTEMPTS times in all.
   */
  private async transfer(target: NodeHandle | null): Promise<Record<string, unknown>> {
    const answers = await this.refresh()
    const from = this.leaderOf(answers)
    if (from === null) throw new ClusterError('NO_LEADER', 'no node is leader right now: see pad-cli status')
    let to: number
    if (target === null) {
      const followers = [...answers].filter(([index, info]) => index !== from && info.state === 'FOLLOWER' && this.nodes[index].record.process === 'running')
      if (followers.length === 0) throw new ClusterError('NODE_STATE', `no running follower can take over from node ${from}`)
      followers.sort(([a, x], [b, y]) => y.log_length - x.log_length || a - b)
      to = followers[0][0]
    } else {
      to = target.record.index
      if (to === from) return {from, to, leader: from, term: answers.get(from)!.current_term, moved: false}
      if (target.record.process !== 'running') {
        throw new ClusterError('NODE_STATE', `node ${to} is not running (${target.record.process}): it cannot take over; start it with pad-cli start ${to}`)
      }
    }
    this.events.record('transfer', {from, to})
    const waitMs = Math.max(1000, 3 * this.state.options.election_timeout_ms)
    let leader: number | null = from
    for (let attempt = 1; attempt <= TRANSFER_ATTEMPTS; attempt++) {
      if (leader !== null) {
        await callJson(this.nodes[leader].record, 'POST', '/admin/transfer-leader', {body: {to}, token: this.token, timeoutMs: STATUS_TIMEOUT_MS * 3})
      }
      const deadline = Date.now() + waitMs
      while (Date.now() < deadline) {
        await sleep(50)
        const now = await this.refresh()
        leader = this.leaderOf(now)
        if (leader === to) return {from, to, leader: to, term: now.get(to)!.current_term, moved: true}
      }
      if (leader !== from && leader !== null) break
    }
    const now = leader === null ? 'no node leads' : `node ${leader} leads`
    throw new ClusterError('TIMEOUT', `node ${from} did not hand its leadership to node ${to} (now ${now}): see pad-cli events`)
  }

  private async delay(node: NodeHandle, request: ControlRequest): Promise<Record<string, unknown>> {
    const ms = requireRange(request.ms, 'ms', 0, 60_000)
    const jitterMs = request.jitter_ms === undefined ? 0 : requireRange(request.jitter_ms, 'jitter_ms', 0, 60_000)
    const forMs = optionalPositive(request.for_ms, 'for_ms')
    const index = node.record.index
    if (ms === 0 && jitterMs === 0) this.rules.delay.delete(index)
    else this.rules.delay.set(index, {ms, jitterMs, until: forMs === null ? null : Date.now() + forMs})
    this.events.record('delay', {node: index, ms, jitter_ms: jitterMs, for_ms: forMs})
    return {node: index, ms, jitter_ms: jitterMs, for_ms: forMs, ...(await this.pushAll())}
  }

  private async loss(node: NodeHandle, request: ControlRequest): Promise<Record<string, unknown>> {
    const percent = requireRange(request.percent, 'percent', 0, 100)
    const forMs = optionalPositive(request.for_ms, 'for_ms')
    const index = node.record.index
    if (percent === 0) this.rules.loss.delete(index)
    else this.rules.loss.set(index, {loss: percent / 100, until: forMs === null ? null : Date.now() + forMs})
    this.events.record('loss', {node: index, percent, for_ms: forMs})
    return {node: index, percent, for_ms: forMs, ...(await this.pushAll())}
  }

  /** Pushes every node's faults; says which nodes got them and which will when they are back. */
  private async pushAll(): Promise<{applied: number[]; pending: number[]}> {
    this.scheduleExpiry()
    for (const node of this.nodes) node.faultsDirty = true
    const results = await Promise.all(this.nodes.map((node) => this.push(node)))
    return {
      applied: this.nodes.filter((_, i) => results[i]).map((n) => n.record.index),
      pending: this.nodes.filter((_, i) => !results[i]).map((n) => n.record.index),
    }
  }

  /** Gives one node exactly the faults the rules say, after any push to it still in flight. */
  private push(node: NodeHandle): Promise<boolean> {
    const next = node.pushing.then(() => this.pushNow(node))
    node.pushing = next.catch(() => false)
    return next
  }

  /** DELETE, then one PUT per distinct fault, computed from the rules as they are now. */
  private async pushNow(node: NodeHandle): Promise<boolean> {
    if (node.record.process !== 'running') {
      node.faultsDirty = true
      return false
    }
    const now = Date.now()
    const faults = nodeFaults(this.rules, this.size, now)[node.record.index]
    const wanted = JSON.stringify([...faults])
    if (!node.faultsDirty && node.pushed === wanted) return true
    try {
      if (node.pushed !== '[]' || faults.size > 0) {
        await callJson(node.record, 'DELETE', '/admin/faults', {token: this.token, timeoutMs: PUSH_TIMEOUT_MS})
        for (const body of putBodies(faults, now)) {
          await callJson(node.record, 'PUT', '/admin/faults', {body, token: this.token, timeoutMs: PUSH_TIMEOUT_MS})
        }
      }
      node.pushed = wanted
      node.faultsDirty = false
      return true
    } catch (error) {
      node.faultsDirty = true
      this.log('could not push faults', {node: node.record.index, error: (error as Error).message})
      return false
    }
  }

  private scheduleExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer)
    this.expiryTimer = null
    const next = nextExpiry(this.rules)
    if (next === null || this.closing) return
    this.expiryTimer = setTimeout(
      () =>
        void this.serialized(async () => {
          const expired = dropExpired(this.rules, Date.now())
          if (expired.length > 0) {
            this.events.record('heal', {reason: 'expired', what: expired})
            await this.pushAll()
          } else {
            this.scheduleExpiry()
          }
        }),
      Math.max(0, next - Date.now()) + 5,
    )
  }

  private intendedFaults(index: number): FaultView[] {
    const faults = nodeFaults(this.rules, this.size, Date.now())[index]
    return [...faults].map(([peer, f]) => ({
      peer,
      ...(f.drop ? {drop: true} : {}),
      ...(f.delay_ms ? {delay_ms: f.delay_ms} : {}),
      ...(f.jitter_ms ? {jitter_ms: f.jitter_ms} : {}),
      ...(f.loss ? {loss: f.loss} : {}),
      expires_at: f.until === undefined ? null : new Date(f.until).toISOString(),
    }))
  }

  // ---------------------------------------------------------------------------------------
  // Raft view: events, polls, status

  private follow(node: NodeHandle): void {
    node.closeEvents?.()
    const subprocess = node.subprocess
    const index = node.record.index
    node.closeEvents = followEvents(
      node.record,
      (type, data) => {
        if (node.subprocess !== subprocess) return
        node.lastEventAt = Date.now()
        if (type === 'hello') this.observe(index, fromRaftInfo(data as RaftInfo))
        else if (type === 'role') this.observe(index, {role: data.role as string, term: data.term as number, leader: (data.leader as number | null) ?? null})
        else if (type === 'term') this.observe(index, {term: data.term as number})
        else if (type === 'commit') this.observe(index, {commitIndex: data.commit_index as number, lastApplied: data.last_applied as number})
      },
      () => {
        node.closeEvents = null
        // The stream ended: the node is stopping, or restarted its HTTP server. Follow again
        // while this same process runs; the /raft poll covers the gap.
        setTimeout(() => {
          if (node.subprocess === subprocess && subprocess !== null && !this.closing && node.closeEvents === null && node.record.process === 'running') this.follow(node)
        }, 500).unref()
      },
    )
  }

  /** Merges what a node said about itself; records role changes, elections, leader changes. */
  private observe(index: number, patch: Partial<RaftView>): void {
    const node = this.nodes[index]
    const before = node.view
    const view = {...before, ...patch}
    // Updates of an older term never undo newer ones.
    if (before.term !== null && view.term !== null && view.term < before.term) return
    node.view = view
    if (patch.role !== undefined && patch.role !== before.role && view.role !== null) {
      this.events.record('role', {node: index, role: view.role, term: view.term})
      if (view.role === 'LEADER' && view.term !== null && !this.electionsSeen.has(view.term)) {
        this.electionsSeen.add(view.term)
        this.events.record('election', {term: view.term, winner: index, node_id: node.record.node_id})
      }
    }
    this.updateLeader()
  }

  private updateLeader(): void {
    let leader: number | null = null
    let term = -1
    for (const node of this.nodes) {
      if (node.record.process !== 'running' || node.view.role !== 'LEADER') continue
      if ((node.view.term ?? 0) > term) {
        term = node.view.term ?? 0
        leader = node.record.index
      }
    }
    if (leader === this.leader) return
    const previous = this.leader
    this.leader = leader
    this.events.record('leader', {leader, previous, term: leader === null ? null : term})
  }

  /** Asks every running node for /raft now. */
  private async refresh(): Promise<Map<number, RaftInfo>> {
    const answers = new Map<number, RaftInfo>()
    await Promise.all(
      this.nodes
        .filter((n) => n.record.process === 'running' || n.record.process === 'starting')
        .map(async (node) => {
          try {
            const asked = Date.now()
            const info = await getRaft(node.record, STATUS_TIMEOUT_MS)
            answers.set(node.record.index, info)
            // An event that came while we asked may be newer than this answer; a stream that
            // has been quiet for a while may have missed something.
            if (node.lastEventAt < asked - 1000) this.observe(node.record.index, fromRaftInfo(info))
          } catch {
            // Not answering (starting, overloaded): its last view stands.
          }
        }),
    )
    return answers
  }

  private async poll(): Promise<void> {
    if (this.closing) return
    await this.refresh()
    for (const node of this.nodes) if (node.faultsDirty && node.record.process === 'running') void this.push(node)
  }

  /** The running node that answered LEADER in the newest term, or null. */
  private leaderOf(answers: Map<number, RaftInfo>): number | null {
    let leader: number | null = null
    for (const [index, info] of answers) {
      if (info.state !== 'LEADER' || this.nodes[index].record.process !== 'running') continue
      if (leader === null || info.current_term > answers.get(leader)!.current_term) leader = index
    }
    return leader
  }

  async status(): Promise<ClusterStatus> {
    const answers = await this.refresh()
    const faults = new Map<number, FaultView[]>()
    await Promise.all(
      this.nodes
        .filter((n) => answers.has(n.record.index))
        .map(async (node) => {
          try {
            const answer = await callJson<{faults: Record<string, Record<string, unknown>>}>(node.record, 'GET', '/admin/faults', {token: this.token, timeoutMs: STATUS_TIMEOUT_MS})
            faults.set(node.record.index, faultViews(answer.faults))
          } catch {
            // Fall back to what the node should have.
          }
        }),
    )
    // The leader as the nodes answered just now, so the table agrees with itself.
    const leader = this.leaderOf(answers)
    const leaderInfo = leader === null ? undefined : answers.get(leader)
    const leaderCommit = leaderInfo ? leaderInfo.commit_index : null
    const nodes: NodeStatus[] = this.nodes.map((node) => {
      const r = node.record
      const info = answers.get(r.index)
      const running = r.process === 'running' || r.process === 'starting'
      return {
        index: r.index,
        node_id: r.node_id,
        pid: this.alive(node) ? r.pid : null,
        process: r.process,
        exit_code: r.exit_code,
        exit_signal: r.exit_signal,
        crash_log: r.process === 'crashed' ? node.crashLog : [],
        restart_at: node.restartAt === null ? null : new Date(node.restartAt).toISOString(),
        role: info ? info.state : null,
        term: info ? info.current_term : null,
        commit_index: info ? info.commit_index : null,
        last_applied: info ? info.last_applied : null,
        log_length: info ? info.log_length : null,
        lag: info && leaderCommit !== null ? Math.max(0, leaderCommit - info.last_applied) : null,
        leader_index: info ? info.leader_index : null,
        host: r.host,
        tcp_port: r.tcp_port,
        http_port: r.http_port,
        raft_port: r.raft_port,
        faults: faults.get(r.index) ?? (running || r.process === 'paused' ? this.intendedFaults(r.index) : []),
        data_dir: r.data_dir,
        log_file: r.log_file,
      }
    })
    return {
      cluster: this.state.name,
      leader,
      term: leaderInfo ? leaderInfo.current_term : null,
      supervisor_pid: process.pid,
      nodes,
    }
  }

  // ---------------------------------------------------------------------------------------

  private save(): void {
    try {
      writeState(this.paths, this.state)
    } catch (error) {
      this.log('could not write cluster.json', {error: (error as Error).message})
    }
  }

  log(message: string, fields: Record<string, unknown> = {}): void {
    const rest = Object.entries(fields)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
      .join(' ')
    try {
      fs.appendFileSync(this.paths.supervisorLog, `${new Date().toISOString()} ${message}${rest ? ' ' + rest : ''}\n`, {mode: 0o600})
    } catch {
      // Nowhere else to say it.
    }
  }
}

function fromRaftInfo(info: RaftInfo): Partial<RaftView> {
  return {
    role: info.state,
    term: info.current_term,
    leader: info.leader_index ?? null,
    commitIndex: info.commit_index,
    lastApplied: info.last_applied,
    logLength: info.log_length,
  }
}

function requireRange(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) throw badArgument(`${name} must be a number from ${min} to ${max}`)
  return value
}

function optionalPositive(value: unknown, name: string): number | null {
  if (value === undefined || value === null) return null
  return requireRange(value, name, 1, 7 * 24 * 3600 * 1000)
}

/** Runs a supervisor as its own background process until `down` or a signal stops it. */
export async function runBackgroundSupervisor(paths: ClusterPaths): Promise<void> {
  const supervisor = new Supervisor(paths, {foreground: false})
  const stop = (why: string): void => {
    supervisor.log(`${why}: stopping`)
    void supervisor.shutdown().then(() => process.exit(0))
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGHUP', () => {})
  process.on('uncaughtException', (error) => {
    supervisor.log('uncaught error', {error: error.stack ?? error.message})
    void supervisor.shutdown().finally(() => process.exit(1))
  })
  process.on('unhandledRejection', (error) => {
    supervisor.log('unhandled rejection', {error: error instanceof Error ? (error.stack ?? error.message) : String(error)})
  })
  await supervisor.start()
  await supervisor.closed()
  // Give the last control answer (to `down`) a moment to leave.
  setTimeout(() => process.exit(0), 100)
}
