import {Flags} from '@oclif/core'
import {ClusterHandle} from '../cluster/cluster.js'
import {clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {badArgument} from '../cluster/errors.js'
import type {TopSnapshot} from '../tui/model.js'

export default class Top extends PadCommand<TopSnapshot | undefined> {
  static override summary = 'The live dashboard: every node\'s Raft state, the commit rate and the timeline; keys to kill, stop, pause, partition and heal.'

  static override description = `Keys: ↑/↓ or j/k select a node; x kill (SIGKILL); s stop; r start, or restart a running node; \
p pause or resume; i isolate the selected node (partition); h heal every network fault; t transfer leadership away \
from the selected leader; a add a node; d remove the selected node; w cut the selected node's power (up --lazy-fs); \
b start or stop a background publisher (20 msgs/s); ? show or hide the help of every key (Escape hides it); q or \
Ctrl-C quit. Every action prints the equivalent pad-cli command in the timeline.

Rows: the node table; a terminal of 100 columns or more also shows FIRST (the first index still in the node's log: \
it was compacted below) and DISK (the node's database on disk). From 120 columns, a row per node draws the tail of its \
log as cells colored by term (GET /raft/log; solid cells are committed, underlined ones are not yet; "log: n/a" for a \
node that cannot say). The chart draws the last 60 seconds of commits/s and of the p99 publish latency in ms, which \
top measures on its own publisher's publishes (key b: POST /publish to its answer, sent once the message is committed \
and applied); it needs 40 columns and a few free rows.

--once prints one snapshot of the same data and exits; with --json it is {"cluster", "leader", "term", "elections", \
"commits_per_s", "rate_history", "p99_history" (ms, one a second, null without a publish of b), "publisher", "nodes": [{"index", "node_id", "pid", "process", "role", "term", \
"commit_index", "last_applied", "log_length", "first_index", "snapshot_index", "disk_bytes", "snapshots_sent", \
"snapshots_installed", "lag", "faults", "host", "http_port"}], "timeline": [{"time", "kind", \
"type", "text"}] (newest first), "status_at", "status_error"}.`

  static override examples = ['<%= config.bin %> top', '<%= config.bin %> top --cluster test', '<%= config.bin %> top --once', '<%= config.bin %> top --once --json | jq .leader']

  static override flags = {
    cluster: clusterFlag,
    once: Flags.boolean({description: 'print one snapshot and exit'}),
    json: Flags.boolean({description: 'with --once: print the snapshot as JSON', dependsOn: ['once']}),
  }

  async run(): Promise<TopSnapshot | undefined> {
    const {flags} = await this.parse(Top)
    const cluster = await ClusterHandle.open(flags.cluster)
    if (flags.once) {
      const {takeSnapshot, snapshotText} = await import('../tui/once.js')
      const snapshot = await takeSnapshot(cluster)
      this.log(snapshotText(snapshot))
      return snapshot
    }
    if (!process.stdout.isTTY || !process.stdin.isTTY) throw badArgument('pad-cli top needs a terminal: use pad-cli top --once [--json] in scripts')
    const {runTop} = await import('../tui/app.js')
    await runTop(cluster)
    return undefined
  }
}
