/**
 * What the supervisor does when a node crashes (`up --restart`), and how long it waits before
 * each restart. `no` leaves a crashed node down, so a fault injected on purpose stays injected;
 * `on-failure` restarts it after a back-off that doubles from FIRST_DELAY_MS up to
 * MAX_DELAY_MS, so a node that crashes at once on every start (a corrupt file, a port taken)
 * does not spin; once a node has run for STABLE_AFTER_MS, its next crash starts over from the
 * first delay.
 */
import {badArgument} from './errors.js'

export const RESTART_POLICIES = ['no', 'on-failure'] as const

export type RestartPolicy = (typeof RESTART_POLICIES)[number]

export const DEFAULT_RESTART_POLICY: RestartPolicy = 'no'

export const FIRST_DELAY_MS = 1000
export const MAX_DELAY_MS = 30_000
export const STABLE_AFTER_MS = 60_000

export function isRestartPolicy(value: unknown): value is RestartPolicy {
  return typeof value === 'string' && (RESTART_POLICIES as readonly string[]).includes(value)
}

export function parseRestartPolicy(text: string): RestartPolicy {
  if (!isRestartPolicy(text)) throw badArgument(`--restart must be ${RESTART_POLICIES.join(' or ')} (got "${text}")`)
  return text
}

/** A node's crashes in a row: those that came before it had run for STABLE_AFTER_MS. */
export interface CrashStreak {
  crashes: number
}

/** The wait before the restart that follows the `crashes`-th crash in a row (1, 2, ...). */
export function restartDelayMs(crashes: number): number {
  const doublings = Math.max(0, crashes - 1)
  // 2^5 s is past the cap already; stopping there keeps the number finite for any count.
  return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(doublings, 16))
}

/** The streak after a crash of a process that had run for `ranMs`, and the wait before its restart. */
export function afterCrash(streak: CrashStreak, ranMs: number): {streak: CrashStreak; delayMs: number} {
  const crashes = ranMs >= STABLE_AFTER_MS ? 1 : streak.crashes + 1
  return {streak: {crashes}, delayMs: restartDelayMs(crashes)}
}
