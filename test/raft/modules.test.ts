// The building blocks on their own: MemoryStorage, the log view (stable + unstable), the
// in-flight window, quorum arithmetic and config validation.
import {expect} from 'chai'
import {CompactedError, MemoryStorage, SnapshotOutOfDateError, UnavailableError} from '../../src/raft/index.js'
import {RaftLog} from '../../src/raft/log.js'
import {Inflights} from '../../src/raft/progress.js'
import {QuorumIndex, quorumSize, VoteTally} from '../../src/raft/quorum.js'
import {resolveConfig} from '../../src/raft/config.js'
import {entry, storageWith} from './helpers.js'

describe('MemoryStorage', () => {
  it('append deletes the stored suffix from the first appended index, then appends', () => {
    const s = storageWith([1, 1, 2, 2])
    s.append([entry(3, 3, 'x')])
    expect(s.allEntries().map((e) => e.term)).to.deep.equal([1, 1, 3])
    expect(s.lastIndex()).to.equal(3)
    expect(() => s.append([entry(5, 3, 'gap')])).to.throw(/gap/)
  })

  it('entries stops before maxBytes but returns at least one entry', () => {
    const s = new MemoryStorage()
    s.append([1, 2, 3, 4].map((i) => ({index: i, term: 1, type: 'normal' as const, data: new Uint8Array(10)})))
    expect(s.entries(1, 5, 25).map((e) => e.index)).to.deep.equal([1, 2])
    expect(s.entries(1, 5, 1).map((e) => e.index)).to.deep.equal([1])
    expect(s.entries(2, 5, Infinity).map((e) => e.index)).to.deep.equal([2, 3, 4])
  })

  it('compact keeps the term of the compaction point and refuses what is gone', () => {
    const s = storageWith([1, 1, 2, 3])
    s.createSnapshot(2, {voters: [0, 1, 2], learners: []}, new Uint8Array(0))
    s.compact(2)
    expect(s.firstIndex()).to.equal(3)
    expect(s.lastIndex()).to.equal(4)
    expect(s.term(2)).to.equal(1)
    expect(() => s.term(1)).to.throw(CompactedError)
    expect(() => s.term(5)).to.throw(UnavailableError)
    expect(() => s.entries(2, 4, Infinity)).to.throw(CompactedError)
    // Appending over the compacted prefix skips what is compacted.
    s.append([entry(2, 1, 'e2'), entry(3, 2, 'e3'), entry(4, 4, 'new')])
    expect(s.allEntries().map((e) => [e.index, e.term])).to.deep.equal([
      [3, 2],
      [4, 4],
    ])
  })

  it('compact never goes past the latest snapshot', () => {
    const s = storageWith([1, 1, 2, 3])
    expect(() => s.compact(1)).to.throw(RangeError, /past the latest snapshot \(0\)/)
    s.createSnapshot(2, {voters: [0, 1, 2], learners: []}, new Uint8Array([7]))
    expect(() => s.compact(3)).to.throw(RangeError, /past the latest snapshot \(2\)/)
    s.compact(1)
    expect(s.firstIndex()).to.equal(2)
    s.compact(2)
    expect(s.firstIndex()).to.equal(3)
  })

  it('createSnapshot records index, term, members and data, only of stored entries and only forward', () => {
    const s = storageWith([1, 1, 2, 3])
    const snap = s.createSnapshot(3, {voters: [0, 1, 2], learners: []}, new Uint8Array([1, 2]))
    expect(s.snapshot()).to.equal(snap)
    expect(snap).to.deep.include({index: 3, term: 2, membership: {voters: [0, 1, 2], learners: []}})
    expect([...(snap.data ?? [])]).to.deep.equal([1, 2])
    // The log is untouched until compact().
    expect(s.firstIndex()).to.equal(1)
    expect(() => s.createSnapshot(3, {voters: [0, 1, 2], learners: []}, new Uint8Array(0))).to.throw(SnapshotOutOfDateError)
    expect(() => s.createSnapshot(2, {voters: [0, 1, 2], learners: []}, new Uint8Array(0))).to.throw(SnapshotOutOfDateError)
    expect(() => s.createSnapshot(5, {voters: [0, 1, 2], learners: []}, new Uint8Array(0))).to.throw(UnavailableError)
  })

  it('applySnapshot replaces the whole log and refuses a snapshot not newer than the one held', () => {
    const s = storageWith([1, 1, 2, 3], {term: 3, vote: 1, commit: 2})
    s.applySnapshot({index: 10, term: 5, membership: {voters: [0, 1, 2], learners: []}})
    expect(s.firstIndex()).to.equal(11)
    expect(s.lastIndex()).to.equal(10)
    expect(s.term(10)).to.equal(5)
    expect(() => s.term(4)).to.throw(CompactedError)
    expect(s.snapshot()).to.deep.include({index: 10, term: 5})
    // The hard state is the Ready's business.
    expect(s.initialState()).to.deep.equal({term: 3, vote: 1, commit: 2})
    s.append([entry(11, 5, 'a')])
    expect(s.lastIndex()).to.equal(11)
    expect(() => s.applySnapshot({index: 10, term: 5, membership: {voters: [0, 1, 2], learners: []}})).to.throw(SnapshotOutOfDateError)
    expect(() => s.applySnapshot({index: 7, term: 4, membership: {voters: [0, 1, 2], learners: []}})).to.throw(SnapshotOutOfDateError)
    expect(s.lastIndex()).to.equal(11)
  })
})

