/**
 * What the supervisor asks a node about its membership: POST /admin/members on the leader, and
 * the configuration and member directory in its /raft answer. A node's refusal becomes a
 * ClusterError with the node's own one-line reason; whether it is worth asking again (another
 * change in flight, a learner still behind) is said here, in one place.
 */
import type {MembersRequest} from '../../api/node-admin.js'
import {requestJson, failureText, type NodeAddress} from '../../client/node-http-client.js'
import type {RaftInfo} from '../../client/raft-state.js'
import {ClusterError} from '../errors.js'
import type {Configuration} from '../membership-plan.js'

/** The change committed: the configuration after it, and the index of its configuration entry. */
export interface MembersResult {
  id: number
  membership: Configuration
  index: number
}


/** The refusals that go away by themselves: another change committing, a learner catching up, a leader settling in. */
const PASSING = /in flight|behind the leader|not committed an entry|being transferred|no leader/

/** A refusal worth asking again after a pause. */
export function isPassing(error: unknown): boolean {
  return error instanceof ClusterError && (error.code === 'NO_LEADER' || (error.code === 'CONFLICT' && PASSING.test(error.message)))
}

export async function membersCall(leader: NodeAddress & {index: number}, token: string, body: MembersRequest, timeoutMs: number): Promise<MembersResult> {
  let answer
  try {
    answer = await requestJson(leader, 'POST', '/admin/members', {body, token, timeoutMs})
  } catch (error) {
    throw new ClusterError('NODE_API', `node ${leader.index} did not answer ${body.op}: ${failureText(error)}`)
  }
  const json = answer.json as {ok?: unknown; id?: unknown; index?: unknown; membership?: {voters?: unknown; learners?: unknown}; error?: {code?: unknown; message?: unknown}}
  if (answer.status === 200 && json.ok === true && Number.isInteger(json.id) && Number.isInteger(json.index)) {
    return {id: json.id as number, index: json.index as number, membership: {voters: ids(json.membership?.voters), learners: ids(json.membership?.learners)}}
  }
  const code = typeof json.error?.code === 'string' ? json.error.code : `HTTP ${answer.status}`
  const message = typeof json.error?.message === 'string' ? json.error.message.slice(0, 300) : 'no reason given'
  if (code === 'NOT_LEADER') throw new ClusterError('NO_LEADER', `node ${leader.index} no longer leads: ${message}`)
  // The change did not commit in time: it may yet commit (or not). The caller asks again once it
  // has looked at the configuration (membership.ts), so an answer lost this way repeats nothing.
  if (code === 'NO_LEADER') throw new ClusterError('NO_LEADER', `node ${leader.index} did not commit the ${body.op} in time (it may still): ${message}`)
  if (code === 'CONFLICT') throw new ClusterError('CONFLICT', message)
  throw new ClusterError('NODE_API', `node ${leader.index} refused ${body.op}: ${code}: ${message}`)
}

function ids(value: unknown): number[] {
  return Array.isArray(value) ? value.filter((v): v is number => Number.isInteger(v)) : []
}

/** The configuration a node states in /raft, or null if it does not (a node from before membership changes lacks it). */
export function configurationOf(info: RaftInfo | undefined): Configuration | null {
  if (!info || !Array.isArray(info.voters) || !Array.isArray(info.learners)) return null
  return {voters: [...info.voters], learners: [...info.learners]}
}

/** The highest node id the node's directory and configuration hold, or null if it says nothing of them. */
export function directoryHighest(info: RaftInfo | undefined): number | null {
  if (!info) return null
  const known = [...(info.members ?? []).map((m) => m.id), ...(info.voters ?? []), ...(info.learners ?? [])].filter((id) => Number.isInteger(id))
  return known.length === 0 ? null : Math.max(...known)
}
