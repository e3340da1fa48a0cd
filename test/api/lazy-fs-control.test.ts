/**
 * The lazyfs control codec: torn-cut requests it builds, and answers from the daemon read as
 * hostile input (a malformed torn list is an error, never a crash or a wrong report).
 */
import {expect} from 'chai'
import {decodeLazyFsAnswer, encodeCut} from '../../src/api/lazy-fs-control.js'

describe('lazyfs control codec (torn cuts)', () => {
  it('builds a plain cut as before and a torn one with its seed; refuses seeds out of range', () => {
    expect(encodeCut()).to.equal('cut')
    expect(encodeCut({torn: false, seed: 5})).to.equal('cut')
    expect(encodeCut({torn: true, seed: 7})).to.equal('cut torn seed=7')
    expect(encodeCut({torn: true})).to.equal('cut torn seed=0')
    for (const seed of [-1, 0.5, Number.NaN, 2 ** 53]) expect(() => encodeCut({torn: true, seed})).to.throw(/seed must be a whole number/)
  })

  it('reads a torn report with escaped paths, and the plain report without torn', () => {
    expect(decodeLazyFsAnswer('cut', 'ok files=1 bytes=2 entries=0')).to.deep.equal({ok: true, value: {files: 1, bytes: 2, entries: 0}})
    expect(decodeLazyFsAnswer('cut', 'ok files=2 bytes=9 entries=1 torn=2 1536:data/node.db-wal 0:a%20b%C3%A9')).to.deep.equal({
      ok: true,
      value: {files: 2, bytes: 9, entries: 1, torn: {count: 2, files: [{kept: 1536, path: 'data/node.db-wal'}, {kept: 0, path: 'a bé'}]}},
    })
    expect(decodeLazyFsAnswer('cut', 'ok files=0 bytes=0 entries=0 torn=0')).to.deep.equal({ok: true, value: {files: 0, bytes: 0, entries: 0, torn: {count: 0, files: []}}})
  })

  it('refuses malformed torn lists', () => {
    for (const line of ['ok files=1 bytes=2 entries=0 torn=', 'ok files=1 bytes=2 entries=0 torn=1 x:a', 'ok files=1 bytes=2 entries=0 torn=1 1:a b', 'ok files=1 bytes=2 entries=0 torn=1 1:%zz', 'ok files=1 bytes=2 entries=0 torn=1 1:%4', 'ok files=1 bytes=2 entries=0 torn=1 1:']) {
      const decoded = decodeLazyFsAnswer('cut', line)
      expect(decoded.ok, line).to.equal(false)
    }
  })
})
