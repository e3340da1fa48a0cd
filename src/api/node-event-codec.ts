/**
 * Reading one /events event: its SSE name and `data:` text, checked in full into the typed
 * item of node-events.ts, or refused with a reason. A node is a process we started, but its
 * stream is still bytes: a reader skips what does not decode instead of trusting a cast.
 */
import type {Decoded} from './control.js'
import {RPC_KINDS, type LinkFault, type NodeEventData, type NodeStreamItem, type RpcKind} from './node-events.js'
import {RAFT_ROLES, type RaftInfo, type RaftRole} from './node-http.js'
import {count, Refusal, type Raw} from './raw-fields.js'

function countOrNull(raw: Raw, name: string): number | null {
  return raw[name] === null ? null : count(raw, name)
}

function text(raw: Raw, name: string): string {
  const value = raw[name]
  if (typeof value !== 'string') throw new Refusal(`${name} is not a string`)
  return value
}

function role(raw: Raw, name: string): RaftRole {
  const known = RAFT_ROLES.find((r) => r === raw[name])
  if (!known) throw new Refusal(`${name} is not a Raft role`)
  return known
}

/** An optional number of a fault (milliseconds, a probability, an epoch time): finite and not negative. */
function optionalAmount(raw: Raw, name: string): number | undefined {
  const value = raw[name]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Refusal(`${name} is not a non-negative number`)
  return value
}

function raftInfo(raw: Raw): RaftInfo {
  const preCandidate = raw.pre_candidate
  if (typeof preCandidate !== 'boolean') throw new Refusal('pre_candidate is not a boolean')
  return {
    node_id: text(raw, 'node_id'),
    state: role(raw, 'state'),
    current_term: count(raw, 'current_term'),
    log_length: count(raw, 'log_length'),
    first_index: count(raw, 'first_index'),
    commit_index: count(raw, 'commit_index'),
    last_applied: count(raw, 'last_applied'),
    cluster_size: count(raw, 'cluster_size'),
    leader_id: raw.leader_id === null ? null : text(raw, 'leader_id'),
    leader_index: countOrNull(raw, 'leader_index'),
    node_index: count(raw, 'node_index'),
    pre_candidate: preCandidate,
    elections_won: count(raw, 'elections_won'),
    snapshot_index: count(raw, 'snapshot_index'),
    snapshot_term: count(raw, 'snapshot_term'),
    snapshots_sent: count(raw, 'snapshots_sent'),
    snapshots_installed: count(raw, 'snapshots_installed'),
    disk_bytes: count(raw, 'disk_bytes'),
    ...(raw.voted_for === undefined ? {} : {voted_for: countOrNull(raw, 'voted_for')}),
    ...membershipFields(raw),
  }
}

/** voters, learners and members of a RaftInfo, when the node sent them (a node before #18 does not). */
function membershipFields(raw: Raw): Pick<RaftInfo, 'voters' | 'learners' | 'members'> {
  const out: Pick<RaftInfo, 'voters' | 'learners' | 'members'> = {}
  for (const name of ['voters', 'learners'] as const) {
    const value = raw[name]
    if (value === undefined) continue
    if (!Array.isArray(value) || value.some((id) => !Number.isSafeInteger(id) || (id as number) < 0)) throw new Refusal(`${name} is not a list of node indexes`)
    out[name] = value as number[]
  }
  if (raw.members !== undefined) {
    if (!Array.isArray(raw.members)) throw new Refusal('members is not a list')
    out.members = raw.members.map((m: unknown) => {
      if (typeof m !== 'object' || m === null) throw new Refusal('a member is not an object')
      const r = m as Raw
      return {
        id: count(r, 'id'),
        node_id: text(r, 'node_id'),
        host: text(r, 'host'),
        raft_port: count(r, 'raft_port'),
        tcp_port: countOrNull(r, 'tcp_port'),
        http_port: countOrNull(r, 'http_port'),
      }
    })
  }
  return out
}

