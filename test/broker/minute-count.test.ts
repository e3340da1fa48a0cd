import {expect} from 'chai'
import {MinuteCount} from '../../src/broker/minute-count.js'

describe('MinuteCount', () => {
  it('counts what was added in the last 60 seconds, second by second', () => {
    let now = 1_000_000
    const count = new MinuteCount(() => now)
    count.add(3)
    now += 30_000
    count.add(2)
    expect(count.total()).to.equal(5)
    now += 30_000 // the first add is now 60 s old: out of the window
    expect(count.total()).to.equal(2)
    now += 29_999
    expect(count.total()).to.equal(2)
    now += 1
    expect(count.total()).to.equal(0)
  })

  it('does not count a bucket left from a minute ago when the same slot is reused', () => {
    let now = 5_000
    const count = new MinuteCount(() => now)
    count.add(7)
    now += 60_000 // the same slot, one minute later
    count.add(1)
    expect(count.total()).to.equal(1)
  })

  it('is zero when nothing was added', () => {
    expect(new MinuteCount(() => 123_456).total()).to.equal(0)
  })
})
