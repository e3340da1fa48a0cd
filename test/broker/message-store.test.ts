import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {MessageStore, type CommittedEntry} from '../../src/broker/message-store.js'
import {encodePublish} from '../../src/broker/publish-command.js'
import {DatabaseWriter} from '../../src/storage/database-writer.js'
import {MIGRATIONS, STATEMENTS} from '../../src/storage/schema.js'
import {StoreReader} from '../../src/storage/store-reader.js'
import {forgetDedupIdsOp, insertDedupIdsOp, setAppliedOp, setTopicsOp} from '../../src/storage/schema-rows.js'

const publish = (index: number, topic: string, body: string, id: string | null = null): CommittedEntry => ({
  index,
  term: 1,
  type: 'normal',
  data: encodePublish({topic, format: 'RAW', body, id, timestamp: 1_700_000_000_000 + index}),
})
const noop = (index: number): CommittedEntry => ({index, term: 1, type: 'noop', data: new Uint8Array()})

describe('MessageStore: the state machine', () => {
  let dir: string
  let dbPath: string
  let writer: DatabaseWriter
  let reader: StoreReader
  let current: MessageStore | null = null
  const fatal: Error[] = []

  const open = async (): Promise<MessageStore> => {
    writer = await DatabaseWriter.open({path: dbPath, migrations: MIGRATIONS, statements: STATEMENTS})
    reader = new StoreReader(dbPath)
    current = new MessageStore(writer, reader, {dedupWindow: 3, onFatal: (e) => fatal.push(e)})
    return current
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-store-'))
    dbPath = path.join(dir, 'node.db')
    fatal.length = 0
  })

  afterEach(async () => {
    await current?.close()
    reader.close()
    await writer.close()
    fs.rmSync(dir, {recursive: true, force: true})
    expect(fatal).to.deep.equal([])
  })

  it('assigns per-topic offsets 0,1,2,... in log order, skipping no-ops', async () => {
    const store = await open()
    const results = store.apply([noop(1), publish(2, 'a', 'x'), publish(3, 'b', 'y'), publish(4, 'a', 'z')])
    expect([...results.values()].map((r) => `${r.topic}@${r.offset}`)).to.deep.equal(['a@0', 'b@0', 'a@1'])
    expect(store.appliedIndex).to.equal(4)
  })

  it('answers a repeated dedup id with the original offset and stores nothing', async () => {
    const store = await open()
    store.apply([publish(1, 'a', 'first', 'id-1'), publish(2, 'a', 'again', 'id-1')])
    const again = store.apply([publish(3, 'a', 'third', 'id-1')]).get(3)!
    expect(again).to.include({offset: 0, duplicate: true})
    expect(store.messageCount).to.equal(1)
  })

  it('forgets ids beyond the window, the same way on every node', async () => {
    const store = await open()
    store.apply([publish(1, 'a', '1', 'k1'), publish(2, 'a', '2', 'k2'), publish(3, 'a', '3', 'k3'), publish(4, 'a', '4', 'k4')])
    expect(store.apply([publish(5, 'a', '5', 'k1')]).get(5)!.duplicate).to.equal(false)
    expect(store.apply([publish(6, 'a', '6', 'k4')]).get(6)!.duplicate).to.equal(true)
  })

  it('skips entries it has applied already (a replay after restart) and refuses a gap', async () => {
    const store = await open()
    store.apply([publish(1, 'a', 'x')])
    expect(store.apply([publish(1, 'a', 'x')]).size).to.equal(0)
    expect(() => store.apply([publish(3, 'a', 'y')])).to.throw(/out of order/)
  })

  it('reads messages not yet written: a subscriber catching up never sees a gap', async () => {
    const store = await open()
    store.apply([publish(1, 'a', 'x'), publish(2, 'b', 'y'), publish(3, 'a', 'z')])
    expect(store.readAfter(0, 10).map((m) => m.body)).to.deep.equal(['x', 'y', 'z'])
    expect(store.readAfter(1, 10, 'a').map((m) => m.body)).to.deep.equal(['z'])
    await store.close()
    expect(store.pendingWrites).to.equal(0)
    expect(store.readAfter(0, 2).map((m) => m.body)).to.deep.equal(['x', 'y'])
  })

  it('keeps offsets, dedup ids and the applied index across a restart', async () => {
    let store = await open()
    store.apply([publish(1, 'a', 'x', 'id-9'), publish(2, 'a', 'y')])
    await store.close()
    reader.close()
    await writer.close()
    store = await open()
    expect(store.appliedIndex).to.equal(2)
    expect(store.apply([publish(3, 'a', 'z')]).get(3)!.offset).to.equal(2)
    expect(store.apply([publish(4, 'a', 'dup', 'id-9')]).get(4)).to.include({offset: 0, duplicate: true})
  })

  it('reloads after an install: the dedup window as the new state keeps it, reading only the ids after its own when they are still there', async () => {
    const store = await open()
    store.apply([publish(1, 'a', '1', 'k1'), publish(2, 'a', '2', 'k2')])
    store.flush()
    await writer.write([])
    // What an install of the leader's state leaves (window 3): ids k1..k5, k1 and k2 forgotten; a topic b.
    const installed = [
      insertDedupIdsOp([
        [3, 'k3', 'a', 2],
        [4, 'k4', 'b', 0],
        [5, 'k5', 'b', 1],
      ]),
      forgetDedupIdsOp(2),
      setTopicsOp([
        ['a', 0, 3, 9],
        ['b', 0, 2, 6],
      ]),
      setAppliedOp(9),
    ]
    await writer.write(installed)
    const readWhole = reader.recentPublishIds.bind(reader)
    let wholeReads = 0
    reader.recentPublishIds = (limit) => {
      wholeReads++
      return readWhole(limit)
    }
    store.reload()
    expect(wholeReads, 'k2 (seq 2) is forgotten: the whole window is read').to.equal(1)
    expect(store.appliedIndex).to.equal(9)
    expect(store.apply([publish(10, 'a', 'again', 'k4')]).get(10)).to.include({topic: 'b', offset: 0, duplicate: true})
    expect(store.apply([publish(11, 'a', 'new', 'k1')]).get(11)).to.include({topic: 'a', offset: 3, duplicate: false})
    store.flush()
    await writer.write([])
    // A second install that keeps our newest id (k1 at seq 6): only what follows is read.
    await writer.write([insertDedupIdsOp([[7, 'k7', 'b', 2]]), forgetDedupIdsOp(4), setTopicsOp([['b', 0, 3, 9]]), setAppliedOp(20)])
    store.reload()
    expect(wholeReads).to.equal(1)
    expect(store.appliedIndex).to.equal(20)
    expect(store.apply([publish(21, 'a', 'x', 'k7')]).get(21)).to.include({topic: 'b', offset: 2, duplicate: true})
    expect(store.apply([publish(22, 'a', 'x', 'k1')]).get(22)).to.include({topic: 'a', offset: 3, duplicate: true})
    expect(store.apply([publish(23, 'a', 'x', 'k4')]).get(23), 'k4 left the window of 3 (k5, k1, k7)').to.include({duplicate: false})
  })

  it('lists newest first including rows still being written', async () => {
    const store = await open()
    store.apply([publish(1, 'a', 'x'), publish(2, 'a', 'y'), publish(3, 'b', 'z')])
    expect(store.list({limit: 2, order: 'newest'}).map((m) => m.body)).to.deep.equal(['z', 'y'])
    expect(store.list({topic: 'a', from: 1, limit: 10, order: 'oldest'}).map((m) => m.body)).to.deep.equal(['y'])
  })

  it('hands applied rows to a log write once 32 have gathered or the oldest waited 10 ms, and writes them alone when no write comes', async () => {
    const store = await open()
    store.apply([publish(1, 'a', 'x')])
    const now = Date.now()
    expect(store.takeWritesDue(now)).to.equal(null)
    const late = store.takeWritesDue(now + 10)!
    expect(late.ops.map((op) => [op.stmt, op.rows.length])).to.deep.equal([['insertMessage', 1], ['setTopic', 1], ['setApplied', 1]])
    expect(store.takeWritesDue(now + 1000)).to.equal(null)

    store.apply(Array.from({length: 31}, (_, i) => publish(2 + i, 'a', `m${i}`)))
    expect(store.takeWritesDue(Date.now())).to.equal(null)
    store.apply([publish(33, 'a', 'last')])
    const full = store.takeWritesDue(Date.now())!
    expect(full.ops.map((op) => [op.stmt, op.rows.length])).to.deep.equal([['insertMessage', 32], ['setTopic', 1], ['setApplied', 1]])
    expect(full.ops[2].rows).to.deep.equal([[33]])
    for (const taken of [late, full]) {
      await writer.write(taken.ops)
      taken.written(null)
    }

    // Nothing takes these along: the store writes them itself.
    store.apply([publish(34, 'b', 'alone')])
    const deadline = Date.now() + 5000
    while (store.pendingWrites > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(store.pendingWrites).to.equal(0)
    expect(reader.appliedIndex()).to.equal(34)
    expect(reader.messagesAfter(0, 100).length).to.equal(34)
  })

  it('a failed write of applied rows is fatal, with its cause, and close does not wait for rows that will never be durable', async () => {
    const store = await open()
    store.apply([publish(1, 'a', 'x')])
    const taken = store.takeWrites()!
    taken.written(Object.assign(new Error('database or disk is full'), {code: 'SQLITE_FULL'}))
    expect(fatal).to.have.length(1)
    expect(fatal[0].message).to.match(/storing applied messages failed: database or disk is full/)
    expect((fatal[0].cause as {code?: string}).code).to.equal('SQLITE_FULL')
    fatal.length = 0
    let timer: NodeJS.Timeout | undefined
    const closed = await Promise.race([store.close().then(() => 'closed'), new Promise((resolve) => (timer = setTimeout(() => resolve('still waiting'), 5000)))])
    clearTimeout(timer)
    expect(closed).to.equal('closed')
  })
})
