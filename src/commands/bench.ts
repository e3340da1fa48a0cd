import {performance} from 'node:perf_hooks'
import {Flags, type Interfaces} from '@oclif/core'
import {catchupBoundMs, runCatchup} from '../bench/catchup.js'
import {runFailover} from '../bench/failover.js'
import {round3} from '../bench/latency.js'
import {runLoad} from '../bench/publish-load.js'
import {
  catchupDiskLine,
  catchupLine,
  failoverLine,
  failoverSummary,
  failoverSummaryLine,
  fillLine,
  loadTable,
  runInfoLine,
  type CatchupRow,
  type FailoverRow,
  type LoadPhaseName,
  type LoadRow,
} from '../bench/report.js'
import {runInfo, type RunInfo} from '../bench/run-info.js'
import {clusterTarget, converged, electionsWon, leaderOf, nodeTarget, storedMessages, temporaryTarget, type BenchTarget} from '../bench/targets.js'
import {clusterLayout} from '../cli/cluster-layout.js'
import {durationFlag} from '../cli/duration.js'
import {PadCommand} from '../cli/pad-command.js'

type BenchFlags = Interfaces.InferredFlags<(typeof Bench)['flags']>

interface LoadPhase {
  phase: LoadPhaseName
  mode: 'sync' | 'window'
  messages: number
}

export default class Bench extends PadCommand {
  static override summary = 'Measure publish throughput, ack latency, failover time and catch-up of a member.'

  static override description = `Runs the workload of our peer benchmarks (NATS JetStream and etcd, with the same client workload): \
fixed-size messages, one at a time awaiting each ack (sync) or with a window of publishes in flight (window), against \
the leader. Every ack comes only after the message is fsynced on a majority. Latencies go into an HdrHistogram. \
Before each phase, --warmup publishes (500, as in the peers' bench) go one at a time and are not measured.

--mode failover publishes at a steady rate (open loop, each publish with its own ack timeout) through the followers, \
SIGKILLs the leader after 2 s, and reports gap_s (kill -> first ack of a publish sent after it) and whether every \
acknowledged message is stored at the offset its ack named (acked_all_stored). --repeat runs it again (restarting \
the killed node in between) and adds min/median/max. With --power-cut the leader loses power instead (a temporary \
cluster on the lazy layer, root and FUSE: what it had not fsynced is dropped, and it is started again at once), and \
back_s is added: from the cut until that node serves again and every node has applied all that is committed.

--mode catchup always starts a temporary cluster (--nodes, 3 unless given) and fills it with --messages messages \
(1,000,000 unless given) of --size bytes, --window in flight per connection, reporting the fill rate (--duration, if \
given, caps the fill). Then it stops a \
follower, publishes 10 % more so that it is behind, starts it, and times its catch-up: from the start request until \
it has applied what the leader had committed (GET /raft on every node, every 100 ms; at most a minute plus a millisecond per entry behind). Then it stops a follower, \
wipes its data dir (of the temporary cluster), moves leadership to the other follower (a leader never lowers what \
it knows a follower holds; a new one knows nothing of it, as of a brand-new member), starts it and times the same: \
what a brand-new member goes through. During each \
catch-up a background publisher sends --rate publishes/s (200 unless given) to the leader; reported: their p99 ack \
latency, the elections won on any node (the target is none), the bytes the leader sent to its peers \
(pad_raft_bytes_sent_total in /metrics) and each node's peak RSS (GET /stats). Last, each node's data dir in bytes \
per stored message, and as a ratio to the payload (topic plus body bytes). With --json: one line with all of it.

Target: with --nodes N a temporary cluster is started for the run and removed after it; otherwise the cluster that \
\`pad-cli up\` started (--cluster); or one node given by --port. With --json: one line per phase with the peers' fields (n_target, and capped when --duration cut the \
phase short; server, client and run), plus commit (git HEAD, or null outside a checkout), cores and fsync_ms (the \
median of a few fsyncs of a small file in the cluster's folder, fsync_dir). The text output ends with the same.

Comparing with the peers: scripts/peers/ in this repository runs the same workload against NATS JetStream (3 servers \
with a stream of 3 replicas on file storage, then one server with 1) and etcd (3 members, then 1). On first use it \
installs Debian's nats-server and etcd-server and their npm clients (needs root, apt and npm). It prints one JSON line \
per phase with the fields of --json: \`bash scripts/peers/nats/run.sh\`, \`bash scripts/peers/etcd/run.sh\`, or \
\`bash scripts/bench-vs-peers.sh 3\` for pad-cli and both peers alternating, with one min/median/max table and the rows \
saved to docs/benchmarks/. NATS 2.9 fsyncs on a timer and etcd before each ack; docs/performance.md gives every setting.`

  static override examples = [
    '<%= config.bin %> bench --nodes 3',
    '<%= config.bin %> bench --nodes 3 --mode window --window 256 --json',
    '<%= config.bin %> bench --nodes 3 --mode failover --repeat 10',
    '<%= config.bin %> bench --nodes 3 --mode failover --power-cut --repeat 10',
    '<%= config.bin %> bench --mode catchup --messages 200000 --json',
    '<%= config.bin %> bench                      # against the cluster of `pad-cli up`',
    '<%= config.bin %> bench --port 5000 --mode sync --messages 20000',
  ]