const THREE = {voters: [0, 1, 2], learners: []}

describe('RaftLog: the stable log seen through Storage plus the unstable suffix', () => {
  it('reads terms and entries across the stable/unstable boundary', () => {
    const log = new RaftLog(storageWith([1, 1, 2]), 0, undefined, THREE)
    log.append([entry(4, 3, 'a'), entry(5, 3, 'b')])
    expect([1, 2, 3, 4, 5].map((i) => log.term(i))).to.deep.equal([1, 1, 2, 3, 3])
    expect(log.lastIndex()).to.equal(5)
    expect(log.persistedIndex()).to.equal(3)
    expect(log.slice(2, 6, Infinity).map((e) => e.index)).to.deep.equal([2, 3, 4, 5])
    expect(log.termOrNull(6)).to.equal(null)
  })

  it('slice respects maxBytes across the boundary', () => {
    const log = new RaftLog(storageWith([1, 1]), 0, undefined, THREE)
    log.append([entry(3, 1, 'abcd'), entry(4, 1, 'efgh')])
    // Stored entries carry 'e1', 'e2' (2 bytes each).
    expect(log.slice(1, 5, 8).map((e) => e.index)).to.deep.equal([1, 2, 3])
    expect(log.slice(1, 5, 1).map((e) => e.index)).to.deep.equal([1])
  })

  it('findConflictByTerm skips back over every entry of a higher term', () => {
    const log = new RaftLog(storageWith([1, 1, 1, 4, 4, 5, 5, 6, 6, 6]), 0, undefined, THREE)
    expect(log.findConflictByTerm(10, 5)).to.deep.equal({index: 7, term: 5})
    expect(log.findConflictByTerm(10, 3)).to.deep.equal({index: 3, term: 1})
    expect(log.findConflictByTerm(10, 0)).to.deep.equal({index: 0, term: 0})
    expect(log.findConflictByTerm(5, 9)).to.deep.equal({index: 5, term: 4})
  })

  it('takeUnstable hands each entry out once; stableTo drops what was persisted', () => {
    const s = storageWith([1])
    const log = new RaftLog(s, 0, undefined, THREE)
    log.append([entry(2, 1, 'a'), entry(3, 1, 'b')])
    const first = log.takeUnstable()
    expect(first.map((e) => e.index)).to.deep.equal([2, 3])
    expect(log.hasUnstableToHandOut()).to.equal(false)
    log.append([entry(4, 1, 'c')])
    expect(log.takeUnstable().map((e) => e.index)).to.deep.equal([4])
    s.append(first)
    log.stableTo(first)
    expect(log.persistedIndex()).to.equal(3)
  })

  it('refuses to overwrite a committed entry', () => {
    const log = new RaftLog(storageWith([1, 1, 1], {commit: 2}), 2, undefined, THREE)
    expect(() => log.maybeAppend(1, 1, 2, [entry(2, 2, 'x')])).to.throw(/committed/)
  })

  it('is up-to-date per §5.4.1: higher last term, or the same last term and at least as long', () => {
    const log = new RaftLog(storageWith([1, 2, 2]), 0, undefined, THREE)
    expect(log.isUpToDate(3, 2)).to.equal(true)
    expect(log.isUpToDate(2, 2)).to.equal(false)
    expect(log.isUpToDate(1, 3)).to.equal(true)
    expect(log.isUpToDate(9, 1)).to.equal(false)
  })
})

