import type {ControlAnswers} from '../api/control.js'
import {bringBack, clusterFlag, exitText, runNodeOp, nodeArg} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'

export default class Stop extends PadCommand<ControlAnswers['stop']> {
  static override summary = 'Stop a node gracefully with SIGTERM (SIGKILL if it takes too long).'

  static override description = `The node finishes the publishes in flight and flushes its write queue before it exits. It stays down \
until pad-cli start or restart.`

  static override examples = ['<%= config.bin %> stop 1', '<%= config.bin %> stop leader']

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
  }

  async run(): Promise<ControlAnswers['stop']> {
    const {args, flags} = await this.parse(Stop)
    return runNodeOp(this, 'stop', args.node, flags.cluster, (a) => `stopped node ${a.node} (pid ${a.pid}): ${exitText(a.exit)}; ${bringBack(flags.cluster, a.node)}`)
  }
}
