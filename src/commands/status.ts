import {ClusterHandle} from '../cluster/cluster.js'
import {ClusterCommand, clusterFlag, jsonFlag} from '../cluster/command.js'
import {statusTable} from '../cluster/output.js'

export default class Status extends ClusterCommand {
  static override summary = 'Show every node of the cluster: process, Raft role, term, indexes, lag, ports, faults.'

  static override description = `Asks every running node for its Raft state now. PROCESS is running, paused, stopped (by \
stop or down), or exited (killed or crashed, with the signal or exit code). LAG is how many entries the leader has \
committed that the node has not applied yet. FAULTS are the network faults the node applies to its peers.

--json prints {"cluster", "leader", "term", "supervisor_pid", "nodes": [{"index", "node_id", "pid", "process", \
"exit_code", "exit_signal", "role", "term", "commit_index", "last_applied", "log_length", "lag", "leader_index", "host", \
"tcp_port", "http_port", "raft_port", "faults": [{"peer", "drop", "delay_ms", "jitter_ms", "loss", "expires_at"}], \
"data_dir", "log_file"}]}; role is LEADER, FOLLOWER or CANDIDATE, or null when the node is not running.`

  static override aliases = ['ps']

  static override examples = ['<%= config.bin %> status', '<%= config.bin %> ps --cluster test', "<%= config.bin %> status --json | jq '.leader'"]

  static override flags = {
    cluster: clusterFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Status)
    const cluster = await ClusterHandle.open(flags.cluster)
    const status = await cluster.status()
    if (flags.json) this.printJson(status)
    else this.log(statusTable(status))
  }
}