describe('Inflights: the per-follower window of unacknowledged appends', () => {
  it('fills up, frees acknowledged messages in order and wraps around', () => {
    const w = new Inflights(3)
    w.add(5)
    w.add(7)
    w.add(9)
    expect(w.full()).to.equal(true)
    expect(() => w.add(10)).to.throw()
    w.freeLE(7)
    expect(w.count).to.equal(1)
    w.add(11)
    w.add(13)
    expect(w.full()).to.equal(true)
    w.freeLE(12)
    expect(w.count).to.equal(1)
    w.freeLE(100)
    expect(w.count).to.equal(0)
  })
})

describe('quorum arithmetic', () => {
  it('a quorum is a strict majority', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(quorumSize)).to.deep.equal([1, 2, 2, 3, 3, 4, 4])
  })

  it('the committed index is the highest index stored by a quorum', () => {
    const q = new QuorumIndex(5)
    expect(q.compute([5, 1, 4, 2, 3].map((match) => ({match})))).to.equal(3)
    expect(new QuorumIndex(3).compute([9, 0, 0].map((match) => ({match})))).to.equal(0)
    expect(new QuorumIndex(3).compute([9, 7, 0].map((match) => ({match})))).to.equal(7)
  })

  it('a vote is won by a majority of grants and lost once a majority is out of reach', () => {
    const t = new VoteTally([0, 1, 2, 3, 4])
    t.record(7, true) // not a voter: not counted
    t.record(0, true)
    t.record(1, false)
    t.record(1, true) // a voter's first answer counts
    expect(t.result()).to.equal('pending')
    t.record(2, false)
    expect(t.result()).to.equal('pending')
    t.record(3, false)
    expect(t.result()).to.equal('lost')
  })
})

describe('config', () => {
  const base = {id: 0, peers: [0, 1, 2], storage: new MemoryStorage(), random: () => 0}
  it('fills in the defaults: 150-300 ms elections and 50 ms heartbeats at a 10 ms tick, PreVote and CheckQuorum on', () => {
    expect(resolveConfig(base)).to.include({electionTick: 15, heartbeatTick: 5, preVote: true, checkQuorum: true})
  })
  it('refuses inconsistent settings with a message that names them', () => {
    expect(() => resolveConfig({...base, heartbeatTick: 15})).to.throw(/heartbeatTick/)
    expect(() => resolveConfig({...base, maxInflight: 0})).to.throw(/maxInflight/)
    expect(() => resolveConfig({...base, peers: [0, 1, 1]})).to.throw(/sorted and distinct/)
    expect(() => resolveConfig({...base, learners: [2]})).to.throw(/both voter and learner/)
    expect(() => resolveConfig({...base, maxLearnerLag: -1})).to.throw(/maxLearnerLag/)
  })
  it('lets a node start outside its initial configuration (a node joining a running cluster)', () => {
    expect(resolveConfig({...base, id: 5, peers: []}).initial).to.deep.equal({voters: [], learners: []})
  })
})
