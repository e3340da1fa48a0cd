/**
 * Network faults: turns partitions, delay and loss into per-node faults (faults.ts) and pushes
 * them to every node's /admin/faults, again after a node restarts or resumes, and heals them
 * when they expire.
 *
 * A cluster in network namespaces (`up --netns`) has its partitions cut in the kernel instead
 * (netns.ts: unreachable routes in each node's namespace), and only delay and loss go to the
 * nodes' transport filters (the kernel here has no netem). Not both: the cut is then the
 * network's alone, as between real hosts, and a node's own filter shows nothing of it. The
 * routes stay in a node's namespace while it is down, so a restarted node is cut at once.
 */
import type {ControlAnswers, ControlRequests, NodeRef, PushResult, RouteChange} from '../../api/control.js'
import {badArgument} from '../errors.js'
import {
  dropExpired,
  emptyRules,
  groupPartition,
  hasRules,
  nextExpiry,
  nodeFaults,
  partitionCuts,
  putBodies,
  withoutDrops,
  withMember,
  parseOrder,
  shapePartition,
  type FaultRules,
  type Partition,
} from '../faults.js'
import {callJson} from '../../client/node-http-client.js'
import {applyCuts} from '../netns.js'
import type {FaultView} from '../status.js'
import type {SupervisorCore} from './core.js'
import type {NodeHandle} from './node-handle.js'

const PUSH_TIMEOUT_MS = 1500

export class NetworkFaults {
  private rules: FaultRules = emptyRules()
  private expiryTimer: NodeJS.Timeout | null = null

  constructor(private readonly core: SupervisorCore) {}

  /** Whether any fault is in force (a node that starts must get it). */
  any(): boolean {
    return hasRules(this.rules)
  }

