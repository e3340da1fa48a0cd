/**
 * What the cluster commands share: the --cluster and --json flags, and errors printed as
 * one line with the right exit code (no stack trace) instead of oclif's default.
 */
import {Args, Command, Flags} from '@oclif/core'
import {fail} from './fail.js'
import {NodeHttpError} from '../client/node-http-client.js'
import {ACTION_TIMEOUT_MS, ClusterHandle} from '../cluster/cluster.js'
import {ClusterError} from '../cluster/errors.js'
import {DEFAULT_CLUSTER} from '../cluster/layout.js'
import {parseNodeRef, type NodeRef} from '../cluster/node-args.js'

export const clusterFlag = Flags.string({
  description: 'cluster name: its state lives in $PAD_HOME/<name> (PAD_HOME defaults to ~/.pad)',
  default: DEFAULT_CLUSTER,
})

export const jsonFlag = Flags.boolean({description: 'print JSON instead of text'})

/** The node a process command acts on. */
export const nodeArg = Args.string({description: 'node index (0-based), or "leader" for the node that leads right now', required: true})

export abstract class ClusterCommand extends Command {
  protected override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    // One line, unwrapped, no stack trace (see fail.ts).
    if (error instanceof ClusterError) fail(this, error.message, error.exitCode)
    if (error instanceof NodeHttpError) fail(this, error.message)
    return super.catch(error)
  }

  /** Parses a node argument (an index or "leader"), with a one-line refusal. */
  protected node(text: string, size?: number): NodeRef {
    return parseNodeRef(text, size)
  }

  protected printJson(value: unknown): void {
    this.log(JSON.stringify(value, null, 2))
  }
}

export type NodeOp = 'kill' | 'stop' | 'start' | 'restart' | 'pause' | 'resume'

/**
 * The body of kill/stop/start/restart/pause/resume: parse the node, ask the supervisor,
 * print its answer as JSON or as the sentence `say` makes of it.
 */
export async function runNodeOp(
  command: ClusterCommand,
  op: NodeOp,
  nodeText: string,
  flags: {cluster: string; json: boolean},
  say: (answer: NodeOpAnswer) => string,
): Promise<void> {
  const ref = parseNodeRef(nodeText)
  const cluster = await ClusterHandle.open(flags.cluster)
  const answer = await cluster.request<NodeOpAnswer>(op, {node: cluster.check(ref)}, ACTION_TIMEOUT_MS)
  if (flags.json) command.log(JSON.stringify(answer, null, 2))
  else command.log(say(answer))
}

export interface NodeOpAnswer {
  node: number
  pid: number
  previous_pid?: number
  exit?: {code: number | null; signal: string | null}
}

export function exitText(exit: NodeOpAnswer['exit']): string {
  if (!exit) return 'it did not exit in time'
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`
}
