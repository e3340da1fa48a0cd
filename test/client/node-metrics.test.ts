import {expect} from 'chai'
import {metricValue} from '../../src/client/node-metrics.js'

describe('metricValue: one sample of a node\'s /metrics', () => {
  const text = [
    '# HELP pad_raft_bytes_sent_total Bytes of frames sent to Raft peers',
    '# TYPE pad_raft_bytes_sent_total counter',
    'pad_raft_bytes_sent_total 12345',
    'pad_raft_bytes_sent_total_other 7',
    'pad_raft_term 3',
    'pad_broken NaN',
    'pad_huge 1e400',
    '',
  ].join('\n')

  it('reads the sample of that exact name, not a HELP line or a longer name', () => {
    expect(metricValue(text, 'pad_raft_bytes_sent_total')).to.equal(12345)
    expect(metricValue(text, 'pad_raft_term')).to.equal(3)
  })

  it('says null for a sample that is absent (an older build) or not a finite number', () => {
    expect(metricValue(text, 'pad_raft_bytes_sent')).to.equal(null)
    expect(metricValue(text, 'pad_broken')).to.equal(null)
    expect(metricValue(text, 'pad_huge')).to.equal(null)
    expect(metricValue('', 'pad_raft_term')).to.equal(null)
    expect(metricValue('<html>not metrics</html>', 'pad_raft_term')).to.equal(null)
  })
})
