// The contract between the core and its driver: one Ready at a time, what may be sent when,
// what is handed out for persisting and applying, restarts, and a compacted log prefix.
import {expect} from 'chai'
import {MemoryStorage, type Message} from '../../src/raft/index.js'
import {ack, Cluster, drain, entry, ids, leaderOf, logTerms, newRaft, ofType, persist, storageWith} from './helpers.js'

describe('Ready and advance: the driver contract', () => {
  it('only one Ready is outstanding: hasReady() is false and ready() throws until advance()', () => {
    const n = newRaft(0, ids(3))
    n.raft.step({type: 'vote', from: 1, to: 0, term: 1, index: 0, logTerm: 0})
    const rd = n.raft.ready()
    n.raft.step({type: 'vote', from: 2, to: 0, term: 2, index: 0, logTerm: 0})
    expect(n.raft.hasReady()).to.equal(false)
    expect(() => n.raft.ready()).to.throw(/before advance/)
    persist(n, rd)
    n.raft.advance(rd)
    expect(n.raft.hasReady()).to.equal(true)
    expect(n.raft.ready().hardState).to.deep.equal({term: 2, vote: 2, commit: 0})
  })

  it('advance() of a Ready other than the outstanding one throws', () => {
    const n = newRaft(0, ids(3))
    n.raft.step({type: 'vote', from: 1, to: 0, term: 1, index: 0, logTerm: 0})
    const rd = n.raft.ready()
    expect(() => n.raft.advance({...rd})).to.throw(/not the outstanding/)
  })

  it('softState appears only when the role or leader changed, hardState only when term, vote or commit changed', () => {
    const n = newRaft(1, ids(3))
    n.raft.step({type: 'heartbeat', from: 0, to: 1, term: 1, commit: 0})
    const first = drain(n).readies
    expect(first[0].softState).to.deep.equal({role: 'follower', leaderId: 0})
    expect(first[0].hardState).to.deep.equal({term: 1, vote: null, commit: 0})
    n.raft.step({type: 'heartbeat', from: 0, to: 1, term: 1, commit: 0})
    const again = drain(n).readies
    expect(again[0].softState).to.equal(undefined)
    expect(again[0].hardState).to.equal(undefined)
  })

  it('Ready.committed only holds entries that are already durable here', () => {
    const n = newRaft(1, ids(3))
    n.raft.step({type: 'app', from: 0, to: 1, term: 1, index: 0, logTerm: 0, commit: 3, entries: [entry(1, 1), entry(2, 1, 'a'), entry(3, 1, 'b')]})
    const rd1 = n.raft.ready()
    expect(rd1.entries.map((e) => e.index)).to.deep.equal([1, 2, 3])
    expect(rd1.hardState?.commit).to.equal(3)
    expect(rd1.committed).to.have.length(0)
    persist(n, rd1)
    n.raft.advance(rd1)
    expect(n.raft.ready().committed.map((e) => e.index)).to.deep.equal([1, 2, 3])
  })

  it('a leader may send new appends while its own write is in flight (takeMessages), without counting itself', () => {
    const leader = leaderOf(3)
    const noop = leader.raft.status().lastIndex
    leader.raft.step(ack(1, 1, noop))
    drain(leader)
    leader.raft.propose([new Uint8Array([1])])
    const rd = leader.raft.ready() // the write of entry noop+1 is in flight
    expect(rd.messages.some((m) => m.type === 'app')).to.equal(true)
    leader.raft.propose([new Uint8Array([2])])
    const early = leader.raft.takeMessages()
    expect(early.filter((m) => m.type === 'app').map((m) => m.entries?.[0].index)).to.deep.equal([noop + 2])
    leader.raft.step(ack(1, 1, noop + 2))
    expect(leader.raft.status().commit).to.equal(noop) // its own copies are not durable yet
    persist(leader, rd)
    leader.raft.advance(rd)
    expect(leader.raft.status().commit).to.equal(noop + 1)
    drain(leader)
    expect(leader.raft.status().commit).to.equal(noop + 2)
  })

  it('entries a new leader overwrote while their write was in flight are replaced, and the next Ready starts at the first overwritten index', () => {
    const n = newRaft(1, ids(3))
    n.raft.step({type: 'app', from: 0, to: 1, term: 1, index: 0, logTerm: 0, commit: 0, entries: [entry(1, 1), entry(2, 1, 'a'), entry(3, 1, 'b')]})
    const rd1 = n.raft.ready()
    n.raft.step({type: 'app', from: 2, to: 1, term: 2, index: 1, logTerm: 1, commit: 0, entries: [entry(2, 2, 'c')]})
    persist(n, rd1)
    n.raft.advance(rd1)
    const rd2 = n.raft.ready()
    expect(rd2.entries.map((e) => [e.index, e.term])).to.deep.equal([[2, 2]])
    persist(n, rd2)
    n.raft.advance(rd2)
    expect(n.storage.allEntries().map((e) => e.term)).to.deep.equal([1, 2])
    expect(logTerms(n)).to.deep.equal([1, 2])
  })

  it('acknowledgments waiting for persistence are dropped when a newer leader overwrites the entries they acknowledge', () => {
    const n = newRaft(1, ids(3))
    n.raft.step({type: 'app', from: 0, to: 1, term: 1, index: 0, logTerm: 0, commit: 0, entries: [entry(1, 1), entry(2, 1, 'a')]})
    const rd1 = n.raft.ready()
    n.raft.step({type: 'app', from: 0, to: 1, term: 1, index: 2, logTerm: 1, commit: 0, entries: [entry(3, 1, 'b')]})
    n.raft.step({type: 'app', from: 2, to: 1, term: 2, index: 2, logTerm: 1, commit: 0, entries: [entry(3, 2, 'c')]})
    persist(n, rd1)
    n.raft.advance(rd1)
    const rd2 = n.raft.ready()
    const acks = ofType(rd2.persistedMessages, 'appResp').map((m: Message) => [m.to, m.term, m.index])
    // The ack of (3, term 1) to the old leader would promise an entry this node no longer has.
    expect(acks).to.deep.equal([[2, 2, 3]])
  })

  it('maxCommittedBytesPerReady splits a long committed tail into several Readies', () => {
    const s = new MemoryStorage()
    s.append(Array.from({length: 10}, (_, i) => ({index: i + 1, term: 1, type: 'normal' as const, data: new Uint8Array(100)})))
    s.setHardState({term: 1, vote: null, commit: 10})
    const n = newRaft(0, ids(3), {storage: s, maxCommittedBytesPerReady: 250})
    const sizes = drain(n).readies.map((r) => r.committed.length)
    expect(sizes).to.deep.equal([2, 2, 2, 2, 2])
  })
})

