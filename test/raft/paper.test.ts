// One test per rule of the Raft paper, §5.1-5.4 (Ongaro & Ousterhout, "In Search of an
// Understandable Consensus Algorithm"), in the spirit of etcd's raft_paper_test.go: each test
// is named by the sentence it checks. PreVote and CheckQuorum are off here, as in the paper;
// they have their own files.
import {expect} from 'chai'
import {decodeMembership, encodeMembership, type Message, type NodeId} from '../../src/raft/index.js'
import {Cluster, drain, entry, ids, leaderOf, logTerms, newRaft, ofType, prng, storageWith, tickN, type TestNode} from './helpers.js'

const ET = 10 // electionTick in these tests (random() = 0, so every timeout is exactly 10 ticks)

function appResp(from: NodeId, term: number, index: number): Message {
  return {type: 'appResp', from, to: 0, term, index}
}

describe('Raft §5.1: servers, terms and RPCs', () => {
  it('a server starts up as a follower', () => {
    const st = newRaft(0, ids(3)).raft.status()
    expect(st.role).to.equal('follower')
    expect(st.term).to.equal(0)
    expect(st.leaderId).to.equal(null)
  })

  it('a server that sees a larger term updates its current term and, if candidate or leader, reverts to follower', () => {
    const makers: Record<string, () => TestNode> = {
      follower: () => newRaft(0, ids(3)),
      candidate: () => {
        const n = newRaft(0, ids(3))
        tickN(n, ET)
        drain(n)
        return n
      },
      leader: () => leaderOf(3),
    }
    for (const [role, make] of Object.entries(makers)) {
      for (const type of ['app', 'heartbeat', 'vote', 'appResp'] as const) {
        const n = make()
        expect(n.raft.status().role).to.equal(role)
        n.raft.step({type, from: 1, to: 0, term: 5, index: 0, logTerm: 0, commit: 0})
        const st = n.raft.status()
        expect(st.term, `${role} <- ${type}`).to.equal(5)
        expect(st.role, `${role} <- ${type}`).to.equal('follower')
        // The sender of an append or heartbeat of the new term is its leader; a candidate is not.
        expect(st.leaderId, `${role} <- ${type}`).to.equal(type === 'app' || type === 'heartbeat' ? 1 : null)
      }
    }
  })

  it('a server rejects a request with a stale term: it changes nothing and (without PreVote/CheckQuorum) answers nothing', () => {
    const n = newRaft(0, ids(3), {storage: storageWith([1, 2], {term: 3})})
    for (const type of ['app', 'heartbeat', 'vote'] as const) {
      n.raft.step({type, from: 1, to: 0, term: 2, index: 2, logTerm: 2, commit: 2, entries: [entry(3, 2, 'x')]})
      expect(n.raft.hasReady(), type).to.equal(false)
      expect(n.raft.status()).to.include({term: 3, role: 'follower', lastIndex: 2, commit: 0})
    }
  })

  it('the current term and vote are persisted: a restarted server resumes with them', () => {
    const n = newRaft(0, ids(3))
    n.raft.step({type: 'vote', from: 2, to: 0, term: 4, index: 0, logTerm: 0})
    drain(n)
    const again = newRaft(0, ids(3), {storage: n.storage})
    expect(again.raft.status()).to.include({term: 4, vote: 2, role: 'follower'})
  })
})

