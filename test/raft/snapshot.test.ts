// Snapshots, one test per rule: the Raft paper §7 (Figure 13, InstallSnapshot: the receiver's
// rules and the leader's side) and Ongaro's dissertation ch. 5 (compaction of applied entries
// only, a leader that keeps working while a snapshot is sent, a follower that ignores a snapshot
// older than its commit index), then the driver contract for Ready.snapshot. PreVote and
// CheckQuorum are off unless a test turns them on, as in paper.test.ts.
import {expect} from 'chai'
import {MemoryStorage, SnapshotTemporarilyUnavailableError, type Message, type NodeId, type ProgressStatus, type Snapshot} from '../../src/raft/index.js'
import {
  Cluster,
  compactedStorage,
  dec,
  drain,
  enc,
  entry,
  ids,
  leaderOf,
  logTerms,
  newRaft,
  ofType,
  storageWith,
  tickN,
  type TestNode,
} from './helpers.js'

const ET = 10

function snap(index: number, term: number, data = 'snapshot state'): Snapshot {
  return {index, term, membership: {voters: ids(3), learners: []}, data: enc.encode(data)}
}

function snapMsg(s: Snapshot, term: number, from: NodeId = 0, to: NodeId = 1): Message {
  return {type: 'snap', from, to, term, snapshot: s}
}

function appResp(from: NodeId, term: number, index: number, extra: Partial<Message> = {}): Message {
  return {type: 'appResp', from, to: 0, term, index, ...extra}
}

/** A leader (node 0, term 2) whose log up to 3 is compacted into a snapshot; it holds 1..4 in
 * term 1 and its no-op at 5, and has just probed both followers at prevIndex 4. */
function compactedLeader(storage = compactedStorage([1, 1, 1, 1], 3, {term: 1, commit: 4})): TestNode {
  return leaderOf(3, {storage, applied: 4})
}

/** Follower 1 tells the leader it has nothing: the leader walks back and needs a snapshot. */
function followerHasNothing(leader: TestNode, from: NodeId = 1): Message[] {
  leader.raft.step(appResp(from, 2, 4, {reject: true, rejectHint: 0, hintTerm: 0}))
  return drain(leader).msgs.filter((m) => m.to === from)
}

/** The driver reports how the snapshot stream to follower 1 ended: what the leader sends 1 at
 * once, and after 1's next heartbeat answer. */
function afterReport(ok: boolean): {leader: TestNode; progress: ProgressStatus | undefined; atOnce: Message[]; afterHeartbeat: Message[]} {
  const leader = compactedLeader()
  followerHasNothing(leader)
  leader.raft.reportSnapshot(1, ok)
  const progress = leader.raft.status().progress?.[1]
  const atOnce = drain(leader).msgs.filter((m) => m.to === 1)
  leader.raft.step({type: 'heartbeatResp', from: 1, to: 0, term: 2})
  const afterHeartbeat = drain(leader).msgs.filter((m) => m.to === 1 && m.type !== 'heartbeat')
  return {leader, progress, atOnce, afterHeartbeat}
}

