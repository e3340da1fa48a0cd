/**
 * The supervisor: one process per cluster that owns the node processes. It is a composition of
 * parts with one job each (src/cluster/supervisor/):
 *
 * - processes.ts: spawns, watches, stops, kills, pauses and restarts the node processes;
 * - raft-observer.ts: follows each node's /events stream (and /raft, polled here once a second,
 *   in case an event was missed) to record roles, elections and leader changes in the timeline;
 * - network-faults.ts: partitions, delay and loss, pushed to every node's /admin/faults, again
 *   after a node restarts or resumes, and healed when they expire;
 * - leadership.ts and status-report.ts: `transfer` and `status`;
 * - lazy-mounts.ts and power-cut.ts: with `up --lazy-fs`, each node's data dir mounted on the
 *   lazy layer before it spawns, and `power-cut` (kill, drop what was not fsynced, start);
 * - control-api.ts: the requests of the control API (control.ts), served on the Unix socket in
 *   the cluster folder, and to the web console (console/web-console.ts, on 127.0.0.1:<web_port>),
 *   which shows the nodes (console-view.ts) live and runs the same handlers;
 * - core.ts: what they share (state, node handles, timeline, log, the request queue).
 *
 * It knows the nodes only through their pids, ports, files and HTTP API.
 */
import type {ControlAnswers, ControlHandlers} from '../api/control.js'
import {HELLO_EVENTS} from '../api/console.js'
import {WebConsole} from './console/web-console.js'
import {parseEvent, type ClusterEvent, type EventLog} from './events.js'
import {tailLines} from './tail.js'
import {ControlServer} from './control.js'
import type {ClusterPaths} from './layout.js'
import {ensureBridge, removeNetwork} from './netns.js'
import {isAlive, settlesWithin} from './process-util.js'
import type {ClusterStatus} from './status.js'
import {controlHandlers} from './supervisor/control-api.js'
import {SupervisorCore, type SupervisorOptions} from './supervisor/core.js'
import {membersCall} from './supervisor/member-calls.js'
import {MembershipChanges, MEMBERS_CALL_MS} from './supervisor/membership.js'
import {NetworkFaults} from './supervisor/network-faults.js'
import {transferLeadership} from './supervisor/leadership.js'
import {LazyMounts} from './supervisor/lazy-mounts.js'
import {NodeProcesses} from './supervisor/processes.js'
import {RaftObserver} from './supervisor/raft-observer.js'
import {clusterStatus} from './supervisor/status-report.js'
import {consoleNodes} from './supervisor/console-view.js'

export {currentCli, type CliEntry} from './cli-entry.js'
export type {SupervisorOptions} from './supervisor/core.js'

const POLL_MS = 1000
/** How long shutdown lets a request in progress (a restart, say) finish before it stops the nodes. */
const QUEUE_GRACE_MS = 15_000

export class Supervisor {
  private readonly core: SupervisorCore
  private readonly processes: NodeProcesses
  private readonly observer: RaftObserver
  private readonly faults: NetworkFaults
  private readonly membership: MembershipChanges
  private readonly mounts: LazyMounts
  private readonly control: ControlServer
  private readonly handlers: ControlHandlers
  private web: WebConsole | null = null
  private pollTimer: NodeJS.Timeout | null = null
  private closing: Promise<void> | null = null
  private readonly closedResolvers: (() => void)[] = []

  constructor(
    readonly paths: ClusterPaths,
    private readonly options: SupervisorOptions,
  ) {
    const core = (this.core = new SupervisorCore(paths, options))
    const observer = (this.observer = new RaftObserver(core))
    const faults = (this.faults = new NetworkFaults(core))
    const mounts = (this.mounts = new LazyMounts(core))
    this.processes = new NodeProcesses(core, {
      beforeSpawn: (node) => mounts.ensure(node),
      faultsPending: () => faults.any(),
      serving: async (node, how) => {
        if (how === 'spawned') observer.follow(node)
        if (node.faultsDirty) await faults.push(node)
      },
      leftService: () => observer.updateLeader(),
    })
    const processes = this.processes
    const membership = (this.membership = new MembershipChanges({
      core,
      refresh: () => observer.refresh(),
      leaderOf: (answers) => observer.leaderOf(answers),
      start: (node) => processes.start(node),
      stop: (node) => processes.stop(node),
      joined: (node, via) => faults.joined(node, via),
      transfer: (to) => transferLeadership(core, observer, to),
      members: (leader, body) => membersCall({...leader.record}, core.token, body, MEMBERS_CALL_MS),
    }))
    const handlers = controlHandlers({core, processes, faults, observer, membership, mounts, status: () => this.status(), down: () => this.down()})
    this.handlers = handlers
    this.control = new ControlServer(paths.socket, handlers)
  }

  get events(): EventLog {
    return this.core.events
  }

  get size(): number {
    return this.core.size
  }

