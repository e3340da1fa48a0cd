import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {expect} from 'chai'
import {decodeCommand, encodeExpire, encodePolicy} from '../../src/broker/control-command.js'
import {BrokerError} from '../../src/broker/errors.js'
import {forwardedPublishError} from '../../src/broker/forwarded-publish.js'
import {MessageStore, type CommittedEntry} from '../../src/broker/message-store.js'
import {decodePublish, encodePublish} from '../../src/broker/publish-command.js'
import {InProcessWriter} from '../../src/storage/in-process-writer.js'
import {MIGRATIONS, STATE_TABLES, STATEMENTS} from '../../src/storage/schema.js'
import {StoreReader} from '../../src/storage/store-reader.js'
import type {RetentionPolicy} from '../../src/util/retention-spec.js'

const T0 = 1_700_000_000_000

const publish = (index: number, topic: string, body: string, id: string | null = null): CommittedEntry => ({
  index,
  term: 1,
  type: 'normal',
  data: encodePublish({topic, format: 'RAW', body, id, timestamp: T0 + index * 1000}),
})
const policy = (index: number, p: Partial<RetentionPolicy>): CommittedEntry => ({
  index,
  term: 1,
  type: 'normal',
  data: encodePolicy({cluster: p.cluster ?? {}, topics: p.topics ?? {}}),
})
const expire = (index: number, now: number): CommittedEntry => ({index, term: 1, type: 'normal', data: encodeExpire(now)})

interface Opened {
  store: MessageStore
  writer: InProcessWriter
  reader: StoreReader
  dbPath: string
}

/** Every row of the state tables, in a fixed order: what a snapshot would carry. */
function dump(dbPath: string): Record<string, unknown[]> {
  const db = new Database(dbPath, {readonly: true})
  try {
    const out: Record<string, unknown[]> = {}
    for (const table of STATE_TABLES) out[table] = db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all()
    return out
  } finally {
    db.close()
  }
}

