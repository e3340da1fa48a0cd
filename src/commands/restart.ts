import type {ControlAnswers} from '../api/control.js'
import {clusterFlag, runNodeOp, nodeArg} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'

export default class Restart extends PadCommand<ControlAnswers['restart']> {
  static override summary = 'Restart a node: stop it gracefully, then start it again on its data.'

  static override description = `A node that is down is just started. Returns once the node serves again.`

  static override examples = ['<%= config.bin %> restart 0', '<%= config.bin %> restart leader']

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
  }

  async run(): Promise<ControlAnswers['restart']> {
    const {args, flags} = await this.parse(Restart)
    return runNodeOp(this, 'restart', args.node, flags.cluster, (a) => `restarted node ${a.node} (pid ${a.pid}${a.previous_pid ? `, was ${a.previous_pid}` : ""})`)
  }
}
