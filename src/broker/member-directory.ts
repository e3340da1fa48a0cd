/**
 * The member directory: node id -> card (its addresses), replicated through the log so every
 * member, and a node that joins later, knows where each member listens. Node ids are stable
 * integers and never reused: a card is never deleted (a removed node keeps its row), so the
 * highest id in the directory is the highest ever allocated.
 *
 * A cluster started with --peers has ids 0..n-1 with the --peers addresses as an implicit base
 * (ports other than Raft's unknown until the member tells them); the rows applied from `members`
 * control entries (control-command.ts) come on top of it. The leader writes the base into the
 * first such entry, so a node that joins learns the founding members from the log too.
 */
import type {DirectoryMember} from '../api/node-http.js'
import type {StoredMember} from '../storage/store-reader.js'

/** The transport narrows node ids to u16 (message-codec.ts). */
export const MAX_MEMBER_ID = 0xffff
/** Far above any sensible cluster: bounds what a hostile entry can make a node hold. */
export const MAX_DIRECTORY_MEMBERS = 1024
const MAX_NODE_ID_CHARS = 128
const MAX_HOST_CHARS = 253
/** Printable characters only: safe in logs and dashboards (the rule of peer-auth.ts's cards). */
const NODE_ID = /^[^\p{C}\p{Zl}\p{Zp}]+$/u
/** A host name or an IP literal (IPv6 possibly bracketed, with a zone). */
const HOST = /^[A-Za-z0-9._:%[\]-]+$/

export function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535
}

export function isMemberId(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_MEMBER_ID
}

/** Why `value` is not a host this directory can hold, or null. */
export function hostProblem(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_HOST_CHARS || !HOST.test(value)) {
    return `host must be a host name or IP address of at most ${MAX_HOST_CHARS} characters`
  }
  return null
}

/** Why `value` is not a node id string (the name the API shows), or null. */
export function nodeIdProblem(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NODE_ID_CHARS || !NODE_ID.test(value)) {
    return `node_id must be a printable string of at most ${MAX_NODE_ID_CHARS} characters`
  }
  return null
}

/** A directory member as anyone sent it (an entry, a row), checked field by field; a reason when it is not one. */
export function parseMember(raw: unknown): DirectoryMember | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'a member is not an object'
  const r = raw as Record<string, unknown>
  if (!isMemberId(r.id)) return `member id ${JSON.stringify(r.id)?.slice(0, 32)} is not an integer in 0..${MAX_MEMBER_ID}`
  const problem = nodeIdProblem(r.node_id) ?? hostProblem(r.host)
  if (problem !== null) return `member ${r.id}: ${problem}`
  if (!isPort(r.raft_port)) return `member ${r.id}: raft_port is not a port`
  for (const key of ['tcp_port', 'http_port'] as const) if (r[key] !== null && !isPort(r[key])) return `member ${r.id}: ${key} is neither a port nor null`
  return {
    id: r.id,
    node_id: r.node_id as string,
    host: r.host as string,
    raft_port: r.raft_port,
    tcp_port: r.tcp_port as number | null,
    http_port: r.http_port as number | null,
  }
}

export class MemberDirectory {
  private readonly rows = new Map<number, DirectoryMember>()

  /** `base`: the members a cluster was started with (--peers), under whatever the log adds. */
  constructor(private readonly base: readonly DirectoryMember[]) {}

  /** The rows as stored (a restart, a snapshot installed): replaces what was applied before. */
  load(stored: StoredMember[]): void {
    this.rows.clear()
    for (const row of stored) {
      const member = parseMember(row)
      if (typeof member !== 'string') this.rows.set(member.id, member)
    }
  }

  /** A `members` entry applied: each card added or updated; none removed. Returns the rows to write. */
  merge(members: readonly DirectoryMember[]): DirectoryMember[] {
    for (const member of members) this.rows.set(member.id, {...member})
    return members.map((m) => ({...m}))
  }

  get(id: number): DirectoryMember | undefined {
    return this.rows.get(id) ?? this.base.find((m) => m.id === id)
  }

  /** Every member (base and applied), by id. */
  list(): DirectoryMember[] {
    const all = new Map<number, DirectoryMember>()
    for (const m of this.base) all.set(m.id, m)
    for (const [id, m] of this.rows) all.set(id, m)
    return [...all.values()].sort((a, b) => a.id - b.id)
  }

  /** The highest id ever allocated (-1 when the directory is empty: a node that has not joined yet). */
  highest(): number {
    let top = -1
    for (const m of this.base) top = Math.max(top, m.id)
    for (const id of this.rows.keys()) top = Math.max(top, id)
    return top
  }

  get size(): number {
    return this.list().length
  }
}
