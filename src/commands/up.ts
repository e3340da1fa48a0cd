import {Flags} from '@oclif/core'
import {exposureWarning} from '../broker/http-access.js'
import {
  AlreadyUpError,
  downCluster,
  launchSupervisor,
  prepareUp,
  waitUntilReady,
  type Prepared,
} from '../cluster/cluster.js'
import {clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {clusterLayout} from '../cli/cluster-layout.js'
import {ClusterError} from '../cluster/errors.js'
import {formatEvent} from '../cluster/events.js'
import {controlRequest} from '../cluster/control.js'
import {DEFAULT_CLUSTER} from '../cluster/layout.js'
import {MAX_DELAY_MS, RESTART_POLICIES, STABLE_AFTER_MS, FIRST_DELAY_MS, parseRestartPolicy} from '../cluster/restart-policy.js'
import {durabilityNote, nodePrefix, statusTable, table, useColor} from '../cluster/output.js'
import type {ClusterStatus} from '../cluster/status.js'
import {Supervisor} from '../cluster/supervisor.js'
import {LineFollower} from '../cluster/tail.js'
import {durationFlag} from '../cli/duration.js'
import {onInterrupts} from '../cli/interrupts.js'
import {MAX_COMPACTION_ENTRIES, SLOW_FACTOR, SLOW_TIMING, checkSlow} from '../cluster/node-args.js'
import {DEFAULT_WEB_PORT} from '../api/console.js'
import {consoleUrl} from '../cluster/console/console-url.js'

/** What `up --json` prints: the cluster's status once it has a leader (nothing with --foreground, which streams lines). */
export default class Up extends PadCommand<ClusterStatus | undefined> {
  static override summary = 'Start a local cluster of broker nodes and wait until it has a leader.'

  static override description = `Starts a supervisor in the background, which spawns the nodes, watches them and records \
what happens to them; returns once a leader is elected (at most --wait), and prints every node's addresses and role. \
Node i listens on TCP <tcp-port>+i, HTTP <http-port>+i and Raft <raft-port>+i. State, data and logs live in \
$PAD_HOME/<cluster>/ (PAD_HOME defaults to ~/.pad); a cluster that was down starts again with its data.

A node that crashes (exits by itself with an error or dies of a signal nobody sent it) shows as crashed in \
status, with the end of its log; with --restart on-failure the supervisor starts it again after ${FIRST_DELAY_MS / 1000} s, \
doubling the wait up to ${MAX_DELAY_MS / 1000} s while it keeps crashing (back to ${FIRST_DELAY_MS / 1000} s once it has run \
${STABLE_AFTER_MS / 1000} s). A node you kill or stop is never restarted. The cluster keeps --restart for its next up.

With --netns (root only) every node runs in a network namespace of its own (pad-<id>-<i>), with a veth to a bridge \
in the root namespace that holds this host's address on a private /24 chosen for the cluster (10.88.<n>.0/24, kept in \
cluster.json): node i listens on 10.88.<n>.<i+2> at the same ports as without, so the nodes are different hosts to \
each other and each runs exactly the pad-cli node --peers command of a real deployment. There is no default route in \
a namespace: the nodes reach only each other and this host. pad-cli partition then cuts links in the kernel (an \
unreachable route to the peer in each side's namespace) instead of in the nodes; delay and loss stay the nodes'. \
pad-cli down removes the namespaces, veths and bridge.

The supervisor serves a web console on 127.0.0.1:--web-port (default ${DEFAULT_WEB_PORT}; see pad-cli web): the nodes, \
their logs, Raft messages in flight, the timeline and charts, live, with the same actions as pad-cli top. It \
listens on loopback only, also with --host or --netns; actions need the cluster token, which the printed URL carries.

With --foreground the supervisor stays attached and streams every node's log with a colored prefix; Ctrl-C stops \
the cluster, a second Ctrl-C kills it at once.

With --lazy-fs (root and FUSE) every node's data dir is a mount of the lazy layer, which keeps what the node has not fsynced undoable: pad-cli power-cut then simulates a power loss of nodes, and status says the cluster runs on it. The cluster keeps it for its next up (its data is in node-<i>/disk); down unmounts it, down --purge deletes the data.`

  static override examples = [
    '<%= config.bin %> up',
    '<%= config.bin %> up --nodes 5',
    '<%= config.bin %> up --cluster test --tcp-port 7000 --http-port 7100 --raft-port 7200',
    '<%= config.bin %> up --foreground',
    '<%= config.bin %> up --netns   # as root: every node its own host on a private bridge',
    '<%= config.bin %> up --restart on-failure   # start crashed nodes again',
    '<%= config.bin %> up --web-port 8090   # the web console on http://127.0.0.1:8090/',
    '<%= config.bin %> up --election-timeout 500ms --heartbeat 100ms   # slower, easier to watch',
    '<%= config.bin %> up --slow   # 10x slower elections and heartbeats, for a class watching top',
    'sudo <%= config.bin %> up --lazy-fs   # then: pad-cli power-cut --all',
  ]

  static override flags = {
    cluster: clusterFlag,
    nodes: Flags.integer({char: 'n', description: 'number of nodes [default: 3, or what the cluster had]', min: 1, max: 15}),
    'tcp-port': Flags.integer({description: 'client TCP port of node 0; node i gets this + i [default: 5000]', min: 1, max: 65535}),
    'http-port': Flags.integer({description: 'HTTP port of node 0 [default: 8080]', min: 1, max: 65535}),
    'raft-port': Flags.integer({description: 'Raft port of node 0 [default: 6000]', min: 1, max: 65535}),
    host: Flags.string({description: 'address the nodes listen on [default: 127.0.0.1]'}),
    netns: Flags.boolean({
      description:
        "each node in its own network namespace at its own address on a private bridge (10.88.<n>.0/24), partitions cut in the kernel; root only; --no-netns: every node on --host [default: no, or what the cluster had]",
      allowNo: true,
    }),
    foreground: Flags.boolean({char: 'F', description: 'stay attached and stream the node logs; Ctrl-C stops the cluster'}),
    'election-timeout': durationFlag({description: 'minimum Raft election timeout, e.g. 150ms [default: 150ms]', minMs: 1}),
    heartbeat: durationFlag({description: 'Raft heartbeat interval, e.g. 50ms [default: 50ms]', minMs: 1}),
    slow: Flags.boolean({
      description: `Raft ${SLOW_FACTOR}x slower so a person can follow an election: election timeout ${SLOW_TIMING.electionTimeoutMs}ms, heartbeat ${SLOW_TIMING.heartbeatMs}ms (not with --election-timeout or --heartbeat)`,
    }),
    restart: Flags.string({
      description: `what to do when a node crashes: ${RESTART_POLICIES.join(' or ')}; no leaves it down, on-failure starts it again with back-off [default: no, or what the cluster had]`,
      helpValue: RESTART_POLICIES.join('|'),
    }),
    retention: Flags.string({
      description: `${'what the cluster keeps, oldest messages trimmed first: max-messages=N,max-bytes=SIZE,max-age=DURATION for the whole store, topic:NAME:<limits> for one topic (sizes in bytes or KB/MB/GB, e.g. max-messages=1000000,max-bytes=1GB,max-age=24h); repeatable; none: no limits'} [default: none, or what the cluster had]`,
      multiple: true,
      helpGroup: 'RETENTION',
    }),
    'snapshot-entries': Flags.integer({
      description: "each node compacts its log once this many applied entries are past its last compaction (pad-cli node --snapshot-entries) [default: the node's, or what the cluster had]",
      min: 1,
      max: MAX_COMPACTION_ENTRIES,
    }),
    'trailing-entries': Flags.integer({
      description: "log entries each node keeps below its applied index when it compacts (pad-cli node --trailing-entries) [default: the node's, or what the cluster had]",
      min: 0,
      max: MAX_COMPACTION_ENTRIES,
    }),
    'lazy-fs': Flags.boolean({
      description:
        "put every node's data dir on the lazy layer (node-<i>/data, a FUSE mount over node-<i>/disk), which holds what a node has not fsynced so that pad-cli power-cut can drop it; needs root, /dev/fuse, fusermount3 and the built native/lazyfs (bash scripts/install-native.sh); --no-lazy-fs turns it off [default: off, or what the cluster had]",
      allowNo: true,
      helpGroup: 'TESTING',
    }),
    'unsafe-no-fsync': Flags.boolean({
      description:
        'FOR TESTS ONLY: start every node with pad-cli node --unsafe-no-fsync (SQLite synchronous=OFF): acknowledged messages are LOST on a power cut; for this up only',
      helpGroup: 'TESTING',
    }),
    'web-port': Flags.integer({
      description: `port of the web console on 127.0.0.1 (pad-cli web opens it); 0: any free port; taken: any free port, with a warning in the timeline [default: ${DEFAULT_WEB_PORT}, or what the cluster had]`,
      min: 0,
      max: 65535,
      exclusive: ['no-web'],
    }),
    'no-web': Flags.boolean({description: 'no web console (kept for the next up; --web-port turns it on again)'}),
    wait: durationFlag({description: 'how long to wait for the nodes and a leader (a bare number is seconds)', default: 15_000, defaultHelp: async () => '15s', unit: 's', minMs: 100}),
  }

  async run(): Promise<ClusterStatus | undefined> {
    const {flags} = await this.parse(Up)
    const exposed = flags.host === undefined ? null : exposureWarning(flags.host)
    if (exposed) process.stderr.write(`warning: ${exposed}\n`)
    checkSlow(flags.slow, flags['election-timeout'], flags.heartbeat)
    const waitMs = flags.wait
    const layout = clusterLayout(flags)
    if (flags.slow) Object.assign(layout, SLOW_TIMING)
    let prepared: Prepared
    try {
      prepared = await prepareUp({
        cluster: flags.cluster,
        nodes: flags.nodes,
        ...layout,
        restart: flags.restart === undefined ? undefined : parseRestartPolicy(flags.restart),
        retention: flags.retention,
        snapshotEntries: flags['snapshot-entries'],
        trailingEntries: flags['trailing-entries'],
        lazyFs: flags['lazy-fs'],
        unsafeNoFsync: flags['unsafe-no-fsync'],
        netns: flags.netns,
        webPort: flags['no-web'] ? null : flags['web-port'],
      })
    } catch (error) {
      if (error instanceof AlreadyUpError && error.status) {
        if (this.jsonEnabled()) this.logJson(error.status)
        else this.log(statusTable(error.status) + '\n')
      }
      throw error
    }
    if (prepared.recovered.length > 0) {
      this.log(`The previous supervisor of "${flags.cluster}" was gone; stopped ${prepared.recovered.length} node process(es) it left behind.`)
    }
    if (flags.foreground) {
      await this.foreground(prepared, waitMs, this.jsonEnabled())
      return undefined
    }
    let status: ClusterStatus
    try {
      const pid = await launchSupervisor(prepared.paths)
      const socket = prepared.paths.socket
      status = await waitUntilReady(prepared.paths, () => controlRequest(socket, {op: 'status'}, 5000), {waitMs, supervisorPid: pid})
    } catch (error) {
      if (error instanceof ClusterError && error.code !== 'NO_LEADER') {
        // Leave nothing half-started behind.
        await downCluster(flags.cluster, false).catch(() => {})
      }
      throw error
    } finally {
      prepared.releaseLock()
    }
    this.log(this.summary(status, consoleUrl(prepared.paths)))
    return status
  }

  /** `web`: the console's URL (with the token in its fragment), null without one. */
  private summary(status: ClusterStatus, web: string | null): string {
    const c = status.cluster === DEFAULT_CLUSTER ? '' : ` --cluster ${status.cluster}`
    // Nodes `remove` took out stay in status; here only the members that run.
    const members = status.nodes.filter((n) => n.membership !== 'removed')
    const rows = members.map((n) => [
      String(n.index),
      n.membership === 'learner' ? 'LEARNER' : (n.role ?? '-'),
      n.pid === null ? '-' : String(n.pid),
      `${n.host}:${n.tcp_port}`,
      `http://${n.host}:${n.http_port}/`,
      `${n.host}:${n.raft_port}`,
    ])
    const leader = (status.leader === null ? 'no leader yet' : `node ${status.leader} leads (term ${status.term})`) + durabilityNote(status)
    return [
      `Cluster "${status.cluster}" is up: ${members.length} node${members.length === 1 ? '' : 's'}, ${leader}.`,
      '',
      table(['NODE', 'ROLE', 'PID', 'CLIENTS (TCP)', 'HTTP API AND DASHBOARD', 'RAFT'], rows),
      '',
      ...(web === null ? [] : [`Web console: ${web}`, '']),
      'Next:',
      ...commandList([
        [`pad-cli publish news '{"hello":"world"}'${c}`, 'publish through the cluster'],
        [`pad-cli subscribe news --from beginning${c}`, 'read it back (Ctrl-C to stop)'],
        ...(web === null ? [] : [[`pad-cli web${c}`, 'open the web console: watch elections, the logs and messages; act on nodes'] as [string, string]]),
        [`pad-cli kill leader${c}`, 'crash the leader, watch another take over'],
        ...(status.lazy_fs === true ? [[`pad-cli power-cut --all${c}`, 'cut the power of every node: what was not fsynced is gone'] as [string, string]] : []),
        [`pad-cli partition 0${c}`, `cut node 0 off; pad-cli heal${c} ends it`],
        [`pad-cli status${c}`, 'roles, terms, indexes, faults'],
        [`pad-cli add${c}`, 'grow the cluster by a node (pad-cli remove <node> shrinks it)'],
        [`pad-cli events -f${c}`, 'the timeline: elections, kills, partitions'],
        [`pad-cli down${c}`, 'stop everything (--purge deletes the data)'],
      ]),
    ].join('\n')
  }

  /** The supervisor in this process: node logs streamed with prefixes until Ctrl-C or `down`. */
  private async foreground(prepared: Prepared, waitMs: number, json: boolean): Promise<void> {
    const {paths, state} = prepared
    const color = useColor()
    const width = Math.max(...state.nodes.map((n) => `node${n.index}`.length), 'pad'.length)
    const followers = state.nodes.map(
      (node) =>
        new LineFollower(node.log_file, (line) => {
          if (json) this.jsonLine({node: node.index, line})
          else this.log(nodePrefix(node.index, width, color) + line)
        }),
    )
    const supervisor = new Supervisor(paths, {foreground: true})
    supervisor.events.onEvent((event) => {
      if (json) this.jsonLine({event})
      else this.log(nodePrefix('pad', width, color) + formatEvent(event))
    })
    let interrupted = false
    const offInterrupts = onInterrupts({
      first: () => {
        interrupted = true
        process.stderr.write('\nStopping the cluster (Ctrl-C again to kill it at once)...\n')
        void supervisor.shutdown()
      },
      again: () => {
        supervisor.killAll()
        process.stderr.write('Killed.\n')
        process.exit(130)
      },
    })
    try {
      await supervisor.start()
    } finally {
      prepared.releaseLock()
    }
    for (const follower of followers) follower.start(100)
    try {
      const status = await waitUntilReady(paths, () => supervisor.status(), {waitMs, supervisorPid: process.pid})
      if (json) this.jsonLine({status})
      else this.log(this.summary(status, consoleUrl(paths)).replace(/\nNext:[\s\S]*$/, '\nCtrl-C stops the cluster.\n'))
    } catch (error) {
      if (interrupted) {
        // Ctrl-C while starting: the supervisor is already stopping the nodes.
      } else if (!(error instanceof ClusterError && error.code === 'NO_LEADER')) {
        await supervisor.shutdown()
        for (const follower of followers) follower.stop()
        throw error
      } else {
        process.stderr.write(`${(error as Error).message}\n`)
      }
    }
    await supervisor.closed()
    for (const follower of followers) {
      follower.poll()
      follower.stop()
    }
    offInterrupts()
  }
}

function commandList(items: [string, string][]): string[] {
  const width = Math.max(...items.map(([command]) => command.length))
  return items.map(([command, what]) => `  ${command.padEnd(width)}   ${what}`)
}
