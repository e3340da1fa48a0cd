import {Args, Flags} from '@oclif/core'
import {ClusterHandle, openFolder} from '../cluster/cluster.js'
import {ClusterCommand, clusterFlag} from '../cli/cluster-command.js'
import {checkIndex, parseNodeRef} from '../cluster/node-args.js'
import {nodePrefix, useColor} from '../cluster/output.js'
import {LineFollower, readLines} from '../cluster/tail.js'

const TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/

export default class Logs extends ClusterCommand {
  static override summary = "Print a node's log, or every node's log merged in time order with a per-node prefix."

  static override description = `Node logs live in $PAD_HOME/<cluster>/node-<i>/node.log and survive restarts and down \
(until down --purge). -f keeps printing new lines until Ctrl-C.`

  static override examples = [
    '<%= config.bin %> logs',
    '<%= config.bin %> logs 1',
    '<%= config.bin %> logs leader -f',
    '<%= config.bin %> logs -n 50',
  ]

  static override args = {
    node: Args.string({description: 'node index, or "leader"; all nodes when left out'}),
  }

  static override flags = {
    cluster: clusterFlag,
    follow: Flags.boolean({char: 'f', description: 'keep printing new lines until Ctrl-C'}),
    lines: Flags.integer({char: 'n', description: 'only the last N lines', min: 1}),
    json: Flags.boolean({description: 'one JSON object per line: {"node", "line"}'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Logs)
    const {state} = openFolder(flags.cluster)
    let nodes = state.nodes.map((n) => n.index)
    if (args.node !== undefined) {
      const ref = parseNodeRef(args.node)
      if (ref === 'leader') {
        const cluster = await ClusterHandle.open(flags.cluster)
        nodes = [(await cluster.target('leader')).index]
      } else {
        nodes = [checkIndex(ref, state.nodes.length)]
      }
    }
    const color = useColor()
    const width = Math.max(...nodes.map((i) => `node${i}`.length))
    const prefixed = nodes.length > 1
    const print = (node: number, line: string): void => {
      if (flags.json) this.log(JSON.stringify({node, line}))
      else this.log(prefixed ? nodePrefix(node, width, color) + line : line)
    }
    const followers = flags.follow ? nodes.map((i) => new LineFollower(state.nodes[i].log_file, (line) => print(i, line))) : []
    let lines = merge(nodes.map((i) => ({node: i, lines: readLines(state.nodes[i].log_file)})))
    if (flags.lines !== undefined) lines = lines.slice(-flags.lines)
    for (const {node, line} of lines) print(node, line)
    if (followers.length === 0) return
    for (const follower of followers) follower.start(200)
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    for (const follower of followers) follower.stop()
  }
}

/** Lines of several logs in time order (a line without a timestamp keeps its place after the previous one). */
function merge(logs: {node: number; lines: string[]}[]): {node: number; line: string}[] {
  if (logs.length === 1) return logs[0].lines.map((line) => ({node: logs[0].node, line}))
  const all: {node: number; line: string; time: string; order: number}[] = []
  let order = 0
  for (const {node, lines} of logs) {
    let time = ''
    for (const line of lines) {
      const match = TIME.exec(line.slice(0, 64))
      if (match) time = match[0]
      all.push({node, line, time, order: order++})
    }
  }
  all.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.order - b.order))
  return all
}
