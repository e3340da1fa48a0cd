import {Flags} from '@oclif/core'
import type {ControlAnswers} from '../api/control.js'
import {ClusterHandle, MEMBERSHIP_TIMEOUT_MS} from '../cluster/cluster.js'
import {clusterFlag, nodeArg} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {parseNodeRef} from '../cluster/node-args.js'
import {removedText} from './remove.js'

export default class Repair extends PadCommand<ControlAnswers['repair']> {
  static override summary = 'Rebuild a node that found its data corrupt: a new member catches up from the leader and takes its place.'

  static override description = `A node whose database fails its checks (pad-cli status shows it corrupt) takes no part in \
Raft. Repair replaces it as pad-cli replace does: a new node (the next index) joins, catches up from the leader (by \
snapshot once the log is compacted) and becomes a voter, then the corrupt node is removed from the configuration and \
stopped, and its data dir is renamed aside (the path is printed) for inspection. A new node id rather than the old one \
wiped: an empty node under its old id would count as a voter that still holds what it acknowledged before, and could \
help elect a leader that lacks a committed entry. Refused when the node does not report corrupt data (--force replaces \
it anyway) or when removing it would leave no live quorum.`

  static override examples = ['<%= config.bin %> repair 1', '<%= config.bin %> repair 2 --cluster test --json', '<%= config.bin %> repair 1 --force   # a node you distrust that says nothing']

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
    force: Flags.boolean({description: 'replace the node even if it does not report corrupt data'}),
  }

  async run(): Promise<ControlAnswers['repair']> {
    const {args, flags} = await this.parse(Repair)
    const ref = parseNodeRef(args.node)
    const cluster = await ClusterHandle.open(flags.cluster)
    const answer = await cluster.request({op: 'repair', node: cluster.check(ref), force: flags.force}, MEMBERSHIP_TIMEOUT_MS)
    const added = answer.added
    this.log(`node ${answer.node}${answer.reason === null ? '' : ` (${answer.reason})`}: replaced by node ${added.node} (pid ${added.pid}, TCP ${added.tcp_port}, HTTP ${added.http_port}), caught up from the leader and a voter (configuration entry ${added.promoted_at})`)
    this.log(removedText(answer.removed))
    this.log(answer.kept === null ? `node ${answer.node} had no data dir to keep` : `its data is kept for inspection in ${answer.kept}`)
    return answer
  }
}
