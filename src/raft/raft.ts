// The Raft state machine: a pure, synchronous function of ticks, messages and proposals,
// in the shape of etcd's raft + RawNode. It never does I/O, never reads a clock and draws
// randomness only from config.random, so a seed replays a run exactly.
//
// Driving it (one Ready outstanding at a time, as in etcd):
//
//   every tick (10 ms):       raft.tick()
//   on a message:             raft.step(msg)
//   on client writes:         raft.propose([data, ...])        // null: not the leader
//   to change the membership: raft.proposeConfChange(change)   // throws ConfChangeRefusedError
//   then:
//     while (raft.hasReady()) {              // false while a Ready is outstanding
//       const rd = raft.ready()
//       send(rd.messages)                    // safe before anything is durable ('snap': stream it)
//       if (rd.snapshot) await install(rd.snapshot)   // state machine and log replaced, durably
//       await persist(rd.entries, rd.hardState)   // one transaction; truncate at entries[0].index
//       send(rd.persistedMessages)           // votes and acks: only once durable
//       apply(rd.committed)
//       raft.advance(rd)
//     }
//   when a snapshot stream to a follower ends: raft.reportSnapshot(to, ok)
//
// While a Ready is being persisted the core keeps working: new entries stay in its unstable
// log, and takeMessages() may be called at any time to send the leader's new appends without
// waiting for the outstanding write (the leader may replicate entries it has not yet made
// durable itself; it just does not count itself in their quorum until advance()).
//
// Safety rests on four promises the driver keeps: (1) persistedMessages go out only after the
// Ready's entries and hard state are durable; (2) by the time advance() is called, Storage
// returns the Ready's entries (the core never reads Storage past what it was told is durable);
// (3) on restart the Raft is rebuilt from Storage (initialState + the stable log) and the last
// applied index; (4) entries are applied in the order of Ready.committed, each once.
import {resolveConfig, type PlantedBugs, type RaftConfig, type ResolvedConfig} from './config.js'
import {RaftLog} from './log.js'
import {
  applyConfChange,
  ConfChangeRefusedError,
  decodeMembership,
  encodeMembership,
  isVoter,
  membershipProblem,
  type ConfChange,
  type Membership,
} from './membership.js'
import {Progress} from './progress.js'
import {QuorumIndex, VoteTally, quorumSize} from './quorum.js'
import {
  CompactedError,
  SnapshotTemporarilyUnavailableError,
  type Entry,
  type EntryType,
  type HardState,
  type Message,
  type NodeId,
  type ProgressStatus,
  type Ready,
  type Role,
  type Snapshot,
  type SoftState,
  type Status,
} from './types.js'

const NO_ENTRIES: Entry[] = []
const NO_DATA = new Uint8Array(0)

export class Raft {
  readonly id: NodeId
  private readonly cfg: ResolvedConfig
  private readonly bugs: PlantedBugs
  private readonly log: RaftLog
  /** The configuration in effect: the latest in the log, committed or not (dissertation §4.1).
   * A frozen copy, replaced on every change (see syncMembership), so status() can hand it out. */
  private conf: Membership = frozenMembership({voters: [], learners: []})
  /** The history's object `conf` was copied from (to notice a change by identity). */
  private confSource: Membership | null = null
  /** The index `conf` comes from, and whether it is committed (-1: not yet set). */
  private confIndex = -1
  private confCommitted = false
  /** Progress of every member (voters and learners) and, until its removal commits, of a node
   * being removed. Kept on every role, so that a new leader finds one for everyone. */
  private progressById = new Map<NodeId, Progress>()
  /** The voters' Progress, in conf.voters order: the quorum is computed over these alone. */
  private voterProgress: Progress[] = []
  private quorum = new QuorumIndex(0)
  private readonly votes = new VoteTally()

  private term = 0
  private vote: NodeId | null = null
  private role: Role = 'follower'
  private leaderId: NodeId | null = null

  /** Ticks since the last reset: for a follower, since it last heard from a leader or granted a
   * vote (also the leader lease); for a leader, since it started leading or the last transfer
   * deadline (a transfer is abandoned after one election timeout). */
  private electionElapsed = 0
  private heartbeatElapsed = 0
  /** Ticks since this Raft was created: the clock of Progress.lastHeard. */
  private ticks = 0
  private randomizedElectionTimeout = 0
  /** The member leadership is being transferred to; proposals are refused meanwhile. */
  private leadTransferee: NodeId | null = null

  /** Messages that may be sent at once. */
  private msgs: Message[] = []
  /** Messages that must wait until the next Ready is durable. */
  private msgsAfterPersist: Message[] = []
  /** Soft and hard state as last reported in a Ready (or as found in storage). */
  private prevSoft: SoftState
  private prevHard: HardState
  /** The hard state known durable (acknowledged through advance). */
  private durableHard: HardState
  private outstanding: Ready | null = null

