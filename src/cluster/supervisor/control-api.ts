/**
 * The control API's handlers, one per request of src/api/control.ts: `status`, `ping` and
 * `down` answer at once; requests that change things run one at a time, in order, and are
 * refused once the cluster is stopping.
 */
import type {ControlAnswers, ControlHandlers, NodeRef} from '../../api/control.js'
import {ClusterError} from '../errors.js'
import {checkIndex} from '../node-args.js'
import type {SupervisorCore} from './core.js'
import {corruptStopped, repairCorrupt} from './disk-faults.js'
import {transferLeadership} from './leadership.js'
import type {MembershipChanges} from './membership.js'
import type {NetworkFaults} from './network-faults.js'
import type {NodeHandle} from './node-handle.js'
import type {LazyMounts} from './lazy-mounts.js'
import {powerCut} from './power-cut.js'
import type {NodeProcesses} from './processes.js'
import type {RaftObserver} from './raft-observer.js'

export interface ControlParts {
  core: SupervisorCore
  processes: NodeProcesses
  faults: NetworkFaults
  observer: RaftObserver
  membership: MembershipChanges
  mounts: LazyMounts
  status(): Promise<ControlAnswers['status']>
  down(): Promise<ControlAnswers['down']>
}

export function controlHandlers(parts: ControlParts): ControlHandlers {
  const {core, processes, faults, observer, membership, mounts} = parts

  /** A node a request names: an index in range, or `leader` (asked of the nodes now); removed nodes too. */
  const resolveAny = async (ref: NodeRef): Promise<NodeHandle> => {
    if (ref === 'leader') {
      const leader = observer.leaderOf(await observer.refresh())
      if (leader === null) throw new ClusterError('NO_LEADER', 'no node is leader right now: see pad-cli status')
      return core.nodes[leader]
    }
    return core.nodes[checkIndex(ref, core.size)]
  }

  /** A node a request acts on: a member (a removed node's process is not ours to start or fault any more). */
  const resolve = async (ref: NodeRef): Promise<NodeHandle> => {
    const node = await resolveAny(ref)
    if (node.record.membership === 'removed') {
      throw new ClusterError('NODE_STATE', `node ${node.record.index} was removed from the cluster (pad-cli remove); its data stays in ${node.record.data_dir} until pad-cli down --purge`)
    }
    return node
  }

  const resolveRefs = async (refs: NodeRef[]): Promise<number[]> => {
    const out: number[] = []
    for (const ref of refs) out.push((await resolve(ref)).record.index)
    return out
  }

  /** A request that changes things, only while the cluster is up. */
  const unlessStopping =
    <R, A>(task: (request: R) => Promise<A>) =>
    (request: R): Promise<A> => {
      if (core.stopping) return Promise.reject(new ClusterError('NOT_UP', 'the cluster is stopping'))
      return task(request)
    }

  /** A request that changes things: in line behind the others, and only while the cluster is up. */
  const queued = <R, A>(task: (request: R) => Promise<A>) => unlessStopping((request: R) => core.serialized(() => task(request)))

  return {
    status: () => parts.status(),
    ping: async () => ({pid: process.pid}),
    down: () => parts.down(),
    kill: queued(async (r) => processes.kill(await resolve(r.node))),
    stop: queued(async (r) => processes.stop(await resolve(r.node))),
    start: queued(async (r) => processes.start(await resolve(r.node))),
    restart: queued(async (r) => processes.restart(await resolve(r.node))),
    pause: queued(async (r) => processes.pause(await resolve(r.node))),
    resume: queued(async (r) => processes.resume(await resolve(r.node))),
    partition: queued((r) => faults.partition(r, resolveRefs)),
    heal: queued(() => faults.heal()),
    transfer: queued(async (r) => transferLeadership(core, observer, r.to === undefined || r.to === null ? null : await resolve(r.to))),
    delay: queued(async (r) => faults.delay(await resolve(r.node), r)),
    loss: queued(async (r) => faults.loss(await resolve(r.node), r)),
    // Not queued: they wait for nodes to catch up and commit, and queue their own short steps.
    add: unlessStopping((r) => membership.add(r.wait === true)),
    remove: unlessStopping(async (r) => membership.remove(await resolveAny(r.node))),
    replace: unlessStopping(async (r) => membership.replace(await resolveAny(r.node))),
    'power-cut': queued(async (r) => {
      const nodes = r.all === true ? core.nodes.filter((n) => n.record.membership !== 'removed') : await Promise.all((r.nodes ?? []).map(resolve))
      if (new Set(nodes).size !== nodes.length) throw new ClusterError('BAD_ARGUMENT', 'power-cut names a node twice (is one of them the leader?)')
      return powerCut({core, processes, mounts}, nodes, {torn: r.torn, seed: r.seed})
    }),
    corrupt: queued(async (r) => corruptStopped(core, await resolve(r.node), r)),
    repair: unlessStopping(async (r) => repairCorrupt(core, membership, mounts, await resolve(r.node), r.force === true)),
    // Not queued: a line of narration changes nothing, and must not wait behind a fault.
    say: async (r) => ({seq: core.events.record('scenario', {scenario: r.scenario, step: r.step, kind: r.kind, text: r.text}).seq}),
  }
}
