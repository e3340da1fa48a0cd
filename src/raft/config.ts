// Configuration of one Raft member, with the reasoning behind every default.
import {membershipProblem, type Membership} from './membership.js'
import type {NodeId, Storage} from './types.js'

/**
 * TEST-ONLY seam: deliberately broken behaviours that the simulation must be able to catch.
 * A checker that cannot catch a planted bug proves nothing; test/raft/planted-bugs.test.ts
 * turns each one on and asserts that the simulation reports a safety violation.
 * Never set any of these outside tests.
 */
export interface PlantedBugs {
  /** Grant votes without the §5.4.1 "candidate's log is at least as up-to-date" check. */
  voteWithoutUpToDateCheck?: boolean
  /** Grant a vote to every candidate that asks, even after voting for another in the same term. */
  twoVotesPerTerm?: boolean
  /** Commit an entry from a previous term as soon as a majority stores it (the Figure 8 bug). */
  commitPreviousTermByCounting?: boolean
  /** Put append responses and votes with the send-now messages, before they are durable. */
  replyBeforePersisting?: boolean
  /** On restart, ignore the persisted term and vote (start at term 0 with no vote). */
  forgetTermOnRestart?: boolean
  /** A follower installs a snapshot even when it is older than what it has committed/applied. */
  installOlderSnapshot?: boolean
  /** A leader whose follower needs compacted entries sends an append from the compacted range
   * anyway, with placeholders of the compaction point's term standing in for the entries it no
   * longer has, instead of a snapshot. */
  sendCompactedEntries?: boolean
  /** A leader accepts a configuration change while its previous one is still uncommitted. */
  concurrentConfChanges?: boolean
  /** A node uses the latest configuration at or below its commit index, instead of the latest
   * in its log (a configuration takes effect when committed, not when appended). */
  confOnCommit?: boolean
  /** A leader whose removal from the configuration has committed keeps leading. */
  removedLeaderKeepsLeading?: boolean
}

export interface RaftConfig {
  /** This member's id. */
  id: NodeId
  /**
   * The voters of the initial configuration: used only while the storage holds neither a
   * snapshot nor a configuration entry (a new cluster's first members all start with the same
   * list). A node that joins a running cluster starts with an empty list (and no learners): it is
   * then in no configuration, so it never campaigns, and learns the cluster's configuration from
   * the leader's log or snapshot. A restarted node takes its configuration from storage.
   */
  peers: NodeId[]
  /** The learners of the initial configuration (default none), as `peers`. */
  learners?: NodeId[]
  /** The stable log and hard state, as persisted by the driver. */
  storage: Storage
  /**
   * A seeded generator of numbers in [0, 1), used only to randomize election timeouts. Injected
   * so that a simulation is a pure function of its seed; production passes any decent PRNG.
   */
  random: () => number
  /**
   * Ticks a follower waits without hearing from a leader before it campaigns. The actual timeout
   * is drawn anew in [electionTick, 2 * electionTick) each time it is reset, so that members rarely
   * time out together and split the vote (Raft §5.2). Default 15: at the broker's 10 ms tick that
   * is 150-300 ms, the paper's suggestion. Lower means faster failover but more needless
   * elections when a GC pause, a slow fsync or a busy event loop delays heartbeats: it should be
   * at least ~10x the heartbeat round trip plus the worst fsync. With CheckQuorum it is also how
   * long a cut-off leader keeps believing it leads (up to one election timeout).
   */
  electionTick?: number
  /**
   * Ticks between a leader's heartbeats. Default 5 (50 ms). Must be well below electionTick
   * (the paper: an order of magnitude) so that a lost heartbeat or two does not start an election;
   * lower costs n-1 messages per interval per group and gives followers the commit index sooner
   * when there is no traffic.
   */
  heartbeatTick?: number
  /**
   * PreVote (Raft thesis §9.6), default true. A member that times out first asks "would you vote
   * for me?" without incrementing its term, and campaigns for real only if a majority says yes.
   * A node cut off from the cluster therefore does not inflate its term and, on rejoining, does
   * not depose a healthy leader. Costs one extra round trip per real election.
   */
  preVote?: boolean
  /**
   * CheckQuorum, default true. A leader that has not heard from a majority (itself included)
   * during an election timeout steps down, so a leader isolated in a minority stops claiming to
   * lead within one election timeout. It also enables the leader lease on the voter side: a
   * member that heard from a leader within the election timeout ignores vote requests (unless
   * they come from a leadership transfer), so a flapping node cannot disrupt a live leader.
   */
  checkQuorum?: boolean
  /**
   * At most this many entries per AppendEntries message. Default 4096. Together with
   * maxBytesPerMsg it bounds a message so that a far-behind follower is caught up in chunks the
   * transport can frame, instead of one giant message that stalls heartbeats behind it.
   */
  maxEntriesPerMsg?: number
  /**
   * At most this many bytes of entry data per AppendEntries message (at least one entry is always
   * sent, whatever its size). Default 1 MiB: large enough that a 1 Gbit link stays busy with
   * maxInflight messages in flight, small enough that one message does not hold the socket for
   * more than ~10 ms.
   */
  maxBytesPerMsg?: number
  /**
   * How many AppendEntries messages may be in flight (sent, not yet acknowledged) to one follower
   * in replicate mode. Default 256. Pipelining hides the round trip: throughput is roughly
   * maxInflight * maxBytesPerMsg per RTT. Bounding it bounds the memory a slow or dead follower
   * can make the leader spend, and the work wasted when a follower rejects (everything in flight
   * after the rejection is resent).
   */
  maxInflight?: number
  /**
   * Upper bound on the data size of Ready.committed, so that a restart with a long unapplied tail
   * applies it in chunks rather than in one huge batch. Default 64 MiB; one entry always fits.
   */
  maxCommittedBytesPerReady?: number
  /**
   * The last index already applied to the state machine, when restarting. Committed entries
   * after it are re-delivered in Ready.committed. Default: firstIndex - 1 (everything compacted
   * was applied; nothing else was).
   */
  applied?: number
  /**
   * A learner is promoted to voter only if its log is at most this many entries behind the
   * leader's last index. Default 1000: at the broker's batching that is well under a second of
   * full-load appends, so the new voter catches up within a few round trips. A new voter far
   * behind would count toward the quorum while it cannot acknowledge anything new: in a 3-node
   * cluster grown to 4 (quorum 3), one slow old voter plus a lagging new one stalls commits
   * until it catches up (dissertation §4.2.1).
   */
  maxLearnerLag?: number
  /** TEST-ONLY: planted bugs for the simulation to catch. See PlantedBugs. */
  bugs?: PlantedBugs
}

