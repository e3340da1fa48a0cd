import {expect} from 'chai'
import type {Message} from '../../src/raft/index.js'
import {FRAME_KIND, FrameReader, FrameTooLargeError, frame} from '../../src/transport/frames.js'
import {decodeMessage, encodeMessage} from '../../src/transport/message-codec.js'

describe('Raft messages on the wire', () => {
  const samples: Message[] = [
    {type: 'heartbeat', from: 0, to: 2, term: 7, commit: 42},
    {type: 'vote', from: 1, to: 0, term: 3, logTerm: 2, index: 99, transfer: true},
    {type: 'appResp', from: 2, to: 0, term: 5, index: 10, reject: true, rejectHint: 8, hintTerm: 4},
    {
      type: 'app',
      from: 0,
      to: 1,
      term: 9,
      logTerm: 8,
      index: 1_000_000_000_123,
      commit: 5,
      entries: [
        {index: 1_000_000_000_124, term: 9, type: 'noop', data: new Uint8Array()},
        {index: 1_000_000_000_125, term: 9, type: 'normal', data: Buffer.from('héllo wörld')},
        {index: 1_000_000_000_126, term: 9, type: 'conf', data: Buffer.from([1, 0, 1, 0, 0, 0, 0, 0, 3])},
      ],
    },
    {type: 'app', from: 0, to: 1, term: 1, logTerm: 0, index: 0, commit: 0, entries: []},
  ]

  for (const message of samples) {
    it(`round-trips a ${message.type} message with every field it carries`, () => {
      const decoded = decodeMessage(encodeMessage(message))
      const normalize = (m: Message): unknown =>
        JSON.parse(JSON.stringify({...m, entries: m.entries?.map((e) => ({...e, data: Buffer.from(e.data).toString('hex')}))}))
      expect(normalize(decoded)).to.deep.equal(normalize(message))
    })
  }

  it('keeps a heartbeat small', () => {
    expect(encodeMessage(samples[0]).length).to.be.lessThan(24)
  })

  it('refuses truncated, unknown and trailing bytes instead of guessing', () => {
    const good = encodeMessage(samples[3])
    expect(() => decodeMessage(good.subarray(0, good.length - 3))).to.throw()
    expect(() => decodeMessage(Buffer.concat([good, Buffer.from([0])]))).to.throw(/trailing/)
    const unknown = Buffer.from(good)
    unknown[0] = 200
    expect(() => decodeMessage(unknown)).to.throw(/unknown/)
    expect(() => decodeMessage(Buffer.alloc(3))).to.throw(/too short/)
  })
})

describe('length-prefixed frames', () => {
  it('reassembles frames split at every byte boundary, and several frames in one chunk', () => {
    const frames = [frame(FRAME_KIND.raft, Buffer.from('one')), frame(FRAME_KIND.forward, Buffer.alloc(300, 7)), frame(FRAME_KIND.hello, Buffer.from('{}'))]
    const stream = Buffer.concat(frames)
    for (let cut = 1; cut < stream.length; cut += 7) {
      const reader = new FrameReader()
      const got: string[] = []
      const emit = (kind: number, payload: Buffer): void => void got.push(`${kind}:${payload.length}`)
      reader.push(stream.subarray(0, cut), emit)
      reader.push(stream.subarray(cut), emit)
      expect(got, `cut at ${cut}`).to.deep.equal(['2:3', '3:300', '1:2'])
    }
  })

  it('drops the connection on a frame over the limit rather than buffering it', () => {
    const reader = new FrameReader(1024)
    const header = Buffer.alloc(4)
    header.writeUInt32LE(10_000_000)
    expect(() => reader.push(header, () => {})).to.throw(FrameTooLargeError)
  })
})
