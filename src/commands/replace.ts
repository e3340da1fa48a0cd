import type {ControlAnswers} from '../api/control.js'
import {ClusterHandle, MEMBERSHIP_TIMEOUT_MS} from '../cluster/cluster.js'
import {clusterFlag, nodeArg} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {parseNodeRef} from '../cluster/node-args.js'
import {removedText} from './remove.js'

export default class Replace extends PadCommand<ControlAnswers['replace']> {
  static override summary = 'Swap a node for a new one: add a node and wait until it is a voter, then remove the old one.'

  static override description = `What an operator does with a dead or failing machine: pad-cli add --wait, then \
pad-cli remove <node>. The node to replace may be down (killed, crashed, stopped): the new node catches up from the \
others. Before anything starts, replace checks that the removal could follow (it would not leave the last voter or a \
cluster without a live quorum); if the new node does not catch up in time, the old one is not removed and the new one \
stays a learner (pad-cli remove it, or try again).`

  static override examples = ['<%= config.bin %> replace 1', '<%= config.bin %> replace leader', '<%= config.bin %> replace 2 --cluster test --json']

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
  }

  async run(): Promise<ControlAnswers['replace']> {
    const {args, flags} = await this.parse(Replace)
    const ref = parseNodeRef(args.node)
    const cluster = await ClusterHandle.open(flags.cluster)
    const answer = await cluster.request({op: 'replace', node: cluster.check(ref)}, MEMBERSHIP_TIMEOUT_MS)
    const added = answer.added
    this.log(`node ${added.node} (pid ${added.pid}, TCP ${added.tcp_port}, HTTP ${added.http_port}, Raft ${added.raft_port}) joined and is a voter (configuration entry ${added.promoted_at})`)
    this.log(removedText(answer.removed))
    return answer
  }
}
