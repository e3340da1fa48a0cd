import {expect} from 'chai'
import {BrokerError} from '../../src/broker/errors.js'
import {forwardedPublishError} from '../../src/broker/forwarded-publish.js'
import {decodeForward, decodeForwardResult, encodeForward, encodeForwardResult} from '../../src/broker/forwarding.js'
import {Logger} from '../../src/broker/logger.js'
import type {ApplyResult, MessageStore} from '../../src/broker/message-store.js'
import {encodePublish} from '../../src/broker/publish-command.js'
import {RaftDriver} from '../../src/broker/raft-driver.js'
import {MemoryStorage} from '../../src/raft/index.js'
import type {StoreWriter} from '../../src/storage/store-writer.js'
import type {RaftStorage} from '../../src/storage/raft-storage.js'
import type {PeerTransport} from '../../src/transport/peer-transport.js'

const MAX_BODY = 1024

function command(topic: string, body: string, format: 'JSON' | 'XML' | 'RAW' = 'JSON'): Uint8Array {
  return encodePublish({topic, format, body, id: null, timestamp: 1_700_000_000_000})
}

describe('forwarded publishes, as the leader sees them', () => {
  it('passes a publish a front end would take', () => {
    expect(forwardedPublishError(command('orders.eu', '{"n":1}'), MAX_BODY)).to.equal(null)
    expect(forwardedPublishError(command('raw', 'anything', 'RAW'), MAX_BODY)).to.equal(null)
  })

  it('refuses, with a code, what a front end would refuse', () => {
    expect(forwardedPublishError(Buffer.from('garbage that is not a publish'), MAX_BODY)).to.deep.include({code: 'BAD_REQUEST'})
    expect(forwardedPublishError(command('bad topic!', '{}'), MAX_BODY)).to.deep.include({code: 'BAD_REQUEST'})
    expect(forwardedPublishError(command('t', '{not json'), MAX_BODY)).to.deep.include({code: 'BAD_REQUEST'})
    expect(forwardedPublishError(command('t', '<a><b></a>', 'XML'), MAX_BODY)).to.deep.include({code: 'BAD_REQUEST'})
    expect(forwardedPublishError(command('t', `"${'x'.repeat(MAX_BODY)}"`), MAX_BODY)).to.deep.include({code: 'TOO_LARGE'})
    const unknownFormat = Buffer.from(command('t', '{}'))
    unknownFormat[9] = 7
    expect(forwardedPublishError(unknownFormat, MAX_BODY)).to.deep.include({code: 'BAD_REQUEST'})
  })

  it('forward results decode only when every field has its type', () => {
    const ok = {ok: true, topic: 't', offset: 1, raftIndex: 2, term: 3}
    expect(decodeForwardResult(encodeForwardResult(9, ok))).to.deep.equal({requestId: 9, outcome: {...ok, duplicate: false}})
    for (const bad of [{...ok, offset: '1'}, {...ok, term: -1}, {ok: true}, {ok: false}, {ok: false, code: 5}, {ok: 'yes'}, [1], null]) {
      expect(() => decodeForwardResult(encodeForwardResult(9, bad as never)), JSON.stringify(bad)).to.throw(Error)
    }
    expect(() => decodeForwardResult(Buffer.from([1, 0, 0, 0, 0x7b]))).to.throw(Error, /not JSON/)
  })
})

/** A RaftDriver as member 0, over memory storage and fakes of the writer, the store and the transport. */
function driver(clusterSize = 3): {log: RaftDriver; sent: {kind: string; to: number; payload: Buffer}[]; lines: string[]} {
  const lines: string[] = []
  const sent: {kind: string; to: number; payload: Buffer}[] = []
  const storage = new MemoryStorage()
  const writer = {writeNow: () => true, write: () => Promise.resolve()} as unknown as StoreWriter
  const store = {appliedIndex: 0, apply: () => new Map<number, ApplyResult>(), takeWritesDue: () => null} as unknown as MessageStore
  const transport = {
    sendRaft: () => {},
    flush: () => {},
    sendForward: (to: number, payload: Buffer) => sent.push({kind: 'forward', to, payload: Buffer.from(payload)}) > 0,
    sendForwardResult: (to: number, payload: Buffer) => void sent.push({kind: 'forwardResult', to, payload: Buffer.from(payload)}),
  } as unknown as PeerTransport
  const log = new RaftDriver(
    {
      self: 0,
      clusterSize,
      // Alone, the member leads after a few ticks; with peers, it never campaigns during a test.
      timing: clusterSize === 1 ? {tickMs: 5, electionTimeoutMs: 10, heartbeatMs: 5} : {tickMs: 1000, electionTimeoutMs: 100_000, heartbeatMs: 1000},
      proposalTimeoutMs: 60_000,
      maxBodyBytes: MAX_BODY,
    },
    storage as unknown as RaftStorage,
    writer,
    store,
    transport,
    new Logger('json', {}, (line) => void lines.push(line)),
  )
  return {log, sent, lines}
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 20))
}

