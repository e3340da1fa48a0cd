/**
 * POST /admin/members on the leader: grows and shrinks the cluster one node at a time.
 *
 * - add: allocates the next node id (above every id the directory holds or this leader handed
 *   out, so none is ever reused), proposes a `members` entry with the new card (and every card
 *   the directory holds, so a node that joins learns the founding --peers members from the log),
 *   waits for it to commit, then adds the node as a learner;
 * - promote: a learner becomes a voter (the core refuses while it lags more than maxLearnerLag);
 * - remove: a voter or learner leaves (the leader itself too: it steps down once that commits).
 *
 * Each resolves when its configuration entry commits. One change at a time per leader: a second
 * request while one is in flight is refused at once (the core would refuse it anyway once the
 * first is proposed; an add waits for its directory entry first, and must not interleave).
 */
import type {MembersAnswer, MembersRequest} from '../api/node-admin.js'
import type {DirectoryMember} from '../api/node-http.js'
import type {ConfChange, Membership} from '../raft/index.js'
import {encodeMembers} from './control-command.js'
import {BrokerError} from './errors.js'
import {MAX_MEMBER_ID, type MemberDirectory} from './member-directory.js'

export interface ChangerDriver {
  status(): {role: string; leader: number | null}
  proposeControl(data: Uint8Array): Promise<{raftIndex: number}>
  proposeConfChange(change: ConfChange): Promise<{raftIndex: number}>
  currentMembership(): Membership
  membershipAt(index: number): Membership
}

export interface ChangerContext {
  driver: ChangerDriver
  directory: MemberDirectory
  /** A member's card with what it told on connecting filled in (ports the directory lacks). */
  card: (id: number) => DirectoryMember | undefined
}

export class MembershipChanger {
  private busy = false
  /** The highest id this node allocated as leader: an add whose entry never committed still used it up. */
  private allocated = -1

  constructor(private readonly context: ChangerContext) {}

  async change(request: MembersRequest): Promise<MembersAnswer> {
    this.requireLeader()
    if (this.busy) throw new BrokerError('CONFLICT', 'a membership change is in flight on this leader; retry once it is done')
    this.busy = true
    try {
      if (request.op === 'add') return await this.add(request)
      return await this.confChange(request.id, {kind: request.op === 'promote' ? 'promote' : 'remove', node: request.id})
    } finally {
      this.busy = false
    }
  }

  private async add(request: Extract<MembersRequest, {op: 'add'}>): Promise<MembersAnswer> {
    const {directory, driver} = this.context
    const configured = driver.currentMembership()
    const id = Math.max(directory.highest(), this.allocated, ...configured.voters, ...configured.learners) + 1
    if (id > MAX_MEMBER_ID) throw new BrokerError('CONFLICT', `no node id left: ids 0..${MAX_MEMBER_ID} are all allocated`)
    this.allocated = id
    const card: DirectoryMember = {
      id,
      node_id: request.node_id ?? `${request.host}:${request.tcp_port}`,
      host: request.host,
      raft_port: request.raft_port,
      tcp_port: request.tcp_port,
      http_port: request.http_port,
    }
    const known = directory.list().map((m) => this.context.card(m.id) ?? m)
    await driver.proposeControl(encodeMembers([...known, card]))
    // Leadership may have moved while the entry committed: the learner is added by a leader only.
    this.requireLeader()
    return this.confChange(id, {kind: 'addLearner', node: id})
  }

  private async confChange(id: number, change: ConfChange): Promise<MembersAnswer> {
    const committed = await this.context.driver.proposeConfChange(change)
    let membership: Membership
    try {
      membership = this.context.driver.membershipAt(committed.raftIndex)
    } catch {
      // Compacted away already: no later change can have been made meanwhile (one at a time).
      membership = this.context.driver.currentMembership()
    }
    return {ok: true, id, membership: {voters: [...membership.voters], learners: [...membership.learners]}, index: committed.raftIndex}
  }

  private requireLeader(): void {
    const status = this.context.driver.status()
    if (status.role === 'LEADER') return
    const leader = status.leader === null ? undefined : this.context.card(status.leader)
    const address = leader && leader.http_port !== null ? `${leader.host}:${leader.http_port}` : undefined
    throw new BrokerError(
      'NOT_LEADER',
      address !== undefined ? `not the leader: send membership changes to ${address}` : 'not the leader, and no leader with a known address; retry shortly',
      undefined,
      address,
    )
  }
}
