/**
 * The node processes: spawns each node with execa (detached into its own process group, output
 * appended to node-<i>/node.log through a file descriptor, so nothing is buffered here and a
 * node's output does not depend on the supervisor staying alive), passing it the cluster token
 * file and `--supervisor-pid`, so that a node whose supervisor dies stops by itself; watches its
 * exit; kills, stops, starts, restarts, pauses and resumes it on request; tells a crash (an exit
 * nobody asked for) from a kill, keeps the end of the crashed node's log, and restarts it with
 * back-off under `up --restart on-failure`.
 */
import fs from 'node:fs'
import {execa} from 'execa'
import type {ControlAnswers, ExitInfo} from '../../api/control.js'
import {currentCli, type CliEntry} from '../cli-entry.js'
import {ClusterError} from '../errors.js'
import {exitState} from '../exit-state.js'
import {requestJson} from '../../client/node-http-client.js'
import {decodeCorrupt} from '../../client/corrupt-report.js'
import type {CorruptInfo} from '../../api/node-http.js'
import {detachedWithLog, settlesWithin, signal} from '../process-util.js'
import {poll} from '../../util/time.js'
import {afterCrash} from '../restart-policy.js'
import {tailLines} from '../tail.js'
import type {SupervisorCore} from './core.js'
import {EMPTY_VIEW, hasProcess, type NodeHandle} from './node-handle.js'
import {durabilityNodeArgs, retentionNodeArgs} from '../node-args.js'
import {ensureNodeNetwork, inNamespace} from '../netns.js'

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

/** How much of a crashed node's log the timeline and status keep: enough for a stack trace, bounded for events.jsonl. */
const CRASH_LOG_LINES = 20
const CRASH_LOG_BYTES = 4096

/** What the rest of the supervisor does when a node's process changes. */
export interface ProcessHooks {
  /** Before every spawn: what the node's data dir needs (its lazy layer mounted, with --lazy-fs). */
  beforeSpawn(node: NodeHandle): Promise<void>
  /** Whether a node starts with faults to be pushed to it. */
  faultsPending(): boolean
  /** The node serves (answers /health after a spawn, or was resumed): follow it, give it its faults. */
  serving(node: NodeHandle, how: 'spawned' | 'resumed'): Promise<void>
  /** The node's process ended or was paused: it leads no more. */
  leftService(node: NodeHandle): void
}

export class NodeProcesses {
  private readonly cli: CliEntry

  constructor(
    private readonly core: SupervisorCore,
    private readonly hooks: ProcessHooks,
  ) {
    this.cli = core.options.cli ?? currentCli()
  }

  private get stopGraceMs(): number {
    return this.core.options.stopGraceMs ?? 8000
  }

  /** What every member needs before it can spawn (its lazy layer mounted): before anyone may ask for status. */
  async prepareAll(): Promise<void> {
    await Promise.all(this.members().map((node) => this.hooks.beforeSpawn(node)))
  }

  /** Spawns every node, each at once (prepareAll did the slow part); waiting for them to serve happens in the background. */
  async startAll(): Promise<void> {
    const members = this.members()
    for (const node of members) await this.spawn(node)
    for (const node of members) void this.afterSpawn(node)
  }

  private members(): NodeHandle[] {
    return this.core.nodes.filter((n) => n.record.membership !== 'removed')
  }

  /** Cancels every automatic restart still due. */
  cancelRestarts(): void {
    for (const node of this.core.nodes) this.cancelRestart(node)
  }

  /** Stops every node (SIGTERM, SIGKILL after the stop grace). */
  async stopAll(): Promise<void> {
    await Promise.all(this.core.nodes.filter(hasProcess).map((n) => this.stopProcess(n, 'down', this.stopGraceMs)))
  }

  /** SIGKILL to every node now (a second Ctrl-C). */
  killAll(): void {
    for (const node of this.core.nodes) if (node.record.pid !== null && hasProcess(node)) signal(node.record.pid, 'SIGKILL')
  }

