import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {PassThrough} from 'node:stream'
import type {Socket} from 'node:net'
import {expect} from 'chai'
import {MessageStore, type CommittedEntry} from '../../src/broker/message-store.js'
import {encodePolicy} from '../../src/broker/control-command.js'
import {encodePublish} from '../../src/broker/publish-command.js'
import type {TrimmedGap} from '../../src/broker/offset-gaps.js'
import {SocketOutput} from '../../src/broker/socket-output.js'
import {Subscription, SubscriptionRegistry, type SubscriptionSink} from '../../src/broker/subscription.js'
import {DatabaseWriter} from '../../src/storage/database-writer.js'
import {MIGRATIONS, STATEMENTS} from '../../src/storage/schema.js'
import type {StoredMessage} from '../../src/storage/store-reader.js'
import {StoreReader} from '../../src/storage/store-reader.js'

const publish = (index: number, topic: string): CommittedEntry => ({
  index,
  term: 1,
  type: 'normal',
  data: encodePublish({topic, format: 'RAW', body: `m${index}`, id: null, timestamp: 1_700_000_000_000 + index}),
})

class CollectingSink implements SubscriptionSink {
  readonly received: StoredMessage[] = []
  failed: Error | null = null
  /** Each gap, and how many messages had been received when it was told. */
  readonly gaps: {gap: TrimmedGap; before: number}[] = []
  send(messages: StoredMessage[]): boolean {
    this.received.push(...messages)
    return true
  }
  onceDrained(callback: () => void): void {
    setImmediate(callback)
  }
  fail(error: Error): void {
    this.failed = error
  }
  trimmed(gap: TrimmedGap): void {
    this.gaps.push({gap, before: this.received.length})
  }
}

/** A sink whose buffer is full while `full` is set; `drain()` then calls back who waits. */
class StallingSink extends CollectingSink {
  full = false
  private waiting: (() => void) | null = null
  override send(messages: StoredMessage[]): boolean {
    super.send(messages)
    return !this.full
  }
  override onceDrained(callback: () => void): void {
    this.waiting = callback
  }
  drain(): void {
    this.full = false
    const callback = this.waiting
    this.waiting = null
    callback?.()
  }
}

