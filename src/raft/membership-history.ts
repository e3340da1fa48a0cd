// The configurations a node's log holds, by index: the one its snapshot (or its initial
// configuration) stands for, then one per configuration entry after it. A configuration takes
// effect when its entry is appended, committed or not (dissertation §4.1), so when a new leader
// overwrites an uncommitted suffix the node must fall back to the configuration before it,
// exactly: keeping every entry's configuration makes that a truncation of this list.
import type {Membership} from './membership.js'

export interface IndexedMembership {
  /** The index of the configuration entry (or of the snapshot; 0 for the initial one). */
  index: number
  membership: Membership
}

export class MembershipHistory {
  /** Ascending by index; never empty; the first one is at or below the commit index. */
  private list: IndexedMembership[]

  constructor(base: IndexedMembership) {
    this.list = [base]
  }

  /** The latest configuration in the log: the one in effect. */
  latest(): IndexedMembership {
    return this.list[this.list.length - 1]
  }

  /** The one before latest() (undefined when latest() is the base). */
  previous(): IndexedMembership | undefined {
    return this.list.length > 1 ? this.list[this.list.length - 2] : undefined
  }

  /** The configuration in effect at `index`: the latest at or below it. */
  at(index: number): IndexedMembership {
    for (let i = this.list.length - 1; i > 0; i--) if (this.list[i].index <= index) return this.list[i]
    return this.list[0]
  }

  /** A configuration entry appended at `index` (above every one held). */
  add(index: number, membership: Membership): void {
    if (index <= this.latest().index) throw new Error(`membership history: entry ${index} is not after ${this.latest().index}`)
    this.list.push({index, membership})
  }

  /** The log was cut from `index` on: configurations from there are gone. */
  truncateFrom(index: number): void {
    let n = this.list.length
    while (n > 1 && this.list[n - 1].index >= index) n--
    if (this.list[0].index >= index) throw new Error(`membership history: truncating at ${index} would drop the base configuration (index ${this.list[0].index})`)
    this.list.length = n
  }

  /** A snapshot replaced the whole log. */
  reset(base: IndexedMembership): void {
    this.list = [base]
  }

  /** Forgets configurations that a later committed one supersedes: a truncation never goes
   * below the commit index, so they can never come back into effect. */
  forgetBefore(committed: number): void {
    let k = 0
    while (k + 1 < this.list.length && this.list[k + 1].index <= committed) k++
    if (k > 0) this.list = this.list.slice(k)
  }
}