  private cancelRestart(node: NodeHandle): void {
    if (node.restartTimer) clearTimeout(node.restartTimer)
    node.restartTimer = null
    node.restartAt = null
  }

  // ---------------------------------------------------------------------------------------
  // Requests

  async kill(node: NodeHandle): Promise<ControlAnswers['kill']> {
    const pid = this.requireAlive(node, 'kill')
    this.core.events.record('kill', {node: node.record.index, pid})
    node.expecting = 'kill'
    signal(pid, 'SIGKILL')
    await this.waitExit(node, 3000)
    return {node: node.record.index, pid, exit: exitInfo(node)}
  }

  async stop(node: NodeHandle): Promise<ControlAnswers['stop']> {
    if (node.restartTimer && node.record.process === 'crashed') {
      // A crashed node waiting for its automatic restart: `stop` means leave it down.
      this.cancelRestart(node)
      this.core.events.record('stop', {node: node.record.index, pid: null})
      node.record.process = 'stopped'
      this.core.save()
      return {node: node.record.index, pid: null, exit: exitInfo(node)}
    }
    const pid = this.requireAlive(node, 'stop')
    this.core.events.record('stop', {node: node.record.index, pid})
    await this.stopProcess(node, 'stop', this.stopGraceMs)
    return {node: node.record.index, pid, exit: exitInfo(node)}
  }

  async start(node: NodeHandle): Promise<ControlAnswers['start']> {
    if (hasProcess(node)) {
      throw new ClusterError('NODE_STATE', `node ${node.record.index} is already running (pid ${node.record.pid}); use pad-cli restart ${node.record.index}`)
    }
    await this.spawn(node)
    const healthy = await this.afterSpawn(node)
    if (!healthy) {
      const how = node.record.process === 'exited' || node.record.process === 'crashed' ? `it ${node.record.process} (${node.record.exit_signal ?? `code ${node.record.exit_code}`})` : 'it did not answer in time'
      throw new ClusterError('NODE_STATE', `node ${node.record.index} did not start: ${how}; see pad-cli logs ${node.record.index}`)
    }
    return {node: node.record.index, pid: node.record.pid}
  }

  async restart(node: NodeHandle): Promise<ControlAnswers['restart']> {
    this.core.events.record('restart', {node: node.record.index, pid: node.record.pid})
    const before = node.record.pid
    if (hasProcess(node)) await this.stopProcess(node, 'stop', this.stopGraceMs)
    const started = await this.start(node)
    return {...started, previous_pid: before}
  }

  async pause(node: NodeHandle): Promise<ControlAnswers['pause']> {
    const pid = this.requireAlive(node, 'pause')
    if (node.record.process === 'paused') throw new ClusterError('NODE_STATE', `node ${node.record.index} is already paused; resume it with pad-cli resume ${node.record.index}`)
    this.core.events.record('pause', {node: node.record.index, pid})
    signal(pid, 'SIGSTOP')
    node.record.process = 'paused'
    this.core.save()
    this.hooks.leftService(node)
    return {node: node.record.index, pid}
  }

  async resume(node: NodeHandle): Promise<ControlAnswers['resume']> {
    const pid = this.requireAlive(node, 'resume')
    if (node.record.process !== 'paused') throw new ClusterError('NODE_STATE', `node ${node.record.index} is not paused (${node.record.process})`)
    this.core.events.record('resume', {node: node.record.index, pid})
    signal(pid, 'SIGCONT')
    node.record.process = 'running'
    this.core.save()
    await this.hooks.serving(node, 'resumed')
    return {node: node.record.index, pid}
  }

  private requireAlive(node: NodeHandle, what: string): number {
    if (!hasProcess(node) || node.record.pid === null) {
      throw new ClusterError('NODE_STATE', `node ${node.record.index} is not running (${node.record.process}): nothing to ${what}; start it with pad-cli start ${node.record.index}`)
    }
    return node.record.pid
  }

  // ---------------------------------------------------------------------------------------
  // Spawn and exit

