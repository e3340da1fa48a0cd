import {expect} from 'chai'
import {mulberry32} from '../../src/chaos/random.js'
import {
  decodeSnapshotFrame,
  encodeChunk,
  encodeSnapshotFrame,
  MAX_SNAPSHOT_CHUNK_BYTES,
  sha256,
  StreamDigest,
  type SnapshotFrame,
} from '../../src/transport/snapshot-frames.js'

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000)
const KINDS = ['begin', 'have', 'plan', 'chunk', 'end', 'ack'] as const

/** Decodes, and fails the test unless the outcome is a frame or a plain Error. */
function decodeOrPlainError(kind: SnapshotFrame['kind'], bytes: Buffer, what: string): SnapshotFrame | null {
  try {
    return decodeSnapshotFrame(kind, bytes)
  } catch (error) {
    expect(error, `${what} (FUZZ_SEED=${SEED} to replay)`).to.be.instanceOf(Error)
    expect((error as Error).constructor, `${what} (FUZZ_SEED=${SEED}): ${(error as Error).message}`).to.equal(Error)
    return null
  }
}

const ROWS = [
  [1, 'news', 0, 'JSON', '{"n":0}', 1_700_000_000_000, null],
  [2, 'ünïcødé 🚀', 1, 'RAW', 'x'.repeat(300), 1_700_000_000_001, 'id-1'],
  [3, 'blob', 2, 'RAW', Buffer.from([0, 1, 2, 255]), -1.5, ''],
]

const FRAMES: SnapshotFrame[] = [
  {kind: 'begin', stream: 7, leaderTerm: 4, index: 1234, term: 3, membership: {voters: [0, 1, 2], learners: []}},
  {kind: 'begin', stream: 8, leaderTerm: 4, index: 1234, term: 3, membership: {voters: [0, 2, 5], learners: [1, 9]}},
  {kind: 'have', stream: 7, applied: 1200},
  {kind: 'have', stream: 7, applied: 0},
  {kind: 'plan', stream: 7, base: 1200},
  {kind: 'end', stream: 7, chunks: 12, tables: [{name: 'messages', rows: 34}, {name: 'topics', rows: 2}], digest: sha256(Buffer.from('x'))},
  {kind: 'ack', stream: 7, seq: 3, ok: true},
  {kind: 'ack', stream: 7, seq: 3, ok: false, reason: 'chunk 3 out of order (expected 2)'},
]

