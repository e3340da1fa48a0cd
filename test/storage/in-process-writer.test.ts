import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {InProcessWriter} from '../../src/storage/in-process-writer.js'
import {MIGRATIONS, STATEMENTS} from '../../src/storage/schema.js'
import {StoreReader} from '../../src/storage/store-reader.js'
import {DatabaseWriterError} from '../../src/storage/writer-errors.js'

describe('InProcessWriter: the node database written on the calling thread, for in-process clusters', () => {
  let dir: string
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-inproc-writer-'))
  })
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  const open = (): Promise<InProcessWriter> => InProcessWriter.open({path: path.join(dir, 'node.db'), migrations: MIGRATIONS, statements: STATEMENTS})
  const message = (index: number, offset: number): (string | number | null)[] => [index, 't', offset, 'JSON', '{}', 1, null]

  it('writes what a StoreReader reads back; a failing request rejects alone; writeNow writes at once', async () => {
    const writer = await open()
    const ok = writer.write([{stmt: 'insertMessage', rows: [message(1, 0)]}])
    // The same raft index again: the primary key refuses it, and only this request.
    const dup = writer.write([{stmt: 'insertMessage', rows: [message(1, 1)]}])
    const also = writer.write([{stmt: 'setApplied', rows: [[1]]}])
    await ok
    const failure = await dup.then(() => null, (error: unknown) => error)
    expect(failure).to.be.instanceOf(DatabaseWriterError)
    expect((failure as DatabaseWriterError).code).to.match(/^SQLITE_CONSTRAINT/)
    await also
    expect(writer.writeNow([{stmt: 'insertMessage', rows: [message(2, 1)]}])).to.equal(true)
    const reader = new StoreReader(writer.path)
    expect(reader.messagesAfter(0, 10).map((m) => m.raftIndex)).to.deep.equal([1, 2])
    expect(reader.appliedIndex()).to.equal(1)
    reader.close()
    expect(writer.metrics()).to.deep.include({requests: 4, failedRequests: 1, rows: 3})
    await writer.close()
  })

  it('refuses hostile requests with ERR_INVALID_WRITE, and every write after close with ERR_WRITER_CLOSED', async () => {
    const writer = await open()
    const bad = await writer.write([{stmt: 'setApplied', rows: [[{}]]}] as never).then(() => null, (error: unknown) => error)
    expect((bad as DatabaseWriterError).code).to.equal('ERR_INVALID_WRITE')
    expect(() => writer.writeNow('nope' as never)).to.throw(DatabaseWriterError, /ops must be an array/)
    await writer.close()
    const closed = await writer.write([]).then(() => null, (error: unknown) => error)
    expect((closed as DatabaseWriterError).code).to.equal('ERR_WRITER_CLOSED')
    expect(writer.writeNow([])).to.equal(false)
  })
})
