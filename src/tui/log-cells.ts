/**
 * A node's log tail (GET /raft/log) drawn as a row of cells colored by term, as RaftScope
 * draws it: committed entries are solid cells (the term's color behind the term number),
 * entries after the commit index are hollow (the term number in the term's color, underlined),
 * so the commit index is where the solid cells end. Pure: blessed tags out, no screen.
 */
import type {RaftLogAnswer} from '../api/node-http.js'

/** Terms take these colors in turn: term 1 the first, term 7 the first again. */
export const TERM_PALETTE = ['blue', 'green', 'yellow', 'magenta', 'cyan', 'red'] as const

export function termColor(term: number): string {
  const n = TERM_PALETTE.length
  return TERM_PALETTE[(((term - 1) % n) + n) % n]
}

/** Terms of more digits than this get blank cells one column wide: their number would not fit. */
const MAX_TERM_DIGITS = 3

/**
 * The last entries of `answer` that fit in `width` columns, as blessed-tagged text. Each cell
 * is the term number and a space (one column per cell, without the number, once terms pass
 * MAX_TERM_DIGITS digits); an empty log says so.
 */
export function logCells(answer: RaftLogAnswer, width: number): string {
  const terms: number[] = []
  for (const run of answer.runs) for (let i = run.from; i <= run.to; i++) terms.push(run.term)
  if (terms.length === 0) return clipTo(answer.snapshot_index > 0 ? `log empty after the snapshot at ${answer.snapshot_index}` : 'log empty', width)
  const first = answer.runs[0].from
  const digits = String(Math.max(...terms)).length
  const cellWidth = digits <= MAX_TERM_DIGITS ? digits + 1 : 1
  const count = Math.min(terms.length, Math.floor(Math.max(0, width) / cellWidth))
  const start = terms.length - count
  let text = ''
  for (let k = start; k < terms.length; k++) {
    const term = terms[k]
    const color = termColor(term)
    const committed = first + k <= answer.commit_index
    const label = cellWidth === 1 ? (committed ? ' ' : '·') : `${String(term).padStart(digits)} `
    text += committed ? `{black-fg}{${color}-bg}${label}{/${color}-bg}{/black-fg}` : `{${color}-fg}{underline}${label}{/underline}{/${color}-fg}`
  }
  return text
}

function clipTo(text: string, width: number): string {
  return text.slice(0, Math.max(0, width))
}