function linkFault(raw: Raw): LinkFault {
  const fault: LinkFault = {}
  if (raw.drop !== undefined) {
    if (typeof raw.drop !== 'boolean') throw new Refusal('drop is not a boolean')
    fault.drop = raw.drop
  }
  const delayMs = optionalAmount(raw, 'delayMs')
  const jitterMs = optionalAmount(raw, 'jitterMs')
  const loss = optionalAmount(raw, 'loss')
  const until = optionalAmount(raw, 'until')
  if (loss !== undefined && loss > 1) throw new Refusal('loss is not a probability')
  if (delayMs !== undefined) fault.delayMs = delayMs
  if (jitterMs !== undefined) fault.jitterMs = jitterMs
  if (loss !== undefined) fault.loss = loss
  if (until !== undefined) fault.until = until
  return fault
}

function peers(raw: Raw): number[] {
  const value = raw.peers
  if (!Array.isArray(value) || !value.every((p) => Number.isSafeInteger(p) && p >= 0)) throw new Refusal('peers is not a list of member indexes')
  return value as number[]
}

function rpcKind(raw: Raw): RpcKind {
  const known = RPC_KINDS.find((k) => k === raw.kind)
  if (!known) throw new Refusal('kind is not a Raft message kind')
  return known
}

function flag(raw: Raw, name: string): boolean {
  const value = raw[name]
  if (typeof value !== 'boolean') throw new Refusal(`${name} is not a boolean`)
  return value
}

/** The fields of each event name (the SSE name, which is also the `type` of all but hello). */
const EVENTS: Record<NodeStreamItem['type'], (raw: Raw, time: string) => NodeStreamItem> = {
  hello: (raw, time) => ({type: 'hello', time, ...raftInfo(raw)}),
  role: (raw, time) => ({type: 'role', time, role: role(raw, 'role'), term: count(raw, 'term'), leader: countOrNull(raw, 'leader')}),
  term: (raw, time) => ({type: 'term', time, term: count(raw, 'term')}),
  vote: (raw, time) => ({type: 'vote', time, term: count(raw, 'term'), vote: countOrNull(raw, 'vote')}),
  commit: (raw, time) => ({type: 'commit', time, commit_index: count(raw, 'commit_index'), last_applied: count(raw, 'last_applied')}),
  'snapshot-send': (raw, time) => ({type: 'snapshot-send', time, to: count(raw, 'to'), index: count(raw, 'index'), bytes: count(raw, 'bytes'), ms: count(raw, 'ms')}),
  'snapshot-install': (raw, time) => ({type: 'snapshot-install', time, index: count(raw, 'index'), rows: count(raw, 'rows'), ms: count(raw, 'ms')}),
  rpc: (raw, time) => ({
    type: 'rpc',
    time,
    kind: rpcKind(raw),
    from: count(raw, 'from'),
    to: count(raw, 'to'),
    term: count(raw, 'term'),
    entries: count(raw, 'entries'),
    reject: flag(raw, 'reject'),
  }),
  fault: (raw, time): NodeEventData => {
    if (raw.action === 'heal') return {type: 'fault', action: 'heal', time}
    if (raw.action === 'set') return {type: 'fault', action: 'set', time, peers: peers(raw), ...linkFault(raw)}
    throw new Refusal('action is neither "set" nor "heal"')
  },
}

function isEventName(name: string): name is NodeStreamItem['type'] {
  return Object.hasOwn(EVENTS, name)
}

/**
 * One event, from its SSE name and `data:` text: the typed item, built field by field (nothing
 * of the raw object is passed on), or why it is not one.
 */
export function decodeNodeEvent(name: string, data: string): Decoded<NodeStreamItem> {
  const what = JSON.stringify(name.slice(0, 40))
  try {
    if (!isEventName(name)) throw new Refusal('unknown event')
    let parsed: unknown
    try {
      parsed = JSON.parse(data)
    } catch {
      throw new Refusal('data is not JSON')
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Refusal('data is not a JSON object')
    const raw = parsed as Raw
    // Every event but hello says its type again in its data: the two must agree.
    if (name !== 'hello' && raw.type !== name) throw new Refusal(`type ${JSON.stringify(raw.type)} is not the event's name`)
    return {ok: true, value: EVENTS[name](raw, text(raw, 'time'))}
  } catch (error) {
    if (error instanceof Refusal) return {ok: false, message: `event ${what}: ${error.message}`}
    throw error
  }
}
