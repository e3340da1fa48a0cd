import {expect} from 'chai'
import type {Message} from '../../src/raft/index.js'
import {mulberry32} from '../../src/chaos/random.js'
import {decodeMessage, encodeMessage} from '../../src/transport/message-codec.js'


const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000)

/** Decodes, and fails the test unless the outcome is a message or a plain Error. */
function decodeOrPlainError(bytes: Buffer, what: string): void {
  try {
    decodeMessage(bytes)
  } catch (error) {
    expect(error, `${what} (seed ${SEED}, FUZZ_SEED=${SEED} to replay): ${bytes.toString('hex').slice(0, 200)}`).to.be.instanceOf(Error)
    expect((error as Error).constructor, `${what} (seed ${SEED}): ${(error as Error).message}`).to.equal(Error)
  }
}

describe('Raft message codec on hostile bytes', () => {
  const valid: Message[] = [
    {type: 'heartbeat', from: 0, to: 2, term: 7, commit: 42},
    {type: 'app', from: 0, to: 1, term: 9, logTerm: 8, index: 4, commit: 5, entries: [{index: 5, term: 9, type: 'normal', data: Buffer.from('body')}]},
    {type: 'appResp', from: 2, to: 0, term: 5, index: 10, reject: true, rejectHint: 8, hintTerm: 4},
  ]

  it('random bytes decode to a message or a plain Error, never anything else', () => {
    const random = mulberry32(SEED)
    for (let i = 0; i < 20_000; i++) {
      const bytes = Buffer.alloc(Math.floor(random() * 80))
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256)
      // A valid type byte and flags make the decoder go deeper.
      if (bytes.length > 0 && random() < 0.7) bytes[0] = Math.floor(random() * 9)
      decodeOrPlainError(bytes, `random input ${i}`)
    }
  })

  it('valid messages with bytes flipped, cut or added decode to a message or a plain Error', () => {
    const random = mulberry32(SEED + 1)
    for (let i = 0; i < 20_000; i++) {
      const bytes = Buffer.from(encodeMessage(valid[i % valid.length]))
      const flips = 1 + Math.floor(random() * 3)
      for (let f = 0; f < flips; f++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256)
      const cut = random() < 0.3 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes
      const grown = random() < 0.2 ? Buffer.concat([cut, Buffer.alloc(Math.floor(random() * 20), 0xff)]) : cut
      decodeOrPlainError(grown, `mutation ${i}`)
    }
  })

  it('refuses an entry count the bytes cannot hold before allocating for it', () => {
    const bytes = Buffer.from(encodeMessage({type: 'app', from: 0, to: 1, term: 1, logTerm: 0, index: 0, commit: 0, entries: []}))
    bytes.writeUInt32LE(0xffff_ffff, bytes.length - 4)
    expect(() => decodeMessage(bytes)).to.throw(Error, /claims 4294967295 entries/)
  })

  it('encodeMessage refuses a value the wire cannot carry instead of writing another one', () => {
    expect(() => encodeMessage({type: 'vote', from: 0, to: 1, term: 0x1_0000_0000})).to.throw(Error, /term 4294967296/)
    expect(() => encodeMessage({type: 'vote', from: 0, to: 1, term: -1})).to.throw(Error, /term -1/)
    expect(() => encodeMessage({type: 'vote', from: 70_000, to: 1, term: 1})).to.throw(Error, /from 70000/)
    expect(() =>
      encodeMessage({type: 'app', from: 0, to: 1, term: 1, logTerm: 0, index: 0, commit: 0, entries: [{index: 1, term: 2 ** 32, type: 'normal', data: new Uint8Array()}]}),
    ).to.throw(Error, /entry term/)
    expect(encodeMessage({type: 'heartbeat', from: 0, to: 1, term: 0xffff_ffff}).length).to.be.greaterThan(0)
  })
})
