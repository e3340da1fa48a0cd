/**
 * `add`, `remove` and `replace`: the cluster grows and shrinks one node at a time, each step
 * in the timeline (member-add, member-promote, member-remove).
 *
 * - add: the next index (membership-plan.ts) gets a record in cluster.json and is started with
 *   --join through the leader; the node asks the leader to add it (POST /admin/members) and
 *   serves as a learner. Once its applied index is within CATCH_UP_LAG of the leader's commit
 *   (polled via /raft, bounded by a timeout that grows with the log), the leader is asked to
 *   promote it. `add` answers once the learner serves and the promotion goes on here, or with
 *   `wait`, once it is a voter.
 * - remove: refused when it would leave no live quorum (or no voter); a leader hands its
 *   leadership to a live voter first; then the leader removes it, and its process is stopped.
 *   Its record stays (membership `removed`), and so does its data until `down --purge`.
 * - replace: add (waiting for the promotion), then remove.
 *
 * One change at a time: another add, remove or replace while one runs is refused at once (an
 * add may wait minutes for a learner to catch up, so it does not hold the queue of the other
 * requests; only its short steps, changing cluster.json and starting or stopping a process,
 * go through it).
 */
import type {AddAnswer, ControlAnswers, RemoveAnswer} from '../../api/control.js'
import {ClusterError} from '../errors.js'
import {catchUpTimeoutMs, checkNewPorts, readyToPromote, newRecords, nextIndex, removalRefusal, transferTarget, type Configuration} from '../membership-plan.js'
import {nodePortsTaken} from '../ports.js'
import {sleep} from '../../util/time.js'
import type {SupervisorCore} from './core.js'
import type {MembersRequest} from '../../api/node-admin.js'
import type {RaftInfo} from '../../client/raft-state.js'
import {configurationOf, directoryHighest, isPassing, type MembersResult} from './member-calls.js'
import {hasProcess, nodeHandle, type NodeHandle} from './node-handle.js'

/** How long one POST /admin/members may take: an add commits two entries. */
export const MEMBERS_CALL_MS = 15_000
/** How long a removal waits for a leader when there is none (an election after a transfer). */
const LEADER_WAIT_MS = 10_000

/** What the membership changes need of the rest of the supervisor (fakes in tests). */
export interface MembershipParts {
  core: SupervisorCore
  /** Every running node's /raft now. */
  refresh(): Promise<Map<number, RaftInfo>>
  leaderOf(answers: Map<number, RaftInfo>): number | null
  /** Spawns the node and waits until it serves; throws if it does not. */
  start(node: NodeHandle): Promise<unknown>
  stop(node: NodeHandle): Promise<unknown>
  /** A new member serves (its namespace made): it gets the network faults in force, joining `via`'s side of a partition. */
  joined?(node: number, via: number): Promise<void>
  /** Hands leadership to `to` and waits until it leads. */
  transfer(to: NodeHandle): Promise<unknown>
  members(leader: NodeHandle, body: MembersRequest): Promise<MembersResult>
  portFree?(host: string, port: number): Promise<boolean>
  pollMs?: number
  /** How long a learner may take to catch up with a leader at this commit index (default: membership-plan's). */
  catchUpTimeoutMs?(commitIndex: number): number
}

export class MembershipChanges {
  /** The change running now, for the refusal of another. */
  private busy: string | null = null
  /** The promotion of an `add` without wait, still running (tests and shutdown wait for it). */
  background: Promise<unknown> = Promise.resolve()

  constructor(private readonly parts: MembershipParts) {}

  private get pollMs(): number {
    return this.parts.pollMs ?? 200
  }

  async add(wait: boolean): Promise<AddAnswer> {
    this.claim('adding a node')
    let release = true
    try {
      const {node, leader} = await this.startLearner()
      const promotion = this.promote(node)
      if (wait) return answerOf(node, leader, await promotion)
      release = false
      this.background = promotion
        .catch((error: Error) => this.parts.core.events.record('warning', {message: `node ${node.record.index} stays a learner: ${error.message}`}))
        .finally(() => (this.busy = null))
      return answerOf(node, leader, null)
    } finally {
      if (release) this.busy = null
    }
  }

  /**
   * After the supervisor starts: a node an `add` left a learner (the supervisor stopped while it
   * caught up) is promoted now, in the background, as `add` would have.
   */
  resumePromotions(): void {
    const learners = this.parts.core.nodes.filter((n) => n.record.membership === 'learner' && hasProcess(n))
    if (learners.length === 0 || this.busy !== null) return
    this.busy = `promoting node ${learners.map((n) => n.record.index).join(', ')}`
    this.background = (async () => {
      for (const node of learners) await this.promote(node)
    })()
      .catch((error: Error) => this.parts.core.events.record('warning', {message: `a learner stays a learner: ${error.message}`}))
      .finally(() => (this.busy = null))
  }

  async remove(node: NodeHandle): Promise<RemoveAnswer> {
    this.claim(`removing node ${node.record.index}`)
    try {
      return await this.removeNode(node, new Set())
    } finally {
      this.busy = null
    }
  }