  constructor(config: RaftConfig) {
    this.cfg = resolveConfig(config)
    this.id = this.cfg.id
    this.bugs = this.cfg.bugs
    const storage = this.cfg.storage
    const hs = storage.initialState()
    // The configuration comes from storage (snapshot, then configuration entries) when it has
    // any; cfg.initial only for a node that never had one.
    this.log = new RaftLog(storage, hs.commit, this.cfg.applied, this.cfg.initial)
    this.syncMembership()
    if (!this.bugs.forgetTermOnRestart) {
      this.term = hs.term
      this.vote = hs.vote
    }
    this.prevHard = {...hs}
    this.durableHard = {...hs}
    this.becomeFollower(this.term, null)
    this.prevSoft = {role: this.role, leaderId: this.leaderId}
  }

  // ------------------------------------------------------------------ inputs

  /** Advances logical time by one tick. */
  tick(): void {
    this.ticks++
    if (this.role === 'leader') this.tickHeartbeat()
    else this.tickElection()
  }

  /**
   * Feeds one message from a peer. Anyone may send appends (a node joining learns its cluster
   * from a leader it does not know yet), but vote requests count only from voters: a learner
   * never campaigns, and a removed node that does (it may not know it was removed) must not raise
   * our term, or it would depose the leader every time it times out.
   */
  step(m: Message): void {
    if (m.from === this.id) return
    if ((m.type === 'vote' || m.type === 'preVote') && !isVoter(this.conf, m.from)) return
    this.stepInner(m)
    this.syncMembership()
  }

