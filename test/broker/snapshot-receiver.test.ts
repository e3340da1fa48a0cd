import {expect} from 'chai'
import {SnapshotReceiver} from '../../src/broker/snapshot-receiver.js'
import {STATE_TABLES} from '../../src/storage/schema.js'
import type {StoreWriter} from '../../src/storage/store-writer.js'
import type {WriteOp} from '../../src/storage/writer-protocol.js'
import {LogLimiter} from '../../src/transport/log-limiter.js'
import type {PeerTransport} from '../../src/transport/peer-transport.js'
import {decodeSnapshotFrame, encodeChunk, StreamDigest, type SnapshotFrame} from '../../src/transport/snapshot-frames.js'

// The follower's side of a stream, on its own: what it answers a begin, which plans and chunks it
// takes against what it said it holds, and that no stream begins while one waits to be installed.

const LEADER = 0
const TERM = 4
const row = (index: number): (string | number | null)[] => [index, 't', index - 1, 'RAW', `m${index}`, 1_700_000_000_000, null]

interface Harness {
  receiver: SnapshotReceiver
  /** What the follower sent the leader, decoded. */
  sent: SnapshotFrame[]
  writes: WriteOp[][]
  completed: {base: number; rows: number}[]
  installPending: {value: boolean}
}

function harness(applied: number): Harness {
  const sent: SnapshotFrame[] = []
  const writes: WriteOp[][] = []
  const completed: {base: number; rows: number}[] = []
  const installPending = {value: false}
  const writer = {
    path: ':memory:',
    write: async (ops: WriteOp[]) => void writes.push(ops),
    writeAsync: (ops: WriteOp[]) => void writes.push(ops),
  } as unknown as StoreWriter
  const transport = {
    sendSnapshot: (_to: number, kind: SnapshotFrame['kind'], payload: Buffer) => {
      sent.push(decodeSnapshotFrame(kind, payload))
      return true
    },
  } as unknown as PeerTransport
  const receiver = new SnapshotReceiver({
    self: 1,
    writer,
    transport,
    refusals: new LogLimiter({warn: () => {}}),
    leadership: () => ({leader: LEADER, term: TERM}),
    appliedIndex: () => applied,
    onDiskFull: (error) => {
      throw error
    },
    installPending: () => installPending.value,
    onComplete: (_from, _begin, staged) => void completed.push(staged),
  })
  return {receiver, sent, writes, completed, installPending}
}

const begin = (stream: number): SnapshotFrame => ({kind: 'begin', stream, leaderTerm: TERM, index: 100, term: TERM, membership: {voters: [0, 1, 2], learners: []}})
const plan = (stream: number, base: number): SnapshotFrame => ({kind: 'plan', stream, base})
const chunk = (stream: number, seq: number, rows: (string | number | null)[][]): SnapshotFrame => decodeSnapshotFrame('chunk', encodeChunk(stream, seq, 'messages', rows).payload)
const refusals = (sent: SnapshotFrame[]): string[] => sent.flatMap((f) => (f.kind === 'ack' && !f.ok ? [f.reason ?? ''] : []))
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('snapshot receiver: what a follower holds decides what it takes', () => {
  it('answers a begin with its applied index, takes the rows above the base and hands the plan over at the end', async () => {
    const h = harness(60)
    h.receiver.onFrame(LEADER, begin(1))
    expect(h.sent).to.deep.equal([{kind: 'have', stream: 1, applied: 60}])
    h.receiver.onFrame(LEADER, plan(1, 60))
    const c = chunk(1, 0, [row(61), row(100)])
    h.receiver.onFrame(LEADER, c)
    const digest = new StreamDigest()
    digest.add((c as {digest: Buffer}).digest)
    await settle()
    const tables = STATE_TABLES.map((name) => ({name, rows: name === 'messages' ? 2 : 0}))
    h.receiver.onFrame(LEADER, {kind: 'end', stream: 1, chunks: 1, tables, digest: digest.digest()})
    await settle()
    expect(refusals(h.sent)).to.deep.equal([])
    expect(h.completed).to.deep.equal([{base: 60, rows: 2}])
  })

  it('refuses a plan that leaves out rows it does not hold, a chunk before the plan, and rows at or below the base or past the snapshot', async () => {
    const h = harness(60)
    h.receiver.onFrame(LEADER, begin(1))
    h.receiver.onFrame(LEADER, plan(1, 61))
    h.receiver.onFrame(LEADER, begin(2))
    h.receiver.onFrame(LEADER, chunk(2, 0, [row(70)]))
    h.receiver.onFrame(LEADER, begin(3))
    h.receiver.onFrame(LEADER, plan(3, 50))
    h.receiver.onFrame(LEADER, chunk(3, 0, [row(50)]))
    h.receiver.onFrame(LEADER, begin(4))
    h.receiver.onFrame(LEADER, plan(4, 50))
    h.receiver.onFrame(LEADER, chunk(4, 0, [row(101)]))
    h.receiver.onFrame(LEADER, begin(5))
    h.receiver.onFrame(LEADER, plan(5, 0))
    h.receiver.onFrame(LEADER, plan(5, 0))
    await settle()
    expect(refusals(h.sent)).to.deep.equal([
      'the plan leaves out rows up to 61, we hold those up to 60 only',
      'chunk 0 came before the plan',
      'chunk 0: messages.raft_index 50 is not in 51..100',
      'chunk 0: messages.raft_index 101 is not in 51..100',
      'the stream is planned twice',
    ])
    expect(h.completed).to.deep.equal([])
  })

  it('refuses a begin while a stream received earlier waits to be installed', () => {
    const h = harness(60)
    h.installPending.value = true
    h.receiver.onFrame(LEADER, begin(1))
    expect(refusals(h.sent)).to.deep.equal(['a snapshot received earlier is being installed'])
    expect(h.writes, 'staging untouched').to.deep.equal([])
  })
})