describe('Raft §5.2: leader election', () => {
  it('a leader sends a heartbeat to every follower every heartbeat timeout', () => {
    const leader = leaderOf(3, {heartbeatTick: 3})
    drain(leader)
    leader.raft.tick()
    leader.raft.tick()
    expect(ofType(drain(leader).msgs, 'heartbeat')).to.have.length(0)
    leader.raft.tick()
    const hb = ofType(drain(leader).msgs, 'heartbeat')
    expect(hb.map((m) => m.to).sort()).to.deep.equal([1, 2])
    expect(hb.every((m) => m.term === leader.raft.status().term)).to.equal(true)
  })

  it('a follower that receives no communication over an election timeout becomes a candidate: it increments its term, votes for itself and asks every other server for its vote', () => {
    const n = newRaft(0, ids(3), {storage: storageWith([1, 1, 2], {term: 2})})
    tickN(n, ET - 1)
    expect(n.raft.status().role).to.equal('follower')
    n.raft.tick()
    const d = drain(n)
    expect(n.raft.status()).to.include({role: 'candidate', term: 3, vote: 0})
    const votes = ofType(d.msgs, 'vote')
    expect(votes.map((m) => m.to).sort()).to.deep.equal([1, 2])
    for (const m of votes) expect(m).to.include({term: 3, index: 3, logTerm: 2})
    expect(d.readies[0].hardState).to.deep.equal({term: 3, vote: 0, commit: 0})
  })

  it('a candidate counts its own vote only once its new term and vote are durable', () => {
    const n = newRaft(0, ids(3))
    tickN(n, ET)
    // The campaign's hard state is not yet persisted: one granted vote is not a majority.
    n.raft.step({type: 'voteResp', from: 1, to: 0, term: 1})
    expect(n.raft.status().role).to.equal('candidate')
    drain(n)
    expect(n.raft.status().role).to.equal('leader')
  })

  it('a candidate wins an election if it receives votes from a majority of the servers in the same term', () => {
    const cases: {size: number; grants: NodeId[]; rejects: NodeId[]; role: string}[] = [
      {size: 1, grants: [], rejects: [], role: 'leader'},
      {size: 3, grants: [1], rejects: [], role: 'leader'},
      {size: 3, grants: [1, 2], rejects: [], role: 'leader'},
      {size: 5, grants: [1], rejects: [], role: 'candidate'},
      {size: 5, grants: [1, 2], rejects: [], role: 'leader'},
      {size: 5, grants: [1], rejects: [2, 3], role: 'candidate'},
      {size: 5, grants: [], rejects: [1, 2, 3], role: 'follower'},
      {size: 3, grants: [], rejects: [1, 2], role: 'follower'},
    ]
    for (const c of cases) {
      const n = newRaft(0, ids(c.size))
      tickN(n, ET)
      drain(n)
      for (const from of c.grants) n.raft.step({type: 'voteResp', from, to: 0, term: 1})
      for (const from of c.rejects) n.raft.step({type: 'voteResp', from, to: 0, term: 1, reject: true})
      drain(n)
      expect(n.raft.status().role, JSON.stringify(c)).to.equal(c.role)
      expect(n.raft.status().term).to.equal(1)
    }
  })

  it('each server votes for at most one candidate in a given term, on a first-come-first-served basis', () => {
    const n = newRaft(0, ids(3))
    const ask = (from: NodeId): Message => {
      n.raft.step({type: 'vote', from, to: 0, term: 1, index: 0, logTerm: 0})
      return ofType(drain(n).msgs, 'voteResp')[0]
    }
    expect(ask(1).reject).to.equal(undefined)
    expect(ask(2).reject).to.equal(true)
    // Answering the same candidate again is not a second vote.
    expect(ask(1).reject).to.equal(undefined)
    expect(n.raft.status().vote).to.equal(1)
  })

  it('a vote is sent only after it is durable', () => {
    const n = newRaft(0, ids(3))
    n.raft.step({type: 'vote', from: 1, to: 0, term: 1, index: 0, logTerm: 0})
    const rd = n.raft.ready()
    expect(rd.messages).to.have.length(0)
    expect(rd.persistedMessages.map((m) => m.type)).to.deep.equal(['voteResp'])
    expect(rd.hardState).to.deep.equal({term: 1, vote: 1, commit: 0})
  })

  it('a candidate that receives AppendEntries from a leader whose term is at least as large recognizes it and returns to follower', () => {
    const n = newRaft(0, ids(3))
    tickN(n, ET)
    drain(n)
    n.raft.step({type: 'app', from: 2, to: 0, term: 1, index: 0, logTerm: 0, commit: 0, entries: [entry(1, 1)]})
    expect(n.raft.status()).to.include({role: 'follower', term: 1, leaderId: 2, lastIndex: 1})
  })

  it('a candidate that neither wins nor loses starts a new election, with a higher term, when its election timeout elapses', () => {
    const n = newRaft(0, ids(5))
    tickN(n, ET)
    drain(n)
    n.raft.step({type: 'voteResp', from: 1, to: 0, term: 1})
    tickN(n, ET)
    const d = drain(n)
    expect(n.raft.status()).to.include({role: 'candidate', term: 2, vote: 0})
    expect(ofType(d.msgs, 'vote').map((m) => m.term)).to.deep.equal([2, 2, 2, 2])
  })

  it('election timeouts are chosen randomly from [electionTimeout, 2 * electionTimeout)', () => {
    const seen = new Set<number>()
    for (let seed = 1; seed <= 200; seed++) {
      const n = newRaft(0, ids(3), {random: prng(seed)})
      let ticks = 0
      while (n.raft.status().role === 'follower') {
        n.raft.tick()
        ticks++
      }
      expect(ticks).to.be.at.least(ET).and.below(2 * ET)
      seen.add(ticks)
    }
    expect(seen.size).to.be.greaterThan(ET / 2)
  })

  it('a follower that hears from the current leader resets its election timer', () => {
    const n = newRaft(0, ids(3))
    n.raft.step({type: 'heartbeat', from: 1, to: 0, term: 1, commit: 0})
    for (let i = 0; i < 3; i++) {
      tickN(n, ET - 1)
      n.raft.step({type: 'heartbeat', from: 1, to: 0, term: 1, commit: 0})
    }
    expect(n.raft.status().role).to.equal('follower')
    tickN(n, ET)
    expect(n.raft.status().role).to.equal('candidate')
  })

  it('a follower that grants a vote resets its election timer', () => {
    const n = newRaft(0, ids(3))
    tickN(n, ET - 1)
    n.raft.step({type: 'vote', from: 1, to: 0, term: 1, index: 0, logTerm: 0})
    tickN(n, ET - 1)
    expect(n.raft.status().role).to.equal('follower')
    n.raft.tick()
    expect(n.raft.status().role).to.equal('candidate')
  })

  it('randomized election timeouts make split votes rare: a cluster elects exactly one leader', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const c = new Cluster(5, (id) => ({random: prng(seed * 10 + id)}))
      let ticks = 0
      while (c.leader() === null && ticks < 20 * ET) {
        c.tickAll()
        ticks++
      }
      const leaders = [...c.nodes.values()].filter((n) => n.raft.status().role === 'leader')
      expect(leaders, `seed ${seed}`).to.have.length(1)
    }
  })
})

