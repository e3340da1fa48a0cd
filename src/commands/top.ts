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
from the selected leader; b start or stop a background publisher; ? help; q or Ctrl-C quit. Every action prints the \
equivalent pad-cli command in the timeline. A terminal of 100 columns or more also shows FIRST (the first index \
still in the node's log: it was compacted below) and DISK (the node's database on disk).

--once prints one snapshot of the same data and exits; with --json it is {"cluster", "leader", "term", "elections", \
"commits_per_s", "rate_history", "publisher", "nodes": [{"index", "node_id", "pid", "process", "role", "term", \
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
