// What a leader knows about one follower's log, and how it paces appends to it
// (etcd's tracker.Progress). Three states:
//
//  - probe: we do not know where the follower's log matches ours. Send one append at `next`,
//    then wait (paused) for its answer or a heartbeat response before sending another. A
//    rejection moves `next` back (using the follower's hint) and we probe again.
//  - replicate: the last append matched, so stream: send entries from `next` optimistically,
//    advance `next` past them at once, and keep up to maxInflight un-acknowledged messages in
//    flight. Any rejection drops back to probe at match + 1.
//  - snapshot: the follower needs entries we compacted, so we sent it a snapshot (at
//    pendingSnapshot) and send nothing else until it answers past the snapshot or the driver
//    reports the stream's outcome (Raft.reportSnapshot).
import type {ProgressStatus} from './types.js'

/** A ring buffer of the last index of each in-flight append message, oldest first. */
export class Inflights {
  private readonly buf: Float64Array
  private start = 0
  count = 0

  constructor(readonly capacity: number) {
    this.buf = new Float64Array(capacity)
  }

  full(): boolean {
    return this.count === this.capacity
  }

  add(lastIndex: number): void {
    if (this.full()) throw new Error('inflights: add to a full window')
    let i = this.start + this.count
    if (i >= this.capacity) i -= this.capacity
    this.buf[i] = lastIndex
    this.count++
  }

  /** Frees every message whose last index is <= index (they are acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && this.buf[this.start] <= index) {
      this.start++
      if (this.start === this.capacity) this.start = 0
      this.count--
    }
  }

  reset(): void {
    this.start = 0
    this.count = 0
  }
}

export class Progress {
  /** Highest index known to match the leader's log (durable on the follower). */
  match = 0
  /** Next index to send. match < next always. */
  next = 1
  state: 'probe' | 'replicate' | 'snapshot' = 'probe'
  /** In state snapshot: the index of the snapshot sent; 0 otherwise. */
  pendingSnapshot = 0
  /** Probe state: an append was sent and is unanswered, so do not send another. */
  probeSent = false
  /** The leader's tick count when it last heard from this follower (for CheckQuorum). */
  lastHeard = 0
  /** The highest commit index sent to this follower (in an append or a heartbeat). */
  sentCommit = 0
  readonly inflights: Inflights

  constructor(next: number, maxInflight: number) {
    this.next = next
    this.inflights = new Inflights(maxInflight)
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent
      case 'replicate':
        return this.inflights.full()
      case 'snapshot':
        return true
    }
  }

  /** Back to probing at match + 1; after a snapshot that arrived (pendingSnapshot still set),
   * right after the snapshot instead. */
  becomeProbe(): void {
    const after = this.state === 'snapshot' ? this.pendingSnapshot + 1 : 0
    this.reset('probe')
    this.next = Math.max(this.match + 1, after)
  }

  becomeReplicate(): void {
    this.reset('replicate')
    this.next = this.match + 1
  }

  /** Sent a snapshot at `index`: wait for the follower to install it. */
  becomeSnapshot(index: number): void {
    this.reset('snapshot')
    this.pendingSnapshot = index
    this.next = index + 1
  }

  private reset(state: Progress['state']): void {
    this.state = state
    this.pendingSnapshot = 0
    this.probeSent = false
    this.inflights.reset()
  }

  /** Records an append carrying entries up to `lastIndex` (count of them: `entries`). */
  sentEntries(entries: number, lastIndex: number): void {
    if (this.state === 'replicate') {
      if (entries > 0) {
        this.next = lastIndex + 1
        this.inflights.add(lastIndex)
      }
    } else {
      this.probeSent = true
    }
  }

  /** A successful append response for `index`. Returns whether match moved. */
  maybeUpdate(index: number): boolean {
    let updated = false
    if (index > this.match) {
      this.match = index
      updated = true
      this.probeSent = false
    }
    if (this.next < index + 1) this.next = index + 1
    return updated
  }

  /**
   * A rejection of the append whose prevIndex was `rejected`; the leader computed `matchHint` from
   * the follower's hint. Returns false when the rejection is stale (answers an older message).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    // Answers an append sent before the snapshot: the follower answers the snapshot itself.
    if (this.state === 'snapshot') return false
    if (this.state === 'replicate') {
      // Stale: we already know the log matches there.
      if (rejected <= this.match) return false
      // Everything after match is in doubt; the caller switches to probe at match + 1.
      this.next = this.match + 1
      return true
    }
    // In probe only the answer to the probe outstanding (prevIndex = next - 1) counts.
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1)
    this.probeSent = false
    return true
  }

  status(recentActive: boolean): ProgressStatus {
    const st: ProgressStatus = {match: this.match, next: this.next, state: this.state, inflight: this.inflights.count, recentActive}
    if (this.state === 'snapshot') st.pendingSnapshot = this.pendingSnapshot
    return st
  }
}
