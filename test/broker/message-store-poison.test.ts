import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {MessageStore, type CommittedEntry} from '../../src/broker/message-store.js'
import {encodePublish} from '../../src/broker/publish-command.js'
import {DatabaseWriter} from '../../src/storage/database-writer.js'
import {MIGRATIONS, STATEMENTS} from '../../src/storage/schema.js'
import {StoreReader} from '../../src/storage/store-reader.js'

const publish = (index: number, topic: string, body: string): CommittedEntry => ({
  index,
  term: 1,
  type: 'normal',
  data: encodePublish({topic, format: 'RAW', body, id: null, timestamp: 1_700_000_000_000 + index}),
})
const poison = (index: number, data: Uint8Array): CommittedEntry => ({index, term: 1, type: 'normal', data})

describe('MessageStore: committed entries that are not a valid publish', () => {
  let dir: string
  let dbPath: string
  let writer: DatabaseWriter
  let reader: StoreReader
  let current: MessageStore | null = null
  const warnings: Record<string, unknown>[] = []

  const open = async (): Promise<MessageStore> => {
    writer = await DatabaseWriter.open({path: dbPath, migrations: MIGRATIONS, statements: STATEMENTS})
    reader = new StoreReader(dbPath)
    current = new MessageStore(writer, reader, {
      dedupWindow: 3,
      onFatal: (e) => {
        throw e
      },
      logger: {warn: (_message, fields) => warnings.push(fields ?? {}), error: () => {}},
    })
    return current
  }

  const reopen = async (): Promise<MessageStore> => {
    await current?.close()
    reader.close()
    await writer.close()
    return open()
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-store-poison-'))
    dbPath = path.join(dir, 'node.db')
    warnings.length = 0
  })

  afterEach(async () => {
    await current?.close()
    current = null
    reader.close()
    await writer.close()
    fs.rmSync(dir, {recursive: true, force: true})
  })

  it('skips them: the applied index advances, nothing is stored, each is counted and logged with its index', async () => {
    const store = await open()
    const version0 = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
    const truncated = encodePublish({topic: 'news', format: 'RAW', body: 'x', id: 'abc', timestamp: 1}).subarray(0, 15)
    const results = store.apply([publish(1, 'a', 'one'), poison(2, version0), poison(3, new Uint8Array()), poison(4, truncated), publish(5, 'a', 'two')])
    expect([...results.keys()]).to.deep.equal([1, 5])
    expect(results.get(5)).to.include({topic: 'a', offset: 1})
    expect(store.appliedIndex).to.equal(5)
    expect(store.messageCount).to.equal(2)
    expect(store.skippedEntries).to.equal(3)
    expect(warnings.map((w) => w.index)).to.deep.equal([2, 3, 4])
    expect(store.readAfter(0, 10).map((m) => m.body)).to.deep.equal(['one', 'two'])
  })

  it('does not stop the node at restart: a replayed log with the bad entry applies the same way', async () => {
    let store = await open()
    store.apply([publish(1, 'a', 'one'), poison(2, new Uint8Array([0]))])
    expect(store.appliedIndex).to.equal(2)
    store = await reopen()
    expect(store.appliedIndex).to.equal(2)
    expect(store.messageCount).to.equal(1)
    // Entries after the applied index (as replayed after a crash before the write) apply alike.
    store.apply([poison(3, new Uint8Array([7, 7])), publish(4, 'a', 'after')])
    expect(store.appliedIndex).to.equal(4)
    expect(store.readAfter(0, 10).map((m) => `${m.topic}@${m.offset}:${m.body}`)).to.deep.equal(['a@0:one', 'a@1:after'])
  })

  it('keeps applying when a listener of applied messages throws', async () => {
    const store = await open()
    const seen: number[] = []
    store.onApplied(() => {
      throw new Error('listener broke')
    })
    store.onApplied((messages) => seen.push(...messages.map((m) => m.raftIndex)))
    expect(() => store.apply([publish(1, 'a', 'one')])).to.not.throw()
    expect(seen).to.deep.equal([1])
    expect(store.appliedIndex).to.equal(1)
  })
})
