/**
 * The log drawn as runs of one term (GET /raft/log): a term changes once per leadership, so a
 * tail of hundreds of entries is a handful of runs. Pure: the terms come from `termAt`, which
 * the driver answers from the core's log (the unstable entries of a follower included) and
 * the storage's in-memory runs, so no entry is read from disk.
 */
import type {TermRun} from '../api/node-http.js'

/**
 * Runs covering `from`..`to` (none when from > to). `termAt` must know every index in the range:
 * a gap is a bug of the caller (the range comes from the same log), and is thrown, not drawn.
 */
export function termRuns(from: number, to: number, termAt: (index: number) => number | null): TermRun[] {
  const runs: TermRun[] = []
  let run: TermRun | null = null
  for (let index = from; index <= to; index++) {
    const term = termAt(index)
    if (term === null) throw new Error(`the log has no term at ${index}, inside ${from}..${to}`)
    if (run !== null && run.term === term) {
      run.to = index
    } else {
      run = {from: index, to: index, term}
      runs.push(run)
    }
  }
  return runs
}
