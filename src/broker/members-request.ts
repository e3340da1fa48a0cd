/**
 * The body of POST /admin/members, checked field by field as hostile input: a known op, ids
 * that are node ids, a host and ports that the member directory can hold. Anything else is
 * BAD_REQUEST with a one-line reason; nothing unchecked reaches the membership changer.
 */
import type {MembersRequest} from '../api/node-admin.js'
import {BrokerError} from './errors.js'
import {hostProblem, isMemberId, isPort, MAX_MEMBER_ID, nodeIdProblem} from './member-directory.js'

const OPS = ['add', 'promote', 'remove'] as const

export function parseMembersRequest(body: Record<string, unknown>): MembersRequest {
  const op = body.op
  if (typeof op !== 'string' || !(OPS as readonly string[]).includes(op)) throw new BrokerError('BAD_REQUEST', `op must be one of ${OPS.join(', ')}`)
  if (op === 'add') {
    const host = hostProblem(body.host)
    if (host !== null) throw new BrokerError('BAD_REQUEST', host)
    for (const key of ['raft_port', 'tcp_port', 'http_port'] as const) {
      if (!isPort(body[key])) throw new BrokerError('BAD_REQUEST', `${key} must be an integer in 1..65535`)
    }
    if (body.node_id !== undefined) {
      const problem = nodeIdProblem(body.node_id)
      if (problem !== null) throw new BrokerError('BAD_REQUEST', problem)
    }
    return {
      op,
      host: body.host as string,
      raft_port: body.raft_port as number,
      tcp_port: body.tcp_port as number,
      http_port: body.http_port as number,
      ...(body.node_id !== undefined ? {node_id: body.node_id as string} : {}),
    }
  }
  if (!isMemberId(body.id)) throw new BrokerError('BAD_REQUEST', `id must be a node id, an integer in 0..${MAX_MEMBER_ID}`)
  return {op: op as 'promote' | 'remove', id: body.id}
}