describe('Retention: trims applied from the log alike on every member', () => {
  const dirs: string[] = []
  const opened: Opened[] = []

  const open = async (dbPath?: string): Promise<Opened> => {
    if (dbPath === undefined) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-retention-'))
      dirs.push(dir)
      dbPath = path.join(dir, 'node.db')
    }
    const writer = await InProcessWriter.open({path: dbPath, migrations: MIGRATIONS, statements: STATEMENTS})
    const reader = new StoreReader(dbPath)
    const store = new MessageStore(writer, reader, {
      dedupWindow: 4,
      onFatal: (e) => {
        throw e
      },
    })
    const o = {store, writer, reader, dbPath}
    opened.push(o)
    return o
  }

  const close = async (o: Opened): Promise<void> => {
    await o.store.close()
    o.reader.close()
    await o.writer.close()
    opened.splice(opened.indexOf(o), 1)
  }

  afterEach(async () => {
    for (const o of [...opened]) await close(o)
    for (const dir of dirs.splice(0)) fs.rmSync(dir, {recursive: true, force: true})
  })

  const offsets = (store: MessageStore, topic: string): number[] =>
    store.list({topic, limit: 1000, order: 'newest'}).map((m) => m.offset).reverse()

  it('keeps the newest max-messages of a topic, leaves other topics alone, and moves the first offset', async () => {
    const {store} = await open()
    store.apply([policy(1, {topics: {a: {maxMessages: 3}}})])
    let index = 2
    for (let i = 0; i < 10; i++) store.apply([publish(index++, 'a', `a${i}`)])
    for (let i = 0; i < 5; i++) store.apply([publish(index++, 'b', `b${i}`)])
    expect(offsets(store, 'a')).to.deep.equal([7, 8, 9])
    expect(offsets(store, 'b')).to.deep.equal([0, 1, 2, 3, 4])
    expect(store.topicBounds().get('a')).to.deep.include({first: 7, next: 10})
    expect(store.messageCount).to.equal(8)
    await store.close()
    expect(offsets(store, 'a')).to.deep.equal([7, 8, 9])
    expect(store.readAfter(0, 100).map((m) => `${m.topic}@${m.offset}`)).to.deep.equal(['a@7', 'a@8', 'a@9', 'b@0', 'b@1', 'b@2', 'b@3', 'b@4'])
  })

  it('keeps the newest max-messages of the whole store, trimming the globally oldest', async () => {
    const {store} = await open()
    store.apply([policy(1, {cluster: {maxMessages: 4}})])
    const topics = ['a', 'b', 'a', 'c', 'b', 'a']
    store.apply(topics.map((t, i) => publish(2 + i, t, `m${i}`)))
    expect(store.readAfter(0, 100).map((m) => `${m.topic}@${m.offset}`)).to.deep.equal(['a@1', 'c@0', 'b@1', 'a@2'])
    expect(store.topicBounds().get('b')).to.deep.include({first: 1, next: 2})
    expect(store.messageCount).to.equal(4)
  })

  it('counts topic plus body bytes against max-bytes, and never trims the last message for a limit', async () => {
    const {store} = await open()
    // Each message of topic "t" with a 9-byte body is 10 bytes.
    store.apply([policy(1, {topics: {t: {maxBytes: 25}}, cluster: {maxBytes: 1000}})])
    store.apply([publish(2, 't', '123456789'), publish(3, 't', '123456789'), publish(4, 't', '123456789')])
    expect(offsets(store, 't')).to.deep.equal([1, 2])
    expect(store.topicBounds().get('t')!.bytes).to.equal(20)
    // One message over the limit on its own stays, until the next one comes.
    store.apply([publish(5, 't', 'x'.repeat(99))])
    expect(offsets(store, 't')).to.deep.equal([3])
    expect(store.byteCount).to.equal(100)
    store.apply([publish(6, 't', 'é')])
    expect(offsets(store, 't')).to.deep.equal([4])
    expect(store.byteCount).to.equal(3)
  })

  it('expires messages older than max-age when an expire entry carries the clock, oldest first', async () => {
    const {store} = await open()
    store.apply([policy(1, {cluster: {maxAgeMs: 5000}, topics: {fast: {maxAgeMs: 1000}}})])
    // Timestamps: T0 + index seconds.
    store.apply([publish(2, 'slow', 's0'), publish(3, 'fast', 'f0'), publish(4, 'slow', 's1'), publish(5, 'fast', 'f1'), publish(6, 'slow', 's2')])
    expect(store.expiryDue(T0 + 5500)).to.equal(true)
    store.apply([expire(7, T0 + 5500)])
    // fast: older than T0+4500 go (f0 at +3 s, f1 at +5 s stays); all: older than T0+500: none.
    expect(offsets(store, 'fast')).to.deep.equal([1])
    expect(offsets(store, 'slow')).to.deep.equal([0, 1, 2])
    store.apply([expire(8, T0 + 9500)])
    // all: older than T0+4500 go: s0 (+2), s1 (+4); fast: older than +8.5 s: f1 too.
    expect(offsets(store, 'slow')).to.deep.equal([2])
    expect(offsets(store, 'fast')).to.deep.equal([])
    expect(store.topicBounds().get('fast')).to.deep.include({first: 2, next: 2, bytes: 0})
    expect(store.expiryDue(T0 + 9500)).to.equal(false)
    // An emptied topic goes on from its next offset.
    const result = store.apply([publish(9, 'fast', 'f2')]).get(9)!
    expect(result.offset).to.equal(2)
  })

  it('trims at once what a new policy does not allow, and a later policy lifts the limits', async () => {
    const {store} = await open()
    store.apply(Array.from({length: 20}, (_, i) => publish(1 + i, 'a', `m${i}`)))
    store.apply([policy(21, {cluster: {maxMessages: 5}})])
    expect(offsets(store, 'a')).to.deep.equal([15, 16, 17, 18, 19])
    expect(store.retentionPolicyText).to.equal('{"cluster":{"maxMessages":5},"topics":{}}')
    store.apply([policy(22, {})])
    store.apply(Array.from({length: 10}, (_, i) => publish(23 + i, 'a', `n${i}`)))
    expect(store.messageCount).to.equal(15)
  })

  it('answers OFFSET_TRIMMED with the first offset for a read below it', async () => {
    const {store} = await open()
    store.apply([policy(1, {cluster: {maxMessages: 2}})])
    store.apply(Array.from({length: 6}, (_, i) => publish(2 + i, 'a', `m${i}`)))
    let caught: unknown
    try {
      store.list({topic: 'a', from: 3, limit: 10, order: 'oldest'})
    } catch (error) {
      caught = error
    }
    expect(caught).to.be.instanceOf(BrokerError)
    expect(caught).to.include({code: 'OFFSET_TRIMMED', firstOffset: 4})
    expect((caught as BrokerError).httpStatus).to.equal(410)
    expect(store.list({topic: 'a', from: 4, limit: 10, order: 'oldest'}).map((m) => m.offset)).to.deep.equal([4, 5])
    expect(() => store.checkNotTrimmed(0, (t) => t === 'other')).not.to.throw()
  })

  it('ends in identical tables whatever the batching and write timing, and a reloaded store answers like the live one', async () => {
    const entries: CommittedEntry[] = [policy(1, {cluster: {maxMessages: 7, maxBytes: 400}, topics: {b: {maxMessages: 2}}})]
    const topics = ['a', 'b', 'c']
    for (let i = 0; i < 60; i++) {
      const index = entries.length + 1
      // Ids repeat now and then: some are duplicates, some fell out of the window of 4.
      const id = i % 3 === 0 ? `id-${i % 12}` : null
      entries.push(publish(index, topics[(i * 7) % 3], 'x'.repeat(i % 40), id))
      if (i === 30) entries.push(policy(entries.length + 1, {cluster: {maxAgeMs: 20_000}, topics: {a: {maxBytes: 50}}}))
      if (i === 45) entries.push(expire(entries.length + 1, T0 + 40_000))
    }
    const one = await open()
    const all = await open()
    for (const entry of entries) {
      one.store.apply([entry])
      // The write of one store's rows comes at other times than the other's.
      if (entry.index % 5 === 0) one.store.flush()
    }
    const results = all.store.apply(entries)
    await one.store.close()
    await all.store.close()
    expect(dump(one.dbPath)).to.deep.equal(dump(all.dbPath))
    expect(dump(one.dbPath).messages.length).to.be.greaterThan(0)

    // The same next entries on the live store and on one reopened from its database.
    await close(one)
    const reopened = await open(one.dbPath)
    const next = [publish(entries.length + 1, 'a', 'later', 'id-9'), publish(entries.length + 2, 'b', 'later', 'id-new'), publish(entries.length + 3, 'c', 'again', 'id-0')]
    const live = all.store.apply(next)
    const again = reopened.store.apply(next)
    expect([...again.values()]).to.deep.equal([...live.values()])
    expect([...reopened.store.topicBounds()]).to.deep.equal([...all.store.topicBounds()])
    expect(reopened.store.messageCount).to.equal(all.store.messageCount)
    expect(results.size).to.be.greaterThan(0)
  })

  it('stores nothing for a control entry old code cannot read, and skips a control entry that does not read', async () => {
    expect(() => decodePublish(encodePolicy({cluster: {maxMessages: 1}, topics: {}}))).to.throw(/not a publish command/)
    expect(() => decodePublish(encodeExpire(T0))).to.throw(/not a publish command/)
    // Only a leader puts them in the log: a member cannot have one proposed as a forwarded publish.
    expect(forwardedPublishError(encodePolicy({cluster: {}, topics: {}}), 1024)).to.deep.include({code: 'BAD_REQUEST'})
    expect(forwardedPublishError(encodeExpire(T0), 1024)).to.deep.include({code: 'BAD_REQUEST'})
    for (const bad of [Buffer.from([2]), Buffer.from([2, 9]), Buffer.from([2, 2, 1, 2]), Buffer.concat([Buffer.from([2, 1]), Buffer.from('{"cluster":{"maxMessages":-1},"topics":{}}')]), Buffer.concat([Buffer.from([2, 1]), Buffer.from('not json')])]) {
      expect(() => decodeCommand(bad)).to.throw()
    }
    const {store} = await open()
    store.apply([{index: 1, term: 1, type: 'normal', data: Buffer.from([2, 1, 0x7b])}, publish(2, 'a', 'x')])
    expect(store.skippedEntries).to.equal(1)
    expect(store.messageCount).to.equal(1)
  })

  it('fills the state tables from the messages of a database made before them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-retention-'))
    dirs.push(dir)
    const dbPath = path.join(dir, 'node.db')
    const old = new Database(dbPath)
    old.pragma('journal_mode = WAL')
    for (const [version, sql] of MIGRATIONS.slice(0, 2).entries()) {
      old.exec(sql)
      old.pragma(`user_version = ${version + 1}`)
    }
    const insert = old.prepare('INSERT INTO messages (raft_index, topic, "offset", format, body, timestamp, pub_id) VALUES (?, ?, ?, ?, ?, ?, ?)')
    insert.run(1, 'a', 0, 'RAW', 'héllo', T0, 'id-1')
    insert.run(2, 'b', 0, 'RAW', 'x', T0, null)
    insert.run(3, 'a', 1, 'RAW', 'yy', T0, 'id-2')
    old.prepare('INSERT INTO applied (id, last_index) VALUES (1, 3)').run()
    old.close()
    const {store} = await open(dbPath)
    expect([...store.topicBounds()]).to.deep.equal([
      ['a', {first: 0, next: 2, bytes: 1 + 6 + 1 + 2}],
      ['b', {first: 0, next: 1, bytes: 2}],
    ])
    expect(store.apply([publish(4, 'a', 'again', 'id-1')]).get(4)).to.include({offset: 0, duplicate: true})
    expect(store.apply([publish(5, 'b', 'new', 'id-3')]).get(5)).to.include({offset: 1, duplicate: false})
    const db = new Database(dbPath, {readonly: true})
    try {
      // Made before: it keeps its free pages for reuse instead of giving them back.
      expect(db.pragma('auto_vacuum', {simple: true})).to.equal(0)
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'messages_pub_id'").all()).to.deep.equal([])
    } finally {
      db.close()
    }
  })

  /** 2,000 messages of 2,000 bytes in topic `big`, written; resolves with the page count then. */
  async function fillBig(o: Awaited<ReturnType<typeof open>>, firstIndex: number, pageCount: () => number): Promise<number> {
    const body = 'y'.repeat(2000)
    let index = firstIndex
    for (let batch = 0; batch < 20; batch++) {
      o.store.apply(Array.from({length: 100}, () => publish(index++, 'big', body)))
      o.store.flush()
    }
    const deadline = Date.now() + 10_000
    while (o.store.pendingWrites > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    return pageCount()
  }

  it('makes new databases without auto-vacuum: the pages trimmed messages free are reused, so the file stops growing', async function () {
    this.timeout(20_000)
    const o = await open()
    const pages = new Database(o.dbPath, {readonly: true})
    const pageCount = (): number => pages.pragma('page_count', {simple: true}) as number
    try {
      // Incremental auto-vacuum keeps a pointer map up to date at every page allocation, which
      // cost every commit (docs/performance.md); trimmed pages are reused instead.
      expect(pages.pragma('auto_vacuum', {simple: true})).to.equal(0)
      const grown = await fillBig(o, 1, pageCount)
      expect(grown).to.be.greaterThan(900)
      o.store.apply([policy(2001, {cluster: {maxMessages: 10}})])
      o.store.flush()
      expect(o.store.messageCount).to.equal(10)
      // As much again after the trim: it goes into the freed pages, not onto the end of the file.
      const again = await fillBig(o, 2002, pageCount)
      expect(o.store.messageCount).to.equal(10)
      expect(again).to.be.at.most(Math.ceil(grown * 1.1))
    } finally {
      pages.close()
    }
  })

  it('gives trimmed pages back to the file system in a database made with incremental auto-vacuum (by an earlier version)', async function () {
    this.timeout(20_000)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-retention-'))
    dirs.push(dir)
    const dbPath = path.join(dir, 'node.db')
    const earlier = new Database(dbPath)
    earlier.pragma('auto_vacuum = INCREMENTAL')
    earlier.pragma('journal_mode = WAL')
    earlier.close()
    const o = await open(dbPath)
    const pages = new Database(o.dbPath, {readonly: true})
    const pageCount = (): number => pages.pragma('page_count', {simple: true}) as number
    let grown: number
    try {
      expect(pages.pragma('auto_vacuum', {simple: true})).to.equal(2)
      grown = await fillBig(o, 1, pageCount)
      expect(grown).to.be.greaterThan(900)
      o.store.apply([policy(2001, {cluster: {maxMessages: 10}})])
      // Written, and the store left open: the free pages go back a step at a time after the write.
      o.store.flush()
      expect(o.store.messageCount).to.equal(10)
      const deadline = Date.now() + 10_000
      while (pageCount() > grown / 10 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      expect(pageCount()).to.be.lessThan(grown / 10)
      expect(o.reader.freePages()).to.equal(0)
    } finally {
      pages.close()
    }
    const checkpoint = new Database(o.dbPath)
    try {
      checkpoint.pragma('wal_checkpoint(TRUNCATE)')
    } finally {
      checkpoint.close()
    }
    expect(fs.statSync(o.dbPath).size).to.be.lessThan((grown * 4096) / 10)
  })
})
