import {Flags} from '@oclif/core'
import {clusterLayout} from '../cli/cluster-layout.js'
import {flagGiven} from '../cluster/cluster.js'
import {durationFlag} from '../cli/duration.js'
import {clusterInterrupts} from '../cli/interrupts.js'
import {fail} from '../cli/fail.js'
import {PadCommand} from '../cli/pad-command.js'
import {checkHistory} from '../chaos/checker.js'
import {HistoryError, readHistory} from '../chaos/history.js'
import {DEFAULT_FAMILIES, FAMILY_HELP, FAULT_FAMILIES, type FaultFamily} from '../chaos/nemesis.js'
import {newSeed} from '../chaos/random.js'
import {DEFAULT_RUN, runChaos, type ChaosRunOptions} from '../chaos/run.js'
import {formatSummary, replayCommand, summaryJson, type ChaosSummary, type SummaryInput} from '../chaos/summary.js'
import {MAX_COMPACTION_ENTRIES} from '../cluster/node-args.js'

/** The families --faults takes, one line each, for the description. */
const FAMILY_LINES = FAULT_FAMILIES.map((f) => `  ${f.padEnd(11)}  ${FAMILY_HELP[f]}`).join('\n')

/** What `chaos --json` prints: the summary of the run (or of the history checked again). */

export default class Chaos extends PadCommand<ChaosSummary> {
  static override jsonLayout = 'line' as const

  static override summary = 'Prove under faults that no acknowledged message is lost, duplicated or reordered.'

  static override description = `Starts a temporary cluster on its own ports (or takes the one named by --cluster), publishes from several publishers (unique \
values and dedup ids, many in flight, spread over all nodes, retried with the same id), subscribes on every node, and \
meanwhile injects faults on a schedule drawn from --seed: SIGKILL and SIGTERM with restart, pause/resume, a crash of \
a majority or of every node at once, partitions (one node, the leader, halves, ring, bridge), delay and loss; with \
--faults ...,membership also adds, removes and replaces members (a random voter or the leader, sometimes a node it \
killed first), keeping nodes-1 to nodes+1 voters (at least 3); those changes are not undone, and the cluster's \
refusals (a change in flight, a quorum it would lose) are skipped steps. With --faults ...,corrupt it also damages one node's files at a time (SIGKILL, then bits flipped in or bytes cut off its database or WAL, then start; pad-cli corrupt) and, if the node reports its data corrupt, repairs it (pad-cli repair: a new member takes its place); a damage the node does not notice leaves it running, and the check says whether anything was lost. Publishers and subscribers follow the members \
(a removed node's subscribers move to another member, a new node gets subscribers of its own). Then it heals \
everything, waits for the cluster to converge, reads every voter's messages (a removed node's are stale by design) \
and checks the history.

Fault families (--faults; without it: ${DEFAULT_FAMILIES.join(', ')}):

${FAMILY_LINES}

pause-kill and part-kill are Jepsen's combined schedules of its NATS analysis; overlap plays several faults at once, \
never more than a minority of the nodes down at one instant, and each fault has its own start and end in the history. \
power and power-all cut nodes as a power loss would (needs a cluster started with --lazy-fs); with power among the \
families, pause-kill and part-kill crash their node by a power cut half the time and overlap draws power cuts too.

What the checker counts:

  lost         acknowledged, but not stored at its offset on every node
  unexpected   stored, but never published (or its publish definitely failed)
  duplicated   one publish stored at two offsets
  divergent    two nodes disagree at an offset of a topic, or a node has a gap
  subscriber   a subscriber saw a gap, a reorder, a duplicate or another value than stored
  reordered    a publish acked before another was sent is stored after it
  split brain  two nodes led the same term
  recovered    a publish whose outcome was unknown, stored (allowed)

It exits 1 if any of these (but recovered) is not zero, printing the seed and the command that replays the run. \
The whole history is written as JSON to history.json in the run's folder (the temporary cluster's folder; with --cluster, \
chaos-<seed>-<time>/ in that cluster's folder), or to --history; \
--check <file> checks a recorded history again without running anything.

The temporary cluster is run by the cluster manager in this process, as cluster "chaos" in a PAD_HOME of its \
own: while it runs, \`PAD_HOME=<folder> pad-cli status --cluster chaos\` (or events, logs) shows it. When the \
run passes, its nodes' data and logs are deleted and the folder keeps the history and the event timeline (a temp \
folder the run made is deleted whole when --history wrote the history elsewhere); with --keep, or when it fails, \
everything is kept. With --cluster, the faults are injected into a cluster brought up with \
\`pad-cli up\`, which is left running and healed.

Power cuts (--faults power, power-all) need the lazy layer (root and FUSE, see pad-cli up --lazy-fs): the temporary \
cluster then runs on it, and a cluster named by --cluster must have been started with --lazy-fs. \
--unsafe-no-fsync plants the bug they exist to catch: nodes that acknowledge before they fsync.`

