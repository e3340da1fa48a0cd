import {Args} from '@oclif/core'
import {ACTION_TIMEOUT_MS, ClusterHandle} from '../cluster/cluster.js'
import {ClusterCommand, clusterFlag, jsonFlag} from '../cli/cluster-command.js'
import {parseNodeRef} from '../cluster/node-args.js'

interface TransferAnswer {
  from: number
  to: number
  leader: number
  term: number
  moved: boolean
}

export default class Transfer extends ClusterCommand {
  static override summary = 'Move leadership to another node, without a crash: a planned hand-over.'

  static override description = `The leader stops taking publishes, brings the chosen node up to date, and tells it to \
campaign at once (Raft's leadership transfer); publishes wait and go on under the new leader. Without a node, the \
running follower with the longest log takes over. Waits until the new leader is elected; a transfer that lapses (the \
chosen node did not win within an election timeout) is asked for again, 3 times in all. The timeline (pad-cli events) \
records the request and the new leader.`

  static override examples = ['<%= config.bin %> transfer', '<%= config.bin %> transfer 2', '<%= config.bin %> transfer 1 --cluster test --json']

  static override args = {
    node: Args.string({description: 'the node to take over (0-based index) [default: the follower with the longest log]'}),
  }

  static override flags = {
    cluster: clusterFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Transfer)
    const ref = args.node === undefined ? null : parseNodeRef(args.node)
    const cluster = await ClusterHandle.open(flags.cluster)
    const answer = await cluster.request<TransferAnswer>('transfer', ref === null ? {} : {to: cluster.check(ref)}, ACTION_TIMEOUT_MS)
    if (flags.json) this.log(JSON.stringify(answer, null, 2))
    else if (!answer.moved) this.log(`node ${answer.leader} already leads (term ${answer.term}): nothing to move`)
    else this.log(`leadership moved from node ${answer.from} to node ${answer.to} (term ${answer.term})`)
  }
}
