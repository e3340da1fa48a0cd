import {expect} from 'chai'
import {encodeLine, encodeMessageLine, parseServerLine, type ServerLine} from '../../src/api/json-lines.js'

/** The error of a line parseServerLine refuses (fails the test if it accepts it). */
function refusal(text: string): string {
  const parsed = parseServerLine(text)
  if (parsed.ok) throw new Error(`accepted ${JSON.stringify(text)} as ${JSON.stringify(parsed.line)}`)
  return parsed.error
}

describe('JSON-lines codec', () => {
  it('reads back every kind of line it encodes', () => {
    const lines: ServerLine[] = [
      {op: 'ack', topic: 'news', offset: 41, ref: 7},
      {op: 'ack', topic: 'news', offset: 41, duplicate: true, ref: 'a'},
      {op: 'subscribed', topics: ['news', 'orders.*'], from: 'beginning', ref: 2},
      {op: 'subscribed', topics: ['news'], from: 12},
      {op: 'unsubscribed', topics: ['news'], ref: {any: ['json']}},
      {op: 'pong'},
      {op: 'error', code: 'NO_LEADER', message: 'no leader', ref: null},
      {op: 'message', topic: 'news', offset: 0, format: 'JSON', body: '{"a":1}', timestamp: '2026-12-06T00:00:00.000Z'},
    ]
    for (const line of lines) {
      const text = encodeLine(line)
      expect(text.endsWith('\n')).to.equal(true)
      expect(parseServerLine(text.slice(0, -1))).to.deep.equal({ok: true, line})
    }
  })

  it('encodes a message line by hand exactly as JSON.stringify would, whatever the strings hold', () => {
    const message = {topic: 't.x', offset: 3, format: 'RAW', body: 'quote " backslash \\ newline \n tab \t nul \u0000 \u2028 é', timestamp: '2026-12-06T00:00:00.000Z'}
    const text = encodeMessageLine(message)
    expect(text).to.equal(JSON.stringify({op: 'message', ...message}) + '\n')
    expect(text.indexOf('\n')).to.equal(text.length - 1)
  })

  it('refuses what is not JSON, or not an object, with the reason and an excerpt', () => {
    expect(refusal('')).to.match(/^not JSON/)
    expect(refusal('{"op":"ack"')).to.match(/^not JSON/)
    expect(refusal('HTTP/1.1 400 Bad Request')).to.match(/^not JSON.*HTTP\/1\.1/)
    for (const text of ['null', '42', '"ack"', '[]', '[{"op":"ack"}]', 'true']) expect(refusal(text)).to.match(/^not a JSON object/)
  })

  /** Lines of the wrong shape, and what their refusal must say. */
  const WRONG_SHAPE: [string, string][] = [
    ['{}', 'unknown op undefined'],
    ['{"op":5}', 'unknown op 5'],
    ['{"op":"publish","topic":"t"}', 'unknown op "publish"'],
    // Only the protocol's own ops, not what an object inherits.
    ['{"op":"toString"}', 'unknown op "toString"'],
    ['{"op":"__proto__"}', 'unknown op "__proto__"'],
    ['{"op":{"a":1}}', 'unknown op an object'],
    ['{"op":["ack"]}', 'unknown op an array'],
    ['{"op":"ack","topic":"t"}', '"ack" line needs "offset" as number'],
    ['{"op":"ack","topic":1,"offset":0}', 'needs "topic" as string'],
    ['{"op":"ack","topic":"t","offset":"0"}', 'needs "offset" as number'],
    ['{"op":"error","code":"X"}', 'needs "message" as string'],
    ['{"op":"subscribed","topics":"news","from":"latest"}', 'needs "topics" as string[]'],
    ['{"op":"subscribed","topics":["news",1],"from":"latest"}', 'needs "topics" as string[]'],
    ['{"op":"subscribed","topics":["news"],"from":null}', 'needs "from" as string|number'],
    ['{"op":"message","topic":"t","offset":0,"format":"RAW","body":{"a":1},"timestamp":"x"}', 'needs "body" as string'],
  ]
  for (const [line, reason] of WRONG_SHAPE) {
    it(`refuses ${line}: ${reason}`, () => {
      expect(refusal(line)).to.include(reason)
    })
  }

  it('never throws, whatever the line: deep nesting, huge lines, odd characters', () => {
    const hostile = [
      '['.repeat(200_000),
      '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000),
      `{"op":"message","body":"${'x'.repeat(1_000_000)}"}`,
      '\u0000\u0001\ufffd',
      '{"op":"ack","topic":"t","offset":1e400}',
      '{"op":"ack","topic":"t","offset":0}garbage',
      `{"op":${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
    ]
    for (const text of hostile) {
      const parsed = parseServerLine(text)
      expect(parsed.ok, text.slice(0, 40)).to.equal(false)
      if (!parsed.ok) expect(parsed.error.length, 'the error quotes an excerpt, not the whole line').to.be.below(400)
    }
  })
})
