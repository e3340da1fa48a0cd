// CheckQuorum: a leader that has not heard from a majority during an election timeout steps
// down; its counterpart on the voter side is the leader lease.
import {expect} from 'chai'
import {Cluster, drain, ids, newRaft, ofType, prng, storageWith, tickN, type Opts, type TestNode} from './helpers.js'

const ET = 10
const CQ: Opts = {checkQuorum: true, preVote: true}

function leaderAlone(n: number): TestNode {
  const node = newRaft(0, ids(n), {checkQuorum: true})
  tickN(node, ET)
  drain(node)
  for (let p = 1; node.raft.status().role !== 'leader'; p++) node.raft.step({type: 'voteResp', from: p, to: 0, term: 1})
  drain(node)
  return node
}

describe('CheckQuorum', () => {
  it('a leader that hears from no majority for an election timeout steps down to follower', () => {
    const leader = leaderAlone(3)
    tickN(leader, ET - 1)
    expect(leader.raft.status().role).to.equal('leader')
    leader.raft.tick()
    expect(leader.raft.status()).to.include({role: 'follower', term: 1, leaderId: null})
  })

  it('a leader that keeps hearing from a majority (itself included) stays leader', () => {
    const leader = leaderAlone(5)
    for (let t = 1; t <= 10 * ET; t++) {
      leader.raft.tick()
      if (t % 5 === 0) {
        // Two of four followers, a different pair each time: with the leader, three of five.
        leader.raft.step({type: 'heartbeatResp', from: 1 + ((t / 5) % 4), to: 0, term: 1})
        leader.raft.step({type: 'appResp', from: 1 + ((t / 5 + 1) % 4), to: 0, term: 1, index: 0, reject: true, rejectHint: 0})
      }
      expect(leader.raft.status().role, `tick ${t}`).to.equal('leader')
    }
    // From now on only one follower answers: one of four plus the leader is not a majority of five.
    let t = 0
    while (leader.raft.status().role === 'leader') {
      leader.raft.tick()
      leader.raft.step({type: 'heartbeatResp', from: 1, to: 0, term: 1})
      t++
    }
    expect(t).to.be.at.most(ET)
  })

  it('a leader cut off in a minority steps down within an election timeout, and the majority elects another', () => {
    const c = new Cluster(5, (id) => ({...CQ, random: prng(id + 1)}))
    c.elect(0)
    c.isolate(0)
    c.tickAll(ET)
    expect(c.raft(0).status().role).to.equal('follower')
    c.tickAll(4 * ET)
    const leader = c.leader()
    expect(leader).to.not.equal(null)
    expect(leader).to.not.equal(0)
  })

  it('a healthy cluster keeps its leader for many election timeouts', () => {
    const c = new Cluster(3, CQ)
    c.elect(1)
    c.tickAll(20 * ET)
    expect(c.leader()).to.equal(1)
    expect(c.raft(1).status().term).to.equal(1)
  })

  it('a server that heard from a leader within the election timeout ignores vote requests (the leader lease)', () => {
    const n = newRaft(1, ids(3), CQ)
    n.raft.step({type: 'heartbeat', from: 0, to: 1, term: 1, commit: 0})
    drain(n)
    for (const type of ['vote', 'preVote'] as const) {
      n.raft.step({type, from: 2, to: 1, term: 2, index: 5, logTerm: 1})
      expect(drain(n).msgs, type).to.have.length(0)
      expect(n.raft.status()).to.include({term: 1, leaderId: 0, vote: null})
    }
  })

  it('once the lease has expired, the server considers vote requests again', () => {
    const n = newRaft(1, ids(3), {...CQ, electionTick: ET, random: () => 0.99})
    n.raft.step({type: 'heartbeat', from: 0, to: 1, term: 1, commit: 0})
    tickN(n, ET)
    n.raft.step({type: 'vote', from: 2, to: 1, term: 2, index: 5, logTerm: 1})
    expect(ofType(drain(n).msgs, 'voteResp')[0]).to.include({term: 2})
    expect(n.raft.status().vote).to.equal(2)
  })

  it('a vote request from a leadership transfer is honoured even inside the lease', () => {
    const n = newRaft(1, ids(3), CQ)
    n.raft.step({type: 'heartbeat', from: 0, to: 1, term: 1, commit: 0})
    n.raft.step({type: 'vote', from: 2, to: 1, term: 2, index: 5, logTerm: 1, transfer: true})
    expect(ofType(drain(n).msgs, 'voteResp')[0].reject).to.equal(undefined)
    expect(n.raft.status()).to.include({term: 2, vote: 2})
  })

  it('a server answers AppendEntries of an older term with its own term, and the stale leader steps down', () => {
    const n = newRaft(1, ids(3), {...CQ, storage: storageWith([1], {term: 3})})
    n.raft.step({type: 'app', from: 0, to: 1, term: 2, index: 1, logTerm: 1, commit: 0, entries: []})
    const resp = drain(n).msgs
    expect(resp.map((m) => [m.type, m.term])).to.deep.equal([['appResp', 3]])
    const stale = leaderAlone(3)
    stale.raft.step(resp[0] && {...resp[0], to: 0})
    expect(stale.raft.status()).to.include({role: 'follower', term: 3})
  })
})
