/**
 * Network faults injected inside the Raft transport, per peer, so no root is needed:
 * drop everything (a partition), delay (fixed + jitter), or lose a share of messages.
 * A fault applies to traffic both to and from the peer, and may expire by itself.
 */

export interface PeerFault {
  /** Drop everything to and from the peer. */
  drop?: boolean
  /** Added one-way latency, in milliseconds. */
  delayMs?: number
  /** Uniform random extra latency up to this many milliseconds. */
  jitterMs?: number
  /** Probability in [0, 1] that a message is lost. */
  loss?: number
  /** Epoch milliseconds after which the fault no longer applies. */
  until?: number
}

export type Verdict = {kind: 'pass'} | {kind: 'drop'} | {kind: 'delay'; ms: number}

const PASS: Verdict = {kind: 'pass'}
const DROP: Verdict = {kind: 'drop'}

export class FaultFilter {
  private readonly faults = new Map<number, PeerFault>()

  constructor(
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /** Replaces the fault on `peer`; an empty fault clears it. */
  set(peer: number, fault: PeerFault): void {
    if (!fault.drop && !fault.delayMs && !fault.jitterMs && !fault.loss) this.faults.delete(peer)
    else this.faults.set(peer, {...fault})
  }

  clear(peer?: number): void {
    if (peer === undefined) this.faults.clear()
    else this.faults.delete(peer)
  }

  /** The faults in force, by peer. */
  active(): Map<number, PeerFault> {
    for (const [peer, fault] of this.faults) if (fault.until !== undefined && fault.until <= this.now()) this.faults.delete(peer)
    return this.faults
  }

  /** What happens to one message to or from `peer`. */
  judge(peer: number): Verdict {
    if (this.faults.size === 0) return PASS
    const fault = this.faults.get(peer)
    if (!fault) return PASS
    if (fault.until !== undefined && fault.until <= this.now()) {
      this.faults.delete(peer)
      return PASS
    }
    if (fault.drop) return DROP
    if (fault.loss && this.random() < fault.loss) return DROP
    const ms = (fault.delayMs ?? 0) + (fault.jitterMs ? this.random() * fault.jitterMs : 0)
    return ms > 0 ? {kind: 'delay', ms} : PASS
  }
}
