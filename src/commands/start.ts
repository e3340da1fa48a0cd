import {ClusterCommand, clusterFlag, jsonFlag, runNodeOp, nodeArg} from '../cli/cluster-command.js'

export default class Start extends ClusterCommand {
  static override summary = 'Start a node that is down (stopped, killed or crashed) again, on its data.'

  static override description = `Returns once the node serves. It rejoins the cluster with the log it had on disk and catches up from \
the leader; network faults in force (partition, delay, loss) are applied to it again.`

  static override examples = ['<%= config.bin %> start 1', '<%= config.bin %> start 2 --json']

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Start)
    await runNodeOp(this, 'start', args.node, flags, (a) => `started node ${a.node} (pid ${a.pid})`)
  }
}