  static override examples = [
    '<%= config.bin %> chaos',
    '<%= config.bin %> chaos --nodes 5 --duration 10m',
    '<%= config.bin %> chaos --seed 1234 --duration 2m --faults kill,partition',
    '<%= config.bin %> chaos --nodes 5 --duration 10m --faults kill,partition,pause,membership',
    '<%= config.bin %> chaos --nodes 5 --duration 2m --faults pause-kill,part-kill,overlap',
    '<%= config.bin %> chaos --duration 30s --json > result.json',
    '<%= config.bin %> up --nodes 5 && <%= config.bin %> chaos --cluster default --duration 2m',
    '<%= config.bin %> chaos --check /tmp/pad-chaos-1234-abc/chaos/history.json',
  ]

  static override flags = {
    seed: Flags.integer({description: 'seed of the fault schedule (and of the workload\'s choices) [default: random]', min: 1}),
    nodes: Flags.integer({description: 'nodes of the temporary cluster', default: DEFAULT_RUN.nodes, min: 3, max: 9}),
    duration: durationFlag({unit: 's', description: 'how long faults are injected (e.g. 30s, 10m; a bare number is seconds)', default: DEFAULT_RUN.durationMs, defaultHelp: async () => '60s'}),
    faults: Flags.string({description: `fault families, comma-separated, from ${FAULT_FAMILIES.join(', ')} (see above; membership, corrupt, the combined ones and the power cuts only when named)`, default: DEFAULT_FAMILIES.join(',')}),
    interval: durationFlag({description: 'mean pause between two faults', default: DEFAULT_RUN.intervalMs, defaultHelp: async () => '1.5s'}),
    'min-hold': durationFlag({description: 'shortest time a fault is held', default: DEFAULT_RUN.minHoldMs, defaultHelp: async () => '1s'}),
    'max-hold': durationFlag({description: 'longest time a fault is held', default: DEFAULT_RUN.maxHoldMs, defaultHelp: async () => '4s'}),
    publishers: Flags.integer({description: 'publisher connections (each to every node)', default: DEFAULT_RUN.publishers, min: 1, max: 64}),
    window: Flags.integer({description: 'publishes in flight per publisher', default: DEFAULT_RUN.window, min: 1, max: 1024}),
    rate: Flags.integer({description: 'publishes per second over all publishers (0: as fast as acks allow)', default: DEFAULT_RUN.rate, min: 0}),
    topics: Flags.integer({description: 'topics the messages are spread over', default: DEFAULT_RUN.topics, min: 1, max: 100}),
    subscribers: Flags.integer({description: 'subscribers per node', default: DEFAULT_RUN.subscribersPerNode, min: 0, max: 16}),
    'max-attempts': Flags.integer({description: 'attempts per publish (same id) before its outcome is left unknown', default: DEFAULT_RUN.maxAttempts, min: 1}),
    'attempt-timeout': durationFlag({description: 'how long one attempt waits for its ack', default: DEFAULT_RUN.attemptTimeoutMs, defaultHelp: async () => '5s'}),
    'converge-timeout': durationFlag({description: 'how long to wait for the healed cluster to converge', default: DEFAULT_RUN.convergeTimeoutMs, defaultHelp: async () => '60s'}),
    cluster: Flags.string({description: 'run on this cluster (see pad-cli up) instead of a temporary one; --nodes and the ports are then its own'}),
    host: Flags.string({description: 'address the nodes listen on', default: DEFAULT_RUN.host}),
    netns: Flags.boolean({
      description: "run the temporary cluster's nodes each in its own network namespace, at its own address, with partitions cut in the kernel (as pad-cli up --netns; root only; not with --host or --cluster)",
    }),
    'tcp-port': Flags.integer({description: 'first node TCP port (node i: +i)', default: DEFAULT_RUN.tcpPort, min: 1, max: 65535}),
    'http-port': Flags.integer({description: 'first node HTTP port', default: DEFAULT_RUN.httpPort, min: 1, max: 65535}),
    'raft-port': Flags.integer({description: 'first node Raft port', default: DEFAULT_RUN.raftPort, min: 1, max: 65535}),
    'election-timeout': durationFlag({description: "the temporary cluster's election timeout", default: DEFAULT_RUN.electionTimeoutMs, defaultHelp: async () => '150ms'}),
    heartbeat: durationFlag({description: "the temporary cluster's heartbeat", default: DEFAULT_RUN.heartbeatMs, defaultHelp: async () => '50ms'}),
    'snapshot-entries': Flags.integer({description: "the temporary cluster's --snapshot-entries (low values make snapshots happen under faults) [default: the node's]", min: 1, max: MAX_COMPACTION_ENTRIES}),
    'trailing-entries': Flags.integer({description: "the temporary cluster's --trailing-entries [default: the node's]", min: 0, max: MAX_COMPACTION_ENTRIES}),
    'unsafe-no-fsync': Flags.boolean({
      description:
        "FOR TESTS ONLY: the temporary cluster's nodes run with pad-cli node --unsafe-no-fsync (SQLite synchronous=OFF), the planted bug that --faults power must catch as lost acknowledged messages",
      exclusive: ['cluster'],
      helpGroup: 'TESTING',
    }),
    dir: Flags.string({description: "the temporary cluster's PAD_HOME [default: a new temp dir]"}),
    history: Flags.string({description: "where to write the history [default: history.json in the run's folder]"}),
    keep: Flags.boolean({description: "keep the nodes' data and logs even when the run passes (they are kept when it fails)"}),
    check: Flags.string({description: 'check a recorded history file instead of running', exclusive: ['seed', 'nodes', 'duration', 'faults']}),
    json: Flags.boolean({description: 'print the result as JSON (progress goes to stderr)'}),
    quiet: Flags.boolean({char: 'q', description: 'no progress lines'}),
  }