describe('Raft §5.3: log replication', () => {
  it('the leader appends the command to its log as a new entry, then issues AppendEntries to each of the other servers', () => {
    const c = new Cluster(3)
    c.elect(0)
    const before = c.raft(0).status().lastIndex
    const res = c.propose(0, 'x')
    expect(res).to.deep.equal({firstIndex: before + 1, term: 1})
    const apps = c.delivered.filter((m) => m.type === 'app' && m.entries?.some((e) => e.index === before + 1))
    expect(apps.map((m) => m.to).sort()).to.deep.equal([1, 2])
  })

  it('a proposal to a server that is not the leader is refused', () => {
    const c = new Cluster(3)
    c.elect(0)
    expect(c.raft(1).propose([new Uint8Array([1])])).to.equal(null)
  })

  it('the leader commits an entry once it has replicated it on a majority of the servers, and then applies it', () => {
    const leader = leaderOf(3)
    const noop = leader.raft.status().lastIndex
    leader.raft.step(appResp(1, 1, noop))
    drain(leader)
    leader.raft.propose([new Uint8Array([7])])
    drain(leader)
    expect(leader.raft.status().commit).to.equal(noop)
    leader.raft.step(appResp(2, 1, noop + 1))
    const d = drain(leader)
    expect(leader.raft.status().commit).to.equal(noop + 1)
    expect(d.committed.map((e) => e.index)).to.deep.equal([noop + 1])
  })

  it("the leader counts its own copy of an entry toward the majority only once it is durable", () => {
    const leader = leaderOf(3)
    const noop = leader.raft.status().lastIndex
    leader.raft.step(appResp(1, 1, noop))
    drain(leader)
    leader.raft.propose([new Uint8Array([7])])
    // Not persisted yet: a follower's acknowledgment alone is one of three.
    leader.raft.step(appResp(1, 1, noop + 1))
    expect(leader.raft.status().commit).to.equal(noop)
    drain(leader)
    expect(leader.raft.status().commit).to.equal(noop + 1)
  })

  it('committing an entry also commits all preceding entries in the leader’s log', () => {
    const leader = leaderOf(3)
    const noop = leader.raft.status().lastIndex
    leader.raft.propose([new Uint8Array([1]), new Uint8Array([2])])
    leader.raft.propose([new Uint8Array([3])])
    drain(leader)
    leader.raft.step(appResp(2, 1, noop + 3))
    const d = drain(leader)
    expect(d.committed.map((e) => e.index)).to.deep.equal([noop, noop + 1, noop + 2, noop + 3])
  })

  it('a follower commits up to min(leaderCommit, index of the last new entry) and applies the entries in log order', () => {
    const n = newRaft(1, ids(3))
    n.raft.step({type: 'app', from: 0, to: 1, term: 1, index: 0, logTerm: 0, commit: 5, entries: [entry(1, 1), entry(2, 1, 'a'), entry(3, 1, 'b')]})
    let d = drain(n)
    expect(n.raft.status().commit).to.equal(3)
    expect(d.committed.map((e) => e.index)).to.deep.equal([1, 2, 3])
    n.raft.step({type: 'app', from: 0, to: 1, term: 1, index: 3, logTerm: 1, commit: 4, entries: [entry(4, 1, 'c'), entry(5, 1, 'd')]})
    d = drain(n)
    expect(n.raft.status().commit).to.equal(4)
    expect(d.committed.map((e) => e.index)).to.deep.equal([4])
  })

  it('a follower refuses AppendEntries if its log has no entry at prevLogIndex whose term matches prevLogTerm', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1, 1, 2], {term: 2})})
    for (const [index, logTerm] of [
      [3, 3],
      [4, 2],
      [2, 2],
    ]) {
      n.raft.step({type: 'app', from: 0, to: 1, term: 3, index, logTerm, commit: 0, entries: [entry(index + 1, 3, 'x')]})
      const resp = ofType(drain(n).msgs, 'appResp')[0]
      expect(resp, `${index}/${logTerm}`).to.include({reject: true, index})
      expect(logTerms(n)).to.deep.equal([1, 1, 2])
    }
  })

  it('if an existing entry conflicts with a new one (same index, different terms), the follower deletes it and all that follow it', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1, 1, 2, 2, 2], {term: 2})})
    n.raft.step({type: 'app', from: 0, to: 1, term: 3, index: 2, logTerm: 1, commit: 0, entries: [entry(3, 2, 'e3'), entry(4, 3, 'x')]})
    const d = drain(n)
    expect(logTerms(n)).to.deep.equal([1, 1, 2, 3])
    // The driver is told to truncate from index 4 (the first entry handed out).
    expect(d.readies[0].entries.map((e) => e.index)).to.deep.equal([4])
    expect(n.storage.allEntries().map((e) => e.term)).to.deep.equal([1, 1, 2, 3])
  })

  it('a follower acknowledges appended entries only once they are durable', () => {
    const n = newRaft(1, ids(3))
    n.raft.step({type: 'app', from: 0, to: 1, term: 1, index: 0, logTerm: 0, commit: 0, entries: [entry(1, 1)]})
    const rd = n.raft.ready()
    expect(rd.entries.map((e) => e.index)).to.deep.equal([1])
    expect(rd.messages.filter((m) => m.type === 'appResp')).to.have.length(0)
    expect(rd.persistedMessages.map((m) => [m.type, m.index])).to.deep.equal([['appResp', 1]])
  })

  it('when a leader first comes to power, it sets every follower’s nextIndex just after the last entry in its log', () => {
    const leader = leaderOf(3, {storage: storageWith([1, 1, 2], {term: 2})})
    const p = leader.raft.status().progress ?? {}
    expect(p[1]).to.include({next: 4, match: 0, state: 'probe'})
    expect(p[2]).to.include({next: 4, match: 0, state: 'probe'})
  })

  it('the leader brings every follower’s log into consistency with its own, whatever their divergence (Figure 7)', () => {
    // The leader's log (term 8) and the follower logs (a)-(f) of the paper's Figure 7.
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
    const followers = [
      [1, 1, 1, 4, 4, 5, 5, 6, 6],
      [1, 1, 1, 4],
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      [1, 1, 1, 4, 4, 4, 4],
      [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    ]
    for (const [k, f] of followers.entries()) {
      const c = new Cluster(3, (id) => ({storage: id === 0 ? storageWith(leaderLog, {term: 7}) : id === 1 ? storageWith(f, {term: 7}) : storageWith(leaderLog, {term: 7})}))
      c.elect(0)
      c.propose(0, 'x')
      expect(logTerms(c.node(1)), `follower ${'abcdef'[k]}`).to.deep.equal(logTerms(c.node(0)))
      // Followers learn the commit index "eventually" (§5.3): here on the leader's next tick.
      c.tick(0, 1)
      expect(c.raft(1).status().commit).to.equal(c.raft(0).status().lastIndex)
    }
  })
})

