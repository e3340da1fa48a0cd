import {ClusterCommand, clusterFlag, jsonFlag, runNodeOp, nodeArg} from '../cli/cluster-command.js'

export default class Resume extends ClusterCommand {
  static override summary = 'Let a paused node run again (SIGCONT).'

  static override description = `The node continues where it stopped, with its clocks and connections as they were.`

  static override examples = ['<%= config.bin %> resume 1']

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Resume)
    await runNodeOp(this, 'resume', args.node, flags, (a) => `resumed node ${a.node} (pid ${a.pid})`)
  }
}