  async run(): Promise<ChaosSummary> {
    const {flags, raw} = await this.parse(Chaos)
    if (flags.check) return this.recheck(flags.check)
    const families = this.families(flags.faults)
    if (flags['min-hold'] > flags['max-hold']) this.usage('--min-hold must not be longer than --max-hold')
    if (flags.heartbeat >= flags['election-timeout']) this.usage('--heartbeat must be shorter than --election-timeout')
    if (flags.netns && flags.cluster !== undefined) this.usage('--netns is for the temporary cluster: a cluster of yours runs in namespaces when you bring it up with pad-cli up --netns')
    if (flags.netns && flagGiven(raw, ['host'])) this.usage('--host does not go with --netns: each node gets its own address on the cluster\'s bridge')
    const seed = flags.seed ?? newSeed()
    const options: ChaosRunOptions = {
      ...DEFAULT_RUN,
      seed,
      nodes: flags.nodes,
      durationMs: flags.duration,
      families,
      intervalMs: flags.interval,
      minHoldMs: flags['min-hold'],
      maxHoldMs: flags['max-hold'],
      publishers: flags.publishers,
      window: flags.window,
      rate: flags.rate,
      topics: flags.topics,
      subscribersPerNode: flags.subscribers,
      maxAttempts: flags['max-attempts'],
      attemptTimeoutMs: flags['attempt-timeout'],
      convergeTimeoutMs: flags['converge-timeout'],
      cluster: flags.cluster,
      ...clusterLayout(flags),
      dir: flags.dir,
      historyFile: flags.history,
      keep: flags.keep,
      snapshotEntries: flags['snapshot-entries'],
      trailingEntries: flags['trailing-entries'],
      unsafeNoFsync: flags['unsafe-no-fsync'],
      netns: flags.netns,
      replay: replayCommand(this.config.bin, seed, this.argv),
      log: (line) => {
        if (!flags.quiet) process.stderr.write(`chaos: ${line}\n`)
      },
    }

    // First Ctrl-C: stop injecting faults, then heal, converge and check as usual. Second:
    // kill the nodes now and exit.
    const interrupts = clusterInterrupts('chaos: stopping the faults; healing and checking (Ctrl-C again to kill the nodes and quit)')
    options.signal = interrupts.signal
    options.onCluster = interrupts.onCluster
    let result
    try {
      result = await runChaos(options)
    } catch (error) {
      return fail(this, `the chaos run could not complete (seed ${seed}): ${(error as Error).message}`, 2)
    } finally {
      interrupts.dispose()
    }
    return this.report(result)
  }

  /** Prints the summary (oclif prints the returned JSON with --json); an invalid history exits 1. */
  private report(result: SummaryInput): ChaosSummary {
    this.log(formatSummary(result))
    if (!result.report.valid) process.exitCode = 1
    return summaryJson(result)
  }

  private recheck(file: string): ChaosSummary {
    let history
    try {
      history = readHistory(file)
    } catch (error) {
      this.usage(error instanceof HistoryError ? error.message : String(error))
    }
    return this.report({history, report: checkHistory(history), historyFile: file, keptDir: null})
  }

  private families(text: string): FaultFamily[] {
    const items = text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
    const unknown = items.filter((s) => !(FAULT_FAMILIES as readonly string[]).includes(s))
    if (unknown.length > 0) this.usage(`unknown fault ${unknown.map((s) => `"${s}"`).join(', ')}: use ${FAULT_FAMILIES.join(', ')}`)
    return [...new Set(items)] as FaultFamily[]
  }
}
