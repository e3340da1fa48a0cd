import {Args, Flags} from '@oclif/core'
import {ClusterHandle} from '../cluster/cluster.js'
import {compactNodes, type NodeCompaction} from '../cluster/compaction.js'
import {MAX_COMPACTION_ENTRIES, parseNodeRef} from '../cluster/node-args.js'
import {clusterFlag} from '../cli/cluster-command.js'
import {fail} from '../cli/fail.js'
import {PadCommand} from '../cli/pad-command.js'

export default class Snapshot extends PadCommand<NodeCompaction[]> {
  static override summary = "Compact nodes' Raft logs now: what they applied becomes the snapshot the log starts after."

  static override description = `Each node drops its log entries up to its durable applied index, less the trailing \
window (--trailing-entries of pad-cli node, or --trailing here), whatever its --snapshot-entries threshold; a follower \
that later needs a dropped entry is sent the leader's snapshot instead. Without a node, every running node compacts. \
Prints one line per node: where its log now starts and its database's size on disk.`

  static override examples = ['<%= config.bin %> snapshot', '<%= config.bin %> snapshot 1 --trailing 0', '<%= config.bin %> snapshot leader --cluster test --json']

  static override args = {
    node: Args.string({description: 'node index (0-based), or "leader" [default: every running node]'}),
  }

  static override flags = {
    cluster: clusterFlag,
    trailing: Flags.integer({description: "log entries to keep below the applied index [default: each node's --trailing-entries]", min: 0, max: MAX_COMPACTION_ENTRIES}),
  }

  async run(): Promise<NodeCompaction[]> {
    const {args, flags} = await this.parse(Snapshot)
    const ref = args.node === undefined ? null : parseNodeRef(args.node)
    const cluster = await ClusterHandle.open(flags.cluster)
    const results = await compactNodes(cluster, ref === null ? null : cluster.check(ref), flags.trailing)
    for (const result of results) {
      if (result.ok) {
        const mib = (result.disk_bytes / (1024 * 1024)).toFixed(1)
        this.log(`node ${result.node}: log starts at ${result.first_index} (snapshot index ${result.snapshot_index}, term ${result.snapshot_term}), ${mib} MiB on disk`)
      } else {
        this.log(`node ${result.node}: not compacted: ${result.error}`)
      }
    }
    const failed = results.filter((r) => !r.ok)
    if (failed.length > 0) {
      if (this.jsonEnabled()) this.logJson(results)
      fail(this, `${failed.length} of ${results.length} node(s) could not compact`, 1)
    }
    return results
  }
}
