/** The log's tail drawn as runs of one term (GET /raft/log). */
import {expect} from 'chai'
import {logTailRange} from '../../src/api/raft-log-codec.js'
import {termRuns} from '../../src/broker/term-runs.js'

/** A log whose entry i (1-based, after `offset`) has terms[i - offset - 1]; null outside. */
function log(offset: number, terms: number[]): (index: number) => number | null {
  return (index) => (index > offset && index <= offset + terms.length ? terms[index - offset - 1] : null)
}

describe('term runs', () => {
  it('groups equal terms into ascending, contiguous runs covering the range exactly', () => {
    const termAt = log(0, [1, 1, 1, 2, 2, 5, 5, 5, 5, 6])
    expect(termRuns(1, 10, termAt)).to.deep.equal([
      {from: 1, to: 3, term: 1},
      {from: 4, to: 5, term: 2},
      {from: 6, to: 9, term: 5},
      {from: 10, to: 10, term: 6},
    ])
    expect(termRuns(5, 7, termAt)).to.deep.equal([
      {from: 5, to: 5, term: 2},
      {from: 6, to: 7, term: 5},
    ])
    expect(termRuns(10, 10, termAt)).to.deep.equal([{from: 10, to: 10, term: 6}])
  })

  it('has no runs for an empty range (an empty log)', () => {
    expect(termRuns(1, 0, log(0, []))).to.deep.equal([])
    expect(termRuns(501, 500, log(500, []))).to.deep.equal([])
  })

  it('throws on an index the log does not know, rather than draw a gap', () => {
    expect(() => termRuns(1, 4, log(0, [1, 1, 1]))).to.throw('the log has no term at 4, inside 1..4')
  })

  it('covers the last N entries, never the compacted ones', () => {
    // 100 entries after a compaction point at 40: last=50 -> 91..140; last=200 -> 41..140.
    expect(logTailRange(40, 140, 50)).to.deep.equal({from: 91, to: 140})
    expect(logTailRange(40, 140, 200)).to.deep.equal({from: 41, to: 140})
    expect(logTailRange(40, 140, 1)).to.deep.equal({from: 140, to: 140})
    // Empty log (everything compacted, or nothing written): from > to.
    expect(logTailRange(140, 140, 50)).to.deep.equal({from: 141, to: 140})
    expect(logTailRange(0, 0, 50)).to.deep.equal({from: 1, to: 0})
    const termAt = log(40, Array.from({length: 100}, (_, i) => (i < 70 ? 3 : 4)))
    const {from, to} = logTailRange(40, 140, 50)
    expect(termRuns(from, to, termAt)).to.deep.equal([
      {from: 91, to: 110, term: 3},
      {from: 111, to: 140, term: 4},
    ])
  })
})
