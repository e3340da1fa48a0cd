import {expect} from 'chai'
import {FRAME_KIND, FrameReader, FrameTooLargeError, frame} from '../../src/transport/frames.js'

describe('FrameReader', () => {
  it('joins a large frame that arrives in many chunks once, not once per chunk', () => {
    const payload = Buffer.alloc(8 * 1024 * 1024)
    for (let i = 0; i < payload.length; i += 4096) payload[i] = i % 251
    const stream = Buffer.concat([frame(FRAME_KIND.raft, payload), frame(FRAME_KIND.forward, Buffer.from('next'))])
    const reader = new FrameReader()
    const kinds: number[] = []
    const payloads: Buffer[] = []
    const concat = Buffer.concat
    let concats = 0
    let copied = 0
    Buffer.concat = ((list: readonly Uint8Array[], length?: number) => {
      concats++
      copied += length ?? list.reduce((n, b) => n + b.length, 0)
      return concat(list, length)
    }) as typeof Buffer.concat
    try {
      for (let at = 0; at < stream.length; at += 1000) {
        reader.push(stream.subarray(at, at + 1000), (kind, data) => {
          kinds.push(kind)
          payloads.push(Buffer.from(data))
        })
      }
    } finally {
      Buffer.concat = concat
    }
    expect(kinds).to.deep.equal([FRAME_KIND.raft, FRAME_KIND.forward])
    expect(payloads[0].equals(payload)).to.equal(true)
    expect(payloads[1].toString()).to.equal('next')
    // One join when the large frame completes, one small one to read a prefix split over two chunks.
    expect(concats).to.be.at.most(3)
    expect(copied).to.be.lessThan(2 * stream.length)
  })

  it('refuses a frame over the limit as soon as its prefix arrives, also when the prefix is split', () => {
    const header = Buffer.alloc(4)
    header.writeUInt32LE(4097)
    const reader = new FrameReader(4096)
    reader.push(header.subarray(0, 2), () => {})
    expect(() => reader.push(header.subarray(2), () => {})).to.throw(FrameTooLargeError, /4097/)
    expect(() => new FrameReader(4096).push(header, () => {})).to.throw(FrameTooLargeError)
    const empty = Buffer.alloc(4)
    expect(() => new FrameReader(4096).push(empty, () => {})).to.throw(FrameTooLargeError)
  })

  it('takes larger frames once its limit is raised (after the peer authenticated)', () => {
    const reader = new FrameReader(64)
    const kinds: number[] = []
    reader.push(frame(FRAME_KIND.hello, Buffer.alloc(10)), (kind) => {
      kinds.push(kind)
      reader.maxFrameBytes = 1 << 20
    })
    reader.push(frame(FRAME_KIND.raft, Buffer.alloc(1000)), (kind) => void kinds.push(kind))
    expect(kinds).to.deep.equal([FRAME_KIND.hello, FRAME_KIND.raft])
  })

  it('emits every frame of a chunk that holds several, and the rest later', () => {
    const frames = [frame(FRAME_KIND.raft, Buffer.from('a')), frame(FRAME_KIND.raft, Buffer.from('bb')), frame(FRAME_KIND.raft, Buffer.alloc(500, 1))]
    const stream = Buffer.concat(frames)
    for (let cut = 1; cut < stream.length; cut++) {
      const reader = new FrameReader()
      const lengths: number[] = []
      reader.push(stream.subarray(0, cut), (_, p) => void lengths.push(p.length))
      reader.push(stream.subarray(cut), (_, p) => void lengths.push(p.length))
      expect(lengths, `cut at ${cut}`).to.deep.equal([1, 2, 500])
    }
  })
})