  private stepInner(m: Message): void {
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Leader lease (with CheckQuorum): while we hear from a leader, a candidate is most
        // likely a node that was cut off and came back; ignoring it keeps the leader in place.
        const inLease = this.cfg.checkQuorum && this.leaderId !== null && this.electionElapsed < this.cfg.electionTick
        if (inLease && !m.transfer) return
      }
      if (m.type === 'preVote') {
        // A pre-vote request carries the term the sender would use; it changes nothing here.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // A granted pre-vote echoes our own future term; we move to it only when we campaign.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from)
      } else {
        this.becomeFollower(m.term, null)
      }
    } else if (m.term < this.term) {
      const cannotCampaign = !isVoter(this.conf, this.id)
      if ((this.cfg.checkQuorum || this.cfg.preVote || cannotCampaign) && (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap')) {
        // A leader of an older term, probably back from a partition. With PreVote/CheckQuorum we
        // never raise our term to meet it (that is what keeps partitions from disrupting), so
        // answer with our term to make it step down. So does a node that cannot campaign (one
        // that does not know yet it was made a voter, its term raised by a node its stale
        // configuration still counts): without it, nothing would ever move the leader past our
        // term, and we would never hear from a leader again.
        this.send({type: 'appResp', from: this.id, to: m.from, term: this.term})
      } else if (m.type === 'preVote') {
        this.send({type: 'preVoteResp', from: this.id, to: m.from, term: this.term, reject: true})
      }
      return
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m)
      return
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m)
        break
      case 'candidate':
      case 'precandidate':
        this.stepCandidate(m)
        break
      case 'follower':
        this.stepFollower(m)
        break
    }
  }

  /**
   * Appends one entry per element and starts replicating them. Returns the index of the first
   * and the term, or null if this member is not the leader or is transferring leadership.
   * The entries are committed once Ready.committed delivers them at those indexes with that term;
   * an entry delivered at such an index with another term means the proposal was lost.
   */
  propose(data: Uint8Array[]): {firstIndex: number; term: number} | null {
    if (this.role !== 'leader' || this.leadTransferee !== null) return null
    if (data.length === 0) return {firstIndex: this.log.lastIndex() + 1, term: this.term}
    const firstIndex = this.appendNew('normal', data)
    this.bcastAppend()
    return {firstIndex, term: this.term}
  }

  /**
   * Appends a configuration entry carrying the membership after `change` and starts replicating
   * it; returns its index. It takes effect here at once (and on each follower when appended);
   * it is done when Ready.committed delivers that index with this term. Throws
   * ConfChangeRefusedError, with a one-line reason, when this node does not lead, a change is
   * still uncommitted (one at a time: a voter set that changes by one member has majorities that
   * overlap the previous one's, two changes in flight may not), this leader has not committed an
   * entry of its own term yet (until then an earlier leader's change may still be in flight
   * unseen: the single-server bug Ongaro described in 2015), leadership is being transferred, the
   * change itself makes no sense, or a promoted learner is more than maxLearnerLag entries behind.
   */
  proposeConfChange(change: ConfChange): number {
    if (this.role !== 'leader') {
      throw new ConfChangeRefusedError(this.leaderId !== null ? `not the leader: n${this.leaderId} leads` : 'not the leader, and no leader is known')
    }
    if (this.leadTransferee !== null) throw new ConfChangeRefusedError(`leadership is being transferred to n${this.leadTransferee}`)
    if (this.log.termOrNull(this.log.committed) !== this.term) {
      throw new ConfChangeRefusedError('this leader has not committed an entry of its term yet')
    }
    const latest = this.log.confs.latest()
    if (latest.index > this.log.committed && !this.bugs.concurrentConfChanges) {
      throw new ConfChangeRefusedError(`a configuration change is in flight (index ${latest.index} is not committed yet)`)
    }
    const next = applyConfChange(latest.membership, change)
    if (change.kind === 'promote') {
      const match = this.progressById.get(change.node)?.match ?? 0
      const lag = this.log.lastIndex() - match
      if (lag > this.cfg.maxLearnerLag) {
        throw new ConfChangeRefusedError(`n${change.node} is ${lag} entries behind the leader (at most ${this.cfg.maxLearnerLag} to be promoted)`)
      }
    }
    const index = this.appendNew('conf', [encodeMembership(next)])
    this.bcastAppend()
    return index
  }

  /**
   * Asks the leader to hand leadership to `to`: it brings `to` up to date, then sends it
   * TimeoutNow so it campaigns at once. Proposals are refused until the transfer completes or is
   * abandoned after an election timeout. Does nothing on a non-leader.
   */
  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader' || to === this.id || !isVoter(this.conf, to)) return
    if (this.leadTransferee === to) return
    this.electionElapsed = 0
    this.leadTransferee = to
    const pr = this.progressById.get(to) as Progress
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to)
    else this.sendAppendLoop(to, false)
  }

  /**
   * The driver's report on a snapshot stream to `to` (a 'snap' message this leader sent): `ok`
   * when the follower received all of it, false when streaming failed. Either way the leader goes
   * back to probing `to` (right after the snapshot if it arrived), and waits: for the follower's
   * answer to the snapshot, or (failed) for its next heartbeat answer before sending a new one.
   * Does nothing unless this member leads and `to` is waiting for a snapshot.
   */
  reportSnapshot(to: NodeId, ok: boolean): void {
    if (this.role !== 'leader' || to === this.id) return
    const pr = this.progressById.get(to)
    if (pr === undefined || pr.state !== 'snapshot') return
    if (!ok) pr.pendingSnapshot = 0
    pr.becomeProbe()
    pr.probeSent = true
  }

  // ------------------------------------------------------------------ outputs

  /** Whether ready() has work to hand out. Always false while a Ready is outstanding. */
  hasReady(): boolean {
    if (this.outstanding !== null) return false
    return (
      this.msgs.length > 0 ||
      this.msgsAfterPersist.length > 0 ||
      this.log.hasSnapshotToHandOut() ||
      this.log.hasUnstableToHandOut() ||
      this.log.hasCommittedToApply() ||
      this.softChanged() ||
      this.hardChanged()
    )
  }

  /** Hands out the next batch of work. Throws if the previous Ready has not been advanced. */
  ready(): Ready {
    if (this.outstanding !== null) throw new Error('raft: ready() called before advance() of the previous Ready')
    const snapshot = this.log.takeSnapshot()
    const rd: Ready = {
      entries: this.log.takeUnstable(),
      messages: this.msgs,
      persistedMessages: this.msgsAfterPersist,
      committed: this.log.committedToApply(this.cfg.maxCommittedBytesPerReady),
    }
    if (snapshot !== undefined) rd.snapshot = snapshot
    this.msgs = []
    this.msgsAfterPersist = []
    if (this.softChanged()) {
      rd.softState = {role: this.role, leaderId: this.leaderId}
      this.prevSoft = rd.softState
    }
    if (this.hardChanged()) {
      rd.hardState = this.hardState()
      this.prevHard = rd.hardState
    }
    this.outstanding = rd
    return rd
  }

  /**
   * The driver installed rd.snapshot, persisted rd.entries and rd.hardState, sent
   * rd.persistedMessages and applied rd.committed. This is also where our own durability counts:
   * a candidate's vote for itself and a leader's own copy of its entries only count toward a
   * quorum from here on. From here on Storage must report the snapshot: firstIndex() =
   * snapshot.index + 1, term(snapshot.index) = snapshot.term, and the applied index is
   * snapshot.index.
   */
  advance(rd: Ready): void {
    if (rd !== this.outstanding) throw new Error('raft: advance() of a Ready that is not the outstanding one')
    this.outstanding = null
    if (rd.hardState !== undefined) this.durableHard = rd.hardState
    if (rd.snapshot !== undefined) this.log.stableSnapshotTo(rd.snapshot.index)
    if (rd.entries.length > 0) this.log.stableTo(rd.entries)
    if (rd.committed.length > 0) this.log.appliedTo(rd.committed[rd.committed.length - 1].index)

    if (this.role === 'candidate' && this.durableHard.term === this.term && this.durableHard.vote === this.id && !this.votes.has(this.id)) {
      this.votes.record(this.id, true)
      this.checkElection()
    } else if (this.role === 'leader') {
      this.selfAck()
    }
    this.syncMembership()
  }

  /** The send-now messages produced since the last call or Ready, for a driver that wants to
   * send a leader's appends while a Ready is outstanding. Optional: ready() includes them too. */
  takeMessages(): Message[] {
    const out = this.msgs
    this.msgs = []
    return out
  }

  /** A snapshot of this member's state; `progress` (leaders only) can be left out when polled often. */
  status(opts: {progress?: boolean} = {}): Status {
    const st: Status = {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leaderId: this.leaderId,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.log.firstIndex() - 1,
      snapshotTerm: this.log.term(this.log.firstIndex() - 1),
      membership: this.conf,
      membershipIndex: this.confIndex,
    }
    if (this.role === 'leader' && opts.progress !== false) {
      const progress: Record<NodeId, ProgressStatus> = {}
      for (const id of [...this.progressById.keys()].sort((a, b) => a - b)) {
        const pr = this.progressById.get(id) as Progress
        const st = pr.status(id === this.id || this.ticks - pr.lastHeard < this.cfg.electionTick)
        if (this.conf.learners.includes(id)) st.learner = true
        progress[id] = st
      }
      st.progress = progress
      if (this.leadTransferee !== null) st.transferee = this.leadTransferee
    }
    return st
  }

  /** The term of the entry at `index` in our log (unstable included), or null if compacted or
   * past the end. For the driver's diagnostics and the simulation's checkers. */
  termAt(index: number): number | null {
    return this.log.termOrNull(index)
  }

  // ------------------------------------------------------------------ roles

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term
      this.vote = null
    }
    this.leaderId = null
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.resetRandomizedElectionTimeout()
    this.leadTransferee = null
    this.votes.reset()
  }

  private resetRandomizedElectionTimeout(): void {
    const et = this.cfg.electionTick
    this.randomizedElectionTimeout = et + Math.floor(this.cfg.random() * et)
  }

  private becomeFollower(term: number, leaderId: NodeId | null): void {
    this.reset(term)
    this.role = 'follower'
    this.leaderId = leaderId
  }

  private becomePreCandidate(): void {
    // Neither term nor vote change: a pre-election leaves no trace if it fails.
    this.role = 'precandidate'
    this.leaderId = null
    this.votes.reset()
    this.electionElapsed = 0
    this.resetRandomizedElectionTimeout()
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1)
    this.vote = this.id
    this.role = 'candidate'
  }

  private becomeLeader(): void {
    this.reset(this.term)
    this.role = 'leader'
    this.leaderId = this.id
    const next = this.log.lastIndex() + 1
    for (const pr of this.progressById.values()) {
      pr.match = 0
      pr.sentCommit = 0
      pr.next = next
      pr.becomeProbe()
      pr.next = next
      // Everyone gets a full election timeout to answer the new leader.
      pr.lastHeard = this.ticks
    }
    // A leader is a voter (only voters campaign), so it has a Progress.
    const self = this.progressById.get(this.id) as Progress
    // Only what is durable here counts as ours.
    self.match = this.log.persistedIndex()
    self.next = next
    self.becomeReplicate()
    self.next = next
    // §5.4.2 / §8: an entry of our own term, so that committing it commits everything before it.
    // A leader whose log never held a configuration (a new cluster: each member only knows the
    // initial configuration it was started with) makes that entry the configuration itself: from
    // then on the log states its configuration from index 1 on, so a node that joins later and
    // replays it, or snapshots anywhere in it, never has to be told the initial one.
    if (this.log.confs.latest().index === 0) this.appendNew('conf', [encodeMembership(this.conf)])
    else this.appendNew('noop', [NO_DATA])
    this.bcastAppend()
  }

  // ------------------------------------------------------------------ ticks

  private tickElection(): void {
    this.electionElapsed++
    if (this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0
      this.hup(false)
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.cfg.checkQuorum && !this.quorumHeardWithin(this.cfg.electionTick)) {
      // CheckQuorum: no majority has answered us for a whole election timeout, so we are
      // probably on the minority side of a partition, and the majority may already have a new
      // leader. A sliding window checked every tick (rather than etcd's "any sign of life since
      // the last check", which can take up to two timeouts) bounds this to one election timeout.
      this.becomeFollower(this.term, null)
      return
    }
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0
      // A transfer that did not complete within an election timeout is abandoned.
      this.leadTransferee = null
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0
      this.bcastHeartbeat()
    }
    this.announceCommit()
  }

  /**
   * Tells the followers that have not heard it yet the commit index, with an empty append.
   * Called once per tick rather than whenever the commit index moves: under load the next
   * append carries it anyway, and one-at-a-time publishing would otherwise pay an extra round
   * of messages (two appends, two answers) per publish. A follower learns a commit at most a
   * tick late, which only delays what it applies, never what the leader acknowledges.
   */
  private announceCommit(): void {
    const committed = this.log.committed
    for (const [to, pr] of this.progressById) {
      if (to !== this.id && pr.sentCommit < committed) this.sendAppendLoop(to, true)
    }
  }

  /** Whether a quorum of voters (us included while we are one) was heard from within the last
   * `window` ticks. Learners do not count: they could not elect anyone either. */
  private quorumHeardWithin(window: number): boolean {
    const voters = this.conf.voters
    let active = 0
    for (let i = 0; i < voters.length; i++) {
      if (voters[i] === this.id || this.ticks - this.voterProgress[i].lastHeard < window) active++
    }
    return active >= quorumSize(voters.length)
  }

  // ------------------------------------------------------------------ elections

  private hup(transfer: boolean): void {
    // Only voters campaign: a learner, a node removed from the configuration, and a new node
    // that has not yet heard of its cluster wait to be told.
    if (this.role === 'leader' || !isVoter(this.conf, this.id)) return
    if (this.cfg.preVote && !transfer) this.campaignPre()
    else this.campaign(transfer)
  }

  private campaignPre(): void {
    this.becomePreCandidate()
    // Our own pre-vote changes no state, so it counts at once.
    this.votes.record(this.id, true)
    if (this.votes.result() === 'won') {
      this.campaign(false)
      return
    }
    const index = this.log.lastIndex()
    const logTerm = this.log.lastTerm()
    for (const p of this.conf.voters) {
      if (p !== this.id) this.send({type: 'preVote', from: this.id, to: p, term: this.term + 1, index, logTerm})
    }
  }

  private campaign(transfer: boolean): void {
    this.becomeCandidate()
    // Our vote for ourselves counts only once the new term and vote are durable (advance()):
    // otherwise a crash could make us forget it and vote for someone else in the same term.
    const index = this.log.lastIndex()
    const logTerm = this.log.lastTerm()
    for (const p of this.conf.voters) {
      if (p === this.id) continue
      const m: Message = {type: 'vote', from: this.id, to: p, term: this.term, index, logTerm}
      if (transfer) m.transfer = true
      this.send(m)
    }
  }

  private handleVoteRequest(m: Message): void {
    const isPre = m.type === 'preVote'
    // One vote per term, first come first served (§5.2); repeating a vote already given is fine.
    // A pre-vote for a future term binds nothing, so it is always possible.
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leaderId === null) ||
      (isPre && m.term > this.term) ||
      (!isPre && this.bugs.twoVotesPerTerm === true && this.leaderId === null)
    const upToDate = this.bugs.voteWithoutUpToDateCheck === true || this.log.isUpToDate(m.index ?? 0, m.logTerm ?? 0)
    if (canVote && upToDate) {
      if (isPre) {
        this.send({type: 'preVoteResp', from: this.id, to: m.from, term: m.term})
      } else {
        this.electionElapsed = 0
        this.vote = m.from
        this.sendAfterPersist({type: 'voteResp', from: this.id, to: m.from, term: m.term})
      }
    } else if (isPre) {
      this.send({type: 'preVoteResp', from: this.id, to: m.from, term: this.term, reject: true})
    } else {
      this.sendAfterPersist({type: 'voteResp', from: this.id, to: m.from, term: this.term, reject: true})
    }
  }

  private checkElection(): void {
    const result = this.votes.result()
    if (result === 'won') {
      if (this.role === 'precandidate') this.campaign(false)
      else this.becomeLeader()
    } else if (result === 'lost') {
      this.becomeFollower(this.term, null)
    }
  }

  // ------------------------------------------------------------------ per-role steps

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0
        this.leaderId = m.from
        this.handleAppend(m)
        break
      case 'heartbeat':
        this.electionElapsed = 0
        this.leaderId = m.from
        this.handleHeartbeat(m)
        break
      case 'snap':
        this.electionElapsed = 0
        this.leaderId = m.from
        this.handleSnapshot(m)
        break
      case 'timeoutNow':
        // The leader chose us: campaign now, without PreVote and bypassing voters' leases.
        this.hup(true)
        break
      default:
        // Stale answers to an earlier candidacy or leadership: nothing to do.
        break
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'app':
        // A leader of our term exists (§5.2): it won, we did not.
        this.becomeFollower(m.term, m.from)
        this.handleAppend(m)
        break
      case 'heartbeat':
        this.becomeFollower(m.term, m.from)
        this.handleHeartbeat(m)
        break
      case 'snap':
        this.becomeFollower(m.term, m.from)
        this.handleSnapshot(m)
        break
      case 'voteResp':
      case 'preVoteResp':
        if ((m.type === 'voteResp') !== (this.role === 'candidate')) return
        this.votes.record(m.from, m.reject !== true)
        this.checkElection()
        break
      default:
        break
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.progressById.get(m.from)
    // An answer from a node no longer (or not yet) in the configuration.
    if (pr === undefined) return
    switch (m.type) {
      case 'appResp':
        pr.lastHeard = this.ticks
        this.handleAppendResponse(m, pr)
        break
      case 'heartbeatResp':
        pr.lastHeard = this.ticks
        pr.probeSent = false
        // In state snapshot, the follower answers the snapshot (or the driver reports it lost).
        if (pr.match < this.log.lastIndex() && pr.state !== 'snapshot') {
          if (pr.state === 'replicate' && this.log.termOrNull(pr.next - 1) !== null) {
            // Replicating but behind: if the appends in flight were lost, nothing would ever be
            // resent (the window may be full, or everything was already sent). An empty append at
            // next-1 is accepted if they arrived and rejected if not, which falls back to probe.
            this.sendEmptyAppend(m.from, pr.next - 1)
          } else {
            // Probing, or replicating from a point compacted since: probe (a snapshot if need be),
            // with an empty append if there is nothing new to carry: a probe lost on its way (a
            // link still connecting to a learner that just joined) would otherwise never be sent
            // again on an idle cluster, and the follower would wait behind it for ever.
            if (pr.state === 'replicate') pr.becomeProbe()
            this.sendAppendLoop(m.from, true)
          }
        }
        if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from)
        break
      default:
        break
    }
  }

  // ------------------------------------------------------------------ replication (leader)

  private handleAppendResponse(m: Message, pr: Progress): void {
    const index = m.index ?? 0
    if (m.reject) {
      // Fast back-off: the follower told us the last index of its log whose term is <= the
      // term of the entry we probed at, and that term. Skip our own entries with a higher term:
      // they cannot match. Costs one round trip per divergent term instead of one per entry.
      let hint = m.rejectHint ?? index
      if ((m.hintTerm ?? 0) > 0) hint = this.log.findConflictByTerm(hint, m.hintTerm ?? 0).index
      if (pr.maybeDecrTo(index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe()
        this.sendAppendLoop(m.from, false)
      }
      return
    }
    const updated = pr.maybeUpdate(index)
    if (pr.state === 'snapshot' && (pr.match >= pr.pendingSnapshot || pr.match + 1 >= this.log.firstIndex())) {
      // Past the snapshot, or far enough that our log can take over: replicate from match + 1.
      // Anything else answers something sent before the snapshot.
      pr.becomeReplicate()
    } else if (!updated) {
      return
    } else if (pr.state === 'probe') {
      pr.becomeReplicate()
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(index)
    }
    if (this.commitAndBroadcast()) {
      // Committing our own removal made us step down.
      if (this.role !== 'leader') return
    } else {
      this.sendAppendLoop(m.from, false)
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from)
  }

  /** The leader's own entries became durable: count them, maybe commit. A leader that removed
   * itself has no Progress: it no longer counts toward any majority. */
  private selfAck(): void {
    const self = this.progressById.get(this.id)
    if (self !== undefined && isVoter(this.conf, this.id) && self.maybeUpdate(this.log.persistedIndex())) this.commitAndBroadcast()
  }

  /** Commits what a quorum of voters stores and tells the followers (a node being removed too,
   * so that it learns its removal committed); then the configuration may have changed: a
   * removed member is dropped, a removed leader steps down. */
  private commitAndBroadcast(): boolean {
    if (!this.maybeCommit()) return false
    this.bcastAppend()
    this.syncMembership()
    return true
  }

  /** Commits the highest index a quorum stores, if it is of our term (§5.4.2): an older entry
   * on a majority can still be overwritten (Figure 8), one of our term cannot. */
  private maybeCommit(): boolean {
    const mci = this.quorum.compute(this.voterProgress)
    if (mci <= this.log.committed) return false
    if (this.log.term(mci) !== this.term && !this.bugs.commitPreviousTermByCounting) return false
    this.log.commitTo(mci)
    return true
  }

  /** Appends to every follower that can take more (the commit index rides along). */
  private bcastAppend(): void {
    for (const to of this.progressById.keys()) {
      if (to !== this.id) this.sendAppendLoop(to, false)
    }
  }

  /** Sends as many appends as `to`'s state allows: one in probe, up to the window in replicate. */
  private sendAppendLoop(to: NodeId, sendIfEmpty: boolean): void {
    const pr = this.progressById.get(to)
    if (pr === undefined || !this.maybeSendAppend(to, pr, sendIfEmpty)) return
    while (pr.state === 'replicate' && this.maybeSendAppend(to, pr, false)) {
      // keep filling the window
    }
  }

  private maybeSendAppend(to: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
    if (pr.isPaused()) return false
    // The follower needs entries we compacted (prevIndex's term included): only a snapshot can
    // catch it up.
    if (pr.next < this.log.firstIndex()) {
      return this.bugs.sendCompactedEntries ? this.sendCompactedEntries(to, pr) : this.maybeSendSnapshot(to, pr)
    }
    const last = this.log.lastIndex()
    const prevIndex = pr.next - 1
    let logTerm: number
    let entries = NO_ENTRIES
    try {
      logTerm = this.log.term(prevIndex)
      if (pr.next <= last) {
        const hi = Math.min(last + 1, pr.next + this.cfg.maxEntriesPerMsg)
        entries = this.log.slice(pr.next, hi, this.cfg.maxBytesPerMsg)
      }
    } catch (e) {
      // Storage compacted them between our firstIndex() and reading them.
      if (e instanceof CompactedError) return this.maybeSendSnapshot(to, pr)
      throw e
    }
    if (entries.length === 0 && !sendIfEmpty) return false
    this.send({type: 'app', from: this.id, to, term: this.term, index: prevIndex, logTerm, entries, commit: this.log.committed})
    pr.sentEntries(entries.length, prevIndex + entries.length)
    pr.sentCommit = this.log.committed
    return true
  }

  /**
   * Sends `to` our snapshot (§7) and waits in state snapshot for its answer. While storage cannot
   * produce one, waits in probe for the follower's next heartbeat answer and tries again. (A
   * follower gets here right after answering us, or while replicating: it is recently active, so
   * unlike etcd there is no separate check to spare a dead follower a snapshot.)
   */
  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    if (pr.state === 'replicate') pr.becomeProbe()
    let snapshot: Snapshot
    try {
      snapshot = this.log.snapshot()
    } catch (e) {
      if (!(e instanceof SnapshotTemporarilyUnavailableError)) throw e
      pr.probeSent = true
      return false
    }
    const compacted = this.log.firstIndex() - 1
    if (snapshot.index < compacted) {
      throw new Error(`raft: storage's snapshot (index ${snapshot.index}) is older than its compaction point ${compacted}: compacted entries no snapshot covers`)
    }
    pr.becomeSnapshot(snapshot.index)
    this.send({type: 'snap', from: this.id, to, term: this.term, snapshot})
    return true
  }

  /** PLANTED BUG sendCompactedEntries: an append from the compacted range, with placeholders of
   * the compaction point's term standing in for the entries we no longer have. */
  private sendCompactedEntries(to: NodeId, pr: Progress): boolean {
    if (pr.state === 'replicate') pr.becomeProbe()
    const first = this.log.firstIndex()
    const placeholderTerm = this.log.term(first - 1)
    const prevIndex = pr.next - 1
    const logTerm = prevIndex === 0 ? 0 : placeholderTerm
    const entries: Entry[] = []
    for (let i = pr.next; i < first && entries.length < this.cfg.maxEntriesPerMsg; i++) {
      entries.push({index: i, term: placeholderTerm, type: 'noop', data: NO_DATA})
    }
    this.send({type: 'app', from: this.id, to, term: this.term, index: prevIndex, logTerm, entries, commit: this.log.committed})
    pr.sentEntries(entries.length, prevIndex + entries.length)
    pr.sentCommit = this.log.committed
    return true
  }

  private sendEmptyAppend(to: NodeId, prevIndex: number): void {
    const logTerm = this.log.termOrNull(prevIndex)
    if (logTerm === null) return
    this.send({type: 'app', from: this.id, to, term: this.term, index: prevIndex, logTerm, entries: NO_ENTRIES, commit: this.log.committed})
  }

  private bcastHeartbeat(): void {
    for (const [to, pr] of this.progressById) {
      if (to === this.id) continue
      // Never tell a follower a commit index past what it is known to store.
      const commit = Math.min(pr.match, this.log.committed)
      this.send({type: 'heartbeat', from: this.id, to, term: this.term, commit})
      if (commit > pr.sentCommit) pr.sentCommit = commit
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({type: 'timeoutNow', from: this.id, to, term: this.term})
  }

  /** Appends new entries of our term to our (unstable) log; returns the first index. */
  private appendNew(type: EntryType, data: Uint8Array[]): number {
    const first = this.log.lastIndex() + 1
    const entries: Entry[] = new Array<Entry>(data.length)
    for (let i = 0; i < data.length; i++) entries[i] = {index: first + i, term: this.term, type, data: data[i]}
    this.log.append(entries)
    if (type === 'conf') this.syncMembership()
    return first
  }

  // ------------------------------------------------------------------ replication (follower)

  private handleAppend(m: Message): void {
    // A configuration entry that does not decode would stop this node for good once appended:
    // the message is malformed (or hostile), dropped like any other.
    if (!confEntriesValid(m.entries ?? NO_ENTRIES)) return
    const index = m.index ?? 0
    if (index < this.log.committed) {
      // Everything up to our commit index matches the leader's log already.
      this.sendAfterPersist({type: 'appResp', from: this.id, to: m.from, term: this.term, index: this.log.committed})
      return
    }
    const last = this.log.maybeAppend(index, m.logTerm ?? 0, m.commit ?? 0, m.entries ?? NO_ENTRIES)
    if (this.log.truncatedAt > 0) this.dropStaleAcks(this.log.truncatedAt)
    if (last >= 0) {
      this.sendAfterPersist({type: 'appResp', from: this.id, to: m.from, term: this.term, index: last})
      return
    }
    // §5.3: our log has no entry (index, logTerm). Help the leader find where we match.
    const hint = this.log.findConflictByTerm(Math.min(index, this.log.lastIndex()), m.logTerm ?? 0)
    this.sendAfterPersist({
      type: 'appResp',
      from: this.id,
      to: m.from,
      term: this.term,
      index,
      reject: true,
      rejectHint: hint.index,
      hintTerm: hint.term,
    })
  }

  /**
   * Our log was overwritten from `from` on by a newer leader. Acknowledgments still waiting for
   * the next Ready that cover those indexes would now promise entries we no longer have (and will
   * never make durable): the old leader could count them toward committing entries that a newer
   * leader has already replaced. Drop them. (Those in an outstanding Ready stay true: that Ready
   * makes the old entries durable before its acknowledgments go out.)
   */
  private dropStaleAcks(from: number): void {
    const q = this.msgsAfterPersist
    let kept = 0
    for (let i = 0; i < q.length; i++) {
      const m = q[i]
      if (m.type === 'appResp' && m.reject !== true && (m.index ?? 0) >= from) continue
      q[kept++] = m
    }
    q.length = kept
  }

  /**
   * InstallSnapshot, receiver side (§7, as etcd): a snapshot at or below our commit index tells us
   * nothing (we answer with the commit index: all of it matches the leader); one whose last entry
   * our log already has only moves the commit index (keeping the entries after it); any other
   * replaces our whole log and state machine, and is acknowledged once installed durably.
   */
  private handleSnapshot(m: Message): void {
    const s = m.snapshot
    // A snapshot at a non-index, of a non-term or without a valid configuration is a malformed
    // message: dropped.
    if (s === undefined || !Number.isSafeInteger(s.index) || s.index < 0 || !Number.isSafeInteger(s.term) || s.term < 0) return
    if (membershipProblem(s.membership) !== null) return
    const committed = this.log.committed
    const older = s.index <= committed
    if (older && !this.bugs.installOlderSnapshot) {
      this.sendAfterPersist({type: 'appResp', from: this.id, to: m.from, term: this.term, index: committed})
      return
    }
    if (!older && this.log.termOrNull(s.index) === s.term) {
      this.log.commitTo(s.index)
      this.sendAfterPersist({type: 'appResp', from: this.id, to: m.from, term: this.term, index: s.index})
      return
    }
    this.log.restore(s)
    // Acknowledgments not yet sent for entries past our old commit index may name entries the
    // snapshot replaces.
    this.dropStaleAcks(Math.min(committed, s.index) + 1)
    this.sendAfterPersist({type: 'appResp', from: this.id, to: m.from, term: this.term, index: this.log.lastIndex()})
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit ?? 0)
    this.send({type: 'heartbeatResp', from: this.id, to: m.from, term: this.term})
  }

  // ------------------------------------------------------------------ plumbing

  private send(m: Message): void {
    this.msgs.push(m)
  }

  private sendAfterPersist(m: Message): void {
    if (this.bugs.replyBeforePersisting) this.msgs.push(m)
    else this.msgsAfterPersist.push(m)
  }

  /**
   * Brings the configuration-dependent state in line with the log's configuration: called after
   * anything that may append, truncate, restore or commit. Keeps the Progress of members that
   * stay, creates one for a new member (learners too) when its entry is appended, and drops a
   * removed member's once the removal commits. Until then the leader keeps sending to it, so that
   * it learns of its removal from its own log and stops campaigning by itself (etcd leaves that
   * to the operator; here a removed node that keeps running is harmless either way, because
   * members ignore vote requests from non-voters). Quorum and vote tallies follow the voters.
   */
  private syncMembership(): void {
    const history = this.log.confs
    const cur = this.bugs.confOnCommit ? history.at(this.log.committed) : history.latest()
    const committed = cur.index <= this.log.committed
    if (cur.membership === this.confSource && cur.index === this.confIndex && committed === this.confCommitted) return
    // The change just committed: tell everyone now, before a removed member is dropped or a
    // removed leader steps down (neither would announce it later).
    if (this.role === 'leader' && committed && !this.confCommitted && cur.index === this.confIndex) this.announceCommit()
    if (cur.membership !== this.confSource) this.conf = frozenMembership(cur.membership)
    this.confSource = cur.membership
    this.confIndex = cur.index
    this.confCommitted = committed
    const tracked = [...cur.membership.voters, ...cur.membership.learners]
    const before = committed ? undefined : history.previous()
    if (before !== undefined) tracked.push(...before.membership.voters, ...before.membership.learners)
    const old = this.progressById
    this.progressById = new Map()
    for (const id of tracked) {
      if (this.progressById.has(id)) continue
      let pr = old.get(id)
      if (pr === undefined) {
        // A new member: probe from our end of the log (its rejection hint finds where it
        // matches), with a whole election timeout to answer before CheckQuorum counts it out.
        pr = new Progress(this.log.lastIndex() + 1, this.cfg.maxInflight)
        pr.lastHeard = this.ticks
        if (id === this.id) pr.match = this.log.persistedIndex()
      }
      this.progressById.set(id, pr)
    }
    this.voterProgress = cur.membership.voters.map((id) => this.progressById.get(id) as Progress)
    this.quorum = new QuorumIndex(cur.membership.voters.length)
    this.votes.setVoters(cur.membership.voters)
    if (this.leadTransferee !== null && !isVoter(cur.membership, this.leadTransferee)) this.leadTransferee = null
    if (this.role === 'leader' && committed && !isVoter(cur.membership, this.id) && !this.bugs.removedLeaderKeepsLeading) {
      // Our removal is committed: the remaining voters elect a leader among themselves (§4.2.2).
      // We stay a follower outside the configuration, which never campaigns.
      this.becomeFollower(this.term, null)
    }
  }

  private hardState(): HardState {
    return {term: this.term, vote: this.vote, commit: this.log.committed}
  }

  private softChanged(): boolean {
    return this.prevSoft.role !== this.role || this.prevSoft.leaderId !== this.leaderId
  }

  private hardChanged(): boolean {
    const h = this.prevHard
    return h.term !== this.term || h.vote !== this.vote || h.commit !== this.log.committed
  }
}

/** Whether every configuration entry among `entries` carries a valid membership. */
function confEntriesValid(entries: readonly Entry[]): boolean {
  for (const e of entries) {
    if (e.type !== 'conf') continue
    try {
      decodeMembership(e.data)
    } catch {
      return false
    }
  }
  return true
}

/** A deep-frozen copy: shared with every status() caller, so nobody can change it under us. */
function frozenMembership(m: Membership): Membership {
  return Object.freeze({voters: Object.freeze([...m.voters]) as NodeId[], learners: Object.freeze([...m.learners]) as NodeId[]})
}
