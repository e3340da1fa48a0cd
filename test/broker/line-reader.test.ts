import {expect} from 'chai'
import {LineReader, type LineEvent} from '../../src/broker/line-reader.js'

/** Feeds the chunks to a reader and returns what it emitted. */
function feed(reader: LineReader, ...chunks: (string | Buffer)[]): LineEvent[] {
  const events: LineEvent[] = []
  for (const chunk of chunks) reader.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, (event) => events.push(event))
  return events
}

const lines = (...texts: string[]): LineEvent[] => texts.map((line) => ({kind: 'line', line}))

describe('LineReader', () => {
  it('splits a chunk into its lines', () => {
    expect(feed(new LineReader(100), 'one\ntwo\nthree\n')).to.deep.equal(lines('one', 'two', 'three'))
  })

  it('keeps an unfinished line until its newline arrives', () => {
    const reader = new LineReader(100)
    expect(feed(reader, 'hel')).to.deep.equal([])
    expect(reader.pending).to.equal(3)
    expect(feed(reader, 'lo wor')).to.deep.equal([])
    expect(feed(reader, 'ld\nnext')).to.deep.equal(lines('hello world'))
    expect(reader.pending).to.equal(4)
  })

  it('emits empty lines and strips a carriage return before the newline', () => {
    expect(feed(new LineReader(100), '\n\r\nwindows\r\nunix\n')).to.deep.equal(lines('', '', 'windows', 'unix'))
  })

  it('reassembles a multi-byte character split between chunks', () => {
    const bytes = Buffer.from('wörld 🚀\n')
    const events = feed(new LineReader(100), bytes.subarray(0, 2), bytes.subarray(2, 8), bytes.subarray(8))
    expect(events).to.deep.equal(lines('wörld 🚀'))
  })

  it('does not depend on how the stream is cut into chunks', () => {
    const text = Buffer.from('alpha\nbeta\n\ngamma ✓\r\ndelta\n')
    const whole = feed(new LineReader(100), text)
    for (let size = 1; size <= 7; size++) {
      const chunks: Buffer[] = []
      for (let at = 0; at < text.length; at += size) chunks.push(text.subarray(at, at + size))
      expect(feed(new LineReader(100), ...chunks), `chunks of ${size}`).to.deep.equal(whole)
    }
  })

  it('does not keep a reference to a chunk the socket may reuse', () => {
    const reader = new LineReader(100)
    const chunk = Buffer.from('abc')
    feed(reader, chunk)
    chunk.fill('z')
    expect(feed(reader, '\n')).to.deep.equal(lines('abc'))
  })

  it('accepts a line of exactly the limit, in one chunk or several', () => {
    expect(feed(new LineReader(5), '12345\n')).to.deep.equal(lines('12345'))
    expect(feed(new LineReader(5), '12', '345', '\n')).to.deep.equal(lines('12345'))
  })

  it('reports a line over the limit once, with its size, when it ends', () => {
    const reader = new LineReader(5)
    expect(feed(reader, '123456\n')).to.deep.equal([{kind: 'tooLong', bytes: 6}])
  })

  it('skips a long line spread over many chunks without holding it, and reports its total size', () => {
    const reader = new LineReader(10)
    const events: LineEvent[] = []
    for (let i = 0; i < 1000; i++) {
      events.push(...feed(reader, 'x'.repeat(100)))
      expect(reader.pending).to.equal(0)
    }
    events.push(...feed(reader, 'yy\n'))
    expect(events).to.deep.equal([{kind: 'tooLong', bytes: 100_002}])
  })

  it('recovers after a line that is too long: the next lines come through', () => {
    const reader = new LineReader(5)
    expect(feed(reader, 'ok\n', 'much too long', ' still\nfine\n', 'next')).to.deep.equal([
      ...lines('ok'),
      {kind: 'tooLong', bytes: 19},
      ...lines('fine'),
    ])
    expect(feed(reader, '\n')).to.deep.equal(lines('next'))
  })

  it('counts a line that crosses the limit only in its last chunk as too long', () => {
    expect(feed(new LineReader(5), '1234', '56\nok\n')).to.deep.equal([{kind: 'tooLong', bytes: 6}, ...lines('ok')])
  })
})