describe('Raft §7: the leader sends InstallSnapshot', () => {
  it('a leader sends its snapshot to a follower that needs entries it has compacted', () => {
    const leader = compactedLeader()
    const out = followerHasNothing(leader)
    expect(out.map((m) => m.type)).to.deep.equal(['snap'])
    const s = out[0].snapshot as Snapshot
    expect(s).to.deep.include({index: 3, term: 1, membership: {voters: [0, 1, 2], learners: []}})
    expect(dec.decode(s.data)).to.equal('state')
    expect(out[0].term).to.equal(2)
    expect(leader.raft.status().progress?.[1]).to.include({state: 'snapshot', pendingSnapshot: 3, next: 4})
  })

  it('a leader sends nothing else to a follower while it installs the snapshot, but keeps sending it heartbeats', () => {
    const leader = compactedLeader()
    leader.raft.step(appResp(2, 2, 5))
    drain(leader)
    followerHasNothing(leader)
    leader.raft.propose([enc.encode('x')])
    const afterPropose = drain(leader).msgs
    expect(afterPropose.filter((m) => m.to === 1)).to.have.length(0)
    expect(ofType(afterPropose, 'app').map((m) => m.to)).to.deep.equal([2])
    leader.raft.tick()
    expect(ofType(drain(leader).msgs, 'heartbeat').map((m) => m.to)).to.include(1)
    leader.raft.step({type: 'heartbeatResp', from: 1, to: 0, term: 2})
    expect(drain(leader).msgs.filter((m) => m.to === 1)).to.have.length(0)
  })

  it('a follower that answers past the snapshot is replicated to from there', () => {
    const leader = compactedLeader()
    followerHasNothing(leader)
    leader.raft.step(appResp(1, 2, 3))
    const out = ofType(drain(leader).msgs, 'app').filter((m) => m.to === 1)
    expect(out.map((m) => [m.index, m.logTerm, m.entries?.map((e) => e.index)])).to.deep.equal([[3, 1, [4, 5]]])
    expect(leader.raft.status().progress?.[1]).to.include({state: 'replicate', match: 3, next: 6})
    expect(leader.raft.status().progress?.[1].pendingSnapshot).to.equal(undefined)
  })

  it('an answer to an append sent before the snapshot does not end the snapshot state', () => {
    const leader = compactedLeader()
    followerHasNothing(leader)
    leader.raft.step(appResp(1, 2, 4, {reject: true, rejectHint: 0, hintTerm: 0}))
    leader.raft.step(appResp(1, 2, 1))
    expect(drain(leader).msgs.filter((m) => m.to === 1)).to.have.length(0)
    expect(leader.raft.status().progress?.[1]).to.include({state: 'snapshot', pendingSnapshot: 3, match: 1})
  })

  it('a failed snapshot stream (reportSnapshot false) is retried after the follower next answers a heartbeat', () => {
    const r = afterReport(false)
    expect(r.progress).to.include({state: 'probe', next: 1})
    expect(r.atOnce).to.have.length(0)
    expect(r.afterHeartbeat.map((m) => m.type)).to.deep.equal(['snap'])
  })

  it('a finished snapshot stream (reportSnapshot true) probes right after the snapshot, once the follower answers', () => {
    const r = afterReport(true)
    expect(r.progress).to.include({state: 'probe', next: 4})
    expect(r.atOnce).to.have.length(0)
    expect(r.afterHeartbeat.map((m) => [m.type, m.index, m.logTerm])).to.deep.equal([['app', 3, 1]])
    // Reports for a follower that is not waiting for a snapshot change nothing.
    r.leader.raft.reportSnapshot(2, false)
    expect(r.leader.raft.status().progress?.[2].state).to.equal('probe')
  })

  it('a leader whose storage cannot produce a snapshot right now stays in probe and retries on a later heartbeat answer', () => {
    class Busy extends MemoryStorage {
      // Available when the leader starts (it reads its configuration there), busy from then on.
      busy = false
      override snapshot(): Snapshot {
        if (this.busy) throw new SnapshotTemporarilyUnavailableError('being made')
        return super.snapshot()
      }
    }
    const storage = new Busy()
    storage.append([1, 1, 1, 1].map((t, i) => entry(i + 1, t, `e${i + 1}`)))
    storage.setHardState({term: 1, vote: null, commit: 4})
    storage.createSnapshot(3, {voters: ids(3), learners: []}, enc.encode('state'))
    storage.compact(3)
    const leader = compactedLeader(storage)
    storage.busy = true
    expect(followerHasNothing(leader)).to.have.length(0)
    expect(leader.raft.status().progress?.[1].state).to.equal('probe')
    leader.raft.step({type: 'heartbeatResp', from: 1, to: 0, term: 2})
    expect(drain(leader).msgs.filter((m) => m.to === 1)).to.have.length(0)
    storage.busy = false
    leader.raft.step({type: 'heartbeatResp', from: 1, to: 0, term: 2})
    expect(ofType(drain(leader).msgs, 'snap').map((m) => m.to)).to.deep.equal([1])
  })

  it('a storage snapshot older than its compaction point is refused loudly (entries no snapshot covers)', () => {
    const storage = compactedStorage([1, 1, 1, 1], 3, {term: 1, commit: 4})
    storage.snapshot = () => snap(1, 1)
    const leader = compactedLeader(storage)
    expect(() => followerHasNothing(leader)).to.throw(/older than its compaction point 3/)
  })
})

