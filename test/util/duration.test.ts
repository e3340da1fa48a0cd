import {expect} from 'chai'
import {parseDuration} from '../../src/util/duration.js'

function refusal(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    return (error as Error).message
  }
  return expect.fail('expected a refusal')
}

describe('durations', () => {
  it('reads ms, s, m and h; a bare number is in the unit the value says', () => {
    expect(parseDuration('150ms', '--x')).to.equal(150)
    expect(parseDuration(' 1.5s ', '--x')).to.equal(1500)
    expect(parseDuration('10m', '--x')).to.equal(600_000)
    expect(parseDuration('1h', '--x')).to.equal(3_600_000)
    expect(parseDuration('100', 'delay')).to.equal(100)
    expect(parseDuration('10', '--for', {unit: 's'})).to.equal(10_000)
    expect(parseDuration('10s', '--for', {unit: 's'})).to.equal(10_000)
    expect(parseDuration('0.0004s', '--x')).to.equal(0)
  })

  it('refuses with the value named, in one line, with the examples it is given', () => {
    expect(refusal(() => parseDuration('1x', '--for', {unit: 's'}))).to.equal('--for: "1x" is not a duration: use e.g. 150ms, 10s, 1m')
    expect(refusal(() => parseDuration('fast', 'delay', {examples: '100, 100ms, 1.5s'}))).to.equal('delay: "fast" is not a duration: use e.g. 100, 100ms, 1.5s')
    for (const bad of ['', ' ', '-1', '1e3', '1.', '.5s', '1 s s', '5d', 'Infinity', '9'.repeat(400), '1\n2']) {
      expect(refusal(() => parseDuration(bad, '--x')), JSON.stringify(bad)).to.match(/^--x: ".*" is not a duration: use e\.g\. 150ms, 10s, 1m$/)
    }
  })

  it('keeps to its bounds', () => {
    expect(refusal(() => parseDuration('0', '--wait', {unit: 's', minMs: 100}))).to.equal('--wait must be at least 100 ms')
    expect(parseDuration('100ms', '--wait', {minMs: 100})).to.equal(100)
    expect(refusal(() => parseDuration('2m', '--jitter', {maxMs: 60_000}))).to.equal('--jitter: 120000 ms is too long (at most 60000 ms)')
    expect(parseDuration('60s', '--jitter', {maxMs: 60_000})).to.equal(60_000)
  })
})