  async replace(node: NodeHandle): Promise<ControlAnswers['replace']> {
    this.claim(`replacing node ${node.record.index}`)
    try {
      // Refuse before anything starts if the removal could not follow (the new voter counts as live).
      const {config, live} = await this.configuration()
      const index = node.record.index
      if (config.voters.includes(index) || config.learners.includes(index)) {
        // -1 stands for the node about to be added: a voter, and live.
        this.checkRemovable(node, {voters: [...config.voters, -1], learners: config.learners}, new Set([...live, -1]))
      } else this.checkRemovable(node, config, live)
      const {node: added, leader} = await this.startLearner()
      const promotedAt = await this.promote(added)
      const removed = await this.removeNode(node, new Set([added.record.index]))
      return {added: answerOf(added, leader, promotedAt), removed}
    } finally {
      this.busy = null
    }
  }

  private claim(what: string): void {
    if (this.busy !== null) throw new ClusterError('CONFLICT', `a membership change is in flight (${this.busy}); retry once it is done (see pad-cli events)`)
    this.busy = what
  }

  /** The leader's configuration and the nodes that answer; falls back to cluster.json for a node that does not state it. */
  private async configuration(): Promise<{answers: Map<number, RaftInfo>; leader: number; config: Configuration; live: Set<number>}> {
    const answers = await this.parts.refresh()
    const leader = this.parts.leaderOf(answers)
    if (leader === null) throw new ClusterError('NO_LEADER', 'no node is leader right now: a membership change needs one (see pad-cli status)')
    const records = this.parts.core.state.nodes
    const config = configurationOf(answers.get(leader)) ?? {
      voters: records.filter((r) => r.membership === 'voter').map((r) => r.index),
      learners: records.filter((r) => r.membership === 'learner').map((r) => r.index),
    }
    return {answers, leader, config, live: new Set(answers.keys())}
  }

  private checkRemovable(node: NodeHandle, config: Configuration, live: ReadonlySet<number>): void {
    if (node.record.membership === 'removed') throw new ClusterError('NODE_STATE', `node ${node.record.index} was removed already`)
    const refusal = removalRefusal(node.record.index, config, live)
    if (refusal !== null) throw new ClusterError('CONFLICT', refusal)
  }

  /** Records the next node in cluster.json and starts it with --join through the leader; resolves once it serves as a learner. */
  private async startLearner(): Promise<{node: NodeHandle; leader: number}> {
    const {core} = this.parts
    const {answers, leader} = await this.configuration()
    const node = await core.serialized(async () => {
      if (core.stopping) throw new ClusterError('NOT_UP', 'the cluster is stopping')
      const index = nextIndex(core.state, directoryHighest(answers.get(leader)))
      const records = newRecords(core.paths, core.state, index)
      const record = records[records.length - 1]
      checkNewPorts(core.state.options, record, core.state.nodes)
      // In network namespaces the node gets a fresh one: nothing can listen there yet.
      const taken = core.state.options.netns ? [] : (await nodePortsTaken(record, this.parts.portFree)).map((t) => t.port)
      if (taken.length > 0) throw new ClusterError('PORT_IN_USE', `node ${index} would listen on ${taken.join(', ')} on ${record.host}, in use by something else: free ${taken.length === 1 ? 'it' : 'them'} and add again`)
      for (const r of records) {
        core.state.nodes.push(r)
        core.nodes.push(nodeHandle(r))
      }
      const handle = core.nodes[index]
      const via = core.nodes[leader].record
      handle.joinVia = `${via.host}:${via.http_port}`
      core.save()
      try {
        await this.parts.start(handle)
      } catch (error) {
        // It may have joined before failing: its index is used up either way.
        this.markRemoved(handle)
        throw new ClusterError('NODE_STATE', `node ${index} did not join: ${(error as Error).message}`)
      }
      await this.parts.joined?.(index, leader)
      return handle
    })
    const index = node.record.index
    const self = (await this.parts.refresh()).get(index)
    if (self && self.node_index !== index) {
      // Someone else allocated ids meanwhile: this node is not the member its record says.
      await core.serialized(() => this.parts.stop(node))
      this.markRemoved(node)
      throw new ClusterError('CONFLICT', `node ${index} joined as node id ${self.node_index}, not ${index} (a node joined by hand at the same time?): it was stopped; remove id ${self.node_index} with POST /admin/members and add again`)
    }
    core.events.record('member-add', {node: index, pid: node.record.pid, leader, via: node.joinVia})
    return {node, leader}
  }