describe('Raft §7 (Figure 13): InstallSnapshot, receiver implementation', () => {
  it('1. reply immediately if term < currentTerm (and change nothing)', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1, 2], {term: 3})})
    n.raft.step(snapMsg(snap(5, 2), 2))
    expect(n.raft.hasReady()).to.equal(false)
    expect(n.raft.status()).to.include({term: 3, commit: 0, lastIndex: 2, firstIndex: 1})
    // With CheckQuorum (or PreVote) the stale leader is told our term, so that it steps down.
    const q = newRaft(1, ids(3), {storage: storageWith([1, 2], {term: 3}), checkQuorum: true})
    q.raft.step(snapMsg(snap(5, 2), 2))
    const d = drain(q)
    expect(d.early.map((m) => [m.type, m.term])).to.deep.equal([['appResp', 3]])
    expect(d.readies.some((rd) => rd.snapshot !== undefined)).to.equal(false)
    expect(q.raft.status()).to.include({term: 3, lastIndex: 2})
  })

  it('a malformed snapshot message (no snapshot, a non-integer or negative index or term) changes nothing and is not answered', () => {
    const bad: Message[] = [
      {type: 'snap', from: 0, to: 1, term: 2},
      snapMsg({...snap(5, 2), index: Number.NaN}, 2),
      snapMsg({...snap(5, 2), index: -1}, 2),
      snapMsg({...snap(5, 2), index: 2.5}, 2),
      snapMsg({...snap(5, 2), term: -1}, 2),
    ]
    for (const m of bad) {
      const n = newRaft(1, ids(3), {storage: storageWith([1, 1], {term: 2, commit: 1}), applied: 1})
      n.raft.step(m)
      expect(n.raft.status(), JSON.stringify(m.snapshot)).to.include({commit: 1, lastIndex: 2, snapshotIndex: 0})
      const d = drain(n)
      expect(d.msgs, JSON.stringify(m.snapshot)).to.have.length(0)
      expect(d.readies.some((rd) => rd.snapshot !== undefined || rd.entries.length > 0)).to.equal(false)
    }
  })

  it('a snapshot of a newer term makes the receiver a follower of its sender in that term; the reply carries the current term', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1, 1], {term: 1})})
    n.raft.step(snapMsg(snap(6, 4), 5))
    expect(n.raft.status()).to.include({term: 5, role: 'follower', leaderId: 0})
    const acks = ofType(drain(n).late, 'appResp')
    expect(acks.map((m) => [m.term, m.index, m.reject ?? false])).to.deep.equal([[5, 6, false]])
  })

  it('a candidate that receives a snapshot from a leader of its term becomes a follower first', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1, 1], {term: 1})})
    tickN(n, ET)
    drain(n)
    expect(n.raft.status()).to.include({role: 'candidate', term: 2})
    n.raft.step(snapMsg(snap(6, 2), 2, 2))
    expect(n.raft.status()).to.include({role: 'follower', term: 2, leaderId: 2, commit: 6, lastIndex: 6})
  })

  it('6. if an existing entry has the same index and term as the snapshot’s last entry, retain the entries following it and reply', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1, 1, 2, 2, 2], {term: 2, commit: 1}), applied: 1})
    n.raft.step(snapMsg(snap(4, 2), 2))
    // etcd's fast-forward: the snapshot only moves the commit index.
    expect(n.raft.status()).to.include({commit: 4, firstIndex: 1, lastIndex: 5, snapshotIndex: 0})
    expect(logTerms(n)).to.deep.equal([1, 1, 2, 2, 2])
    const d = drain(n)
    expect(d.readies.some((rd) => rd.snapshot !== undefined)).to.equal(false)
    expect(d.committed.map((e) => e.index)).to.deep.equal([2, 3, 4])
    expect(ofType(d.late, 'appResp').map((m) => m.index)).to.deep.equal([4])
  })

  it('7. otherwise discard the entire log (conflicting or not), and reply once the snapshot is installed durably', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1, 1, 2, 2, 2], {term: 2, commit: 2}), applied: 2})
    n.raft.step(snapMsg(snap(4, 3), 3))
    const st = n.raft.status()
    expect(st).to.include({commit: 4, firstIndex: 5, lastIndex: 4, snapshotIndex: 4, snapshotTerm: 3})
    expect(n.raft.termAt(4)).to.equal(3)
    expect(n.raft.termAt(5)).to.equal(null)
    expect(n.raft.termAt(2)).to.equal(null)
    const rd = n.raft.ready()
    expect(rd.snapshot).to.deep.include({index: 4, term: 3})
    expect(rd.entries).to.have.length(0)
    expect(rd.committed).to.have.length(0)
    expect(rd.hardState).to.deep.equal({term: 3, vote: null, commit: 4})
    expect(ofType(rd.messages, 'appResp')).to.have.length(0)
    expect(rd.persistedMessages.map((m) => [m.type, m.index, m.term])).to.deep.equal([['appResp', 4, 3]])
  })

  it('8. reset the state machine using the snapshot’s contents (and its configuration); entries after it are applied from there', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1, 1, 2], {term: 2, commit: 1}), applied: 1})
    n.raft.step(snapMsg(snap(10, 3, 'the state at 10'), 3))
    const rd = n.raft.ready()
    expect(dec.decode(rd.snapshot?.data)).to.equal('the state at 10')
    expect(rd.snapshot?.membership).to.deep.equal({voters: [0, 1, 2], learners: []})
    n.storage.applySnapshot(rd.snapshot as Snapshot)
    if (rd.hardState) n.storage.setHardState(rd.hardState)
    n.raft.advance(rd)
    expect(n.raft.status()).to.include({applied: 10, commit: 10, firstIndex: 11})
    n.raft.step({type: 'app', from: 0, to: 1, term: 3, index: 10, logTerm: 3, entries: [entry(11, 3, 'a'), entry(12, 3, 'b')], commit: 12})
    const d = drain(n)
    expect(d.committed.map((e) => e.index)).to.deep.equal([11, 12])
    expect(ofType(d.late, 'appResp').map((m) => m.index)).to.deep.equal([12])
  })

  it('2-5. the snapshot is saved: its last index, last term and configuration survive a restart', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1, 1, 2], {term: 2, commit: 1}), applied: 1})
    n.raft.step(snapMsg(snap(10, 3), 3))
    drain(n)
    const again = newRaft(1, ids(3), {storage: n.storage})
    expect(again.raft.status()).to.include({term: 3, commit: 10, applied: 10, firstIndex: 11, lastIndex: 10, snapshotIndex: 10, snapshotTerm: 3})
    expect(again.raft.termAt(10)).to.equal(3)
    expect(n.storage.snapshot()).to.deep.include({index: 10, term: 3, membership: {voters: [0, 1, 2], learners: []}})
    // A restarted node with a snapshot campaigns with it as its last entry.
    tickN(again, ET)
    const votes = ofType(drain(again).msgs, 'vote')
    expect(votes.map((m) => [m.index, m.logTerm])).to.deep.equal([
      [10, 3],
      [10, 3],
    ])
  })
})

