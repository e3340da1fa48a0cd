import {expect} from 'chai'
import {LoopDelayMonitor} from '../../src/broker/loop-delay.js'

describe('LoopDelayMonitor', () => {
  it('reports a block of the event loop in its max, in milliseconds', async () => {
    const monitor = new LoopDelayMonitor()
    try {
      await new Promise((resolve) => setTimeout(resolve, 50))
      const started = Date.now()
      while (Date.now() - started < 150) {
        // Hold the loop, as a synchronous scan would.
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
      const delay = monitor.read()
      expect(delay.maxMs).to.be.at.least(120)
      expect(delay.maxMs).to.be.below(5000)
      expect(delay.p99Ms).to.be.at.most(delay.maxMs)
    } finally {
      monitor.stop()
    }
  })

  it('reads zero before any sample', () => {
    const monitor = new LoopDelayMonitor()
    expect(monitor.read()).to.deep.equal({maxMs: 0, p99Ms: 0})
    monitor.stop()
  })
})
