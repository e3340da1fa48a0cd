import {ClusterHandle} from '../cluster/cluster.js'
import {ClusterCommand, clusterFlag, jsonFlag} from '../cli/cluster-command.js'

export default class Heal extends ClusterCommand {
  static override summary = 'Remove every network fault: partitions, delay and loss.'

  static override description = 'Every node can reach every other again; a leader that was cut off learns of the newer term and \
steps down, and nodes that fell behind catch up.'

  static override examples = ['<%= config.bin %> heal', '<%= config.bin %> heal --cluster test']

  static override flags = {
    cluster: clusterFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Heal)
    const cluster = await ClusterHandle.open(flags.cluster)
    const answer = await cluster.request<{applied: number[]; pending: number[]}>('heal')
    if (flags.json) this.printJson(answer)
    else this.log('Healed: no network faults remain.')
    if (!flags.json && answer.pending.length > 0) this.log(`Node(s) ${answer.pending.join(', ')} are not running: they start healthy.`)
  }
}
