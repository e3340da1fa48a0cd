// A subscriber of one topic pages by raft index, through the (topic, offset) index alone (the
// reader binary-searches offsets for the page start). Checked against the plain definition on
// topics interleaved at random, with ranges trimmed from the front and holes, from every cursor.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {InProcessWriter} from '../../src/storage/in-process-writer.js'
import {MIGRATIONS, STATEMENTS} from '../../src/storage/schema.js'
import {StoreReader} from '../../src/storage/store-reader.js'
import {prng as seeded} from '../raft/helpers.js'

describe('StoreReader: one topic paged by raft index through the (topic, offset) index', () => {
  let dir: string
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-topic-pages-'))
  })
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  for (const seed of [1, 2, 3, 4]) {
    it(`returns exactly the topic's messages after any cursor, in order (seed ${seed})`, async () => {
      const random = seeded(seed)
      const writer = await InProcessWriter.open({path: path.join(dir, `node-${seed}.db`), migrations: MIGRATIONS, statements: STATEMENTS})
      const topics = ['a', 'b', 'c']
      const next = new Map<string, number>()
      const rows: (string | number | null)[][] = []
      let index = 0
      for (let i = 0; i < 400; i++) {
        // Raft indexes with gaps (entries that stored nothing: noops, duplicates, control entries).
        index += 1 + Math.floor(random() * 3)
        const topic = topics[Math.floor(random() * (i < 200 ? 3 : 2))]
        const offset = next.get(topic) ?? 0
        next.set(topic, offset + 1)
        rows.push([index, topic, offset, 'RAW', `${topic}${offset}`, 1, null])
      }
      const ops = [{stmt: 'insertMessage' as const, rows}, {stmt: 'trimTopic' as const, rows: [['a', 17]]}]
      writer.writeNow(ops)
      // A second topic trimmed from the front, in a later write.
      writer.writeNow([{stmt: 'trimTopic', rows: [['c', 5]]}])
      await writer.write([])
      const reader = new StoreReader(writer.path)
      const stored = reader.messagesAfter(0, 10_000)
      try {
        for (const topic of [...topics, 'missing']) {
          const ofTopic = stored.filter((m) => m.topic === topic)
          for (let cursor = 0; cursor <= index + 1; cursor += 1 + Math.floor(random() * 4)) {
            const limit = 1 + Math.floor(random() * 20)
            const expected = ofTopic.filter((m) => m.raftIndex > cursor).slice(0, limit).map((m) => m.raftIndex)
            expect(reader.messagesAfter(cursor, limit, topic).map((m) => m.raftIndex), `${topic} after ${cursor}`).to.deep.equal(expected)
          }
        }
      } finally {
        reader.close()
        await writer.close()
      }
    })
  }

  it('keeps a single index on messages (the second one cost ~20 bytes per message)', async () => {
    const writer = await InProcessWriter.open({path: path.join(dir, 'node.db'), migrations: MIGRATIONS, statements: STATEMENTS})
    await writer.close()
    const Database = (await import('better-sqlite3')).default
    const db = new Database(path.join(dir, 'node.db'), {readonly: true})
    const indexes = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'messages'").pluck().all()
    db.close()
    expect(indexes).to.deep.equal(['sqlite_autoindex_messages_1'])
  })
})
