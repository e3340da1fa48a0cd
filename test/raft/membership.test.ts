// Membership changes (Ongaro's dissertation, ch. 4): single-server changes through the log, one
// at a time, each taking effect when appended; learners; a removed leader; a removed node that
// keeps running. One test per rule, on the synchronous Cluster of helpers.ts.
import {expect} from 'chai'
import {
  applyConfChange,
  ConfChangeRefusedError,
  decodeMembership,
  encodeMembership,
  MemoryStorage,
  Raft,
  type ConfChange,
  type Membership,
  type Message,
} from '../../src/raft/index.js'
import {ack, Cluster, drain, enc, entry, ids, leaderOf, newRaft, ofType, prng, tickN, type Opts} from './helpers.js'

const voters = (...v: number[]): Membership => ({voters: v, learners: []})

/** A conf entry carrying `m`. */
function confEntry(index: number, term: number, m: Membership): {index: number; term: number; type: 'conf'; data: Uint8Array} {
  return {index, term, type: 'conf', data: encodeMembership(m)}
}

/** A cluster of n voters led by node 0, with node 0's noop committed everywhere. */
function ledCluster(n: number, opts: Opts = {}): Cluster {
  const c = new Cluster(n, opts)
  c.elect(0)
  return c
}

/** Adds a fresh node (empty storage, in no configuration: it waits to be told) to the cluster. */
function addFreshNode(c: Cluster, id: number, opts: Opts = {}): void {
  c.nodes.set(id, newRaft(id, [], opts))
  c.applied.set(id, [])
}

function change(c: Cluster, leader: number, ch: ConfChange): number {
  const index = c.raft(leader).proposeConfChange(ch)
  c.send()
  return index
}

