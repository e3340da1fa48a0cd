import {ClusterCommand, clusterFlag, jsonFlag, runNodeOp, nodeArg} from '../cli/cluster-command.js'

export default class Restart extends ClusterCommand {
  static override summary = 'Restart a node: stop it gracefully, then start it again on its data.'

  static override description = `A node that is down is just started. Returns once the node serves again.`

  static override examples = ['<%= config.bin %> restart 0', '<%= config.bin %> restart leader']

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Restart)
    await runNodeOp(this, 'restart', args.node, flags, (a) => `restarted node ${a.node} (pid ${a.pid}${a.previous_pid ? `, was ${a.previous_pid}` : ""})`)
  }
}
