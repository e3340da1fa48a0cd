// Cluster membership: who votes (voters), who only receives the log (learners), the changes a
// leader may make to it one at a time, and the byte form a configuration entry carries.
//
// Changes are single-server (Ongaro's dissertation ch. 4, as hashicorp/raft): a voter set that
// gains or loses one member has majorities that overlap the old one's, so no joint consensus is
// needed as long as one change at a time is in flight. A configuration entry carries the WHOLE
// new membership rather than the change: each entry then describes itself (a node that reads it
// needs no earlier one), and comparing two histories is comparing values.
import type {NodeId} from './types.js'

/** Both lists sorted ascending, without duplicates, disjoint; at least one voter once a
 * cluster runs (a node that has not yet heard of its cluster may hold an empty one). */
export interface Membership {
  voters: NodeId[]
  learners: NodeId[]
}

export type ConfChange = {kind: 'addLearner'; node: NodeId} | {kind: 'promote'; node: NodeId} | {kind: 'remove'; node: NodeId}

/** A membership change the leader will not make; the message is one line saying why. */
export class ConfChangeRefusedError extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'ConfChangeRefusedError'
  }
}

export function isVoter(m: Membership, id: NodeId): boolean {
  return m.voters.includes(id)
}

export function isMember(m: Membership, id: NodeId): boolean {
  return m.voters.includes(id) || m.learners.includes(id)
}

export function sameMembership(a: Membership, b: Membership): boolean {
  return sameIds(a.voters, b.voters) && sameIds(a.learners, b.learners)
}

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

export function copyMembership(m: Membership): Membership {
  return {voters: [...m.voters], learners: [...m.learners]}
}

export function formatMembership(m: Membership): string {
  return `voters [${m.voters.join(',')}] learners [${m.learners.join(',')}]`
}

function sorted(ids: NodeId[]): NodeId[] {
  return ids.sort((a, b) => a - b)
}

/**
 * The membership after `change`, or ConfChangeRefusedError for a change that makes no sense:
 * adding a member that exists, promoting a non-learner, removing a non-member or the last voter.
 */
export function applyConfChange(m: Membership, change: ConfChange): Membership {
  const id = change.node
  if (!Number.isSafeInteger(id) || id < 0) throw new ConfChangeRefusedError(`node id ${String(id)} is not a non-negative integer`)
  switch (change.kind) {
    case 'addLearner':
      if (isVoter(m, id)) throw new ConfChangeRefusedError(`n${id} is already a voter`)
      if (m.learners.includes(id)) throw new ConfChangeRefusedError(`n${id} is already a learner`)
      return {voters: [...m.voters], learners: sorted([...m.learners, id])}
    case 'promote':
      if (isVoter(m, id)) throw new ConfChangeRefusedError(`n${id} is already a voter`)
      if (!m.learners.includes(id)) throw new ConfChangeRefusedError(`n${id} is not a learner (add it as a learner first)`)
      return {voters: sorted([...m.voters, id]), learners: m.learners.filter((x) => x !== id)}
    case 'remove':
      if (!isMember(m, id)) throw new ConfChangeRefusedError(`n${id} is not a member`)
      if (m.voters.length === 1 && m.voters[0] === id) throw new ConfChangeRefusedError(`n${id} is the last voter`)
      return {voters: m.voters.filter((x) => x !== id), learners: m.learners.filter((x) => x !== id)}
    default:
      throw new ConfChangeRefusedError(`unknown change kind ${String((change as {kind: unknown}).kind)}`)
  }
}

/** Why `m` is not a valid membership (null when it is): the shape every entry and snapshot must have. */
export function membershipProblem(m: Membership, allowEmpty = false): string | null {
  if (typeof m !== 'object' || m === null || !Array.isArray(m.voters) || !Array.isArray(m.learners)) return 'not a {voters, learners} pair of lists'
  for (const list of [m.voters, m.learners]) {
    for (let i = 0; i < list.length; i++) {
      if (!Number.isSafeInteger(list[i]) || list[i] < 0 || list[i] > MAX_ID) return `member id ${String(list[i])} is not an integer in 0..${MAX_ID}`
      if (i > 0 && list[i] <= list[i - 1]) return 'member ids are not sorted and distinct'
    }
  }
  if (m.voters.some((v) => m.learners.includes(v))) return 'a node is both voter and learner'
  if (m.voters.length === 0 && !allowEmpty) return 'no voters'
  if (m.voters.length + m.learners.length > MAX_MEMBERS) return `more than ${MAX_MEMBERS} members`
  return null
}

// ---------------------------------------------------------------- bytes
//
//   u8 version (1) | u16 voter count | u16 learner count | u32 id per voter, then per learner
//
// Big-endian, exact length. Ids are u32 (the core's NodeId is any non-negative integer; the
// transport narrows it to u16 on its own).

const VERSION = 1
const HEADER = 5
const MAX_ID = 0xffff_ffff
/** Far above any sensible cluster; bounds what a hostile entry can make a node allocate. */
const MAX_MEMBERS = 1024

export function encodeMembership(m: Membership): Uint8Array {
  const problem = membershipProblem(m)
  if (problem !== null) throw new RangeError(`cannot encode membership: ${problem}`)
  const out = new Uint8Array(HEADER + 4 * (m.voters.length + m.learners.length))
  const v = new DataView(out.buffer)
  v.setUint8(0, VERSION)
  v.setUint16(1, m.voters.length)
  v.setUint16(3, m.learners.length)
  let at = HEADER
  for (const id of [...m.voters, ...m.learners]) {
    v.setUint32(at, id)
    at += 4
  }
  return out
}

/** Decodes a configuration entry's data; any bytes that are not exactly a valid membership
 * throw a RangeError saying what is wrong. */
export function decodeMembership(bytes: Uint8Array): Membership {
  if (!(bytes instanceof Uint8Array)) throw new RangeError('membership: not a byte array')
  if (bytes.byteLength < HEADER) throw new RangeError(`membership: ${bytes.byteLength} bytes is shorter than the ${HEADER}-byte header`)
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const version = v.getUint8(0)
  if (version !== VERSION) throw new RangeError(`membership: unknown version ${version}`)
  const voters = v.getUint16(1)
  const learners = v.getUint16(3)
  const want = HEADER + 4 * (voters + learners)
  if (bytes.byteLength !== want) throw new RangeError(`membership: ${voters} voters and ${learners} learners need ${want} bytes, got ${bytes.byteLength}`)
  const ids: NodeId[] = []
  for (let at = HEADER; at < want; at += 4) ids.push(v.getUint32(at))
  const m = {voters: ids.slice(0, voters), learners: ids.slice(voters)}
  const problem = membershipProblem(m)
  if (problem !== null) throw new RangeError(`membership: ${problem}`)
  return m
}