const policy = (index: number, topics: Record<string, {maxMessages: number}>): CommittedEntry => ({index, term: 1, type: 'normal', data: encodePolicy({cluster: {}, topics})})

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('SubscriptionRegistry with the real store', () => {
  let dir: string
  let writer: DatabaseWriter
  let reader: StoreReader
  let store: MessageStore

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-subs-'))
    const dbPath = path.join(dir, 'node.db')
    writer = await DatabaseWriter.open({path: dbPath, migrations: MIGRATIONS, statements: STATEMENTS})
    reader = new StoreReader(dbPath)
    store = new MessageStore(writer, reader, {dedupWindow: 16, onFatal: (e) => {
      throw e
    }})
  })

  afterEach(async () => {
    await store.close()
    reader.close()
    await writer.close()
    fs.rmSync(dir, {recursive: true, force: true})
  })

  const subscribe = (registry: SubscriptionRegistry, patterns: string[], from: 'beginning' | 'latest' = 'latest'): CollectingSink => {
    const sink = new CollectingSink()
    registry.add(new Subscription(store, sink, patterns, {kind: from}, {protocol: 'test', remote: 'here'}))
    return sink
  }

  it('hands each applied message only to the subscriptions whose patterns match, once each, in order', async () => {
    const registry = new SubscriptionRegistry(store)
    const wide = subscribe(registry, ['a.*', 'a.>', 'a.b'])
    const exact = subscribe(registry, ['c'])
    const everything = subscribe(registry, ['all'])
    for (let i = 0; i < 5; i++) await turn()
    store.apply([publish(1, 'a.b'), publish(2, 'c'), publish(3, 'a.b.c'), publish(4, 'd')])
    expect(wide.received.map((m) => m.raftIndex)).to.deep.equal([1, 3])
    expect(exact.received.map((m) => m.raftIndex)).to.deep.equal([2])
    expect(everything.received.map((m) => m.raftIndex)).to.deep.equal([1, 2, 3, 4])
  })

  it('stops delivering patterns removed from a subscription', async () => {
    const registry = new SubscriptionRegistry(store)
    const sink = new CollectingSink()
    const subscription = new Subscription(store, sink, ['x.*', 'y'], {kind: 'latest'}, {protocol: 'test', remote: 'here'})
    registry.add(subscription)
    for (let i = 0; i < 5; i++) await turn()
    expect(registry.removePatterns(subscription, ['x.*', 'never'])).to.equal(1)
    store.apply([publish(1, 'x.1'), publish(2, 'y')])
    expect(sink.received.map((m) => m.topic)).to.deep.equal(['y'])
  })

  it('reads history across turns of the event loop, many subscriptions sharing the work', async () => {
    const entries: CommittedEntry[] = []
    for (let i = 1; i <= 5000; i++) entries.push(publish(i, `t.${i % 7}`))
    store.apply(entries)
    const registry = new SubscriptionRegistry(store)
    const sinks = Array.from({length: 50}, (_, i) => subscribe(registry, i === 0 ? ['t.3'] : [`none.${i}.*`], 'beginning'))
    // Nothing is read in the turn of the subscribe itself.
    expect(sinks[0].received).to.have.length(0)
    let turns = 0
    while (registry.list().some((s) => !s.isLive) && turns < 10_000) {
      await turn()
      turns++
    }
    expect(turns).to.be.above(1)
    expect(sinks[0].received.map((m) => m.raftIndex)).to.deep.equal(entries.filter((e) => (e.index % 7) === 3).map((e) => e.index))
    expect(sinks.slice(1).every((s) => s.received.length === 0)).to.equal(true)
  })

  it('tells a subscriber that fell behind once per gap retention left, then goes on from the first message kept', async () => {
    store.apply([policy(1, {a: {maxMessages: 3}})])
    const registry = new SubscriptionRegistry(store)
    const sink = new StallingSink()
    registry.add(new Subscription(store, sink, ['a', 'b'], {kind: 'latest'}, {protocol: 'test', remote: 'here'}))
    for (let i = 0; i < 5; i++) await turn()
    sink.full = true
    // Offset 0 of a fills the buffer; offsets 1..9 come while it waits, and retention keeps 7..9.
    let index = 2
    for (let i = 0; i < 10; i++) store.apply([publish(index++, 'a')])
    store.apply([publish(index++, 'b')])
    expect(sink.received.map((m) => m.offset)).to.deep.equal([0])
    sink.drain()
    for (let i = 0; i < 10; i++) await turn()
    expect(sink.received.map((m) => `${m.topic}@${m.offset}`)).to.deep.equal(['a@0', 'a@7', 'a@8', 'a@9', 'b@0'])
    expect(sink.gaps).to.deep.equal([{gap: {topic: 'a', expected: 1, first: 7}, before: 1}])
    // Live again: the next messages come with no more notices.
    store.apply([publish(index++, 'a'), publish(index++, 'a')])
    expect(sink.received.map((m) => m.offset).slice(-2)).to.deep.equal([10, 11])
    expect(sink.gaps).to.have.length(1)
  })

  it('tells nothing to a subscriber from the beginning or an offset that retention kept, and knows topics made later', async () => {
    store.apply([policy(1, {a: {maxMessages: 3}})])
    let index = 2
    for (let i = 0; i < 10; i++) store.apply([publish(index++, 'a')])
    const registry = new SubscriptionRegistry(store)
    const beginning = new StallingSink()
    registry.add(new Subscription(store, beginning, ['all'], {kind: 'beginning'}, {protocol: 'test', remote: 'here'}))
    const fromEight = new StallingSink()
    registry.add(new Subscription(store, fromEight, ['a', 'c'], {kind: 'offset', offset: 8}, {protocol: 'test', remote: 'here'}))
    for (let i = 0; i < 10; i++) await turn()
    expect(beginning.received.map((m) => m.offset)).to.deep.equal([7, 8, 9])
    expect(fromEight.received.map((m) => m.offset)).to.deep.equal([8, 9])
    // A topic made after the subscribe, trimmed before the stalled subscriber reads it: a gap from 0.
    beginning.full = true
    store.apply([policy(index++, {a: {maxMessages: 3}, c: {maxMessages: 2}})])
    store.apply([publish(index++, 'a')])
    for (let i = 0; i < 12; i++) store.apply([publish(index++, 'c')])
    beginning.drain()
    fromEight.drain()
    for (let i = 0; i < 10; i++) await turn()
    expect(beginning.received.map((m) => `${m.topic}@${m.offset}`).slice(3)).to.deep.equal(['a@10', 'c@10', 'c@11'])
    expect(beginning.gaps.map((g) => g.gap)).to.deep.equal([{topic: 'c', expected: 0, first: 10}])
    expect(fromEight.received.map((m) => `${m.topic}@${m.offset}`).slice(2)).to.deep.equal(['a@10', 'c@8', 'c@9', 'c@10', 'c@11'])
    expect(fromEight.gaps).to.deep.equal([])
  })

  it('closes only the subscription whose delivery throws', async () => {
    const registry = new SubscriptionRegistry(store)
    const good = subscribe(registry, ['a'])
    const bad = new CollectingSink()
    bad.send = () => {
      throw new Error('socket gone wrong')
    }
    registry.add(new Subscription(store, bad, ['a'], {kind: 'latest'}, {protocol: 'test', remote: 'here'}))
    for (let i = 0; i < 5; i++) await turn()
    expect(() => store.apply([publish(1, 'a')])).to.not.throw()
    expect(bad.failed?.message).to.equal('socket gone wrong')
    expect(registry.size).to.equal(1)
    store.apply([publish(2, 'a')])
    expect(good.received.map((m) => m.raftIndex)).to.deep.equal([1, 2])
  })
})

describe('SocketOutput: the pending-bytes limit', () => {
  /** A socket that never sends: everything written stays pending. */
  function stuckSocket(): Socket & {ended: string | null} {
    const stream = new PassThrough({highWaterMark: 16}) as unknown as Socket & {ended: string | null}
    stream.ended = null
    const end = stream.end.bind(stream)
    ;(stream as unknown as {end: (line: string) => void}).end = (line: string) => {
      stream.ended = line
      end()
    }
    return stream
  }

  it('cuts off a client past the limit with one last line, and takes no more', async () => {
    const socket = stuckSocket()
    let cut = 0
    const output = new SocketOutput(socket, {highWaterMark: 1 << 20, maxPendingBytes: 10_000, onOverflow: () => cut++, overflowLine: (max) => `TOO SLOW ${max}\n`})
    expect(output.write('x'.repeat(6000))).to.equal(true)
    expect(output.write('y'.repeat(6000))).to.equal(false)
    expect(cut).to.equal(1)
    expect(socket.ended).to.equal('TOO SLOW 10000\n')
    expect(output.write('z')).to.equal(false)
    expect(cut).to.equal(1)
    socket.destroy()
  })
})
