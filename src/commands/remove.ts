import type {RemoveAnswer} from '../api/control.js'
import {ClusterHandle, MEMBERSHIP_TIMEOUT_MS} from '../cluster/cluster.js'
import {clusterFlag, nodeArg} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {parseNodeRef} from '../cluster/node-args.js'

export default class Remove extends PadCommand<RemoveAnswer> {
  static override summary = 'Shrink the cluster by one node: it leaves the configuration, then its process stops.'

  static override description = `A leader first hands its leadership to the live voter with the longest log. Then the \
leader removes the node from the configuration and waits until that commits; then the supervisor stops the node's \
process (if it runs). The node stays in pad-cli status as REMOVED, its index is never used again, and its data stays \
until pad-cli down --purge.

Refused, with the reason, when the node is the last voter, when the voters left would not have a live majority (a \
quorum) to commit the change, when another membership change is in flight, or when the node was removed already. \
A node that is down can be removed (that is how a dead machine leaves; pad-cli replace also adds one in its place).`

  static override examples = ['<%= config.bin %> remove 3', '<%= config.bin %> remove leader', '<%= config.bin %> remove 4 --cluster test --json']

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
  }

  async run(): Promise<RemoveAnswer> {
    const {args, flags} = await this.parse(Remove)
    const ref = parseNodeRef(args.node)
    const cluster = await ClusterHandle.open(flags.cluster)
    const answer = await cluster.request({op: 'remove', node: cluster.check(ref)}, MEMBERSHIP_TIMEOUT_MS)
    this.log(removedText(answer))
    return answer
  }
}

/** One line for a removal: who leads now, the configuration left, what happened to the process. */
export function removedText(answer: RemoveAnswer): string {
  const handed = answer.was_leader ? `handed its leadership to node ${answer.leader}, ` : ''
  const process = answer.stopped ? 'its process was stopped' : 'it was not running'
  const learners = answer.learners.length > 0 ? `, learners ${answer.learners.join(',')}` : ''
  return `node ${answer.node} ${handed}left the cluster (configuration entry ${answer.index}: voters ${answer.voters.join(',')}${learners}); ${process}, its data stays until pad-cli down --purge`
}