describe('membership: single-server changes through the log (dissertation ch. 4)', () => {
  it('a configuration takes effect when appended: a follower uses it before it is committed', () => {
    const c = ledCluster(3)
    c.dropTypes.add('appResp')
    const index = c.raft(0).proposeConfChange({kind: 'remove', node: 2})
    c.send()
    for (const id of [0, 1, 2]) {
      const st = c.raft(id).status()
      expect(st.commit, `n${id} commit`).to.be.lessThan(index)
      expect(st.membership, `n${id}`).to.deep.equal(voters(0, 1))
      expect(st.membershipIndex).to.equal(index)
    }
  })

  it('a learner whose only probe was lost (its link still connecting) is probed again on its first heartbeat answer, on an idle cluster', () => {
    const c = ledCluster(3)
    addFreshNode(c, 3)
    // Everything the leader sends the new learner while it adds it is lost, and nothing is
    // published afterwards: no entry will come along to carry another append.
    c.cutLink(0, 3)
    change(c, 0, {kind: 'addLearner', node: 3})
    expect(c.raft(0).status().membership).to.deep.equal({voters: [0, 1, 2], learners: [3]})
    c.heal()
    c.send({type: 'heartbeat', from: 0, to: 3, term: c.raft(0).status().term, commit: 0})
    // The learner answered the heartbeat; the leader probes it and it catches up.
    expect(c.raft(3).status().lastIndex).to.equal(c.raft(0).status().lastIndex)
    expect(c.raft(3).status().membership).to.deep.equal({voters: [0, 1, 2], learners: [3]})
  })

  it('a configuration is reverted exactly when a new leader overwrites its entry', () => {
    const f = newRaft(1, ids(3))
    f.raft.step({type: 'app', from: 0, to: 1, term: 1, index: 0, logTerm: 0, commit: 1, entries: [entry(1, 1)]})
    f.raft.step({type: 'app', from: 0, to: 1, term: 1, index: 1, logTerm: 1, commit: 1, entries: [confEntry(2, 1, {voters: [0, 1, 2], learners: [3]})]})
    drain(f)
    expect(f.raft.status().membership).to.deep.equal({voters: [0, 1, 2], learners: [3]})
    // A leader of term 2 never had entry 2: it replaces it with its own noop.
    f.raft.step({type: 'app', from: 2, to: 1, term: 2, index: 1, logTerm: 1, commit: 1, entries: [entry(2, 2)]})
    drain(f)
    expect(f.raft.status()).to.deep.include({membership: voters(0, 1, 2), membershipIndex: 0, lastIndex: 2})
  })

  it('one change at a time: a second change is refused while the first is uncommitted', () => {
    const c = ledCluster(3)
    c.dropTypes.add('appResp')
    change(c, 0, {kind: 'addLearner', node: 3})
    expect(() => c.raft(0).proposeConfChange({kind: 'addLearner', node: 4})).to.throw(ConfChangeRefusedError, /in flight/)
    c.heal()
    c.tickAll(2)
    expect(change(c, 0, {kind: 'addLearner', node: 4})).to.be.greaterThan(0)
  })

  it('a new leader refuses changes until it has committed an entry of its own term (the 2015 single-server fix)', () => {
    const leader = leaderOf(3)
    expect(() => leader.raft.proposeConfChange({kind: 'remove', node: 2})).to.throw(ConfChangeRefusedError, /not committed an entry of its term/)
    leader.raft.step(ack(1, leader.raft.status().term, leader.raft.status().lastIndex))
    drain(leader)
    expect(leader.raft.proposeConfChange({kind: 'remove', node: 2})).to.equal(leader.raft.status().lastIndex)
  })

  it('refuses with a one-line reason: not the leader (naming it), an invalid change, a transfer in progress', () => {
    const c = ledCluster(3)
    expect(() => c.raft(1).proposeConfChange({kind: 'remove', node: 2})).to.throw(ConfChangeRefusedError, /not the leader: n0 leads/)
    expect(() => c.raft(0).proposeConfChange({kind: 'promote', node: 2})).to.throw(ConfChangeRefusedError, /already a voter/)
    expect(() => c.raft(0).proposeConfChange({kind: 'remove', node: 7})).to.throw(ConfChangeRefusedError, /not a member/)
    expect(() => c.raft(0).proposeConfChange({kind: 'addLearner', node: 1})).to.throw(ConfChangeRefusedError, /already a voter/)
    c.dropTypes.add('appResp')
    c.raft(0).propose([enc.encode('x')])
    c.raft(0).transferLeadership(1)
    expect(() => c.raft(0).proposeConfChange({kind: 'addLearner', node: 3})).to.throw(ConfChangeRefusedError, /transferred to n1/)
    for (const e of [() => new Raft({id: 0, peers: [], storage: new MemoryStorage(), random: () => 0}).proposeConfChange({kind: 'remove', node: 0})]) {
      expect(e).to.throw(ConfChangeRefusedError, /no leader is known/)
    }
  })

  it('a learner receives the log but never campaigns (neither pre-vote nor vote), and its acknowledgment commits nothing', () => {
    for (const preVote of [false, true]) {
      const learner = newRaft(3, [0, 1, 2], {learners: [3], preVote})
      tickN(learner, 200)
      expect(drain(learner).msgs, 'messages from an idle learner').to.have.length(0)
      expect(learner.raft.status()).to.deep.include({role: 'follower', term: 0})
    }
    const leader = leaderOf(3, {learners: [3]})
    const {term, lastIndex} = leader.raft.status()
    for (const from of [1, 2, 3]) leader.raft.step({type: 'heartbeatResp', from, to: 0, term})
    expect(ofType(drain(leader).msgs, 'app').map((m) => m.to)).to.have.members([1, 2, 3])
    leader.raft.step(ack(3, term, lastIndex))
    drain(leader)
    expect(leader.raft.status().commit, 'after the learner acknowledged').to.equal(0)
    expect(leader.raft.status().progress?.[3]).to.deep.include({match: lastIndex, learner: true})
    leader.raft.step(ack(1, term, lastIndex))
    drain(leader)
    expect(leader.raft.status().commit, 'after a voter acknowledged').to.equal(lastIndex)
  })

  it('members ignore vote requests from non-voters: a learner cannot raise their term', () => {
    const c = ledCluster(3, {learners: [3]})
    const before = c.raft(1).status().term
    c.raft(1).step({type: 'vote', from: 3, to: 1, term: before + 5, index: 100, logTerm: before + 4})
    c.raft(1).step({type: 'preVote', from: 3, to: 1, term: before + 5, index: 100, logTerm: before + 4})
    expect(drain(c.node(1)).msgs).to.have.length(0)
    expect(c.raft(1).status()).to.deep.include({term: before, leaderId: 0})
  })

  it('a learner is promoted only once its log is within maxLearnerLag of the leader', () => {
    const c = ledCluster(3, {maxLearnerLag: 2})
    addFreshNode(c, 3)
    c.cutLink(0, 3)
    change(c, 0, {kind: 'addLearner', node: 3})
    c.propose(0, 'a', 'b', 'c', 'd')
    expect(() => c.raft(0).proposeConfChange({kind: 'promote', node: 3})).to.throw(ConfChangeRefusedError, /n3 is \d+ entries behind the leader \(at most 2/)
    c.heal()
    c.tickAll(3)
    expect(c.raft(3).status().lastIndex).to.equal(c.raft(0).status().lastIndex)
    const index = change(c, 0, {kind: 'promote', node: 3})
    c.tickAll()
    expect(c.raft(3).status()).to.deep.include({membership: voters(0, 1, 2, 3), commit: index})
  })

  it('a leader that removes itself does not count itself after appending the change, keeps replicating until it commits, then steps down for good', () => {
    const c = ledCluster(3)
    c.dropTypes.add('appResp')
    const index = change(c, 0, {kind: 'remove', node: 0})
    // Not before: still leading, still replicating to the members.
    expect(c.raft(0).status().role).to.equal('leader')
    expect(c.raft(1).status().lastIndex).to.equal(index)
    // One acknowledgment would make a majority of the old three with the leader; of the new two
    // ({1, 2}) it does not.
    c.raft(0).step(ack(1, c.raft(0).status().term, index))
    drain(c.node(0))
    expect(c.raft(0).status()).to.deep.include({role: 'leader'})
    expect(c.raft(0).status().commit).to.be.lessThan(index)
    c.raft(0).step(ack(2, c.raft(0).status().term, index))
    const d = drain(c.node(0))
    expect(c.raft(0).status()).to.deep.include({role: 'follower', commit: index})
    // It told the others the commit before it stepped down.
    expect(ofType(d.msgs, 'app').filter((m) => (m.commit ?? 0) >= index).map((m) => m.to)).to.have.members([1, 2])
    c.heal()
    // Never campaigns again; the remaining voters elect a leader among themselves.
    const term = c.raft(0).status().term
    c.elect(1)
    tickN(c.node(0), 100)
    expect(ofType(drain(c.node(0)).msgs, 'vote', 'preVote')).to.have.length(0)
    expect(c.raft(0).status().role).to.equal('follower')
    expect(c.raft(c.leader() as number).status().term).to.be.greaterThan(term)
  })

  it('the leader keeps sending to a member being removed until the removal commits, so it learns of it; then drops it', () => {
    const c = ledCluster(3)
    c.dropTypes.add('appResp')
    const index = change(c, 0, {kind: 'remove', node: 2})
    expect(Object.keys(c.raft(0).status().progress ?? {})).to.include('2')
    expect(c.raft(2).status()).to.deep.include({membership: voters(0, 1), lastIndex: index})
    c.heal()
    c.tickAll(2)
    expect(c.raft(0).status().commit).to.be.at.least(index)
    expect(Object.keys(c.raft(0).status().progress ?? {})).to.deep.equal(['0', '1'])
  })

  it('a removed node that keeps running cannot raise the cluster term or depose the leader, even campaigning without PreVote', () => {
    const c = ledCluster(3)
    // Node 2 is cut off while it is removed: it never learns, and keeps campaigning.
    c.isolate(2)
    change(c, 0, {kind: 'remove', node: 2})
    c.tickAll(2)
    const {term} = c.raft(0).status()
    for (let i = 0; i < 40; i++) c.tick(2)
    expect(c.raft(2).status().term, 'the removed node campaigned').to.be.greaterThan(term)
    c.heal()
    for (let i = 0; i < 40; i++) c.tickAll()
    expect(c.raft(0).status()).to.deep.include({role: 'leader', term})
    expect(c.raft(1).status()).to.deep.include({leaderId: 0, term})
    // A buggy removed node asking outright changes nothing either.
    for (const type of ['vote', 'preVote'] as const) c.send({type, from: 2, to: 1, term: term + 100, index: 1000, logTerm: term + 99})
    expect(c.raft(1).status()).to.deep.include({leaderId: 0, term})
  })

  it('the configuration survives a restart: snapshot configuration, then configuration entries after it', () => {
    const c = ledCluster(3)
    addFreshNode(c, 3)
    change(c, 0, {kind: 'addLearner', node: 3})
    c.tickAll(2)
    change(c, 0, {kind: 'promote', node: 3})
    c.tickAll(2)
    const s = c.node(1).storage
    const st = c.raft(1).status()
    s.createSnapshot(st.applied, st.membership, enc.encode('state'))
    s.compact(st.applied)
    c.tickAll(2)
    change(c, 0, {kind: 'remove', node: 2})
    c.tickAll(2)
    change(c, 0, {kind: 'addLearner', node: 4})
    const want = c.raft(1).status().membership
    expect(want).to.deep.equal({voters: [0, 1, 3], learners: [4]})
    const restarted = newRaft(1, ids(3), {storage: s, applied: c.raft(1).status().applied})
    expect(restarted.raft.status()).to.deep.include({membership: want, membershipIndex: c.raft(1).status().membershipIndex})
    // The initial peers are ignored once storage has a configuration.
    expect(newRaft(1, [7], {storage: s}).raft.status().membership).to.deep.equal(want)
  })

  it('a learner added after compaction catches up by a snapshot, which carries the configuration', () => {
    const c = ledCluster(3)
    change(c, 0, {kind: 'addLearner', node: 3})
    c.propose(0, 'a', 'b')
    c.tickAll(2)
    const leader = c.node(0)
    const st = leader.raft.status()
    leader.storage.createSnapshot(st.applied, st.membership, enc.encode(`state at ${st.applied}`))
    leader.storage.compact(st.applied)
    addFreshNode(c, 3)
    c.tickAll(3)
    const l = c.raft(3).status()
    expect(l.snapshotIndex).to.equal(st.applied)
    expect(l.membership).to.deep.equal({voters: [0, 1, 2], learners: [3]})
    expect(c.raft(3).status().lastIndex).to.equal(c.raft(0).status().lastIndex)
  })
})

describe('membership values: changes and their bytes', () => {
  it('applyConfChange refuses what makes no sense, with a one-line reason', () => {
    const m = {voters: [0, 2], learners: [5]}
    expect(applyConfChange(m, {kind: 'addLearner', node: 1})).to.deep.equal({voters: [0, 2], learners: [1, 5]})
    expect(applyConfChange(m, {kind: 'promote', node: 5})).to.deep.equal({voters: [0, 2, 5], learners: []})
    expect(applyConfChange(m, {kind: 'remove', node: 5})).to.deep.equal({voters: [0, 2], learners: []})
    expect(applyConfChange(m, {kind: 'remove', node: 0})).to.deep.equal({voters: [2], learners: [5]})
    const refused: [ConfChange, RegExp][] = [
      [{kind: 'addLearner', node: 5}, /already a learner/],
      [{kind: 'addLearner', node: 2}, /already a voter/],
      [{kind: 'promote', node: 3}, /not a learner/],
      [{kind: 'remove', node: 3}, /not a member/],
      [{kind: 'addLearner', node: -1}, /non-negative integer/],
    ]
    for (const [ch, why] of refused) expect(() => applyConfChange(m, ch)).to.throw(ConfChangeRefusedError, why)
    expect(() => applyConfChange({voters: [4], learners: []}, {kind: 'remove', node: 4})).to.throw(ConfChangeRefusedError, /last voter/)
  })

  it('encodes and decodes a membership exactly', () => {
    for (const m of [voters(0), voters(0, 1, 2), {voters: [1, 3], learners: [0, 70000]}]) expect(decodeMembership(encodeMembership(m))).to.deep.equal(m)
    expect(() => encodeMembership({voters: [], learners: [1]})).to.throw(/no voters/)
  })

  it('refuses garbage: seeded random bytes and mutations of valid encodings throw a RangeError or decode to a valid membership, never crash', () => {
    const rnd = prng(18)
    const valid = encodeMembership({voters: [0, 1, 4], learners: [2, 9]})
    let accepted = 0
    for (let i = 0; i < 3000; i++) {
      let bytes: Uint8Array
      if (i % 2 === 0) {
        bytes = new Uint8Array(Math.floor(rnd() * 40))
        for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rnd() * 256)
        if (bytes.length > 0 && rnd() < 0.5) bytes[0] = 1
      } else {
        bytes = valid.slice(0, rnd() < 0.2 ? Math.floor(rnd() * valid.length) : valid.length)
        if (bytes.length > 0) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256)
      }
      let m: Membership
      try {
        m = decodeMembership(bytes)
      } catch (e) {
        expect(e).to.be.instanceOf(RangeError)
        expect((e as Error).message).to.match(/^membership: /)
        continue
      }
      accepted++
      expect(decodeMembership(encodeMembership(m))).to.deep.equal(m)
    }
    expect(accepted, 'some mutations still decode (a changed id), checked to round-trip').to.be.greaterThan(0)
  })

  it('a follower drops an append whose configuration entry does not decode, and a snapshot without a valid configuration', () => {
    const f = newRaft(1, ids(3))
    const bad: Message = {type: 'app', from: 0, to: 1, term: 1, index: 0, logTerm: 0, commit: 0, entries: [{index: 1, term: 1, type: 'conf', data: new Uint8Array([1, 0, 9])}]}
    f.raft.step(bad)
    expect(drain(f).msgs).to.have.length(0)
    expect(f.raft.status().lastIndex).to.equal(0)
    f.raft.step({type: 'snap', from: 0, to: 1, term: 1, snapshot: {index: 5, term: 1, membership: {voters: [2, 1], learners: []}}})
    expect(f.raft.status().snapshotIndex).to.equal(0)
  })
})
