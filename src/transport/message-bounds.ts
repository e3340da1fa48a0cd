/**
 * What a Raft message from a peer must look like before the core sees it. The core (src/raft)
 * trusts its input, as the paper's rules assume; these checks keep values it could not act on
 * out of it, at the boundary where bytes become messages: a term that would overflow the wire
 * format once incremented, or jump so far ahead that no member could ever catch up with it;
 * indexes that are not counts; entries that are not a run following the message's index.
 */
import type {Message} from '../raft/index.js'

/** The largest term the wire format carries; a member must still be able to campaign with term + 1. */
export const MAX_TERM = 0xffff_ffff
/** How far ahead of ours a peer's term may be: more would be a term no election ever reached. */
export const MAX_TERM_LEAD = 2 ** 31

export interface BoundsContext {
  /** This member's index. */
  self: number
  /** The highest node id a sender may have: the member directory's highest allocated id (or an authenticated peer's above it). */
  maxId: number
  /** The term this member is in (as of its last Ready). */
  currentTerm: number
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function isTerm(value: unknown): value is number {
  return isCount(value) && value < MAX_TERM
}

/** Why `message` must not reach the core, or null when it may. */
export function messageBoundsError(message: Message, context: BoundsContext): string | null {
  const {from, to, term} = message
  if (!Number.isInteger(from) || from < 0 || from > context.maxId || from === context.self) return `sender ${from} is not another member`
  if (to !== context.self) return `addressed to member ${to}, not to this one`
  if (!isTerm(term)) return `term ${term} is outside 0..${MAX_TERM - 1}`
  if (term - context.currentTerm > MAX_TERM_LEAD) return `term ${term} is too far ahead of ours (${context.currentTerm})`
  if (message.logTerm !== undefined && !isTerm(message.logTerm)) return `logTerm ${message.logTerm} is not a term`
  if (message.hintTerm !== undefined && !isTerm(message.hintTerm)) return `hintTerm ${message.hintTerm} is not a term`
  for (const key of ['index', 'commit', 'rejectHint'] as const) {
    const value = message[key]
    if (value !== undefined && !isCount(value)) return `${key} ${value} is not a non-negative integer`
  }
  const claimsLog = message.type === 'app' || message.type === 'vote' || message.type === 'preVote'
  if (claimsLog && message.logTerm !== undefined && message.logTerm > term) return `logTerm ${message.logTerm} is after the message's term ${term}`
  const entries = message.entries
  if (entries === undefined) return null
  if (message.type !== 'app') return `a ${message.type} message carries entries`
  if (message.index === undefined || message.logTerm === undefined) return 'entries without the index and term they follow'
  let previousTerm = message.logTerm
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]
    if (entry.index !== message.index + 1 + i) return `entry ${i} has index ${entry.index}, not ${message.index + 1 + i}`
    if (!isTerm(entry.term) || entry.term > term) return `entry ${entry.index} has term ${entry.term}, after the message's term ${term}`
    if (entry.term < previousTerm) return `entry ${entry.index} has term ${entry.term}, before the term ${previousTerm} it follows`
    previousTerm = entry.term
  }
  return null
}
