// PreVote (Raft thesis §9.6): a server that times out first asks whether it could win, without
// changing any state, and campaigns for real only if a majority says yes.
import {expect} from 'chai'
import {Cluster, drain, ids, newRaft, ofType, storageWith, tickN} from './helpers.js'

const ET = 10
const PRE = {preVote: true}

describe('PreVote', () => {
  it('a follower whose election timeout elapses becomes a pre-candidate and asks for pre-votes for term+1 without changing its term or vote', () => {
    const n = newRaft(0, ids(3), {...PRE, storage: storageWith([1, 2], {term: 2, vote: 1})})
    tickN(n, ET)
    const d = drain(n)
    expect(n.raft.status()).to.include({role: 'precandidate', term: 2, vote: 1})
    const pre = ofType(d.msgs, 'preVote')
    expect(pre.map((m) => m.to).sort()).to.deep.equal([1, 2])
    for (const m of pre) expect(m).to.include({term: 3, index: 2, logTerm: 2})
    // Nothing to persist: a failed pre-election leaves no trace.
    expect(d.readies.every((r) => r.hardState === undefined && r.entries.length === 0)).to.equal(true)
  })

  it('a pre-candidate that a majority would vote for becomes a candidate and increments its term', () => {
    const n = newRaft(0, ids(3), PRE)
    tickN(n, ET)
    drain(n)
    n.raft.step({type: 'preVoteResp', from: 1, to: 0, term: 1})
    const d = drain(n)
    expect(n.raft.status()).to.include({term: 1, vote: 0})
    expect(['candidate', 'leader']).to.include(n.raft.status().role)
    expect(ofType(d.msgs, 'vote').map((m) => m.term)).to.deep.equal([1, 1])
  })

  it('a pre-candidate that a majority rejects returns to follower in its own term', () => {
    const n = newRaft(0, ids(3), PRE)
    tickN(n, ET)
    n.raft.step({type: 'preVoteResp', from: 1, to: 0, term: 0, reject: true})
    n.raft.step({type: 'preVoteResp', from: 2, to: 0, term: 0, reject: true})
    expect(n.raft.status()).to.include({role: 'follower', term: 0})
  })

  it('a server grants a pre-vote without changing its term or vote, and answers at once (nothing to persist)', () => {
    const n = newRaft(1, ids(3), {...PRE, storage: storageWith([1], {term: 1, vote: 2})})
    n.raft.step({type: 'preVote', from: 0, to: 1, term: 2, index: 1, logTerm: 1})
    const rd = n.raft.ready()
    expect(rd.messages.map((m) => [m.type, m.term, m.reject])).to.deep.equal([['preVoteResp', 2, undefined]])
    expect(rd.hardState).to.equal(undefined)
    expect(n.raft.status()).to.include({term: 1, vote: 2})
  })

  it('a server rejects a pre-vote from a candidate whose log is less up-to-date', () => {
    const n = newRaft(1, ids(3), {...PRE, storage: storageWith([1, 2], {term: 2})})
    n.raft.step({type: 'preVote', from: 0, to: 1, term: 3, index: 5, logTerm: 1})
    const resp = ofType(drain(n).msgs, 'preVoteResp')[0]
    expect(resp).to.include({reject: true, term: 2})
  })

  it('a server rejects a pre-vote for a term that is not above its own', () => {
    const n = newRaft(1, ids(3), {...PRE, storage: storageWith([1], {term: 3})})
    n.raft.step({type: 'preVote', from: 0, to: 1, term: 2, index: 1, logTerm: 1})
    expect(ofType(drain(n).msgs, 'preVoteResp')[0]).to.include({reject: true, term: 3})
  })

  it('a server partitioned away does not raise its term, so on rejoining it does not disrupt the leader', () => {
    const c = new Cluster(3, PRE)
    c.elect(0)
    c.isolate(2)
    c.propose(0, 'while 2 was away')
    c.tick(2, 10 * ET)
    expect(c.raft(2).status().term).to.equal(1)
    c.heal()
    c.tickAll(ET)
    expect(c.leader()).to.equal(0)
    expect(c.raft(0).status().term).to.equal(1)
    expect(c.raft(2).status()).to.include({role: 'follower', leaderId: 0})
  })

  it('without PreVote the same partitioned server inflates its term and forces an election on rejoining', () => {
    const c = new Cluster(3)
    c.elect(0)
    c.isolate(2)
    c.tick(2, 10 * ET)
    expect(c.raft(2).status().term).to.be.greaterThan(5)
    c.heal()
    c.tickAll(3 * ET)
    expect(c.raft(0).status().term).to.be.greaterThan(5)
  })

  it('a cluster with PreVote elects a leader', () => {
    const c = new Cluster(5, PRE)
    c.elect(3)
    expect(c.leader()).to.equal(3)
    expect(c.raft(3).status().term).to.equal(1)
  })
})