  private async spawn(node: NodeHandle): Promise<void> {
    const core = this.core
    const r = node.record
    if (core.stopping) throw new ClusterError('NOT_UP', 'the cluster is stopping')
    await this.hooks.beforeSpawn(node)
    if (core.stopping) throw new ClusterError('NOT_UP', 'the cluster is stopping')
    fs.mkdirSync(r.data_dir, {recursive: true, mode: 0o700})
    const o = core.state.options
    // Made before the node's first start (and again if something removed it); kept across restarts.
    if (o.netns) ensureNodeNetwork(o.netns, r.index)
    const args = [
      ...NODE_RUNTIME_FLAGS,
      ...this.cli.args,
      'node',
      '--host', r.host,
      '--tcp-port', String(r.tcp_port),
      '--http-port', String(r.http_port),
      '--raft-port', String(r.raft_port),
      '--data-dir', r.data_dir,
      ...this.membershipArgs(node),
      '--cluster', core.state.name,
      '--election-timeout', `${o.election_timeout_ms}ms`,
      '--heartbeat', `${o.heartbeat_ms}ms`,
      ...retentionNodeArgs(o.retention),
      ...(o.snapshot_entries === undefined ? [] : ['--snapshot-entries', String(o.snapshot_entries)]),
      ...(o.trailing_entries === undefined ? [] : ['--trailing-entries', String(o.trailing_entries)]),
      ...durabilityNodeArgs(o),
      '--token-file', core.paths.token,
      '--supervisor-pid', String(process.pid),
    ]
    const logFd = fs.openSync(r.log_file, 'a', 0o600)
    // The node reads the token from the file; a PAD_TOKEN of ours must not override it.
    const env: Record<string, string | undefined> = {...process.env}
    delete env.PAD_TOKEN
    // In network namespaces the node runs through `ip netns exec`, which execs it: the pid is the node's.
    const netns = o.netns
    const run = netns ? inNamespace(netns, r.index, this.cli.command, args) : {command: this.cli.command, args}
    const subprocess = execa(run.command, run.args, {...detachedWithLog(logFd), extendEnv: false, env})
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
    node.faultsDirty = this.hooks.faultsPending()
    r.pid = subprocess.pid ?? null
    r.process = 'starting'
    r.exit_code = null
    r.exit_signal = null
    core.save()
    core.log('node started', {node: r.index, pid: r.pid})
    core.events.record('start', {node: r.index, pid: r.pid})
    node.exited = subprocess.then((result) => {
      closeFd()
      this.onExit(node, subprocess, result.exitCode ?? null, result.signal ?? null, result.failed && result.exitCode === undefined && !result.signal ? (result.shortMessage ?? 'spawn failed') : null)
    })
  }

  /**
   * A founding node gets --peers: the founding nodes, the same list on every start (its id is
   * its place in it; the configuration it runs with is in its log). A node `add` started gets
   * --join through the leader; restarted, its data dir holds its id and the address is not used.
   */
  private membershipArgs(node: NodeHandle): string[] {
    if (!node.record.joined) {
      const founding = this.core.nodes.filter((n) => !n.record.joined).map((n) => `${n.record.host}:${n.record.raft_port}`)
      return ['--peers', founding.join(',')]
    }
    const other = this.core.nodes.find((n) => n !== node && n.record.membership !== 'removed' && hasProcess(n)) ?? this.core.nodes.find((n) => n !== node)
    const via = node.joinVia ?? (other ? `${other.record.host}:${other.record.http_port}` : `${node.record.host}:${node.record.http_port}`)
    return ['--join', via]
  }

  private onExit(node: NodeHandle, subprocess: object, code: number | null, sig: string | null, failure: string | null): void {
    if (node.subprocess !== subprocess) return
    const core = this.core
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
    core.log(crashed ? 'node crashed' : 'node exited', {node: r.index, pid, code, signal: sig, expected, failure})
    core.events.record('exit', {node: r.index, pid, code, signal: sig, expected, crashed, ...(crashed ? {log: node.crashLog} : {})})
    if (failure) core.events.record('warning', {message: `node ${r.index} could not be started: ${failure}`})
    node.expecting = null
    core.save()
    this.hooks.leftService(node)
    if (crashed && core.state.options.restart === 'on-failure' && !core.stopping) this.scheduleRestart(node)
  }

