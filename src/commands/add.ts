import {Flags} from '@oclif/core'
import type {AddAnswer} from '../api/control.js'
import {ClusterHandle, MEMBERSHIP_TIMEOUT_MS} from '../cluster/cluster.js'
import {clusterCommandLine, clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'

export default class Add extends PadCommand<AddAnswer> {
  static override summary = 'Grow the cluster by one node: it joins as a learner, catches up, and becomes a voter.'

  static override description = `The new node gets the next index, one past every index the cluster ever used (a \
removed node's index is never used again), and the ports at that index from the cluster's bases (TCP 5000+i, HTTP \
8080+i, Raft 6000+i by default), which must be free. The supervisor starts it with --join through the leader and the \
cluster's token, election timing, compaction and retention; the leader adds it as a learner: it receives the log (or a \
snapshot) but does not vote or count for the quorum. Once it has applied all but 100 of the entries the leader \
committed (bounded by a timeout that grows with the log: 30 s plus 1 s per 5,000 entries), the leader promotes it to \
voter.

Without --wait, add returns once the learner serves; the supervisor goes on with the catch-up and the promotion, and \
the timeline says how it went (member-add, member-promote, or a warning if it stays a learner). With --wait, add \
returns once the node is a voter. One membership change at a time: another add, remove or replace meanwhile is refused.`

  static override examples = ['<%= config.bin %> add', '<%= config.bin %> add --wait', '<%= config.bin %> add --wait --cluster test --json']

  static override flags = {
    cluster: clusterFlag,
    wait: Flags.boolean({description: 'return once the new node is a voter, not as soon as it serves as a learner'}),
  }

  async run(): Promise<AddAnswer> {
    const {flags} = await this.parse(Add)
    const cluster = await ClusterHandle.open(flags.cluster)
    const answer = await cluster.request({op: 'add', wait: flags.wait}, MEMBERSHIP_TIMEOUT_MS)
    const where = `TCP ${answer.tcp_port}, HTTP ${answer.http_port}, Raft ${answer.raft_port}`
    if (answer.promoted_at !== null) this.log(`node ${answer.node} (pid ${answer.pid}, ${where}) joined through node ${answer.leader} and is a voter (configuration entry ${answer.promoted_at})`)
    else this.log(`node ${answer.node} (pid ${answer.pid}, ${where}) joined through node ${answer.leader} as a learner; it becomes a voter once it has caught up: watch with ${clusterCommandLine(flags.cluster, 'events -f')}`)
    return answer
  }
}