describe('Raft §5.4.1: election restriction', () => {
  // Our log ends with (index 3, term 2).
  const cases: {index: number; logTerm: number; grant: boolean; why: string}[] = [
    {index: 2, logTerm: 1, grant: false, why: 'lower last term'},
    {index: 5, logTerm: 1, grant: false, why: 'lower last term, even if longer'},
    {index: 2, logTerm: 2, grant: false, why: 'same last term, shorter'},
    {index: 3, logTerm: 2, grant: true, why: 'same last term, same length'},
    {index: 4, logTerm: 2, grant: true, why: 'same last term, longer'},
    {index: 1, logTerm: 3, grant: true, why: 'higher last term, even if shorter'},
  ]
  for (const c of cases) {
    it(`a voter ${c.grant ? 'grants' : 'denies'} its vote to a candidate whose log is ${c.grant ? 'at least as' : 'less'} up-to-date (${c.why})`, () => {
      const n = newRaft(0, ids(3), {storage: storageWith([1, 1, 2], {term: 2})})
      n.raft.step({type: 'vote', from: 1, to: 0, term: 3, index: c.index, logTerm: c.logTerm})
      const resp = ofType(drain(n).msgs, 'voteResp')[0]
      expect(resp.reject === true).to.equal(!c.grant)
      expect(n.raft.status().vote).to.equal(c.grant ? 1 : null)
    })
  }

  it('a leader never overwrites or deletes entries in its own log; it only appends', () => {
    const c = new Cluster(3)
    c.elect(0)
    c.propose(0, 'a', 'b')
    const before = logTerms(c.node(0))
    // A stale append of the same term for indexes it already has changes nothing on the leader.
    c.raft(0).step({type: 'app', from: 1, to: 0, term: 1, index: 0, logTerm: 0, commit: 0, entries: [entry(1, 1, 'zzz')]})
    c.propose(0, 'c')
    expect(logTerms(c.node(0)).slice(0, before.length)).to.deep.equal(before)
  })
})