  /** Cancels the expiry timer (the supervisor is stopping). */
  stop(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer)
    this.expiryTimer = null
  }

  async partition(request: ControlRequests['partition'], resolveRefs: (refs: NodeRef[]) => Promise<number[]>): Promise<ControlAnswers['partition']> {
    // Removed nodes are in no group and no shape.
    const members = this.core.nodes.filter((n) => n.record.membership !== 'removed').map((n) => n.record.index)
    const forMs = request.for_ms ?? null
    let partition: Partition
    if (request.shape !== undefined) {
      if (request.groups && request.groups.length > 0) throw badArgument('give either groups or --shape, not both')
      partition = shapePartition(request.shape, members, parseOrder(request.order, members))
    } else {
      if (request.order !== undefined) throw badArgument('order goes with a shape, not with groups')
      if (!request.groups || request.groups.length === 0) throw badArgument('give at least one group (e.g. 0 or 0,1) or --shape')
      const groups: number[][] = []
      for (const group of request.groups) groups.push(await resolveRefs(group))
      partition = groupPartition(groups, members)
    }
    const until = forMs === null ? null : Date.now() + forMs
    this.rules.partition = {...partition, until}
    this.core.events.record('partition', {groups: partition.groups, shape: partition.shape, bridge: partition.bridge ?? null, cuts: partition.cuts, for_ms: forMs})
    const pushed = await this.pushAll()
    return {...partition, for_ms: forMs, ...pushed}
  }

  /**
   * A member was added (and started) while the faults were in force: it joins the partition on
   * the side of `via`, the leader that added it (faults.ts `withMember`), and every node gets the
   * faults as they are now: in namespaces, the new node's routes and the routes to it.
   */
  async joined(node: number, via: number): Promise<void> {
    if (!this.any()) return
    if (this.rules.partition) this.rules.partition = {...withMember(this.rules.partition, node, via), until: this.rules.partition.until}
    await this.pushAll()
  }

  async heal(): Promise<ControlAnswers['heal']> {
    this.rules = emptyRules()
    this.core.events.record('heal', {reason: 'command', what: ['all']})
    return this.pushAll()
  }

  async delay(node: NodeHandle, request: ControlRequests['delay']): Promise<ControlAnswers['delay']> {
    const ms = request.ms
    const jitterMs = request.jitter_ms ?? 0
    const forMs = request.for_ms ?? null
    const index = node.record.index
    if (ms === 0 && jitterMs === 0) this.rules.delay.delete(index)
    else this.rules.delay.set(index, {ms, jitterMs, until: forMs === null ? null : Date.now() + forMs})
    this.core.events.record('delay', {node: index, ms, jitter_ms: jitterMs, for_ms: forMs})
    return {node: index, ms, jitter_ms: jitterMs, for_ms: forMs, ...(await this.pushAll())}
  }

  async loss(node: NodeHandle, request: ControlRequests['loss']): Promise<ControlAnswers['loss']> {
    const percent = request.percent
    const forMs = request.for_ms ?? null
    const index = node.record.index
    if (percent === 0) this.rules.loss.delete(index)
    else this.rules.loss.set(index, {loss: percent / 100, until: forMs === null ? null : Date.now() + forMs})
    this.core.events.record('loss', {node: index, percent, for_ms: forMs})
    return {node: index, percent, for_ms: forMs, ...(await this.pushAll())}
  }

  /** Pushes the faults again to every running node that missed a push. */
  pushDirty(): void {
    for (const node of this.core.nodes) if (node.faultsDirty && node.record.process === 'running') void this.push(node)
  }

  /** Gives one node exactly the faults the rules say, after any push to it still in flight. */
  push(node: NodeHandle): Promise<boolean> {
    const next = node.pushing.then(() => this.pushNow(node))
    node.pushing = next.catch(() => false)
    return next
  }

  /** The faults a node should have now, as `status` shows them. */
  intended(index: number): FaultView[] {
    const faults = nodeFaults(this.rules, this.core.size, Date.now())[index]
    return [...faults].map(([peer, f]) => ({
      peer,
      ...(f.drop ? {drop: true} : {}),
      ...(f.delay_ms ? {delay_ms: f.delay_ms} : {}),
      ...(f.jitter_ms ? {jitter_ms: f.jitter_ms} : {}),
      ...(f.loss ? {loss: f.loss} : {}),
      expires_at: f.until === undefined ? null : new Date(f.until).toISOString(),
    }))
  }

  /**
   * Pushes every member's faults; says which nodes got them and which will when they are back.
   * A removed node is not one of them: it never runs again, so it would be pending for ever.
   */
  private async pushAll(): Promise<PushResult> {
    this.scheduleExpiry()
    const nodes = this.core.nodes.filter((n) => n.record.membership !== 'removed')
    const routes = this.cutInKernel(nodes.map((n) => n.record.index))
    for (const node of nodes) node.faultsDirty = true
    const results = await Promise.all(nodes.map((node) => this.push(node)))
    return {
      applied: nodes.filter((_, i) => results[i]).map((n) => n.record.index),
      pending: nodes.filter((_, i) => !results[i]).map((n) => n.record.index),
      ...(routes ? {routes} : {}),
    }
  }

  /** In network namespaces: the partition's cuts as routes in the members' namespaces; null otherwise. */
  private cutInKernel(members: number[]): RouteChange[] | null {
    const netns = this.core.state.options.netns
    if (!netns) return null
    const routes = applyCuts(netns, members, partitionCuts(nodeFaults(this.rules, this.core.size, Date.now())))
    if (routes.length > 0) this.core.log('routes changed', {routes})
    return routes
  }

  /** DELETE, then one PUT per distinct fault, computed from the rules as they are now. */
  private async pushNow(node: NodeHandle): Promise<boolean> {
    if (node.record.process !== 'running') {
      node.faultsDirty = true
      return false
    }
    const now = Date.now()
    const all = nodeFaults(this.rules, this.core.size, now)[node.record.index]
    // In namespaces the kernel holds the cuts; the node's filter only delays and loses.
    const faults = this.core.state.options.netns ? withoutDrops(all) : all
    const wanted = JSON.stringify([...faults])
    if (!node.faultsDirty && node.pushed === wanted) return true
    const token = this.core.token
    try {
      if (node.pushed !== '[]' || faults.size > 0) {
        await callJson(node.record, 'DELETE', '/admin/faults', {token, timeoutMs: PUSH_TIMEOUT_MS})
        for (const body of putBodies(faults, now)) {
          await callJson(node.record, 'PUT', '/admin/faults', {body, token, timeoutMs: PUSH_TIMEOUT_MS})
        }
      }
      node.pushed = wanted
      node.faultsDirty = false
      return true
    } catch (error) {
      node.faultsDirty = true
      this.core.log('could not push faults', {node: node.record.index, error: (error as Error).message})
      return false
    }
  }

  private scheduleExpiry(): void {
    this.stop()
    const next = nextExpiry(this.rules)
    if (next === null || this.core.stopping) return
    this.expiryTimer = setTimeout(
      () =>
        void this.core.serialized(async () => {
          const expired = dropExpired(this.rules, Date.now())
          if (expired.length > 0) {
            this.core.events.record('heal', {reason: 'expired', what: expired})
            await this.pushAll()
          } else {
            this.scheduleExpiry()
          }
        }),
      Math.max(0, next - Date.now()) + 5,
    )
  }
}
