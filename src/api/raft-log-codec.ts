/**
 * GET /raft/log's answer (RaftLogAnswer in node-http.ts): the range of entries it covers, which
 * the node and its readers compute alike, and its decoder. A node's answer is still bytes: the
 * decoder builds the typed answer field by field and checks that the runs are what the contract
 * says (ascending, contiguous, covering exactly the tail asked for), or says why they are not.
 */
import type {Decoded} from './control.js'
import {MAX_LOG_TAIL, type RaftLogAnswer, type TermRun} from './node-http.js'
import {count, Refusal, type Raw} from './raw-fields.js'

/**
 * The entries the last `last` of a log covers: from after the compaction point or `last` back
 * from the end, whichever is later, to the end. Empty (from > to) when the log is empty.
 */
export function logTailRange(snapshotIndex: number, lastIndex: number, last: number): {from: number; to: number} {
  return {from: Math.max(snapshotIndex + 1, lastIndex - last + 1), to: lastIndex}
}

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The runs, checked: each starts where the one before ended, with a higher term (a Raft log's
 * terms never go down, and equal neighbours would be one run), none above the node's term.
 */
function termRuns(value: unknown, range: {from: number; to: number}, currentTerm: number): TermRun[] {
  if (!Array.isArray(value) || value.length > MAX_LOG_TAIL) throw new Refusal(`runs is not a list of at most ${MAX_LOG_TAIL} runs`)
  const runs: TermRun[] = []
  let next = range.from
  for (const item of value) {
    if (!isObject(item)) throw new Refusal('a run is not an object')
    const run = {from: count(item, 'from'), to: count(item, 'to'), term: count(item, 'term')}
    if (run.from !== next || run.to < run.from) throw new Refusal(`the run ${run.from}..${run.to} does not continue the runs at ${next}`)
    const before = runs.at(-1)
    if (before !== undefined && run.term <= before.term) throw new Refusal(`the run ${run.from}..${run.to} has term ${run.term}, not above the term ${before.term} before it`)
    if (run.term > currentTerm) throw new Refusal(`the run ${run.from}..${run.to} has term ${run.term}, above the node's term ${currentTerm}`)
    runs.push(run)
    next = run.to + 1
  }
  if (next !== range.to + 1) throw new Refusal(`the runs end at ${next - 1}, not at the last index ${range.to}`)
  return runs
}

/** A GET /raft/log?last=`last` answer, parsed from JSON: the typed answer (nothing of the raw object passed on), or why it is not one. */
export function decodeRaftLog(value: unknown, last: number): Decoded<RaftLogAnswer> {
  try {
    if (!isObject(value)) throw new Refusal('the answer is not a JSON object')
    const answer: RaftLogAnswer = {
      node_index: count(value, 'node_index'),
      current_term: count(value, 'current_term'),
      snapshot_index: count(value, 'snapshot_index'),
      snapshot_term: count(value, 'snapshot_term'),
      last_index: count(value, 'last_index'),
      commit_index: count(value, 'commit_index'),
      runs: [],
    }
    if (answer.last_index < answer.snapshot_index) throw new Refusal(`last_index ${answer.last_index} is before snapshot_index ${answer.snapshot_index}`)
    answer.runs = termRuns(value.runs, logTailRange(answer.snapshot_index, answer.last_index, last), answer.current_term)
    return {ok: true, value: answer}
  } catch (error) {
    if (error instanceof Refusal) return {ok: false, message: `/raft/log: ${error.message}`}
    throw error
  }
}
