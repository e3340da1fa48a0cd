/**
 * The conditions a `wait-for` waits for and an `expect` checks, read from the nodes themselves
 * (GET /raft, GET /messages) and the supervisor's status. Each probe answers ok or not with one
 * line of detail; the runner polls it until ok or its bound passes.
 */
import {raftViews, type RaftInfo} from '../client/raft-state.js'
import {readTopic} from '../client/stored-messages.js'
import type {ClusterStatus} from '../api/control.js'
import type {ClusterMember, SupervisedCluster} from '../cluster/supervised-cluster.js'
import type {PublishLog} from './publishes.js'
import type {ConditionKind} from './schema.js'
import type {RaftRole} from '../api/node-http.js'

export interface Probe {
  ok: boolean
  detail: string
}

export interface ProbeTarget {
  condition: ConditionKind
  /** Resolved node indexes. */
  node?: number
  not?: number
  role?: RaftRole
  /** The term remembered with the old leader (term-advanced). */
  oldTerm: number | null
}

interface Views {
  status: ClusterStatus
  /** Running members, with their /raft (null if it did not answer). */
  running: {member: ClusterMember; raft: RaftInfo | null}[]
  leader: RaftInfo | null
}

async function views(cluster: SupervisedCluster): Promise<Views> {
  const status = await cluster.status()
  const runningIndexes = new Set(status.nodes.filter((n) => n.membership !== 'removed' && n.process === 'running').map((n) => n.index))
  const members = cluster.nodes.filter((m) => runningIndexes.has(m.index))
  const rafts = await raftViews(members, 1000)
  const running = members.map((member, i) => ({member, raft: rafts[i]}))
  let leader: RaftInfo | null = null
  for (const {raft} of running) if (raft?.state === 'LEADER' && (!leader || raft.current_term > leader.current_term)) leader = raft
  return {status, running, leader}
}

function raftOf(v: Views, node: number): RaftInfo | null {
  return v.running.find((r) => r.member.index === node)?.raft ?? null
}

const ROLE_WORDS: Record<RaftRole, string> = {LEADER: 'leader', FOLLOWER: 'follower', CANDIDATE: 'candidate', PRE_CANDIDATE: 'pre-candidate'}

function roleText(raft: RaftInfo): string {
  return `${ROLE_WORDS[raft.state] ?? raft.state} in term ${raft.current_term}`
}

/** One look at the cluster: does the condition hold now? */
export async function probe(cluster: SupervisedCluster, target: ProbeTarget, log: PublishLog): Promise<Probe> {
  const v = await views(cluster)
  const node = target.node ?? -1
  const raft = raftOf(v, node)
  const down = {ok: false, detail: `node ${node} does not answer (is it running?)`}
  switch (target.condition) {
    case 'leader': {
      if (!v.leader) return {ok: false, detail: 'no node leads'}
      if (target.not !== undefined && v.leader.node_index === target.not) return {ok: false, detail: `node ${target.not} still leads (term ${v.leader.current_term})`}
      return {ok: true, detail: `node ${v.leader.node_index} leads (term ${v.leader.current_term})`}
    }
    case 'role':
      if (!raft) return down
      return {ok: raft.state === target.role, detail: `node ${node} is ${roleText(raft)}`}
    case 'stepped-down': {
      if (!raft) return down
      const other = v.leader && v.leader.node_index !== node ? v.leader : null
      const ok = raft.state !== 'LEADER' && other !== null && raft.current_term >= other.current_term
      return {ok, detail: `node ${node} is ${roleText(raft)}; ${other ? `node ${other.node_index} leads term ${other.current_term}` : 'no other node leads'}`}
    }
    case 'uncommitted':
      if (!raft) return down
      return {ok: raft.log_length > raft.commit_index, detail: `node ${node}'s log ends at ${raft.log_length}, committed up to ${raft.commit_index}: ${Math.max(0, raft.log_length - raft.commit_index)} uncommitted entries`}
    case 'caught-up': {
      if (!raft) return down
      if (!v.leader) return {ok: false, detail: 'no node leads to catch up with'}
      return {ok: raft.last_applied >= v.leader.commit_index, detail: `node ${node} applied up to ${raft.last_applied}; the leader (node ${v.leader.node_index}) committed up to ${v.leader.commit_index}`}
    }
    case 'converged':
      return converged(v)
    case 'term-advanced': {
      const terms = v.running.map((r) => r.raft?.current_term ?? 0)
      const now = Math.max(0, ...terms)
      return {ok: target.oldTerm !== null && now > target.oldTerm, detail: `the term is ${now} (it was ${target.oldTerm ?? 'unknown'} when the leader was remembered)`}
    }
    case 'snapshot-installed':
      if (!raft) return down
      return {ok: raft.snapshots_installed > 0, detail: `node ${node} installed ${raft.snapshots_installed} snapshot(s) since it started (its log starts after index ${raft.snapshot_index})`}
    case 'voter': {
      const voters = v.leader?.voters ?? v.status.membership?.voters
      if (!voters) return {ok: false, detail: 'no leader says who votes'}
      return {ok: voters.includes(node), detail: `the voters are ${voters.join(', ')}`}
    }
    case 'no-acked-lost':
      return noAckedLost(v, log)
    case 'unacked-absent':
      return unackedAbsent(v, log)
    case 'refuses-writes':
      // Not a look but an attempt: the runner publishes (see runner.ts).
      throw new Error('refuses-writes is an attempt, not a probe')
  }
}

