import type {ControlAnswers} from '../api/control.js'
import {Args} from '@oclif/core'
import {ClusterHandle} from '../cluster/cluster.js'
import {clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {formatMs} from '../cluster/events.js'
import {durationFlag} from '../cli/duration.js'
import {parseNodeRef, parsePercent} from '../cluster/node-args.js'

export default class Loss extends PadCommand<ControlAnswers['loss']> {
  static override summary = "Make a node's links lossy: drop a share of its Raft messages, both ways."

  static override description = `Each message between the node and its peers is lost with the given probability, in the \
node's transport. 0 removes the loss; 100 is a partition of the node. Lasts until pad-cli heal, or --for.`

  static override examples = ['<%= config.bin %> loss 1 20', '<%= config.bin %> loss leader 50% --for 10s', '<%= config.bin %> loss 1 0   # remove it']

  static override args = {
    node: Args.string({description: 'node index, or "leader"', required: true}),
    percent: Args.string({description: 'share of messages lost, from 0 to 100', required: true}),
  }

  static override flags = {
    cluster: clusterFlag,
    for: durationFlag({description: 'remove it by itself after this long, e.g. 30s (a bare number is seconds)', unit: 's', minMs: 1}),
  }

  async run(): Promise<ControlAnswers['loss']> {
    const {args, flags} = await this.parse(Loss)
    const ref = parseNodeRef(args.node)
    const fraction = parsePercent(args.percent)
    const percent = Math.round(fraction * 100_000) / 1000
    const forMs = flags.for
    const cluster = await ClusterHandle.open(flags.cluster)
    const answer = await cluster.request({op: 'loss', node: cluster.check(ref), percent, for_ms: forMs})
    if (percent === 0) this.log(`Node ${answer.node}: no message loss.`)
    else this.log(`Node ${answer.node}: ${percent}% of its messages are lost${forMs ? ` for ${formatMs(forMs)}` : ' until pad-cli heal'}.`)
    if (answer.pending.includes(answer.node)) this.log(`Node ${answer.node} is not running: it gets the loss when it is back.`)
    return answer
  }
}