describe('Raft dissertation ch. 5: log compaction', () => {
  it('only applied (hence committed) entries are compacted: storage compacts only up to the state machine’s snapshot, and a restarted node counts what is compacted as committed and applied', () => {
    const s = storageWith([1, 1, 1, 1], {term: 1, commit: 2})
    expect(() => s.compact(2)).to.throw(/past the latest snapshot/)
    s.createSnapshot(2, {voters: ids(3), learners: []}, enc.encode('state at 2'))
    s.compact(2)
    // Even a hard state whose commit lags the snapshot (written earlier) restarts at the snapshot.
    s.setHardState({term: 1, vote: null, commit: 1})
    const n = newRaft(0, ids(3), {storage: s})
    expect(n.raft.status()).to.include({commit: 2, applied: 2, firstIndex: 3, snapshotIndex: 2, snapshotTerm: 1})
    // A restart cannot claim to have applied less than its snapshot holds.
    expect(() => newRaft(0, ids(3), {storage: s, applied: 1})).to.throw(/applied/)
  })

  it('a follower that receives a snapshot older than its commit index ignores it', () => {
    for (const index of [2, 3]) {
      const n = newRaft(1, ids(3), {storage: storageWith([1, 1, 2, 2], {term: 2, commit: 3}), applied: 3})
      n.raft.step(snapMsg(snap(index, 1), 2))
      expect(n.raft.status()).to.include({commit: 3, firstIndex: 1, lastIndex: 4, snapshotIndex: 0})
      const d = drain(n)
      expect(d.readies.some((rd) => rd.snapshot !== undefined)).to.equal(false)
      expect(ofType(d.late, 'appResp').map((m) => [m.index, m.reject ?? false])).to.deep.equal([[3, false]])
      expect(logTerms(n)).to.deep.equal([1, 1, 2, 2])
    }
  })

  it('the leader keeps replicating and committing while a follower gets a snapshot, and the follower then catches up from the log', () => {
    const c = new Cluster(3)
    c.elect(0)
    c.isolate(2)
    for (let i = 0; i < 6; i++) c.propose(0, `m${i}`)
    const leader = c.node(0)
    const applied = leader.raft.status().applied
    expect(applied).to.equal(7)
    leader.storage.createSnapshot(applied, {voters: ids(3), learners: []}, enc.encode(`state at ${applied}`))
    leader.storage.compact(applied - 1)
    c.heal()
    // The snapshot is lost on the way; the leader waits in state snapshot for node 2 and goes on.
    c.dropTypes.add('snap')
    c.tick(0, 2)
    expect(leader.raft.status().progress?.[2]).to.include({state: 'snapshot', pendingSnapshot: 7})
    c.propose(0, 'while the snapshot is sent')
    c.tick(0)
    expect(leader.raft.status().commit).to.equal(8)
    expect(c.raft(1).status().commit).to.equal(8)
    expect(c.raft(2).status().commit).to.equal(1)
    // The driver reports the failed stream; after the next heartbeat answer it is sent again.
    c.dropTypes.clear()
    leader.raft.reportSnapshot(2, false)
    c.tick(0, 2)
    const st = c.raft(2).status()
    expect(st).to.include({commit: 8, applied: 8, snapshotIndex: 7, firstIndex: 8, lastIndex: 8})
    expect(c.node(2).storage.snapshot()).to.deep.include({index: 7})
    expect(c.applied.get(2)?.map((e) => e.index)).to.deep.equal([1, 8])
    expect(leader.raft.status().progress?.[2]).to.include({state: 'replicate', match: 8})
  })
})

