/**
 * The control API's requests, as the supervisor answers them: `status`, `ping` and `down` at
 * once; requests that change things one at a time, in order; nothing but those three once the
 * cluster is stopping.
 */
import {ClusterError, badArgument} from '../errors.js'
import type {ControlRequest} from '../control.js'
import {checkIndex, type NodeRef} from '../node-args.js'
import type {SupervisorCore} from './core.js'
import {transferLeadership} from './leadership.js'
import type {NetworkFaults} from './network-faults.js'
import type {NodeHandle} from './node-handle.js'
import type {NodeProcesses} from './processes.js'
import type {RaftObserver} from './raft-observer.js'

export interface ControlParts {
  core: SupervisorCore
  processes: NodeProcesses
  faults: NetworkFaults
  observer: RaftObserver
  status(): Promise<Record<string, unknown>>
  down(): Promise<Record<string, unknown>>
}

export class ControlApi {
  constructor(private readonly parts: ControlParts) {}

  handle(request: ControlRequest): Promise<Record<string, unknown>> {
    const {core} = this.parts
    if (core.stopping && !['status', 'ping', 'down'].includes(request.op)) {
      return Promise.reject(new ClusterError('NOT_UP', 'the cluster is stopping'))
    }
    switch (request.op) {
      case 'status':
        return this.parts.status()
      case 'ping':
        return Promise.resolve({pid: process.pid})
      case 'down':
        return this.parts.down()
      default:
        // Requests that change things run one at a time, in order.
        return core.serialized(() => this.mutate(request))
    }
  }

  private async mutate(request: ControlRequest): Promise<Record<string, unknown>> {
    const {processes, faults} = this.parts
    switch (request.op) {
      case 'kill':
        return processes.kill(await this.resolve(request.node))
      case 'stop':
        return processes.stop(await this.resolve(request.node))
      case 'start':
        return processes.start(await this.resolve(request.node))
      case 'restart':
        return processes.restart(await this.resolve(request.node))
      case 'pause':
        return processes.pause(await this.resolve(request.node))
      case 'resume':
        return processes.resume(await this.resolve(request.node))
      case 'partition':
        return faults.partition(request, (refs) => this.resolveRefs(refs))
      case 'heal':
        return faults.heal()
      case 'transfer':
        return transferLeadership(this.parts.core, this.parts.observer, request.to === undefined || request.to === null ? null : await this.resolve(request.to))
      case 'delay':
        return faults.delay(await this.resolve(request.node), request)
      case 'loss':
        return faults.loss(await this.resolve(request.node), request)
      default:
        throw badArgument(`unknown request "${request.op}"`)
    }
  }

  /** A node reference from a request: an index in range, or `leader` (asked of the nodes now). */
  private async resolve(ref: unknown): Promise<NodeHandle> {
    const {core, observer} = this.parts
    if (ref === 'leader') {
      const leader = observer.leaderOf(await observer.refresh())
      if (leader === null) throw new ClusterError('NO_LEADER', 'no node is leader right now: see pad-cli status')
      return core.nodes[leader]
    }
    if (typeof ref !== 'number') throw badArgument('give a node index or "leader"')
    return core.nodes[checkIndex(ref, core.size)]
  }

  private async resolveRefs(refs: NodeRef[]): Promise<number[]> {
    const out: number[] = []
    for (const ref of refs) out.push((await this.resolve(ref)).record.index)
    return out
  }
}
