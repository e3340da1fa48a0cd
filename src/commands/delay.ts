import type {ControlAnswers} from '../api/control.js'
import {Args} from '@oclif/core'
import {ClusterHandle} from '../cluster/cluster.js'
import {clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {formatMs} from '../cluster/events.js'
import {durationArg, durationFlag} from '../cli/duration.js'
import {parseNodeRef} from '../cluster/node-args.js'

/** A link delay is milliseconds, a bare number too, and at most a minute. */
const SHORT = {unit: 'ms', maxMs: 60_000, examples: '100, 100ms, 1.5s'} as const

export default class Delay extends PadCommand<ControlAnswers['delay']> {
  static override summary = "Slow down a node's links: add latency to its Raft traffic, both ways."

  static override description = `Every message between the node and its peers waits <ms> (plus up to --jitter more, at \
random) in the node's transport. 0 removes the delay. Lasts until pad-cli heal, or --for.`

  static override examples = [
    '<%= config.bin %> delay 2 100',
    '<%= config.bin %> delay leader 200ms --jitter 50ms',
    '<%= config.bin %> delay 1 500 --for 30s',
    '<%= config.bin %> delay 2 0   # remove it',
  ]

  static override args = {
    node: Args.string({description: 'node index, or "leader"', required: true}),
    ms: durationArg({description: 'added latency in milliseconds (100 or 100ms)', required: true, label: 'delay', ...SHORT}),
  }

  static override flags = {
    cluster: clusterFlag,
    jitter: durationFlag({description: 'extra random latency, up to this many milliseconds', ...SHORT}),
    for: durationFlag({description: 'remove it by itself after this long, e.g. 30s (a bare number is seconds)', unit: 's', minMs: 1}),
  }

  async run(): Promise<ControlAnswers['delay']> {
    const {args, flags} = await this.parse(Delay)
    const ref = parseNodeRef(args.node)
    const ms = args.ms
    const jitterMs = flags.jitter ?? 0
    const forMs = flags.for
    const cluster = await ClusterHandle.open(flags.cluster)
    const answer = await cluster.request({op: 'delay', node: cluster.check(ref), ms, jitter_ms: jitterMs, for_ms: forMs})
    if (ms === 0 && jitterMs === 0) this.log(`Node ${answer.node}: no added delay.`)
    else this.log(`Node ${answer.node}: its links are delayed ${ms} ms${jitterMs ? ` ± up to ${jitterMs} ms` : ''}${forMs ? ` for ${formatMs(forMs)}` : ' until pad-cli heal'}.`)
    if (answer.pending.includes(answer.node)) this.log(`Node ${answer.node} is not running: it gets the delay when it is back.`)
    return answer
  }
}
