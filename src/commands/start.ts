import type {ControlAnswers} from '../api/control.js'
import {Args} from '@oclif/core'
import {ACTION_TIMEOUT_MS, ClusterHandle} from '../cluster/cluster.js'
import {clusterFlag, runNodeOp} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import type {ProcessState} from '../cluster/state.js'

/** The process states of a node that is down and that `start` brings back. */
const DOWN: readonly ProcessState[] = ['stopped', 'exited', 'crashed']

/** `start <node>` answers for that node; `start` with no node lists every node it started. */
type StartResult = ControlAnswers['start'] | {started: ControlAnswers['start'][]}

export default class Start extends PadCommand<StartResult> {
  static override summary = 'Start a node that is down (stopped, killed or crashed) again, on its data; with no node, every node that is down.'

  static override description = `Returns once the node serves. It rejoins the cluster with the log it had on disk and catches up from \
the leader; network faults in force (partition, delay, loss) are applied to it again. With no node, starts every node \
that is stopped, exited or crashed, one after the other (--json: {"started": [answers]}).`

  static override examples = ['<%= config.bin %> start 1', '<%= config.bin %> start   # every node that is down', '<%= config.bin %> start 2 --json']

  static override args = {
    node: Args.string({description: 'node index (0-based), or "leader" [default: every node that is down]'}),
  }

  static override flags = {
    cluster: clusterFlag,
  }

  async run(): Promise<StartResult> {
    const {args, flags} = await this.parse(Start)
    if (args.node !== undefined) return runNodeOp(this, 'start', args.node, flags.cluster, (a) => `started node ${a.node} (pid ${a.pid})`)
    const cluster = await ClusterHandle.open(flags.cluster)
    const down = (await cluster.status()).nodes.filter((n) => n.membership !== 'removed' && DOWN.includes(n.process))
    const started: ControlAnswers['start'][] = []
    for (const node of down) {
      const answer = await cluster.request({op: 'start', node: node.index}, ACTION_TIMEOUT_MS)
      started.push(answer)
      this.log(`started node ${answer.node} (pid ${answer.pid})`)
    }
    if (started.length === 0) this.log('every node is running (or paused): nothing to start')
    return {started}
  }
}