  /** Waits (bounded) until the learner has caught up, then has the leader promote it; returns the index of that entry. */
  private async promote(node: NodeHandle): Promise<number> {
    const {core} = this.parts
    const index = node.record.index
    const started = Date.now()
    let deadline: number | null = null
    let last = 'no leader answered'
    for (;;) {
      if (core.stopping) throw new ClusterError('NOT_UP', 'the cluster is stopping')
      if (!hasProcess(node)) throw new ClusterError('NODE_STATE', `node ${index} ${node.record.process} before it caught up: it stays a learner; remove it with pad-cli remove ${index}`)
      const answers = await this.parts.refresh()
      const leader = this.parts.leaderOf(answers)
      const mine = answers.get(index)
      const theirs = leader === null ? undefined : answers.get(leader)
      if (theirs && deadline === null) deadline = started + (this.parts.catchUpTimeoutMs ?? catchUpTimeoutMs)(theirs.commit_index)
      // An earlier promote whose answer timed out may have committed since.
      if (leader !== null && theirs && configurationOf(theirs)?.voters.includes(index)) return this.promoted(node, theirs.membership_index ?? 0, leader, started)
      if (leader !== null && theirs && mine) {
        last = `applied ${mine.last_applied} of the leader's ${theirs.commit_index}`
        if (readyToPromote(index, mine, theirs.commit_index)) {
          try {
            const result = await this.parts.members(core.nodes[leader], {op: 'promote', id: index})
            return this.promoted(node, result.index, leader, started)
          } catch (error) {
            if (!isPassing(error)) throw error
            last = (error as Error).message
          }
        }
      }
      if (deadline !== null && Date.now() >= deadline) {
        throw new ClusterError('TIMEOUT', `node ${index} did not catch up within ${Math.round((deadline - started) / 1000)} s (${last}): it stays a learner; remove it with pad-cli remove ${index}`)
      }
      if (deadline === null && Date.now() - started >= LEADER_WAIT_MS) throw new ClusterError('NO_LEADER', `no leader for ${LEADER_WAIT_MS / 1000} s: node ${index} stays a learner`)
      await sleep(this.pollMs)
    }
  }

  private promoted(node: NodeHandle, entry: number, leader: number, started: number): number {
    node.record.membership = 'voter'
    this.parts.core.save()
    this.parts.core.events.record('member-promote', {node: node.record.index, index: entry, leader, ms: Date.now() - started})
    return entry
  }

  /** `extraLive`: a node just added, which counts as live even if it has not answered /raft yet. */
  private async removeNode(node: NodeHandle, extraLive: Set<number>): Promise<RemoveAnswer> {
    const {core} = this.parts
    const index = node.record.index
    const {answers, config, live, leader: before} = await this.configuration()
    let leader = before
    for (const n of extraLive) live.add(n)
    this.checkRemovable(node, config, live)
    const wasLeader = leader === index
    if (wasLeader) {
      const to = transferTarget(index, config, live, (n) => answers.get(n)?.log_length ?? 0)
      if (to === null) throw new ClusterError('CONFLICT', `node ${index} leads and no live voter can take over`)
      await core.serialized(() => this.parts.transfer(core.nodes[to]))
      ;({leader} = await this.waitLeader(index))
    }
    let result: MembersResult | null = null
    const deadline = Date.now() + LEADER_WAIT_MS
    while (result === null) {
      try {
        result = await this.parts.members(core.nodes[leader], {op: 'remove', id: index})
      } catch (error) {
        if (!isPassing(error) || Date.now() >= deadline) throw error
        await sleep(this.pollMs)
        ;({leader} = await this.waitLeader(index))
        // A remove whose answer timed out may have committed since: then it is done.
        const info = (await this.parts.refresh()).get(leader)
        const config = configurationOf(info)
        if (config !== null && !config.voters.includes(index) && !config.learners.includes(index)) {
          result = {id: index, index: info?.membership_index ?? 0, membership: config}
        }
      }
    }
    core.events.record('member-remove', {node: index, index: result.index, leader, was_leader: wasLeader})
    const stopped = await core.serialized(async () => {
      const running = hasProcess(node) || node.restartTimer !== null
      if (running) await this.parts.stop(node)
      this.markRemoved(node)
      return running
    })
    return {node: index, was_leader: wasLeader, leader, index: result.index, voters: result.membership.voters, learners: result.membership.learners, stopped}
  }

  /** Waits (bounded) for a leader other than `not`. */
  private async waitLeader(not: number): Promise<{leader: number}> {
    const deadline = Date.now() + LEADER_WAIT_MS
    for (;;) {
      const leader = this.parts.leaderOf(await this.parts.refresh())
      if (leader !== null && leader !== not) return {leader}
      if (Date.now() >= deadline) throw new ClusterError('NO_LEADER', `no other node took over from node ${not} within ${LEADER_WAIT_MS / 1000} s: see pad-cli events`)
      await sleep(this.pollMs)
    }
  }

  private markRemoved(node: NodeHandle): void {
    node.record.membership = 'removed'
    this.parts.core.save()
  }
}

function answerOf(node: NodeHandle, leader: number, promotedAt: number | null): AddAnswer {
  const r = node.record
  return {
    node: r.index,
    pid: r.pid,
    host: r.host,
    tcp_port: r.tcp_port,
    http_port: r.http_port,
    raft_port: r.raft_port,
    membership: promotedAt === null ? r.membership : 'voter',
    leader,
    promoted_at: promotedAt,
  }
}