describe('Ready.snapshot: the driver contract', () => {
  it('a restored snapshot is handed out once, with the entries that arrived after it in the same Ready', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1], {term: 1})})
    n.raft.step(snapMsg(snap(5, 2), 2))
    n.raft.step({type: 'app', from: 0, to: 1, term: 2, index: 5, logTerm: 2, entries: [entry(6, 2, 'a')], commit: 5})
    const rd = n.raft.ready()
    expect(rd.snapshot?.index).to.equal(5)
    expect(rd.entries.map((e) => e.index)).to.deep.equal([6])
    expect(rd.persistedMessages.map((m) => m.index)).to.deep.equal([5, 6])
    n.storage.applySnapshot(rd.snapshot as Snapshot)
    n.storage.append(rd.entries)
    n.raft.advance(rd)
    expect(n.raft.hasReady()).to.equal(false)
    expect(n.raft.status()).to.include({applied: 5, firstIndex: 6, lastIndex: 6})
  })

  it('entries that arrive while the snapshot is being installed are handed out in the next Ready', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1], {term: 1})})
    n.raft.step(snapMsg(snap(5, 2), 2))
    const rd = n.raft.ready()
    n.raft.step({type: 'app', from: 0, to: 1, term: 2, index: 5, logTerm: 2, entries: [entry(6, 2, 'a')], commit: 6})
    // Not yet installed: the status already shows the snapshot, and nothing is applied from storage.
    expect(n.raft.status()).to.include({snapshotIndex: 5, snapshotTerm: 2, firstIndex: 6, lastIndex: 6, commit: 6, applied: 0})
    n.storage.applySnapshot(rd.snapshot as Snapshot)
    if (rd.hardState) n.storage.setHardState(rd.hardState)
    n.raft.advance(rd)
    const next = n.raft.ready()
    expect(next.snapshot).to.equal(undefined)
    expect(next.entries.map((e) => e.index)).to.deep.equal([6])
    // Entry 6 is applied once it is durable.
    n.storage.append(next.entries)
    n.raft.advance(next)
    expect(drain(n).committed.map((e) => e.index)).to.deep.equal([6])
  })

  it('a newer snapshot restored while an older one is being installed replaces it: the older one’s advance does not count the newer as installed', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1], {term: 1})})
    n.raft.step(snapMsg(snap(5, 2), 2))
    const first = n.raft.ready()
    n.raft.step(snapMsg(snap(9, 2), 2))
    n.storage.applySnapshot(first.snapshot as Snapshot)
    n.raft.advance(first)
    expect(n.raft.status()).to.include({applied: 5, commit: 9, snapshotIndex: 9})
    const second = n.raft.ready()
    expect(second.snapshot?.index).to.equal(9)
    expect(second.committed).to.have.length(0)
    n.storage.applySnapshot(second.snapshot as Snapshot)
    n.raft.advance(second)
    expect(n.raft.status()).to.include({applied: 9, commit: 9, firstIndex: 10})
  })

  it('entries written before a snapshot restored since are replaced by it: the log after installing is the snapshot and what followed it', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1], {term: 1})})
    // A leader of term 1 sends entries 2 and 3; while they are being written, a leader of term 2
    // sends a snapshot at 3 (its entry 3 is of term 2), then entry 4.
    n.raft.step({type: 'app', from: 0, to: 1, term: 1, index: 1, logTerm: 1, entries: [entry(2, 1, 'a'), entry(3, 1, 'b')], commit: 1})
    const old = n.raft.ready()
    expect(old.entries.map((e) => e.index)).to.deep.equal([2, 3])
    n.raft.step(snapMsg(snap(3, 2), 2, 2))
    n.raft.step({type: 'app', from: 2, to: 1, term: 2, index: 3, logTerm: 2, entries: [entry(4, 2, 'c')], commit: 3})
    n.storage.append(old.entries)
    n.raft.advance(old)
    expect(n.raft.status()).to.include({applied: 1, snapshotIndex: 3, lastIndex: 4})
    const rd = n.raft.ready()
    expect(rd.snapshot?.index).to.equal(3)
    expect(rd.entries.map((e) => e.index)).to.deep.equal([4])
    n.storage.applySnapshot(rd.snapshot as Snapshot)
    n.storage.append(rd.entries)
    n.raft.advance(rd)
    expect(n.raft.status()).to.include({applied: 3, firstIndex: 4, lastIndex: 4, snapshotIndex: 3, snapshotTerm: 2})
    expect(n.storage.allEntries().map((e) => [e.index, e.term])).to.deep.equal([[4, 2]])
  })

  it('acknowledgments not yet sent for entries the snapshot replaces are dropped', () => {
    const n = newRaft(1, ids(3), {storage: storageWith([1], {term: 1})})
    const hold = n.raft.ready()
    n.raft.step({type: 'app', from: 0, to: 1, term: 1, index: 1, logTerm: 1, entries: [entry(2, 1, 'old')], commit: 1})
    n.raft.step(snapMsg(snap(4, 2), 2))
    n.raft.advance(hold)
    const rd = n.raft.ready()
    expect(rd.persistedMessages.map((m) => [m.term, m.index])).to.deep.equal([[2, 4]])
  })
})