  /** Listens on the control socket, records itself in cluster.json, and spawns every node. */
  async start(): Promise<void> {
    const core = this.core
    // In namespaces: the bridge `up` claimed, again if it went meanwhile (the nodes' namespaces come with their spawn).
    const netns = core.state.options.netns
    if (netns) ensureBridge(netns)
    // Before the socket answers: `up` takes a node that is not starting yet for one that failed.
    try {
      await this.processes.prepareAll()
    } catch (error) {
      this.log('could not prepare the nodes', {error: (error as Error).message})
      await this.mounts.unmountAll()
      this.removeNetwork()
      throw error
    }
    await this.control.listen()
    const webPort = await this.startWeb()
    core.state.supervisor = {pid: process.pid, started_at: new Date().toISOString(), socket: this.paths.socket, foreground: this.options.foreground, web_port: webPort}
    core.save()
    this.log('supervisor started', {pid: process.pid, nodes: this.size, foreground: this.options.foreground, web_port: webPort})
    core.events.record('up', {nodes: this.size, supervisor_pid: process.pid})
    // Waiting for health is not needed to answer requests: `up` polls status.
    try {
      await this.processes.startAll()
    } catch (error) {
      // One line that says why, the last but two of supervisor.log, which `up` prints.
      this.log('could not start the nodes', {error: (error as Error).message})
      core.events.record('warning', {message: `could not start the nodes: ${(error as Error).message}`})
      await this.shutdown()
      throw error
    }
    this.membership.resumePromotions()
    this.pollTimer = setInterval(() => void this.poll(), POLL_MS)
  }

  /**
   * The web console on 127.0.0.1 at the cluster's web_port (none when it is null or absent);
   * when that port is taken, on any free one, with a warning in the timeline. Its port, or null.
   */
  private async startWeb(): Promise<number | null> {
    const wanted = this.core.state.options.web_port
    if (wanted === null || wanted === undefined) return null
    const core = this.core
    const web = new WebConsole({
      cluster: core.state.name,
      token: core.token,
      settings: {election_timeout_ms: core.state.options.election_timeout_ms, heartbeat_ms: core.state.options.heartbeat_ms},
      nodes: () => consoleNodes(core, this.faults),
      leader: () => this.observer.currentLeader,
      recentEvents: () => tailLines(this.paths.events, HELLO_EVENTS, 512 * 1024).map(parseEvent).filter((e): e is ClusterEvent => e !== null),
      onTimeline: (listener) => core.events.onEvent(listener),
      onNodeItem: (listener) => this.observer.onItem(listener),
      handlers: this.handlers,
      log: (message, fields) => this.log(message, fields),
    })
    try {
      this.web = web
      return await web.listen(wanted)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || wanted === 0) {
        this.web = null
        await web.close()
        this.log('could not start the web console', {error: (error as Error).message})
        core.events.record('warning', {message: `no web console: ${(error as Error).message}`})
        return null
      }
      const port = await web.listen(0)
      core.events.record('warning', {message: `web console: port ${wanted} is taken, it listens on ${port}`})
      return port
    }
  }

  /** Resolves when the supervisor has stopped (after `down` or `shutdown()`). */
  closed(): Promise<void> {
    if (this.closing === null) return new Promise((resolve) => this.closedResolvers.push(resolve))
    return this.closing
  }

  /** Stops every node (SIGTERM, then SIGKILL after the grace period) and the control API. */
  shutdown(): Promise<void> {
    this.closing ??= (async () => {
      const core = this.core
      core.stopping = true
      this.log('stopping the cluster')
      if (this.pollTimer) clearInterval(this.pollTimer)
      this.faults.stop()
      this.processes.cancelRestarts()
      // Let a request in progress (a restart, say) finish first, so it starts nothing after us.
      await settlesWithin(Promise.all([core.idle(), this.membership.background]), QUEUE_GRACE_MS)
      await this.processes.stopAll()
      // Unmounted once nothing has files open there; the writes it held reach the backing dir.
      await this.mounts.unmountAll()
      this.removeNetwork()
      this.observer.closeAll()
      await this.web?.close()
      core.events.record('down')
      core.state.supervisor = null
      core.save()
      await this.control.close()
      this.log('supervisor stopped')
      for (const resolve of this.closedResolvers) resolve()
    })()
    return this.closing
  }

  /** SIGKILL to every node now (a second Ctrl-C). */
  killAll(): void {
    this.processes.killAll()
    this.removeNetwork()
  }

  /** In namespaces: the namespaces, veths and bridge go with the nodes (a namespace outlives its name until its last process has exited). */
  private removeNetwork(): void {
    const netns = this.core.state.options.netns
    if (!netns) return
    try {
      const removed = removeNetwork(netns.id)
      this.log('network removed', {removed})
    } catch (error) {
      this.log('could not remove the network', {error: (error as Error).message})
    }
  }

  status(): Promise<ClusterStatus> {
    return clusterStatus(this.core, this.observer, this.faults)
  }

  log(message: string, fields: Record<string, unknown> = {}): void {
    this.core.log(message, fields)
  }

  private async poll(): Promise<void> {
    if (this.core.stopping) return
    await this.observer.refresh()
    this.faults.pushDirty()
  }

  private async down(): Promise<ControlAnswers['down']> {
    const pids = this.core.nodes.map((n) => n.record.pid).filter((p): p is number => p !== null && isAlive(p))
    await this.shutdown()
    const left = pids.filter((pid) => isAlive(pid))
    return {stopped: pids, left}
  }
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