/** One leader; every running node has the same log and has applied all of it. */
function converged(v: Views): Probe {
  const silent = v.running.filter((r) => r.raft === null).map((r) => r.member.index)
  if (silent.length > 0) return {ok: false, detail: `node ${silent.join(', ')} does not answer`}
  const rafts = v.running.map((r) => r.raft!)
  const leaders = rafts.filter((r) => r.state === 'LEADER').length
  const shape = rafts.map((r) => `node ${r.node_index} log ${r.log_length} commit ${r.commit_index} applied ${r.last_applied}`).join('; ')
  if (leaders !== 1) return {ok: false, detail: `${leaders} leaders; ${shape}`}
  const first = rafts[0]
  const same = rafts.every((r) => r.log_length === first.log_length && r.commit_index === first.commit_index && r.last_applied === r.commit_index && r.current_term === first.current_term)
  return {ok: same, detail: same ? `${rafts.length} nodes agree: log ${first.log_length}, committed and applied ${first.commit_index}, term ${first.current_term}` : shape}
}

/** Every running node's stored messages of these topics (null where a node did not answer). */
async function stores(v: Views, topics: string[]): Promise<{node: number; messages: Map<string, Map<number, string>> | null}[]> {
  return Promise.all(
    v.running.map(async ({member}) => {
      try {
        const messages = new Map<string, Map<number, string>>()
        for (const topic of topics) messages.set(topic, new Map((await readTopic(member, topic, 5000)).map((m) => [m.offset, m.body])))
        return {node: member.index, messages}
      } catch {
        return {node: member.index, messages: null}
      }
    }),
  )
}

async function noAckedLost(v: Views, log: PublishLog): Promise<Probe> {
  if (log.acked.length === 0) return {ok: true, detail: 'nothing was acknowledged, so nothing can be lost'}
  for (const {node, messages} of await stores(v, log.topics())) {
    if (!messages) return {ok: false, detail: `node ${node} did not answer GET /messages`}
    const missing = log.acked.filter((a) => messages.get(a.topic)?.get(a.offset) !== a.body)
    if (missing.length > 0) return {ok: false, detail: `node ${node} lacks ${missing.length} of ${log.acked.length} acknowledged messages (first: ${missing[0].topic} offset ${missing[0].offset})`}
  }
  return {ok: true, detail: `all ${log.acked.length} acknowledged messages are stored at their offsets on all ${v.running.length} running nodes`}
}

async function unackedAbsent(v: Views, log: PublishLog): Promise<Probe> {
  if (log.unacked.length === 0) return {ok: false, detail: 'no publish went unacknowledged: nothing to check (publish with "outcome": "unacked" first)'}
  for (const {node, messages} of await stores(v, log.topics())) {
    if (!messages) return {ok: false, detail: `node ${node} did not answer GET /messages`}
    const bodies = new Set([...messages.values()].flatMap((m) => [...m.values()]))
    const found = log.unacked.filter((u) => bodies.has(u.body))
    if (found.length > 0) return {ok: false, detail: `node ${node} stores ${found.length} of the ${log.unacked.length} unacknowledged publishes`}
  }
  return {ok: true, detail: `none of the ${log.unacked.length} unacknowledged publishes is stored on any of the ${v.running.length} running nodes`}
}
