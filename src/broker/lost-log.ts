/**
 * A follower that lost the log it acknowledged: its data dir was wiped, or restored from an old
 * backup, and it restarted under the same node id. Raft assumes that never happens, and the
 * leader cannot repair it: it knows the follower stored entries up to `match`, so it never goes
 * below that (a rejection at or under it reads as a stale answer), and the follower refuses
 * every append above its real log. It would wait for ever with no sign of why. The leader can
 * tell: the follower's rejection hint (the last index it may hold) is below what it acknowledged.
 */
import type {Message} from '../raft/index.js'

/** What a leader says of an append rejection from a follower it knows stored up to `match`, or null when it is an ordinary one. */
export function lostLogProblem(message: Message, match: number | undefined): string | null {
  if (message.type !== 'appResp' || message.reject !== true || match === undefined) return null
  const hint = message.rejectHint ?? 0
  if (hint >= match) return null
  return `node ${message.from} answers that its log ends at ${hint}, below the ${match} entries it acknowledged: it lost its data (a wiped or restored data dir) and cannot catch up under its old id; replace it with a new member (pad-cli replace ${message.from}), or give it back its data`
}
