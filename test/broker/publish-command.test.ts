import {expect} from 'chai'
import {decodePublish, encodePublish, type PublishCommand} from '../../src/broker/publish-command.js'

function roundTrip(command: PublishCommand): PublishCommand {
  return decodePublish(encodePublish(command))
}

describe('publish command encoding', () => {
  const base: PublishCommand = {topic: 'orders.eu', format: 'JSON', body: '{"n":1}', id: null, timestamp: 1_764_000_000_123}

  it('round-trips every field', () => {
    expect(roundTrip(base)).to.deep.equal(base)
    const withId = {...base, id: 'order-7'}
    expect(roundTrip(withId)).to.deep.equal(withId)
  })

  for (const format of ['JSON', 'XML', 'RAW'] as const) {
    it(`round-trips the ${format} format`, () => {
      expect(roundTrip({...base, format}).format).to.equal(format)
    })
  }

  it('round-trips unicode in the topic, the id and the body, byte for byte', () => {
    const command: PublishCommand = {
      topic: 'naïve.日本',
      format: 'RAW',
      body: 'héllo wörld ✓ 日本語 🚀 \u0000 end',
      id: 'ïd-🚀',
      timestamp: 1,
    }
    expect(roundTrip(command)).to.deep.equal(command)
  })

  it('round-trips an empty body and a large body', () => {
    expect(roundTrip({...base, format: 'RAW', body: ''}).body).to.equal('')
    const large = 'x'.repeat(1024 * 1024)
    expect(roundTrip({...base, format: 'RAW', body: large}).body).to.equal(large)
  })

  it('keeps the timestamp exactly, fractions of a millisecond included', () => {
    expect(roundTrip({...base, timestamp: 1_764_000_000_123.25}).timestamp).to.equal(1_764_000_000_123.25)
  })

  it('distinguishes no id from an id: null comes back as null', () => {
    expect(roundTrip({...base, id: null}).id).to.equal(null)
    expect(roundTrip({...base, id: 'a'}).id).to.equal('a')
  })

  it('refuses an empty id, which could not come back as itself', () => {
    expect(() => encodePublish({...base, id: ''})).to.throw(/id must not be empty/)
  })

  it('decodes from a Uint8Array view into a larger buffer', () => {
    const encoded = encodePublish({...base, id: 'x'})
    const bigger = new Uint8Array(encoded.length + 20)
    bigger.set(encoded, 10)
    expect(decodePublish(bigger.subarray(10, 10 + encoded.length))).to.deep.equal({...base, id: 'x'})
  })

  it('refuses data that is not a publish command', () => {
    expect(() => decodePublish(new Uint8Array())).to.throw(/not a publish command/)
    const wrongVersion = Buffer.from(encodePublish(base))
    wrongVersion[0] = 9
    expect(() => decodePublish(wrongVersion)).to.throw(/not a publish command \(version 9\)/)
    const badFormat = Buffer.from(encodePublish(base))
    badFormat[9] = 7
    expect(() => decodePublish(badFormat)).to.throw(/unknown format/)
  })

  it('refuses a truncated command instead of decoding a wrong one', () => {
    const encoded = Buffer.from(encodePublish({...base, id: 'order-7', body: ''}))
    // Cut inside the id, then inside the topic.
    expect(() => decodePublish(encoded.subarray(0, encoded.length - 3))).to.throw(/truncated \(id\)/)
    expect(() => decodePublish(encoded.subarray(0, 14))).to.throw(/truncated \(topic\)/)
  })
})

describe('parsePublishRequest: bodies that break JSON.stringify', () => {
  it('answers BAD_REQUEST for a JSON-value body nested too deeply', async () => {
    const {parsePublishRequest} = await import('../../src/broker/publisher.js')
    let body: unknown = 1
    for (let i = 0; i < 200_000; i++) body = [body]
    expect(() => parsePublishRequest({topic: 't', body}, 1 << 30)).to.throw(/nested too deeply/).with.property('code', 'BAD_REQUEST')
  })
})
