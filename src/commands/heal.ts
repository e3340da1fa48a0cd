import type {ControlAnswers} from '../api/control.js'
import {ClusterHandle} from '../cluster/cluster.js'
import {clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {routeLines} from '../cluster/output.js'

export default class Heal extends PadCommand<ControlAnswers['heal']> {
  static override summary = 'Remove every network fault: partitions, delay and loss.'

  static override description = 'Every node can reach every other again; a leader that was cut off learns of the newer term and \
steps down, and nodes that fell behind catch up.'

  static override examples = ['<%= config.bin %> heal', '<%= config.bin %> heal --cluster test']

  static override flags = {
    cluster: clusterFlag,
  }

  async run(): Promise<ControlAnswers['heal']> {
    const {flags} = await this.parse(Heal)
    const cluster = await ClusterHandle.open(flags.cluster)
    const answer = await cluster.request({op: 'heal'})
    this.log('Healed: no network faults remain.')
    if (answer.routes && answer.routes.length > 0) this.log(['Removed from the kernel:', ...routeLines(answer.routes)].join('\n'))
    if (answer.pending.length > 0) this.log(`Node(s) ${answer.pending.join(', ')} are not running: they start healthy.`)
    return answer
  }
}
