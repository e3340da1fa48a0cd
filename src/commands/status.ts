import {Flags} from '@oclif/core'
import {ClusterHandle} from '../cluster/cluster.js'
import {clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {formatEvent, readEvents, type ClusterEvent} from '../cluster/events.js'
import {statusTable} from '../cluster/output.js'
import type {ClusterStatus} from '../cluster/status.js'

/** The status, with the last events of the timeline when --events asks for them. */
type StatusResult = ClusterStatus & {events?: ClusterEvent[]}

export default class Status extends PadCommand<StatusResult> {
  static override summary = 'Show every node of the cluster: membership, process, Raft role, term, indexes, lag, ports, faults.'

  static override description = `Asks every running node for its Raft state now. MEMBER is VOTER, LEARNER (added, still \
catching up: it receives the log but does not vote) or REMOVED (by pad-cli remove; its index is never used again). PROCESS is running, paused, stopped (by \
stop or down), exited (killed by kill or chaos, with the signal) or crashed (it ended by itself: the exit code or a \
signal nobody sent; the end of its log follows the table). LAG is how many entries the leader has \
committed that the node has not applied yet. FIRST is the first index still in the node's log (it was compacted below). FAULTS are the network faults the node applies to its peers.

--json prints {"cluster", "leader", "term", "supervisor_pid", "membership": {"voters", "learners"} (the leader's \
configuration, or null), "nodes": [{"index", "node_id", "membership" (voter, learner or removed), "pid", "process", \
"exit_code", "exit_signal", "crash_log", "restart_at", "role", "term", "commit_index", "last_applied", "log_length", "first_index", \
"snapshot_index", "disk_bytes", "snapshots_sent", "snapshots_installed", "corrupt", "lag", "leader_index", "host", \
"tcp_port", "http_port", "raft_port", "faults": [{"peer", "drop", "delay_ms", "jitter_ms", "loss", "expires_at"}], \
"data_dir", "log_file"}]}; role is LEADER, FOLLOWER or CANDIDATE, or null when the node is not running. With --events, "events" holds the last \
10 events of the timeline (as pad-cli events --json prints them).`

  static override aliases = ['ps']

  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> ps --cluster test',
    '<%= config.bin %> status --events   # and the last events of the timeline',
    "<%= config.bin %> status --json | jq '.leader'",
  ]

  static override flags = {
    cluster: clusterFlag,
    events: Flags.boolean({char: 'e', description: 'also show the last events of the timeline (pad-cli events shows them all)'}),
  }

  async run(): Promise<StatusResult> {
    const {flags} = await this.parse(Status)
    const cluster = await ClusterHandle.open(flags.cluster)
    const status = await cluster.status()
    const events = flags.events ? readEvents(cluster.paths.events).slice(-10) : null
    this.log(statusTable(status))
    if (events) this.log(['', 'Last events:', ...events.map(formatEvent)].join('\n'))
    return events ? {...status, events} : status
  }
}
