import {ClusterCommand, clusterFlag, exitText, jsonFlag, runNodeOp, nodeArg} from '../cli/cluster-command.js'

export default class Stop extends ClusterCommand {
  static override summary = 'Stop a node gracefully with SIGTERM (SIGKILL if it takes too long).'

  static override description = `The node finishes the publishes in flight and flushes its write queue before it exits. It stays down \
until pad-cli start or restart.`

  static override examples = ['<%= config.bin %> stop 1', '<%= config.bin %> stop leader']

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Stop)
    await runNodeOp(this, 'stop', args.node, flags, (a) => `stopped node ${a.node} (pid ${a.pid}): ${exitText(a.exit)}`)
  }
}