describe('snapshot stream frames', () => {
  it('round-trips every frame kind, chunks with every kind of cell', () => {
    for (const frame of FRAMES) expect(decodeSnapshotFrame(frame.kind, encodeSnapshotFrame(frame))).to.deep.equal(frame)
    const {payload, digest} = encodeChunk(7, 2, 'messages', ROWS)
    const decoded = decodeSnapshotFrame('chunk', payload)
    expect(decoded).to.deep.equal({kind: 'chunk', stream: 7, seq: 2, table: 'messages', rows: ROWS, digest, intact: true})
  })

  it('cuts a long refusal reason so it still fits its frame', () => {
    const decoded = decodeSnapshotFrame('ack', encodeSnapshotFrame({kind: 'ack', stream: 1, seq: 0, ok: false, reason: '€'.repeat(1000)}))
    expect(decoded.kind === 'ack' && decoded.reason).to.match(/^€{66}$/)
  })

  it('says when a chunk does not match its checksum, without decoding its rows', () => {
    const {payload} = encodeChunk(1, 0, 'messages', ROWS)
    for (const at of [20, payload.length - 40, payload.length - 1]) {
      const corrupt = Buffer.from(payload)
      corrupt[at] ^= 0x55
      const decoded = decodeSnapshotFrame('chunk', corrupt)
      expect(decoded, `byte ${at}`).to.include({kind: 'chunk', intact: false})
      expect(decoded.kind === 'chunk' && decoded.rows).to.deep.equal([])
    }
  })

  it('refuses truncated frames, trailing bytes, oversized chunks and absurd counts with a plain Error', () => {
    for (const frame of FRAMES) {
      const bytes = encodeSnapshotFrame(frame)
      for (let cut = 0; cut < bytes.length; cut++) expect(decodeOrPlainError(frame.kind, bytes.subarray(0, cut), `${frame.kind} cut at ${cut}`)).to.equal(null)
      expect(decodeOrPlainError(frame.kind, Buffer.concat([bytes, Buffer.from([0])]), `${frame.kind} + 1 byte`)).to.equal(null)
    }
    expect(() => decodeSnapshotFrame('chunk', Buffer.alloc(MAX_SNAPSHOT_CHUNK_BYTES + 1))).to.throw(Error, /at most/)
    expect(() => encodeChunk(1, 0, 'messages', [['x'.repeat(MAX_SNAPSHOT_CHUNK_BYTES)]])).to.throw(Error, /at most/)
    // A chunk claiming four billion rows in a few bytes, with a valid digest.
    const body = Buffer.alloc(8 + 1 + 8 + 4 + 2)
    body.writeUInt8(8, 8)
    body.write('messages', 9)
    body.writeUInt32LE(0xffff_ffff, 17)
    body.writeUInt16LE(7, 21)
    expect(() => decodeSnapshotFrame('chunk', Buffer.concat([body, sha256(body)]))).to.throw(Error, /claims 4294967295 rows/)
    // Names and counts the encoder refuses to write.
    expect(() => encodeChunk(1, 0, 'x'.repeat(65), [[1]])).to.throw(Error)
    expect(() => encodeChunk(1, 0, 'messages', [[1], [1, 2]])).to.throw(Error, /columns/)
    expect(() => encodeChunk(1, 0, 'messages', [[10n as unknown as number]])).to.throw(Error, /cell/)
  })

  it('refuses an applied index, base or row count that is no whole number >= 0, both ways', () => {
    const end: SnapshotFrame = {kind: 'end', stream: 7, chunks: 1, tables: [{name: 'messages', rows: 1}], digest: sha256(Buffer.from('x'))}
    const have = (applied: number): Buffer => {
      const bytes = Buffer.alloc(12)
      bytes.writeUInt32LE(7, 0)
      bytes.writeDoubleLE(applied, 4)
      return bytes
    }
    for (const bad of [-1, 0.5, NaN, Infinity, 2 ** 53]) {
      expect(() => decodeSnapshotFrame('have', have(bad)), String(bad)).to.throw(Error, /applied index .* is not a count/)
      expect(() => encodeSnapshotFrame({kind: 'have', stream: 7, applied: bad}), String(bad)).to.throw(Error, /count/)
      expect(() => encodeSnapshotFrame({kind: 'plan', stream: 7, base: bad}), String(bad)).to.throw(Error, /count/)
      expect(() => encodeSnapshotFrame({...end, tables: [{name: 'messages', rows: bad}]}), String(bad)).to.throw(Error, /count/)
      const plan = encodeSnapshotFrame({kind: 'plan', stream: 7, base: 3})
      plan.writeDoubleLE(bad, 4)
      expect(() => decodeSnapshotFrame('plan', plan), String(bad)).to.throw(Error, /base .* is not a count/)
    }
    expect(decodeSnapshotFrame('have', have(2 ** 53 - 1))).to.deep.equal({kind: 'have', stream: 7, applied: 2 ** 53 - 1})
    // An end whose row count is no count, claiming more tables than it has bytes for, or more than any state has.
    const bytes = encodeSnapshotFrame(end)
    bytes.writeDoubleLE(-3, 8 + 1 + 1 + 'messages'.length)
    expect(() => decodeSnapshotFrame('end', bytes)).to.throw(Error, /row count -3 is not a count/)
    bytes.writeDoubleLE(1, 8 + 1 + 1 + 'messages'.length)
    bytes.writeUInt8(2, 8)
    expect(() => decodeSnapshotFrame('end', bytes)).to.throw(Error, /truncated/)
    bytes.writeUInt8(200, 8)
    expect(() => decodeSnapshotFrame('end', bytes)).to.throw(Error, /200 tables/)
  })

  it('a chunk of a table the receiver does not know still decodes: the table is the receiver\'s to check', () => {
    const {payload} = encodeChunk(1, 0, 'raft_state', [[1, 2, null, 3]])
    expect(decodeSnapshotFrame('chunk', payload)).to.include({table: 'raft_state', intact: true})
  })

  it('the stream digest covers every chunk digest, in order', () => {
    const a = sha256(Buffer.from('a'))
    const b = sha256(Buffer.from('b'))
    const ab = new StreamDigest()
    ab.add(a)
    ab.add(b)
    const ba = new StreamDigest()
    ba.add(b)
    ba.add(a)
    expect(ab.digest().equals(ba.digest())).to.equal(false)
  })

  it('random bytes, and valid frames flipped, cut or extended, decode to a frame or a plain Error', () => {
    const random = mulberry32(SEED)
    const valid = [...FRAMES.map((f) => ({kind: f.kind, bytes: encodeSnapshotFrame(f)})), {kind: 'chunk' as const, bytes: encodeChunk(3, 1, 'messages', ROWS).payload}]
    for (let i = 0; i < 20_000; i++) {
      const kind = KINDS[i % KINDS.length]
      const bytes = Buffer.alloc(Math.floor(random() * 120))
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256)
      decodeOrPlainError(kind, bytes, `random ${kind} ${i}`)
      const base = valid[i % valid.length]
      const mutated = Buffer.from(base.bytes)
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256)
      const cut = random() < 0.3 ? mutated.subarray(0, Math.floor(random() * mutated.length)) : mutated
      decodeOrPlainError(base.kind, cut, `mutated ${base.kind} ${i}`)
    }
  })
})
