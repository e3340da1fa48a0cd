import {ClusterCommand, clusterFlag, jsonFlag, runNodeOp, nodeArg} from '../cli/cluster-command.js'

export default class Pause extends ClusterCommand {
  static override summary = 'Freeze a node with SIGSTOP: it stays in memory but answers nothing.'

  static override description = `A paused leader cannot send heartbeats, so the others elect a new one; when it resumes it learns of the \
new term and steps down. Its clients and peers see a silent node, not a closed connection.`

  static override examples = ['<%= config.bin %> pause leader', '<%= config.bin %> pause 1']

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Pause)
    await runNodeOp(this, 'pause', args.node, flags, (a) => `paused node ${a.node} (pid ${a.pid}); pad-cli resume ${a.node} lets it run again`)
  }
}