  /** After a crash under `--restart on-failure`: starts the node again once its back-off has passed. */
  private scheduleRestart(node: NodeHandle): void {
    const core = this.core
    const {streak, delayMs} = afterCrash(node.streak, Date.now() - node.startedAt)
    node.streak = streak
    node.restartAt = Date.now() + delayMs
    core.log('restarting a crashed node', {node: node.record.index, in_ms: delayMs, crashes_in_a_row: streak.crashes})
    node.restartTimer = setTimeout(() => {
      node.restartTimer = null
      node.restartAt = null
      // In line with the requests: a `stop` or `start` that came first wins.
      void core
        .serialized(async () => {
          if (core.stopping || node.record.process !== 'crashed') return
          core.events.record('restart', {node: node.record.index, pid: node.record.pid, reason: 'crashed', attempt: streak.crashes, delay_ms: delayMs})
          await this.spawn(node)
          void this.afterSpawn(node)
        })
        .catch((error: Error) => core.log('could not restart a crashed node', {node: node.record.index, error: error.message}))
    }, delayMs)
  }

  /** After a spawn: wait for /health, then hand the node to `hooks.serving`. */
  private async afterSpawn(node: NodeHandle): Promise<boolean> {
    const core = this.core
    const subprocess = node.subprocess
    const startTimeoutMs = core.options.startTimeoutMs ?? 30_000
    const gone = (): boolean => node.subprocess !== subprocess || core.stopping
    let corrupt: CorruptInfo | null = null
    const serving = await poll(
      async () => {
        if (gone()) return false
        try {
          const health = await requestJson(node.record, 'GET', '/health', {timeoutMs: 1000})
          if (health.status === 200) return true
          // Up, but it found its data corrupt: it runs (status shows why), and takes no part in Raft.
          corrupt = decodeCorrupt(health.json)
          if (corrupt !== null) return true
        } catch {
          // Not listening yet.
        }
        return undefined
      },
      {timeoutMs: startTimeoutMs, intervalMs: 100},
    )
    if (gone()) return false
    if (!serving) {
      core.events.record('warning', {message: `node ${node.record.index} did not answer /health within ${Math.round(startTimeoutMs / 1000)} s`})
      return false
    }
    if (node.record.process === 'starting') {
      node.record.process = 'running'
      core.save()
    }
    const found = corrupt as CorruptInfo | null
    if (found !== null) {
      core.events.record('corrupt-found', {node: node.record.index, pid: node.record.pid, file: found.file, reason: found.reason})
      return true
    }
    await this.hooks.serving(node, 'spawned')
    return true
  }

  private async waitExit(node: NodeHandle, timeoutMs: number): Promise<boolean> {
    const exited = node.exited
    if (!exited || !node.subprocess) return true
    return settlesWithin(exited, timeoutMs)
  }

  /** SIGTERM (and SIGCONT if paused), SIGKILL after `graceMs`; resolves once it has exited. */
  private async stopProcess(node: NodeHandle, why: 'stop' | 'down', graceMs: number): Promise<void> {
    const pid = node.record.pid
    if (pid === null || !node.subprocess) return
    node.expecting = why
    signal(pid, 'SIGTERM')
    if (node.record.process === 'paused') signal(pid, 'SIGCONT')
    if (await this.waitExit(node, graceMs)) return
    this.core.log('node did not stop in time; SIGKILL', {node: node.record.index, pid})
    signal(pid, 'SIGKILL')
    await this.waitExit(node, 3000)
  }
}

function exitInfo(node: NodeHandle): ExitInfo {
  return {code: node.record.exit_code, signal: node.record.exit_signal}
}