describe('RaftDriver forwarding', () => {
  let logs: RaftDriver[] = []
  afterEach(async () => {
    for (const log of logs) await log.close()
    logs = []
  })

  it('answers a forward that does not decode with nothing, and as a follower answers NOT_LEADER without proposing', async () => {
    const {log, sent} = driver()
    logs.push(log)
    expect(() => log.onForward(1, Buffer.from([1, 2]))).to.not.throw()
    // Not the leader: whatever is forwarded is answered NOT_LEADER, and never proposed.
    log.onForward(1, encodeForward(4, Buffer.from('garbage')))
    await settle()
    expect(sent.map((s) => [s.kind, s.to])).to.deep.equal([['forwardResult', 1]])
    expect(decodeForwardResult(sent[0].payload).outcome).to.include({ok: false, code: 'NOT_LEADER'})
  })

  it('as leader, refuses a forwarded publish a front end would refuse, with its code, and proposes nothing', async () => {
    const {log, sent, lines} = driver(1)
    logs.push(log)
    for (let i = 0; i < 100 && log.status().role !== 'LEADER'; i++) await settle()
    expect(log.status().role).to.equal('LEADER')
    const lastIndex = log.status().lastIndex
    log.onForward(1, encodeForward(7, Buffer.from('garbage that is not a publish')))
    log.onForward(1, encodeForward(8, command('t', `"${'x'.repeat(MAX_BODY)}"`)))
    log.onForward(1, encodeForward(9, command('no spaces allowed', '{}')))
    await settle()
    const answers = sent.map((s) => decodeForwardResult(s.payload))
    expect(answers.map((a) => [a.requestId, a.outcome.code])).to.deep.equal([
      [7, 'BAD_REQUEST'],
      [8, 'TOO_LARGE'],
      [9, 'BAD_REQUEST'],
    ])
    expect(log.status().lastIndex).to.equal(lastIndex)
    // One line for the kind of refusal, not one per forward.
    expect(lines.filter((l) => l.includes('refusing a forwarded publish'))).to.have.length(1)
  })

  it('takes a forward result only from the member the publish was forwarded to, and only when well-typed', async () => {
    const {log, sent} = driver()
    logs.push(log)
    // Member 1 leads in term 1: our publish is forwarded to it.
    log.step({type: 'heartbeat', from: 1, to: 0, term: 1, commit: 0})
    await settle()
    let outcome: ApplyResult | Error | null = null
    log.propose(command('t', '{}')).then(
      (r) => (outcome = r),
      (e: Error) => (outcome = e),
    )
    await settle()
    expect(sent.map((s) => [s.kind, s.to])).to.deep.equal([['forward', 1]])
    const {requestId} = decodeForward(sent[0].payload)
    const ok = {ok: true, topic: 't', offset: 0, raftIndex: 1, term: 1}
    log.onForwardResult(2, encodeForwardResult(requestId, ok))
    expect(() => log.onForwardResult(1, Buffer.from([requestId, 0, 0, 0, 0x7b]))).to.not.throw()
    log.onForwardResult(1, encodeForwardResult(requestId, {...ok, offset: 'zero'} as never))
    await settle()
    expect(outcome).to.equal(null)
    log.onForwardResult(1, encodeForwardResult(requestId, {ok: false, code: 'BAD_REQUEST', message: 'topic is bad'}))
    await settle()
    expect(outcome).to.be.instanceOf(BrokerError)
    expect((outcome as unknown as BrokerError).code).to.equal('BAD_REQUEST')
  })

  it('drops a Raft message out of bounds before the core sees it', async () => {
    const {log} = driver()
    logs.push(log)
    log.step({type: 'heartbeat', from: 1, to: 0, term: 0xffff_ffff, commit: 0})
    log.step({type: 'heartbeat', from: 1, to: 0, term: 3, commit: 0})
    await settle()
    expect(log.status().term).to.equal(3)
  })
})
