import type {ControlAnswers} from '../api/control.js'
import {bringBack, clusterFlag, exitText, runNodeOp, nodeArg} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'

export default class Kill extends PadCommand<ControlAnswers['kill']> {
  static override summary = 'Kill a node with SIGKILL: a crash, with no chance to flush or say goodbye.'

  static override description = `The supervisor records the kill and the exit in the timeline (pad-cli events). The node stays down until \
pad-cli start or restart (pad-cli start with no node starts every node that is down); its data stays on disk. Killing the \
leader makes the others elect a new one.`

  static override examples = ['<%= config.bin %> kill 2', '<%= config.bin %> kill leader', '<%= config.bin %> kill leader --cluster test --json']

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
  }

  async run(): Promise<ControlAnswers['kill']> {
    const {args, flags} = await this.parse(Kill)
    return runNodeOp(this, 'kill', args.node, flags.cluster, (a) => `killed node ${a.node} (pid ${a.pid}): ${exitText(a.exit)}; ${bringBack(flags.cluster, a.node)}`)
  }
}
