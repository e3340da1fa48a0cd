import {ClusterCommand, clusterFlag, exitText, jsonFlag, runNodeOp, nodeArg} from '../cli/cluster-command.js'

export default class Kill extends ClusterCommand {
  static override summary = 'Kill a node with SIGKILL: a crash, with no chance to flush or say goodbye.'

  static override description = `The supervisor records the kill and the exit in the timeline (pad-cli events). The node stays down until \
pad-cli start or restart; its data stays on disk. Killing the leader makes the others elect a new one.`

  static override examples = ['<%= config.bin %> kill 2', '<%= config.bin %> kill leader', '<%= config.bin %> kill leader --cluster test --json']

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Kill)
    await runNodeOp(this, 'kill', args.node, flags, (a) => `killed node ${a.node} (pid ${a.pid}): ${exitText(a.exit)}`)
  }
}
