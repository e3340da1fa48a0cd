// A leader tells a follower that lost its log apart from an ordinary append rejection.
import {expect} from 'chai'
import {lostLogProblem} from '../../src/broker/lost-log.js'
import type {Message} from '../../src/raft/index.js'

const reject = (rejectHint: number | undefined): Message => ({type: 'appResp', from: 2, to: 0, term: 3, index: 40, reject: true, rejectHint, hintTerm: 0})

describe('lostLogProblem: a follower that lost what it acknowledged', () => {
  it('names the node, what it holds, what it acknowledged and the way out', () => {
    expect(lostLogProblem(reject(0), 37)).to.equal(
      'node 2 answers that its log ends at 0, below the 37 entries it acknowledged: it lost its data (a wiped or restored data dir) and cannot catch up under its old id; replace it with a new member (pad-cli replace 2), or give it back its data',
    )
    expect(lostLogProblem(reject(undefined), 5)).to.match(/ends at 0, below the 5 entries/)
  })

  it('stays quiet for ordinary rejections, acceptances and unknown followers', () => {
    // A follower whose log diverges above what it acknowledged hints at or above its match.
    expect(lostLogProblem(reject(37), 37)).to.equal(null)
    expect(lostLogProblem(reject(39), 37)).to.equal(null)
    expect(lostLogProblem(reject(0), 0)).to.equal(null)
    expect(lostLogProblem({...reject(0), reject: false}, 37)).to.equal(null)
    expect(lostLogProblem({...reject(0), type: 'heartbeatResp'}, 37)).to.equal(null)
    expect(lostLogProblem(reject(0), undefined)).to.equal(null)
  })
})
