/**
 * GET /raft/log?last=N: the tail of a node's log as runs of terms (RaftLogAnswer), for pictures
 * of the log as cells. The answer is checked field by field before anyone draws it: a node of
 * an older build answers 404, and whatever else it sends is not trusted.
 */
import {MAX_LOG_TAIL, type RaftLogAnswer, type TermRun} from '../api/node-http.js'
import {getJson, NodeHttpError, type NodeAddress} from './node-http-client.js'

export type {RaftLogAnswer, TermRun}

/** The last `last` entries (1..MAX_LOG_TAIL) of `node`'s log; throws NodeHttpError when it cannot say. */
export async function getRaftLog(node: NodeAddress, last: number, timeoutMs = 1000): Promise<RaftLogAnswer> {
  if (!Number.isInteger(last) || last < 1 || last > MAX_LOG_TAIL) throw new RangeError(`last must be an integer in 1..${MAX_LOG_TAIL}, got ${last}`)
  const json = await getJson<unknown>(node, `/raft/log?last=${last}`, timeoutMs)
  const problem = raftLogProblem(json, last)
  if (problem) throw new NodeHttpError(`GET /raft/log on ${node.host}:${node.http_port}: ${problem}`)
  return json as RaftLogAnswer
}

const INDEX_FIELDS = ['node_index', 'current_term', 'snapshot_index', 'snapshot_term', 'last_index', 'commit_index'] as const

/**
 * Why `json` is not a RaftLogAnswer for at most `last` entries, or null when it is one: every
 * number a non-negative safe integer, the runs ascending and contiguous, inside
 * snapshot_index+1..last_index, ending at last_index, and no more than `last` entries.
 */
export function raftLogProblem(json: unknown, last: number): string | null {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'the answer is not an object'
  const answer = json as Record<string, unknown>
  for (const field of INDEX_FIELDS) if (!isCount(answer[field])) return `${field} is not a non-negative integer`
  const a = answer as unknown as RaftLogAnswer
  if (a.last_index < a.snapshot_index) return 'last_index is before snapshot_index'
  if (!Array.isArray(answer.runs)) return 'runs is not a list'
  const runs = answer.runs as unknown[]
  let next: number | null = null
  for (const [i, item] of runs.entries()) {
    if (typeof item !== 'object' || item === null) return `runs[${i}] is not an object`
    const run = item as Record<string, unknown>
    if (!isCount(run.from) || !isCount(run.to) || !isCount(run.term)) return `runs[${i}] needs integer from, to and term`
    const {from, to} = run as unknown as TermRun
    if (from > to) return `runs[${i}] ends before it starts`
    if (next !== null && from !== next) return `runs[${i}] does not follow runs[${i - 1}]`
    if (from <= a.snapshot_index) return `runs[${i}] starts inside the snapshot`
    next = to + 1
  }
  if (runs.length === 0) return a.last_index === a.snapshot_index ? null : 'runs is empty but the log is not'
  if (next! - 1 !== a.last_index) return 'the runs do not end at last_index'
  if (next! - (runs[0] as TermRun).from > last) return `more than the ${last} entries asked for`
  return null
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}
