/**
 * `power-cut`: what a node's machine losing power does to it, on a cluster whose data dirs are
 * lazy layers (`up --lazy-fs`). Every node named is killed with SIGKILL and reaped first (a
 * coordinated power loss when several are named: none restarts before all are down), then
 * each node's lazy layer drops what it held that was not fsynced, and the nodes that were
 * running start again on what survived. The timeline gets the kills and exits as usual, one
 * `power-cut` event with what each node lost, and the starts. A torn cut (`torn`, `seed`) keeps
 * on each node, per file, a seeded sector prefix of its last unsynced write.
 */
import type {ControlAnswers, PowerCutNode} from '../../api/control.js'
import type {CutOptions} from '../../api/lazy-fs-control.js'
import {ClusterError} from '../errors.js'
import type {SupervisorCore} from './core.js'
import type {LazyMounts} from './lazy-mounts.js'
import {hasProcess, type NodeHandle} from './node-handle.js'
import type {NodeProcesses} from './processes.js'

export interface PowerCutParts {
  core: SupervisorCore
  processes: NodeProcesses
  mounts: LazyMounts
}

export async function powerCut(parts: PowerCutParts, nodes: NodeHandle[], options: CutOptions = {}): Promise<ControlAnswers['power-cut']> {
  const {core, processes, mounts} = parts
  if (!mounts.enabled) {
    throw new ClusterError('UNSUPPORTED', `cluster "${core.state.name}" does not run on the lazy layer, so a power cut would drop nothing: start it with pad-cli up --lazy-fs (as root, with FUSE)`)
  }
  const ran = new Map<number, number | null>(nodes.map((n) => [n.record.index, hasProcess(n) ? n.record.pid : null]))
  // All down before any layer is cut: a cut under a live process would race its writes.
  await Promise.all(nodes.filter(hasProcess).map((n) => processes.kill(n)))
  const alive = nodes.filter(hasProcess)
  if (alive.length > 0) throw new ClusterError('NODE_STATE', `node ${alive.map((n) => n.record.index).join(', ')} did not exit after SIGKILL: nothing was cut`)
  const results: PowerCutNode[] = []
  for (const node of nodes) {
    const dropped = await mounts.cut(node, options)
    results.push({node: node.record.index, previous_pid: ran.get(node.record.index) ?? null, pid: null, dropped})
  }
  const tear = options.torn ? {torn: true, seed: options.seed ?? 0} : {}
  core.events.record('power-cut', {nodes: results.map((r) => r.node), dropped: results.map((r) => ({node: r.node, ...r.dropped})), ...tear})
  // Power is back: what ran starts again. A start that fails is the answer's error, as for `start`.
  await Promise.all(
    results
      .filter((r) => r.previous_pid !== null)
      .map(async (r) => {
        r.pid = (await processes.start(core.nodes[r.node])).pid
      }),
  )
  return {nodes: results}
}
