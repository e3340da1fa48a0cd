// Log replication mechanics beyond the paper: batching limits, probe and replicate flow
// control, the fast conflict back-off, recovery of lost appends, and how the commit index
// travels.
import {expect} from 'chai'
import type {Message} from '../../src/raft/index.js'
import {ack, Cluster, drain, entry, leaderOf, logTerms, newRaft, ofType, storageWith, type Opts, type TestNode} from './helpers.js'

/** A 3-node leader whose follower 1 has acknowledged the no-op, so it is in replicate state. */
function replicatingLeader(opts: Opts = {}): {leader: TestNode; noop: number} {
  const leader = leaderOf(3, opts)
  const noop = leader.raft.status().lastIndex
  leader.raft.step(ack(1, 1, noop))
  drain(leader)
  return {leader, noop}
}

function appsTo(msgs: Message[], to: number): Message[] {
  return ofType(msgs, 'app').filter((m) => m.to === to)
}

const bytes = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill)

describe('replication: batching and flow control', () => {
  it('an append carries at most maxEntriesPerMsg entries', () => {
    const {leader} = replicatingLeader({maxEntriesPerMsg: 2})
    leader.raft.propose([bytes(1), bytes(1), bytes(1), bytes(1), bytes(1)])
    const apps = appsTo(drain(leader).msgs, 1)
    expect(apps.map((m) => m.entries?.length)).to.deep.equal([2, 2, 1])
  })

  it('an append carries at most maxBytesPerMsg bytes of entry data, but always at least one entry', () => {
    const {leader} = replicatingLeader({maxBytesPerMsg: 10})
    leader.raft.propose([bytes(4), bytes(4), bytes(4), bytes(50), bytes(4)])
    const apps = appsTo(drain(leader).msgs, 1)
    expect(apps.map((m) => m.entries?.map((e) => e.data.byteLength))).to.deep.equal([[4, 4], [4], [50], [4]])
  })

  it('a follower in probe state gets one append, then nothing more until it answers', () => {
    const leader = leaderOf(3)
    // The election sent the no-op probe to both followers; neither has answered.
    leader.raft.propose([bytes(1)])
    leader.raft.propose([bytes(1)])
    expect(ofType(drain(leader).msgs, 'app')).to.have.length(0)
    expect(leader.raft.status().progress?.[2]).to.include({state: 'probe'})
  })

  it('a follower in replicate state gets at most maxInflight unacknowledged appends; each acknowledgment frees the window', () => {
    const {leader, noop} = replicatingLeader({maxEntriesPerMsg: 1, maxInflight: 3})
    leader.raft.propose(Array.from({length: 10}, () => bytes(1)))
    expect(appsTo(drain(leader).msgs, 1).map((m) => m.index)).to.deep.equal([noop, noop + 1, noop + 2])
    expect(leader.raft.status().progress?.[1]).to.include({state: 'replicate', inflight: 3})
    leader.raft.step(ack(1, 1, noop + 1))
    expect(appsTo(drain(leader).msgs, 1).map((m) => m.index)).to.deep.equal([noop + 3])
    leader.raft.step(ack(1, 1, noop + 3))
    expect(appsTo(drain(leader).msgs, 1).map((m) => m.index)).to.deep.equal([noop + 4, noop + 5])
  })

  it('a rejection in replicate state falls back to probing from just after the known match', () => {
    const {leader, noop} = replicatingLeader()
    leader.raft.propose([bytes(1), bytes(1)])
    drain(leader)
    leader.raft.step({type: 'appResp', from: 1, to: 0, term: 1, index: noop, reject: true, rejectHint: noop - 1, hintTerm: 1})
    // Stale: index noop is known to match already.
    expect(leader.raft.status().progress?.[1]).to.include({state: 'replicate'})
    leader.raft.step({type: 'appResp', from: 1, to: 0, term: 1, index: noop + 1, reject: true, rejectHint: noop, hintTerm: 1})
    const p = leader.raft.status().progress?.[1]
    expect(p).to.include({state: 'probe', match: noop})
    const apps = appsTo(drain(leader).msgs, 1)
    expect(apps.map((m) => m.index)).to.deep.equal([noop])
  })

  it('fast back-off: the follower’s conflict hint lets the leader skip a whole divergent term per round trip', () => {
    // Figure 7's follower (f): it diverges from the leader after index 3 with seven entries of terms 2 and 3.
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
    const follower = [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]
    const c = new Cluster(3, (id) => ({storage: storageWith(id === 1 ? follower : leaderLog, {term: 7})}))
    c.elect(0)
    c.propose(0, 'x')
    expect(logTerms(c.node(1))).to.deep.equal(logTerms(c.node(0)))
    const rejections = c.delivered.filter((m) => m.type === 'appResp' && m.from === 1 && m.reject)
    // One entry per round trip would need 8 rejections (indexes 11 down to 4).
    expect(rejections.length).to.be.at.most(3)
  })

  it('appends lost in replicate state are recovered: a heartbeat answer from a lagging follower makes the leader re-probe', () => {
    const {leader, noop} = replicatingLeader()
    leader.raft.propose([bytes(1)])
    drain(leader) // the append to follower 1 is "lost"
    leader.raft.step({type: 'heartbeatResp', from: 1, to: 0, term: 1})
    const probe = appsTo(drain(leader).msgs, 1)
    expect(probe.map((m) => [m.index, m.entries?.length])).to.deep.equal([[noop + 1, 0]])
    // The follower does not have noop+1: it rejects, and the leader resends from its match.
    leader.raft.step({type: 'appResp', from: 1, to: 0, term: 1, index: noop + 1, reject: true, rejectHint: noop, hintTerm: 1})
    const resend = appsTo(drain(leader).msgs, 1)
    expect(resend.map((m) => [m.index, m.entries?.map((e) => e.index)])).to.deep.equal([[noop, [noop + 1]]])
  })

  it('a new commit index rides on the next append, or reaches caught-up followers on the next tick', () => {
    // Heartbeats also carry the commit index; keep them out of the way.
    const {leader, noop} = replicatingLeader({heartbeatTick: 5})
    leader.raft.step(ack(2, 1, noop))
    drain(leader)
    leader.raft.propose([bytes(1)])
    drain(leader)
    leader.raft.step(ack(1, 1, noop + 1))
    // No extra round of empty appends per commit: one-at-a-time publishing would pay for it.
    expect(ofType(drain(leader).msgs, 'app').filter((m) => m.to === 1)).to.deep.equal([])
    leader.raft.propose([bytes(2)])
    const carried = ofType(drain(leader).msgs, 'app').filter((m) => m.to === 1)
    expect(carried.map((m) => [m.commit, m.entries?.length])).to.deep.equal([[noop + 1, 1]])
    leader.raft.step(ack(1, 1, noop + 2))
    drain(leader)
    leader.raft.tick()
    const announced = ofType(drain(leader).msgs, 'app').filter((m) => m.to === 1)
    expect(announced.map((m) => [m.commit, m.entries?.length])).to.deep.equal([[noop + 2, 0]])
    leader.raft.tick()
    expect(ofType(drain(leader).msgs, 'app'), 'announced once').to.deep.equal([])
  })

  it('a heartbeat never carries a commit index past what the follower is known to store', () => {
    const {leader, noop} = replicatingLeader({heartbeatTick: 1})
    leader.raft.tick()
    const hb = ofType(drain(leader).msgs, 'heartbeat')
    expect(leader.raft.status().commit).to.equal(noop)
    expect(hb.find((m) => m.to === 1)?.commit).to.equal(noop)
    expect(hb.find((m) => m.to === 2)?.commit).to.equal(0)
  })

  it('a far-behind follower is caught up in batches', () => {
    const c = new Cluster(3, {maxEntriesPerMsg: 3, maxInflight: 2})
    c.elect(0)
    c.isolate(2)
    for (let i = 0; i < 20; i++) c.propose(0, `e${i}`)
    c.heal()
    // Its probe was lost while it was cut off: the next heartbeat answer resumes probing.
    c.tick(0, 1)
    c.propose(0, 'last')
    c.tick(0, 1)
    expect(logTerms(c.node(2))).to.deep.equal(logTerms(c.node(0)))
    expect(c.raft(2).status().commit).to.equal(c.raft(0).status().commit)
    const sizes = c.delivered.filter((m) => m.type === 'app' && m.to === 2).map((m) => m.entries?.length ?? 0)
    expect(Math.max(...sizes)).to.equal(3)
  })

  it('a follower answers a duplicated or reordered append without changing its log', () => {
    const n = newRaft(1, [0, 1, 2])
    const first: Message = {type: 'app', from: 0, to: 1, term: 1, index: 0, logTerm: 0, commit: 0, entries: [entry(1, 1), entry(2, 1, 'a')]}
    const second: Message = {type: 'app', from: 0, to: 1, term: 1, index: 2, logTerm: 1, commit: 0, entries: [entry(3, 1, 'b')]}
    n.raft.step(first)
    n.raft.step(second)
    n.raft.step(first)
    const acks = ofType(drain(n).msgs, 'appResp').map((m) => m.index)
    expect(acks).to.deep.equal([2, 3, 2])
    expect(logTerms(n)).to.deep.equal([1, 1, 1])
  })

  it('an append that starts below the follower’s commit index is answered with the commit index', () => {
    const n = newRaft(1, [0, 1, 2], {storage: storageWith([1, 1, 1], {term: 1, commit: 3})})
    n.raft.step({type: 'app', from: 0, to: 1, term: 1, index: 1, logTerm: 1, commit: 3, entries: [entry(2, 1, 'e2')]})
    expect(ofType(drain(n).msgs, 'appResp').map((m) => [m.index, m.reject])).to.deep.equal([[3, undefined]])
  })
})