  static override flags = {
    mode: Flags.string({description: 'sync, window, all (sync then window), failover or catchup', options: ['sync', 'window', 'all', 'failover', 'catchup'], default: 'all'}),
    size: Flags.integer({description: 'message body size in bytes', default: 128, min: 16}),
    window: Flags.integer({description: 'publishes in flight per connection in window mode', default: 256, min: 1}),
    connections: Flags.integer({description: 'client connections', default: 1, min: 1}),
    messages: Flags.integer({description: 'messages per phase [default: 20000 sync, 150000 window; catchup: 1000000 stored]', min: 1}),
    warmup: Flags.integer({description: 'publishes sent one at a time before each phase and not measured, as the peers do', default: 500, min: 0}),
    duration: durationFlag({description: 'longest a phase may run (e.g. 15s)', default: 15_000, defaultHelp: async () => '15s'}),
    rate: Flags.integer({description: 'open loop: msgs/s over all connections [default: closed loop; failover and catchup\'s background publisher: 200]', min: 1}),
    'ack-timeout': durationFlag({description: 'failover: how long each publish waits for its ack', default: 500, defaultHelp: async () => '500ms'}),
    repeat: Flags.integer({description: 'failover: kills to measure', default: 1, min: 1, max: 100}),
    'power-cut': Flags.boolean({
      description: 'failover: the leader loses power (pad-cli power-cut: unsynced writes dropped, restarted) instead of a SIGKILL; the temporary cluster runs on the lazy layer (root, FUSE: up --lazy-fs)',
    }),
    json: Flags.boolean({description: 'one JSON line per phase, with the fields of the peer benchmarks\' lines and the run\'s (commit, cores, fsync_ms)'}),
    nodes: Flags.integer({description: 'start a temporary cluster of this many nodes for the run [catchup: 3]', min: 1, max: 15}),
    cluster: Flags.string({description: 'cluster to run against (as brought up by `pad-cli up`)', default: 'default'}),
    host: Flags.string({description: 'address of the nodes', default: '127.0.0.1'}),
    port: Flags.integer({char: 'p', description: 'run against one node: its TCP port', min: 1, max: 65535}),
    'tcp-port': Flags.integer({description: 'temporary cluster: first TCP port', default: 15000, min: 1, max: 65535}),
    'http-port': Flags.integer({description: 'temporary cluster: first HTTP port (with --port: that node\'s HTTP port)', default: 18080, min: 1, max: 65535}),
    'raft-port': Flags.integer({description: 'temporary cluster: first Raft port', default: 16000, min: 1, max: 65535}),
    'election-timeout': durationFlag({description: 'temporary cluster: election timeout', default: 150, defaultHelp: async () => '150ms'}),
    heartbeat: durationFlag({description: 'temporary cluster: heartbeat interval', default: 50, defaultHelp: async () => '50ms'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Bench)
    if (flags.mode === 'failover' && flags.nodes !== undefined && flags.nodes < 3) {
      throw new Error('--mode failover needs a cluster of 3 or more nodes: give --nodes 3 or more')
    }
    if (flags['power-cut'] && flags.mode !== 'failover') throw new Error('--power-cut goes with --mode failover')
    if (flags.mode === 'catchup') {
      if (flags.port !== undefined || this.argv.some((a) => a.startsWith('--cluster'))) {
        throw new Error('--mode catchup wipes a node\'s data: it runs only on a temporary cluster of its own (--nodes, 3 unless given), not --port or --cluster')
      }
      if (flags.nodes !== undefined && flags.nodes < 3) throw new Error('--mode catchup needs a cluster of 3 or more nodes: give --nodes 3 or more')
      flags.nodes ??= 3
    }
    const startedAt = new Date()
    let target: BenchTarget
    if (flags.nodes !== undefined) {
      this.log(`starting a temporary cluster of ${flags.nodes} node(s) (TCP ${flags['tcp-port']}+, HTTP ${flags['http-port']}+, Raft ${flags['raft-port']}+)...`)
      target = await temporaryTarget({nodes: flags.nodes, ...clusterLayout(flags), ...(flags['power-cut'] ? {lazyFs: true} : {})})
    } else if (flags.port !== undefined) {
      const httpGiven = this.argv.some((a) => a.startsWith('--http-port'))
      target = nodeTarget(flags.host, flags.port, httpGiven ? flags['http-port'] : flags.port + 3080)
    } else {
      target = await clusterTarget(flags.cluster)
    }
    try {
      const info = runInfo({root: this.config.root, version: this.config.version, dataDir: target.cluster?.dir ?? null, startedAt})
      if (flags.mode === 'failover') await this.failover(target, flags, info)
      else if (flags.mode === 'catchup') await this.catchup(target, flags, info)
      else await this.load(target, flags, info)
      this.log(runInfoLine(info))
    } finally {
      await target.close()
    }
  }

  private async load(target: BenchTarget, f: BenchFlags, info: RunInfo): Promise<void> {
    const phases: LoadPhase[] = []
    if (f.mode !== 'window') phases.push({phase: 'pub-sync', mode: 'sync', messages: f.messages ?? 20_000})
    if (f.mode !== 'sync') phases.push({phase: 'pub-window', mode: 'window', messages: f.messages ?? 150_000})
    const rows: LoadRow[] = []
    for (const phase of phases) {
      const leader = target.cluster ? await leaderOf(target.nodes) : 0
      const node = target.nodes.find((n) => n.index === leader)!
      const electionsBefore = await electionsWon(target.nodes)
      const result = await runLoad({
        endpoints: [{host: node.host, port: node.tcp_port}],
        mode: phase.mode,
        size: f.size,
        window: f.window,
        connections: f.connections,
        messages: phase.messages,
        durationMs: f.duration,
        rate: f.rate,
        topic: 'bench',
        warmup: f.warmup,
      })
      const elections = (await electionsWon(target.nodes)) - electionsBefore
      const row: LoadRow = {system: 'pad-cli', phase: phase.phase, replicas: target.nodes.length, ...result, warmup: f.warmup, elections, ...info}
      rows.push(row)
      if (f.json) this.jsonLine(row)
    }
    this.log(loadTable(rows))
  }

  private async catchup(target: BenchTarget, f: BenchFlags, info: RunInfo): Promise<void> {
    if (!target.cluster || !target.folderOf) throw new Error('--mode catchup runs only on a temporary cluster of its own')
    const messages = f.messages ?? 1_000_000
    const durationGiven = this.argv.some((a) => a.startsWith('--duration'))
    const result = await runCatchup({
      cluster: target.cluster,
      nodes: target.nodes,
      folderOf: target.folderOf,
      messages,
      size: f.size,
      window: f.window,
      connections: f.connections,
      behind: Math.max(1, Math.round(messages / 10)),
      rate: f.rate ?? 200,
      fillTimeoutMs: durationGiven ? f.duration : catchupBoundMs(messages),
      topic: 'bench',
      progress: {
        filled: (fill) => this.log(fillLine(fill)),
        caughtUp: (what, run) => this.log(catchupLine(what, run)),
      },
    })
    this.log(catchupDiskLine(result))
    const row: CatchupRow = {system: 'pad-cli', ...result, ...info}
    if (f.json) this.jsonLine(row)
    const behind = [result.stopped_follower, result.empty_member].filter((r) => r.catchup_ms === null || r.converged_index === null)
    if (behind.length > 0) throw new Error(`node ${behind.map((r) => r.node).join(', ')} did not catch up within the bound: see the lines above`)
  }

  private async failover(target: BenchTarget, f: BenchFlags, info: RunInfo): Promise<void> {
    const cluster = target.cluster
    if (!cluster || target.nodes.length < 3) throw new Error('--mode failover needs a cluster of 3 or more nodes: give --nodes 3, or run `pad-cli up` first')
    const fault = f['power-cut'] ? 'power-cut' : 'kill'
    const results: FailoverRow[] = []
    for (let run = 0; run < f.repeat; run++) {
      const leader = await leaderOf(target.nodes)
      const survivors = target.nodes.filter((n) => n.index !== leader)
      // A power cut restarts the node by itself, which takes seconds: the publisher must not wait for it.
      let cut: Promise<void> | null = null
      let cutAt = 0
      const result = await runFailover({
        survivors: survivors.map((n) => ({host: n.host, port: n.tcp_port})),
        rate: f.rate ?? 200,
        ackTimeoutMs: f['ack-timeout'],
        killAfterMs: 2000,
        settleMs: 2000,
        maxMs: 20_000,
        size: f.size,
        topic: `bench.failover.${Date.now().toString(36)}`,
        killLeader: async () => {
          if (fault === 'kill') await cluster.kill(leader)
          else {
            cutAt = performance.now()
            cut = cluster.powerCut([leader])
            // Settled here so a failed cut is reported below, not as an unhandled rejection.
            cut.catch(() => {})
          }
          return `node ${leader}`
        },
        readStored: async (topic) => {
          await converged(survivors)
          return storedMessages(survivors[0], topic)
        },
      })
      let backS: number | null = null
      if (cut) {
        await cut
        await converged(target.nodes, 60_000)
        backS = round3((performance.now() - cutAt) / 1000)
      } else {
        await cluster.start(leader)
        await converged(target.nodes, 30_000)
      }
      const row: FailoverRow = {system: 'pad-cli', replicas: target.nodes.length, fault, ...result, back_s: backS, ...info}
      results.push(row)
      if (f.json) this.jsonLine(row)
      this.log(failoverLine(run + 1, f.repeat, row))
    }
    const summary = failoverSummary(results, target.nodes.length, info)
    if (f.json) this.jsonLine(summary)
    this.log(failoverSummaryLine(summary))
    if (!summary.acked_all_stored) throw new Error('an acknowledged message was not stored: this is a bug, please report it with the output above')
  }
}
