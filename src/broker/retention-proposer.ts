/**
 * The leader's part in retention. Limits are applied by every member at the same entries of the
 * log, so the policy and the clock that expires messages travel through the log too:
 *
 * - when this node leads and its configured policy (its `--retention` flags) is not the one the
 *   cluster applies, it proposes a policy entry: the leader's flags win;
 * - while it leads, it proposes an expire entry carrying its clock whenever one would trim
 *   something (a message is older than a max-age), checked every second.
 *
 * One proposal at a time; a proposal that fails (leadership lost, no quorum) is tried again at a
 * later check, if it is still needed then.
 */
import {policyText, type RetentionPolicy} from '../util/retention-spec.js'
import {encodeExpire, encodePolicy} from './control-command.js'
import type {Logger} from './logger.js'
import type {MessageStore} from './message-store.js'

/** What the proposer needs of the Raft driver. */
export interface ProposerLog {
  /** Resolves once the control entry committed; rejects when it did not (this node no longer leads, no quorum). */
  proposeControl(data: Uint8Array): Promise<unknown>
  status(): {role: string}
}

const CHECK_MS = 1000

export class RetentionProposer {
  private readonly configuredText: string
  private readonly policyEntry: Uint8Array
  private timer: NodeJS.Timeout | null = null
  private inFlight = false
  /** Entries proposed, for tests and logs. */
  proposed = 0

  constructor(
    private readonly log: ProposerLog,
    private readonly store: Pick<MessageStore, 'retentionPolicyText' | 'expiryDue'>,
    configured: RetentionPolicy,
    private readonly logger: Pick<Logger, 'info' | 'warn'>,
    private readonly clock: () => number = Date.now,
  ) {
    this.configuredText = policyText(configured)
    this.policyEntry = encodePolicy(configured)
  }

  start(): void {
    this.timer ??= setInterval(() => this.check(), CHECK_MS)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  /** Proposes what is needed now, if this node leads. Called every second and on becoming leader. */
  check(): void {
    if (this.inFlight || this.log.status().role !== 'LEADER') return
    if (this.store.retentionPolicyText !== this.configuredText) {
      this.logger.info('proposing the configured retention policy', {policy: this.configuredText, applied: this.store.retentionPolicyText})
      this.propose(this.policyEntry)
      return
    }
    const now = this.clock()
    if (this.store.expiryDue(now)) this.propose(encodeExpire(now))
  }

  private propose(data: Uint8Array): void {
    this.inFlight = true
    this.proposed++
    // A refusal is tried again at a later check if still needed; it is not worth a warning each time.
    this.log.proposeControl(data).then(
      () => (this.inFlight = false),
      () => (this.inFlight = false),
    )
  }
}
