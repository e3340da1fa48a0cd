import {expect} from 'chai'
import {FaultFilter} from '../../src/transport/fault-filter.js'

describe('the fault filter', () => {
  let now = 1_000
  let randomValue = 0.5
  const filter = (): FaultFilter => new FaultFilter(() => now, () => randomValue)

  beforeEach(() => {
    now = 1_000
    randomValue = 0.5
  })

  it('passes everything when no fault is set', () => {
    expect(filter().judge(1)).to.deep.equal({kind: 'pass'})
  })

  it('drops everything to and from a partitioned peer, and only that peer', () => {
    const f = filter()
    f.set(1, {drop: true})
    expect(f.judge(1).kind).to.equal('drop')
    expect(f.judge(2).kind).to.equal('pass')
  })

  it('delays by the fixed delay plus up to the jitter', () => {
    const f = filter()
    f.set(2, {delayMs: 100, jitterMs: 50})
    randomValue = 0.5
    expect(f.judge(2)).to.deep.equal({kind: 'delay', ms: 125})
  })

  it('loses the given share of messages', () => {
    const f = filter()
    f.set(0, {loss: 0.3})
    randomValue = 0.29
    expect(f.judge(0).kind).to.equal('drop')
    randomValue = 0.31
    expect(f.judge(0).kind).to.equal('pass')
  })

  it('lifts a fault by itself when it expires', () => {
    const f = filter()
    f.set(1, {drop: true, until: 2_000})
    expect(f.judge(1).kind).to.equal('drop')
    now = 2_000
    expect(f.judge(1).kind).to.equal('pass')
    expect(f.active().size).to.equal(0)
  })

  it('heals one peer or all of them', () => {
    const f = filter()
    f.set(1, {drop: true})
    f.set(2, {drop: true})
    f.clear(1)
    expect([...f.active().keys()]).to.deep.equal([2])
    f.clear()
    expect(f.active().size).to.equal(0)
  })
})