describe('restart and a compacted log', () => {
  it('a restarted node resumes with its term, vote, log and commit index, and re-delivers committed entries after `applied`', () => {
    const s = storageWith([1, 1, 2, 2], {term: 3, vote: 2, commit: 3})
    const n = newRaft(0, ids(3), {storage: s, applied: 1})
    expect(n.raft.status()).to.include({term: 3, vote: 2, commit: 3, applied: 1, lastIndex: 4, role: 'follower'})
    expect(drain(n).committed.map((e) => e.index)).to.deep.equal([2, 3])
    expect(n.raft.status().applied).to.equal(3)
  })

  it('applied past the commit index is refused', () => {
    expect(() => newRaft(0, ids(3), {storage: storageWith([1, 1], {term: 1, commit: 1}), applied: 2})).to.throw(/applied/)
  })

  it('a node whose storage starts after a compacted prefix (firstIndex > 1) campaigns, leads and replicates', () => {
    const make = (): MemoryStorage => {
      const s = storageWith([1, 1, 1, 2, 2, 2], {term: 2, commit: 6})
      s.createSnapshot(4, {voters: ids(3), learners: []}, new Uint8Array(0))
      s.compact(4)
      return s
    }
    const c = new Cluster(3, () => ({storage: make(), applied: 6}))
    expect(c.raft(0).status()).to.include({firstIndex: 5, lastIndex: 6, commit: 6})
    expect(c.raft(0).termAt(4)).to.equal(2)
    expect(c.raft(0).termAt(3)).to.equal(null)
    c.elect(1)
    c.propose(1, 'after compaction')
    c.tick(1, 1)
    for (const id of [0, 1, 2]) {
      expect(c.raft(id).status()).to.include({commit: 8, lastIndex: 8})
      expect(c.applied.get(id)?.map((e) => e.index)).to.deep.equal([7, 8])
    }
  })
})
