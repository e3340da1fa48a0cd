import type {ControlAnswers} from '../api/control.js'
import {clusterFlag, runNodeOp, nodeArg} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'

export default class Resume extends PadCommand<ControlAnswers['resume']> {
  static override summary = 'Let a paused node run again (SIGCONT).'

  static override description = `The node continues where it stopped, with its clocks and connections as they were.`

  static override examples = ['<%= config.bin %> resume 1']

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
  }

  async run(): Promise<ControlAnswers['resume']> {
    const {args, flags} = await this.parse(Resume)
    return runNodeOp(this, 'resume', args.node, flags.cluster, (a) => `resumed node ${a.node} (pid ${a.pid})`)
  }
}
