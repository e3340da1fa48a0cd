import {expect} from 'chai'
import {NO_RETENTION, parseRetention, policyFromText, policyText} from '../../src/util/retention-spec.js'

describe('--retention: reading the retention spec', () => {
  it('reads cluster limits with sizes and durations', () => {
    expect(parseRetention(['max-messages=1000000,max-bytes=1GB,max-age=24h'])).to.deep.equal({
      cluster: {maxMessages: 1_000_000, maxBytes: 1024 ** 3, maxAgeMs: 86_400_000},
      topics: {},
    })
    expect(parseRetention(['max-bytes=64KB', 'max-age=90s']).cluster).to.deep.equal({maxBytes: 65_536, maxAgeMs: 90_000})
    expect(parseRetention(['max-bytes=1.5mb']).cluster.maxBytes).to.equal(1_572_864)
    expect(parseRetention(['max-bytes=500']).cluster.maxBytes).to.equal(500)
    expect(parseRetention([' max-messages = 5 ']).cluster.maxMessages).to.equal(5)
  })

  it('reads limits of one topic, colons in its name included', () => {
    expect(parseRetention(['topic:orders:max-messages=1000,max-age=1h', 'topic:a.b:c:max-bytes=10MB', 'max-messages=50'])).to.deep.equal({
      cluster: {maxMessages: 50},
      topics: {'a.b:c': {maxBytes: 10 * 1024 ** 2}, orders: {maxMessages: 1000, maxAgeMs: 3_600_000}},
    })
  })

  it('reads nothing and none as no limits', () => {
    expect(parseRetention([])).to.deep.equal(NO_RETENTION)
    expect(parseRetention(['none'])).to.deep.equal(NO_RETENTION)
  })

  it('refuses what does not read with one line naming the part at fault', () => {
    const cases: [string[], RegExp][] = [
      [['max-messages=0'], /"max-messages=0": max-messages must be between 1/],
      [['max-messages=-3'], /max-messages must be a whole number/],
      [['max-messages=1.5'], /max-messages must be a whole number/],
      [['max-messages=99999999999999999999'], /max-messages must be between 1 and/],
      [['max-bytes=10TB'], /"max-bytes=10TB": max-bytes must be a size/],
      [['max-bytes=0KB'], /max-bytes must be between 1 byte/],
      [['max-age=forever'], /max-age: "forever" is not a duration/],
      [['max-age=0s'], /max-age must be at least 1 ms/],
      [['max-age=1000000h'], /too long/],
      [['max-msgs=5'], /unknown limit "max-msgs"/],
      [['max-messages'], /"max-messages": write key=value/],
      [['max-messages='], /write key=value/],
      [['max-messages=5,,max-age=1h'], /write key=value/],
      [['max-messages=5,max-messages=6'], /max-messages is given twice/],
      [['max-messages=5', 'max-messages=6'], /max-messages is given twice for the cluster/],
      [['topic:orders:max-bytes=1KB', 'topic:orders:max-bytes=2KB'], /max-bytes is given twice for topic orders/],
      [['topic:orders'], /write topic:<name>:<limits>/],
      [['topic::max-messages=1'], /"" is not a topic name/],
      [['topic:a b:max-messages=1'], /"a b" is not a topic name/],
      [['topic:a.*:max-messages=1'], /is not a topic name/],
      [['topic:orders:'], /no limits given/],
      [[''], /no limits given/],
      [['none', 'max-messages=1'], /give it alone/],
      [['max-messages=1\nmax-age=1h'], /max-messages/],
    ]
    for (const [values, expected] of cases) {
      let message = ''
      try {
        parseRetention(values)
      } catch (error) {
        message = (error as Error).message
      }
      expect(message, JSON.stringify(values)).to.match(expected)
      expect(message, JSON.stringify(values)).to.match(/^--retention /)
      expect(message.includes('\n'), JSON.stringify(values)).to.equal(false)
    }
  })

  it('writes equal policies alike and reads back only what it writes', () => {
    const a = parseRetention(['topic:z:max-messages=1', 'topic:a:max-age=1s', 'max-bytes=1KB'])
    const b = parseRetention(['max-bytes=1024', 'topic:a:max-age=1000ms', 'topic:z:max-messages=1'])
    expect(policyText(a)).to.equal(policyText(b))
    expect(policyFromText(policyText(a))).to.deep.equal(a)
    for (const bad of ['[]', 'null', '{"cluster":{}}', '{"cluster":{"maxMessages":0},"topics":{}}', '{"cluster":{"x":1},"topics":{}}', '{"cluster":{},"topics":{},"more":1}', '{"cluster":{},"topics":{"":{}}}', '{"cluster":{"maxAgeMs":1e300},"topics":{}}']) {
      expect(() => policyFromText(bad), bad).to.throw()
    }
  })
})