describe('Raft §5.4.2: committing entries from previous terms', () => {
  it('a new leader appends a no-op entry of its own term', () => {
    const storage = storageWith([1, 1], {term: 1})
    storage.append([{index: 1, term: 1, type: 'conf', data: encodeMembership({voters: ids(3), learners: []})}])
    storage.append([entry(2, 1, 'e2')])
    const leader = leaderOf(3, {storage})
    expect(leader.raft.status().lastIndex).to.equal(3)
    expect(leader.raft.termAt(3)).to.equal(2)
    expect(leader.storage.allEntries()[2].type).to.equal('noop')
  })

  it('... which states the configuration when the log holds none yet (so that it does from then on)', () => {
    const leader = leaderOf(3, {storage: storageWith([1, 1], {term: 1})})
    const e = leader.storage.allEntries()[2]
    expect(e).to.deep.include({index: 3, term: 2, type: 'conf'})
    expect(decodeMembership(e.data)).to.deep.equal({voters: [0, 1, 2], learners: []})
  })

  it('a leader never commits an entry from a previous term by counting replicas', () => {
    const leader = leaderOf(3, {storage: storageWith([1, 1], {term: 1})})
    // Entry 2 (term 1) is now on a majority, but it is not of the current term (2).
    leader.raft.step(appResp(1, 2, 2))
    drain(leader)
    expect(leader.raft.status().commit).to.equal(0)
  })

  it('once an entry from the current term is committed, all prior entries are committed indirectly', () => {
    const leader = leaderOf(3, {storage: storageWith([1, 1], {term: 1})})
    leader.raft.step(appResp(1, 2, 2))
    leader.raft.step(appResp(1, 2, 3))
    const d = drain(leader)
    expect(leader.raft.status().commit).to.equal(3)
    expect(d.committed.map((e) => [e.index, e.term])).to.deep.equal([
      [1, 1],
      [2, 1],
      [3, 2],
    ])
  })
})
