/**
 * `pad-cli node --join`: asks a member of a running cluster to add this node (POST
 * /admin/members {op: 'add'}) and returns the node id it was given. A follower answers
 * NOT_LEADER naming the leader: the request follows it, at most MAX_REDIRECTS times. A member
 * that cannot answer yet (no leader, another change in flight, unreachable) is asked again with
 * a growing pause, at most MAX_ATTEMPTS times; anything else fails at once with one line.
 *
 * An add whose answer is lost may have happened: the node id it allocated is then unused (ids are
 * never reused), and the leftover learner is removed with {op: 'remove'}.
 */
import type {MembersAnswer} from '../api/node-admin.js'
import type {ErrorBody} from '../api/node-http.js'
import {sleep} from '../util/time.js'
import {failureText, requestJson, type NodeAddress} from './node-http-client.js'

export const MAX_REDIRECTS = 3
export const MAX_ATTEMPTS = 8
const FIRST_PAUSE_MS = 250
const MAX_PAUSE_MS = 3000
/** An add waits for two entries to commit: more than the default 2 s on a loaded cluster. */
const REQUEST_TIMEOUT_MS = 15_000

export interface JoinCard {
  host: string
  raft_port: number
  tcp_port: number
  http_port: number
  node_id: string
}

export class JoinError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'JoinError'
  }
}

/** "host:port" of a member's HTTP API, as --join takes it and NOT_LEADER names it. */
export function parseMemberAddress(text: string): NodeAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim())
  const port = match ? Number(match[3]) : NaN
  if (!match || port < 1 || port > 65535) throw new JoinError(`"${text}" is not host:port of a member's HTTP API`)
  return {host: match[1] ?? match[2], http_port: port}
}

export async function joinCluster(via: string, token: string, card: JoinCard, log: (line: string) => void = () => {}): Promise<number> {
  let target = parseMemberAddress(via)
  let redirects = 0
  let pause = FIRST_PAUSE_MS
  let last = ''
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    let status: number
    let json: Record<string, unknown>
    try {
      ;({status, json} = await requestJson(target, 'POST', '/admin/members', {body: {op: 'add', ...card}, token, timeoutMs: REQUEST_TIMEOUT_MS}))
    } catch (error) {
      last = `${target.host}:${target.http_port} did not answer: ${failureText(error)}`
      log(`${last}; retrying`)
      await sleep(pause)
      pause = Math.min(MAX_PAUSE_MS, pause * 2)
      continue
    }
    if (status === 200 && json.ok === true && Number.isInteger(json.id)) return (json as unknown as MembersAnswer).id
    const body = json as unknown as Partial<ErrorBody>
    const code = body.error?.code ?? `HTTP ${status}`
    const message = String(body.error?.message ?? 'no reason given').slice(0, 300)
    if (code === 'NOT_LEADER' && typeof body.leader === 'string') {
      if (++redirects > MAX_REDIRECTS) throw new JoinError(`could not join: more than ${MAX_REDIRECTS} redirects to the leader (last: ${body.leader})`)
      target = parseMemberAddress(body.leader)
      log(`following the leader at ${body.leader}`)
      attempt--
      continue
    }
    const retryable = code === 'NO_LEADER' || code === 'NOT_LEADER' || code === 'SHUTTING_DOWN' || (code === 'CONFLICT' && /in flight|not committed an entry/.test(message))
    if (!retryable) throw new JoinError(`could not join via ${target.host}:${target.http_port}: ${code}: ${message}`)
    last = `${code}: ${message}`
    log(`${last}; retrying`)
    await sleep(pause)
    pause = Math.min(MAX_PAUSE_MS, pause * 2)
  }
  throw new JoinError(`could not join after ${MAX_ATTEMPTS} attempts: ${last}`)
}
