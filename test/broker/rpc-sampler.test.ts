/** Which Raft messages a node reports on /events: elections always, the busy kinds a few a second per link. */
import {expect} from 'chai'
import {RPC_KINDS, type RpcKind} from '../../src/api/node-events.js'
import {RpcSampler} from '../../src/broker/rpc-sampler.js'

/** A clock the test moves by hand. */
function clock(): {now: () => number; advance: (ms: number) => void} {
  let t = 1_000_000
  return {now: () => t, advance: (ms) => (t += ms)}
}

const SAMPLED: RpcKind[] = ['append', 'append-reply', 'heartbeat', 'heartbeat-reply']

describe('rpc sampler', () => {
  it('lets every vote, prevote, their replies, timeout-now and snapshot pass, however many', () => {
    const time = clock()
    const sampler = new RpcSampler({now: time.now})
    const always = RPC_KINDS.filter((k) => !SAMPLED.includes(k))
    expect(always).to.have.members(['vote', 'vote-reply', 'prevote', 'prevote-reply', 'timeout-now', 'snapshot'])
    for (const kind of always) {
      for (let i = 0; i < 1000; i++) expect(sampler.admit(kind, 1), `${kind} #${i}`).to.equal(true)
    }
  })

  it('lets at most 4 a second of each busy kind to one peer pass, evenly, from a stream of one a millisecond', () => {
    for (const kind of SAMPLED) {
      const time = clock()
      const sampler = new RpcSampler({now: time.now})
      const passedAt: number[] = []
      for (let ms = 0; ms < 10_000; ms++) {
        if (sampler.admit(kind, 2)) passedAt.push(ms)
        time.advance(1)
      }
      // The first at once, then one each 250 ms: 40 in ten seconds, never two within 250 ms.
      expect(passedAt, kind).to.have.length(40)
      expect(passedAt[0]).to.equal(0)
      for (let i = 1; i < passedAt.length; i++) expect(passedAt[i] - passedAt[i - 1], `${kind} gap ${i}`).to.equal(250)
    }
  })

  it('keeps a bucket per peer: a broadcast in peer order does not starve the last peer', () => {
    const time = clock()
    const sampler = new RpcSampler({now: time.now})
    const passed = new Map<number, number>([
      [1, 0],
      [2, 0],
      [3, 0],
    ])
    // A leader's heartbeat broadcast every 50 ms, to peers 1, 2, 3 in that order, for 5 seconds.
    for (let round = 0; round < 100; round++) {
      for (const peer of [1, 2, 3]) if (sampler.admit('heartbeat', peer)) passed.set(peer, passed.get(peer)! + 1)
      time.advance(50)
    }
    for (const [peer, count] of passed) expect(count, `heartbeats shown to ${peer}`).to.equal(20)
  })

  it('keeps a bucket per kind: a flood of appends does not hide the heartbeats', () => {
    const time = clock()
    const sampler = new RpcSampler({now: time.now})
    let heartbeats = 0
    for (let ms = 0; ms < 1000; ms++) {
      for (let i = 0; i < 10; i++) sampler.admit('append', 1)
      if (ms % 50 === 0 && sampler.admit('heartbeat', 1)) heartbeats++
      time.advance(1)
    }
    expect(heartbeats).to.equal(4)
  })

  it('takes a rate and a burst: a quiet link may save up to the burst, never more', () => {
    const time = clock()
    const sampler = new RpcSampler({now: time.now, ratePerSecond: 2, burst: 3})
    expect(sampler.admit('append', 1)).to.equal(true)
    time.advance(60_000)
    const burst = Array.from({length: 10}, () => sampler.admit('append', 1)).filter(Boolean).length
    expect(burst).to.equal(3)
    time.advance(499)
    expect(sampler.admit('append', 1)).to.equal(false)
    time.advance(1)
    expect(sampler.admit('append', 1)).to.equal(true)
  })
})
