/** GET /raft/log's answer is checked field by field and against the tail asked for. */
import {expect} from 'chai'
import type {RaftLogAnswer} from '../../src/api/node-http.js'
import {decodeRaftLog} from '../../src/api/raft-log-codec.js'

const ANSWER: RaftLogAnswer = {
  node_index: 1,
  current_term: 5,
  snapshot_index: 40,
  snapshot_term: 2,
  last_index: 140,
  commit_index: 139,
  runs: [
    {from: 91, to: 110, term: 3},
    {from: 111, to: 140, term: 5},
  ],
}

function refusal(value: unknown, last = 50): string {
  const decoded = decodeRaftLog(value, last)
  if (decoded.ok) throw new Error('decoded')
  return decoded.message
}

describe('/raft/log decoder', () => {
  it('decodes a good answer, building it anew (nothing extra passed on)', () => {
    expect(decodeRaftLog({...ANSWER, extra: 'x'}, 50)).to.deep.equal({ok: true, value: ANSWER})
    const empty = {...ANSWER, snapshot_index: 140, snapshot_term: 5, runs: []}
    expect(decodeRaftLog(empty, 50)).to.deep.equal({ok: true, value: empty})
    const fresh = {...ANSWER, current_term: 0, snapshot_index: 0, snapshot_term: 0, last_index: 0, commit_index: 0, runs: []}
    expect(decodeRaftLog(fresh, 1)).to.deep.equal({ok: true, value: fresh})
    // Asked for more than is left after the compaction point: from just after it.
    const all = {...ANSWER, runs: [{from: 41, to: 110, term: 3}, {from: 111, to: 140, term: 5}]}
    expect(decodeRaftLog(all, 200)).to.deep.equal({ok: true, value: all})
  })

  it('refuses what is not an answer, naming the field', () => {
    expect(refusal(null)).to.equal('/raft/log: the answer is not a JSON object')
    expect(refusal([ANSWER])).to.equal('/raft/log: the answer is not a JSON object')
    expect(refusal({...ANSWER, node_index: -1})).to.equal('/raft/log: node_index is not a count')
    expect(refusal({...ANSWER, current_term: '5'})).to.equal('/raft/log: current_term is not a count')
    expect(refusal({...ANSWER, commit_index: 1.5})).to.equal('/raft/log: commit_index is not a count')
    expect(refusal({...ANSWER, last_index: 2 ** 60})).to.equal('/raft/log: last_index is not a count')
    expect(refusal({...ANSWER, last_index: 30})).to.equal('/raft/log: last_index 30 is before snapshot_index 40')
    expect(refusal({...ANSWER, runs: {}})).to.equal('/raft/log: runs is not a list of at most 200 runs')
    expect(refusal({...ANSWER, runs: Array.from({length: 201}, () => ANSWER.runs[0])})).to.equal('/raft/log: runs is not a list of at most 200 runs')
    expect(refusal({...ANSWER, runs: [null]})).to.equal('/raft/log: a run is not an object')
    expect(refusal({...ANSWER, runs: [{from: 91, to: 140}]})).to.equal('/raft/log: term is not a count')
  })

  it('refuses runs that do not cover exactly the tail asked for, or that are not a Raft log', () => {
    expect(refusal(ANSWER, 49)).to.equal('/raft/log: the run 91..110 does not continue the runs at 92')
    expect(refusal(ANSWER, 51)).to.equal('/raft/log: the run 91..110 does not continue the runs at 90')
    expect(refusal({...ANSWER, runs: [ANSWER.runs[0]]})).to.equal('/raft/log: the runs end at 110, not at the last index 140')
    expect(refusal({...ANSWER, runs: []})).to.equal('/raft/log: the runs end at 90, not at the last index 140')
    expect(refusal({...ANSWER, runs: [{from: 91, to: 110, term: 3}, {from: 112, to: 140, term: 5}]})).to.equal('/raft/log: the run 112..140 does not continue the runs at 111')
    expect(refusal({...ANSWER, runs: [{from: 91, to: 90, term: 3}]})).to.equal('/raft/log: the run 91..90 does not continue the runs at 91')
    expect(refusal({...ANSWER, runs: [{from: 91, to: 110, term: 5}, {from: 111, to: 140, term: 5}]})).to.equal('/raft/log: the run 111..140 has term 5, not above the term 5 before it')
    expect(refusal({...ANSWER, runs: [{from: 91, to: 110, term: 5}, {from: 111, to: 140, term: 3}]})).to.equal('/raft/log: the run 111..140 has term 3, not above the term 5 before it')
    expect(refusal({...ANSWER, current_term: 4})).to.equal("/raft/log: the run 111..140 has term 5, above the node's term 4")
  })
})