/** A RaftConfig with every default filled in and every field checked. */
export interface ResolvedConfig {
  id: NodeId
  initial: Membership
  storage: Storage
  random: () => number
  electionTick: number
  heartbeatTick: number
  preVote: boolean
  checkQuorum: boolean
  maxEntriesPerMsg: number
  maxBytesPerMsg: number
  maxInflight: number
  maxCommittedBytesPerReady: number
  applied: number | undefined
  maxLearnerLag: number
  bugs: PlantedBugs
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`raft config: ${name} must be a positive integer, got ${v}`)
  return v
}

function nonNegativeInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`raft config: ${name} must be a non-negative integer, got ${v}`)
  return v
}

export function resolveConfig(c: RaftConfig): ResolvedConfig {
  if (!Number.isInteger(c.id) || c.id < 0) throw new RangeError(`raft config: id must be a non-negative integer, got ${c.id}`)
  const initial = {voters: [...c.peers].sort((a, b) => a - b), learners: [...(c.learners ?? [])].sort((a, b) => a - b)}
  const problem = membershipProblem(initial, true)
  if (problem !== null) throw new RangeError(`raft config: peers [${c.peers.join(',')}] and learners [${(c.learners ?? []).join(',')}]: ${problem}`)
  const electionTick = positiveInt('electionTick', c.electionTick, 15)
  const heartbeatTick = positiveInt('heartbeatTick', c.heartbeatTick, 5)
  if (heartbeatTick >= electionTick) {
    throw new RangeError(`raft config: heartbeatTick (${heartbeatTick}) must be less than electionTick (${electionTick})`)
  }
  return {
    id: c.id,
    initial,
    storage: c.storage,
    random: c.random,
    electionTick,
    heartbeatTick,
    preVote: c.preVote ?? true,
    checkQuorum: c.checkQuorum ?? true,
    maxEntriesPerMsg: positiveInt('maxEntriesPerMsg', c.maxEntriesPerMsg, 4096),
    maxBytesPerMsg: positiveInt('maxBytesPerMsg', c.maxBytesPerMsg, 1024 * 1024),
    maxInflight: positiveInt('maxInflight', c.maxInflight, 256),
    maxCommittedBytesPerReady: positiveInt('maxCommittedBytesPerReady', c.maxCommittedBytesPerReady, 64 * 1024 * 1024),
    applied: c.applied,
    maxLearnerLag: nonNegativeInt('maxLearnerLag', c.maxLearnerLag, 1000),
    bugs: c.bugs ?? {},
  }
}
