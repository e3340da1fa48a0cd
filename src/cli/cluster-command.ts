/**
 * What the cluster commands share: the --cluster flag, the node argument, and the body of the
 * process commands (kill, stop, start, restart, pause, resume).
 */
import {Args, Flags} from '@oclif/core'
import type {ControlAnswers, ExitInfo, RequestOf} from '../api/control.js'
import {ACTION_TIMEOUT_MS, ClusterHandle} from '../cluster/cluster.js'
import {DEFAULT_CLUSTER} from '../cluster/layout.js'
import {parseNodeRef} from '../cluster/node-args.js'
import type {PadCommand} from './pad-command.js'

export const clusterFlag = Flags.string({
  description: 'cluster name: its state lives in $PAD_HOME/<name> (PAD_HOME defaults to ~/.pad)',
  default: DEFAULT_CLUSTER,
})

/** The node a process command acts on. */
export const nodeArg = Args.string({description: 'node index (0-based), or "leader" for the node that leads right now', required: true})

export type NodeOp = 'kill' | 'stop' | 'start' | 'restart' | 'pause' | 'resume'

/**
 * The body of kill/stop/start/restart/pause/resume: parse the node, ask the supervisor, print
 * the sentence `say` makes of its answer (silent with --json), and return the answer.
 */
export async function runNodeOp<K extends NodeOp>(
  command: PadCommand<unknown>,
  op: K,
  nodeText: string,
  cluster: string,
  say: (answer: ControlAnswers[K]) => string,
): Promise<ControlAnswers[K]> {
  const ref = parseNodeRef(nodeText)
  const handle = await ClusterHandle.open(cluster)
  const request: RequestOf<K> = {op, node: handle.check(ref)}
  const answer = await handle.request(request, ACTION_TIMEOUT_MS)
  command.log(say(answer))
  return answer
}

/** A pad-cli command line for this cluster: `--cluster` is named unless it is the default one. */
export function clusterCommandLine(cluster: string, command: string): string {
  return `pad-cli ${command}${cluster === DEFAULT_CLUSTER ? '' : ` --cluster ${cluster}`}`
}

/** What a node that went down by kill or stop needs to be told: the way back. */
export function bringBack(cluster: string, node: number): string {
  return `bring it back with: ${clusterCommandLine(cluster, `start ${node}`)}`
}

export function exitText(exit: ExitInfo): string {
  if (exit.signal) return `killed by ${exit.signal}`
  return exit.code === null ? 'it did not exit in time' : `exit code ${exit.code}`
}
