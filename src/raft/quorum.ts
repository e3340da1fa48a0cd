// Majority arithmetic over the voters of the configuration in effect: how many make a quorum,
// which index a quorum has reached, and the tally of an election. Learners never count. The
// core rebuilds these whenever the configuration changes (single-server changes: always a
// majority of one list, no joint consensus).
import type {NodeId} from './types.js'

export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1
}

/**
 * The highest index stored by a quorum: the quorumSize-th largest of `matches`. Sorts a scratch
 * copy in place (insertion sort: clusters have 3-7 members), so it allocates nothing.
 */
export class QuorumIndex {
  private readonly scratch: Float64Array

  constructor(private readonly voters: number) {
    this.scratch = new Float64Array(voters)
  }

  /** `progress[i].match` is the match index of the i-th voter. */
  compute(progress: readonly {readonly match: number}[]): number {
    const s = this.scratch
    const n = this.voters
    // A node that knows no configuration yet has no quorum, and never leads.
    if (n === 0) return 0
    for (let i = 0; i < n; i++) {
      const v = progress[i].match
      let j = i - 1
      // Descending order.
      while (j >= 0 && s[j] < v) {
        s[j + 1] = s[j]
        j--
      }
      s[j + 1] = v
    }
    return s[quorumSize(n) - 1]
  }
}

export type VoteResult = 'pending' | 'won' | 'lost'

/** Votes received in one election (or pre-election), at most one counted per voter; answers
 * from anyone who is not a voter are not counted. */
export class VoteTally {
  private readonly votes = new Map<NodeId, boolean>()
  private voterSet = new Set<NodeId>()
  private voters = 0

  constructor(voters: readonly NodeId[] = []) {
    this.setVoters(voters)
  }

  setVoters(voters: readonly NodeId[]): void {
    this.voterSet = new Set(voters)
    this.voters = voters.length
    for (const from of [...this.votes.keys()]) if (!this.voterSet.has(from)) this.votes.delete(from)
  }

  reset(): void {
    this.votes.clear()
  }

  /** Records a vote (the first answer from a voter wins; duplicates and non-voters are ignored). */
  record(from: NodeId, granted: boolean): void {
    if (this.voterSet.has(from) && !this.votes.has(from)) this.votes.set(from, granted)
  }

  has(from: NodeId): boolean {
    return this.votes.has(from)
  }

  result(): VoteResult {
    let granted = 0
    let rejected = 0
    for (const g of this.votes.values()) {
      if (g) granted++
      else rejected++
    }
    const q = quorumSize(this.voters)
    if (granted >= q) return 'won'
    if (rejected > this.voters - q) return 'lost'
    return 'pending'
  }

  counts(): {granted: number; rejected: number} {
    let granted = 0
    for (const g of this.votes.values()) if (g) granted++
    return {granted, rejected: this.votes.size - granted}
  }
}
